"""Ablation scan: a planted dominant filter ranks first, batched variants equal one-at-a-time forwards,
accuracy changes, early stop, and scoring sets read from a toy dataset's manifest."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.models.networks import UnetGenerator
from cyclegan_workbench.visualization.ablation import ablate_layer
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.parser import parse_generator


@pytest.fixture(scope="module")
def planted():
    """A small U-Net whose last decoder activation has one filter (5) that dominates the output."""
    torch.manual_seed(0)
    net = UnetGenerator(1, 3, 3, 4, "instance").eval()
    graph = parse_generator(net, 32)
    layer = next(l for l in graph.layers if l.stage == "up 1" and l.kind == "activation")
    last_conv = net.get_submodule(graph.layers[layer.index + 1].name)
    with torch.no_grad():
        last_conv.weight[5] *= 60  # ConvTranspose2d weights are (in, out, kh, kw): input channel 5
    return graph, layer


@pytest.fixture
def x():
    return torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1


def test_the_planted_filter_ranks_first(planted, x):
    graph, layer = planted
    result = ablate_layer(graph, layer.index, x)
    assert result.complete and len(result.effects) == layer.channels
    assert result.effects[0].filter == 5
    assert result.effects[0].output_change > 3 * result.effects[1].output_change
    changes = [e.output_change for e in result.effects]
    assert changes == sorted(changes, reverse=True)
    assert "   1       5" in result.format_table(3)


@pytest.mark.parametrize("layer", [0, 4, 9])
def test_batched_variants_equal_one_forward_per_filter(planted, x, layer):
    graph, _ = planted
    masks = MaskSet(graph)
    masks.set_filter(2, 1, 0.5)  # gains elsewhere stay applied during the scan
    result = ablate_layer(graph, layer, x, masks=masks, batch_size=3)  # chunks of 3 with a remainder
    baseline = graph.run(x, masks)
    effects = {e.filter: e.output_change for e in result.effects}
    assert sorted(effects) == list(range(graph.layers[layer].channels))
    for f, change in effects.items():
        one = masks.copy()
        one.set_filter(layer, f, 0.0)
        expected = float((graph.run(x, one) - baseline).abs().mean())
        assert change == pytest.approx(expected, abs=1e-6)


class Painter(nn.Module):
    """Paints every pixel red while its filter 0 is alive, blue once it is nullified; filter 1 is idle."""

    def __init__(self):
        super().__init__()
        self.source = nn.Conv2d(1, 2, 1)
        self.paint = nn.Conv2d(2, 3, 1)
        with torch.no_grad():
            self.source.weight.zero_()
            self.source.bias.copy_(torch.tensor([10.0, 0.0]))
            self.paint.weight.zero_()
            self.paint.weight[0, 0], self.paint.weight[2, 0] = 2.0, -2.0
            self.paint.bias.copy_(torch.tensor([-10.0, -10.0, 10.0]))

    def forward(self, x):
        return torch.tanh(self.paint(self.source(x)))


def test_accuracy_change_is_measured_and_can_rank(x):
    graph = parse_generator(Painter(), 32)
    everywhere = [np.ones((32, 32), bool)] * 3
    scoring = ScoringSet(x, everywhere, ["circle"] * 3, {"circle": (255, 0, 0), "square": (0, 0, 255)})
    result = ablate_layer(graph, 0, scoring=scoring, rank_by="accuracy")
    assert result.baseline_accuracy == 1.0
    first, second = result.effects
    assert (first.filter, first.accuracy, first.accuracy_change) == (0, 0.0, -1.0)
    assert (second.filter, second.accuracy_change, second.output_change) == (1, 0.0, 0.0)
    assert result.to_dict()["effects"][0]["accuracy_change"] == -1.0


def test_progress_can_stop_a_scan_early(planted, x):
    graph, layer = planted
    seen = []
    result = ablate_layer(graph, layer.index, x, batch_size=2, progress=lambda done, total: seen.append(done) or False)
    assert seen == [2] and not result.complete and len(result.effects) == 2
    assert "stopped early: 2 of 8 filters" in result.format_table()


def test_scoring_sets_from_a_toy_dataset_and_clear_refusals(toy_dataset, planted, x):
    scoring = ScoringSet.from_dataset(toy_dataset, 32, split="test")
    assert scoring.images.shape == (6, 1, 32, 32)
    assert sorted(set(scoring.classes)) == ["circle", "triangle"]
    assert all(m.dtype == bool and m.any() for m in scoring.masks)
    picked = sorted((toy_dataset / "testB").glob("*.png"))[:2]
    from_files = ScoringSet.from_files(toy_dataset / "manifest.json", picked, 32)
    assert from_files.names == [p.stem for p in picked]
    assert torch.equal(from_files.images, scoring.images[[scoring.names.index(p.stem) for p in picked]])
    with pytest.raises(UserError, match="is not a gray image of the dataset"):
        ScoringSet.from_files(toy_dataset, sorted((toy_dataset / "testA").glob("*.png"))[:1], 32)
    graph, layer = planted
    with pytest.raises(UserError, match="3 inputs but 2 scored images"):
        ablate_layer(graph, layer.index, x, scoring=from_files)
    rgb_to_gray = parse_generator(UnetGenerator(3, 1, 3, 2, "instance"), 32)
    with pytest.raises(UserError, match="needs the gray -> RGB generator"):
        ablate_layer(rgb_to_gray, 0, scoring=scoring)
    with pytest.raises(UserError, match="needs a dataset manifest"):
        ablate_layer(graph, 0, x, rank_by="accuracy")
