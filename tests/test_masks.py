"""Mask sets: every edit operation, copy-on-write gains, JSON round trip, refusal on another architecture."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models.networks import ResnetGenerator, UnetGenerator
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.parser import parse_generator


@pytest.fixture(scope="module")
def graph():
    torch.manual_seed(0)
    return parse_generator(UnetGenerator(1, 3, 4, 4, "instance"), 32, fast=False)


def test_a_fresh_set_is_all_ones_and_stores_nothing(graph):
    masks = MaskSet(graph)
    assert masks.is_identity() and masks.edited_layers() == []
    assert torch.equal(masks.gain(3), torch.ones(graph.layers[3].shape))
    assert masks.tensor(3) is None
    assert masks.filter_gains(3) == [1.0] * graph.layers[3].channels


def test_filter_layer_and_region_edits(graph):
    masks = MaskSet(graph)
    layer = graph.layers[2]  # down 2: conv, 8 ch, 8x8
    masks.set_filter(2, 5, 0.0)
    masks.set_filter(layer.name, 6, 2.5)
    g = masks.gain(2)
    assert (g[5] == 0).all() and (g[6] == 2.5).all() and (g[[0, 1, 2, 3, 4, 7]] == 1).all()
    assert masks.filter_gains(2)[5:7] == [0.0, 2.5]
    masks.set_region(2, (2, 1, 5, 3), 0.5, filter=0)  # x 2..4, y 1..2 of filter 0 only
    g = masks.gain(2)
    expected = torch.ones(8, 8)
    expected[1:3, 2:5] = 0.5
    assert torch.equal(g[0], expected) and (g[1] == 1).all()
    region = np.zeros((8, 8), bool)
    region[7, 7] = True
    masks.set_region(2, region, 3.0)  # every filter
    assert (masks.gain(2)[:, 7, 7] == 3.0).all()
    assert masks.describe() == ["layer 2 (down 2: conv 4x4/2, 8 ch, 8x8): spatial gains on 8 filter(s)"]
    masks.scale_layer(2, 0.25)
    assert (masks.gain(2) == 0.25).all()
    masks.set_filter(3, 1, 0.0)
    assert masks.describe() == ["layer 2 (down 2: conv 4x4/2, 8 ch, 8x8): all filters x0.25",
                                "layer 3 (down 2: instance norm, 8 ch, 8x8): filters 1: x0"]
    masks.reset_layer(2)
    masks.reset_layer(graph.layers[3])
    assert masks.is_identity()


def test_a_painted_map_of_another_size_selects_every_cell_it_touches(graph):
    masks = MaskSet(graph)
    stroke = np.zeros((32, 32), bool)
    stroke[9, 0:32] = True  # a one-pixel line on a 32x32 canvas; each cell of the 4x4 map covers 8x8 of it
    assert graph.layers[5].shape[1:] == (4, 4)
    masks.set_region(5, stroke, 0.0, filter=1)
    g = masks.gain(5)[1]
    assert torch.equal(g == 0, torch.tensor([[False] * 4, [True] * 4, [False] * 4, [False] * 4]))
    small = np.zeros((2, 2), bool)
    small[0, 1] = True  # upscaled to the 4x4 map: its top-right quarter
    masks.set_region(5, small, 0.0, filter=2)
    quarter = torch.tensor([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]).bool()
    assert torch.equal(masks.gain(5)[2] == 0, quarter)


def test_setting_gains_back_to_one_leaves_nothing_stored(graph):
    masks = MaskSet(graph)
    masks.set_filter(3, 1, 0.0)
    masks.set_filter(3, 1, 1.0)
    masks.scale_layer(4, 1.0)
    assert masks.is_identity() and masks.tensor(3) is None


def test_gains_are_copy_on_write_and_versions_count_changes(graph):
    masks = MaskSet(graph)
    v0 = masks.version
    masks.set_filter(3, 0, 0.5)
    held = masks.tensor(3)
    snapshot = held.clone()
    masks.set_filter(3, 1, 0.0)
    assert torch.equal(held, snapshot)  # a worker holding the old gain never sees it change
    assert masks.layer_version(3) == 2 and masks.version == v0 + 2 and masks.layer_version(4) == 0
    other = masks.copy()
    other.set_filter(3, 2, 0.0)
    assert masks.gain(3)[2].eq(1).all()
    masks.reset()
    assert masks.is_identity() and masks.layer_version(3) == 3


def test_bad_edits_are_refused_with_clear_messages(graph):
    masks = MaskSet(graph)
    with pytest.raises(UserError, match="filter 8 does not exist: layer 2 .* has filters 0-7"):
        masks.set_filter(2, 8, 0.0)
    with pytest.raises(UserError, match="from -1000 to 1000"):
        masks.set_filter(2, 0, float("nan"))
    with pytest.raises(UserError, match="from -1000 to 1000, got 1e"):
        masks.set_filter(2, 0, 1e308)
    with pytest.raises(UserError, match="a number"):
        masks.scale_layer(2, "half")
    with pytest.raises(UserError, match="does not cover any cell"):
        masks.set_region(2, (20, 20, 30, 30), 0.0)
    with pytest.raises(UserError, match="layers 0-"):
        masks.scale_layer(99, 0.0)
    assert masks.is_identity()


def test_bottleneck_skip_isolation_and_gates_edit_the_right_layers(graph):
    masks = MaskSet(graph)
    masks.nullify_bottleneck()
    assert masks.edited_layers() == [graph.bottleneck] and (masks.gain(graph.bottleneck) == 0).all()
    masks.reset()
    masks.isolate_skip(1)
    zeroed = [l.index for l in graph.layers if l.side == "down" and l.level >= 2]
    assert masks.edited_layers() == zeroed and graph.bottleneck in zeroed
    assert all((masks.gain(i) == 0).all() for i in zeroed)
    masks.reset()
    masks.gate_skip(2, encoder=0.0, decoder=0.5)
    s = graph.skip(2)
    g = masks.gain(s.concat)
    assert (g[: s.encoder_channels[1]] == 0).all() and (g[s.decoder_channels[0]:] == 0.5).all()
    with pytest.raises(UserError, match="no skip connection at level 4; .* levels 1, 2, 3"):
        masks.isolate_skip(4)
    resnet = parse_generator(ResnetGenerator(1, 1, 2, "instance", n_blocks=1), 16, fast=False)
    with pytest.raises(UserError, match="no skip connections"):
        MaskSet(resnet).gate_skip(1, encoder=0.0)


def test_json_round_trip_keeps_every_gain_and_stores_only_what_differs(graph, tmp_path):
    masks = MaskSet(graph)
    masks.set_filter(2, 5, 0.0)
    masks.set_filter(2, 6, 1.75)
    masks.set_region(5, (1, 1, 3, 2), 0.3, filter=4)
    masks.set_region(7, (0, 0, 1, 1), 2.0)  # one cell of every filter: one group
    masks.scale_layer(0, 0.123456789)
    masks.gate_skip(3, encoder=0.0)
    data = masks.to_dict()
    assert data["architecture"]["fingerprint"] == graph.fingerprint
    by_layer = {entry["index"]: entry for entry in data["layers"]}
    assert sorted(by_layer) == masks.edited_layers()
    assert by_layer[2]["groups"] == [{"filters": [5], "gain": 0.0}, {"filters": [6], "gain": 1.75}]
    third = pytest.approx(0.3)
    assert by_layer[5]["groups"] == [{"filters": [4], "pixels": [[1, 1, third], [1, 2, third]]}]
    assert by_layer[7]["groups"] == [{"filters": list(range(graph.layers[7].channels)), "pixels": [[0, 0, 2.0]]}]
    path = tmp_path / "masks.json"
    masks.save(path)
    loaded = MaskSet.load(path, graph)
    assert loaded.edited_layers() == masks.edited_layers()
    for i in masks.edited_layers():
        assert torch.equal(loaded.gain(i), masks.gain(i))  # float32 survives the JSON trip exactly


def test_loading_onto_another_architecture_or_size_is_refused(graph, tmp_path):
    masks = MaskSet(graph)
    masks.set_filter(2, 0, 0.0)
    path = tmp_path / "masks.json"
    masks.save(path)
    deeper = parse_generator(UnetGenerator(1, 3, 5, 4, "instance"), 32, fast=False)
    with pytest.raises(UserError, match="made for a different architecture .*\\[UnetGenerator: 24 layers.*"
                                        "this generator is \\[UnetGenerator: 31 layers"):
        MaskSet.load(path, deeper)
    larger = parse_generator(graph.net, 64, fast=False)
    with pytest.raises(UserError, match="made for 32x32 inputs, the generator was parsed at 64x64"):
        MaskSet.load(path, larger)


def test_damaged_mask_files_get_clear_messages(graph, tmp_path):
    path = tmp_path / "masks.json"
    path.write_text("{not json")
    with pytest.raises(UserError, match="is not a mask set: invalid JSON"):
        MaskSet.load(path, graph)
    path.write_text(json.dumps({"hello": 1}))
    with pytest.raises(UserError, match="not a mask set saved by the workbench"):
        MaskSet.load(path, graph)
    data = MaskSet(graph).to_dict()
    data["layers"] = [{"index": 2, "name": graph.layers[2].name, "shape": list(graph.layers[2].shape),
                       "groups": [{"filters": [99], "gain": 0}]}]
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="filter numbers must be integers 0-7"):
        MaskSet.load(path, graph)
    with pytest.raises(UserError, match="mask set not found"):
        MaskSet.load(tmp_path / "missing.json", graph)
