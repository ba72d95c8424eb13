"""`inspect`, `ablate` and `translate --masks` end to end on a tiny saved generator."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from cyclegan_workbench.app.main import main
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.networks import build_generator
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.parser import load_and_parse
from tests.conftest import tiny_config


@pytest.fixture(scope="module")
def run_dir(toy_dataset, tmp_path_factory):
    """A run directory as training leaves it: config.json and latest_net_G_A/G_B (A: RGB, B: gray)."""
    cfg = tiny_config(toy_dataset)
    cfg.network.input_nc, cfg.network.output_nc = 3, 1
    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    nets = {"G_A": build_generator(cfg.network, 3, 1), "G_B": build_generator(cfg.network, 1, 3)}
    checkpoints.save_config(run, cfg)
    checkpoints.save_networks(run, nets)
    return run


def test_inspect_prints_summary_and_skips_and_with_layers_the_table(run_dir, capsys):
    assert main(["inspect", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("UnetGenerator: 17 layers, 3x32x32 -> 1x32x32, 2 skip connections")
    assert "skip 1: encoder layer 1 (down 1) ch 0-3 + decoder layer 12 (up 1) ch 4-7 -> concat layer 13" in out
    assert "skip 2:" in out and "model.model" not in out
    assert main(["inspect", str(run_dir), "--layers", "--which", "G_B"]) == 0
    out = capsys.readouterr().out
    assert "1x32x32 -> 3x32x32" in out
    assert "  5  down 3 (bottleneck): conv 4x4/2, 16 ch, 4x4  model.model.1.model.3.model.1" in out
    assert sum(1 for line in out.splitlines() if line[:3].strip().isdigit()) == 17


def test_inspect_reads_a_bare_pth_and_prints_json(run_dir, capsys):
    assert main(["inspect", str(run_dir / "latest_net_G_B.pth"), "--size", "64", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["input_shape"] == [1, 64, 64] and data["output_shape"] == [3, 64, 64]
    assert len(data["layers"]) == 17 and [s["level"] for s in data["skips"]] == [1, 2]
    assert data["layers"][data["bottleneck"]]["is_bottleneck"]


@pytest.mark.parametrize("argv, message", [
    (["inspect", "RUN", "--size", "30"], "a U-Net with 3 downsamplings needs an input size divisible by 8; 30x30"),
    (["inspect", "RUN", "--size", "abc"], "--size must be a whole number"),
    (["inspect", "nowhere"], "no run directory or checkpoint at nowhere"),
    (["ablate", "RUN", "--layer", "99", "--input", "IMAGE"], "layer 99 does not exist: this generator has layers 0-16"),
    (["ablate", "RUN", "--layer", "2", "--input", "missing.png"], "no image or folder at missing.png"),
    (["ablate", "RUN", "--layer", "2", "--input", "IMAGE", "--top", "-1"], "--top must be at least 0"),
])
def test_bad_arguments_exit_2_with_a_message(run_dir, toy_dataset, capsys, argv, message):
    image = sorted((toy_dataset / "testA").glob("*.png"))[0]
    argv = [str(run_dir) if a == "RUN" else str(image) if a == "IMAGE" else a for a in argv]
    assert main(argv) == 2
    assert f"Error: {message}" in capsys.readouterr().err


def test_ablate_ranks_the_filters_of_a_layer(run_dir, toy_dataset, capsys):
    image = sorted((toy_dataset / "testA").glob("*.png"))[0]
    assert main(["ablate", str(run_dir), "--layer", "2", "--input", str(image), "--top", "3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "layer 2: down 2: conv 4x4/2, 8 ch, 8x8  (1 input(s))"
    rows = [line.split() for line in out[2:]]
    assert [r[0] for r in rows] == ["1", "2", "3"]
    changes = [float(r[2]) for r in rows]
    assert changes == sorted(changes, reverse=True) and changes[0] > 0


def test_ablate_with_a_manifest_scores_the_colourizing_generator(run_dir, toy_dataset, capsys):
    assert main(["ablate", str(run_dir), "--layer", "model.model.1.model.1", "--input", str(toy_dataset / "testB"),
                 "--manifest", str(toy_dataset), "--json", "--top", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["n_inputs"] == 6 and data["name"] == "model.model.1.model.1"
    assert 0 <= data["baseline_accuracy"] <= 1 and len(data["effects"]) == 8
    for e in data["effects"]:
        assert e["accuracy_change"] == pytest.approx(e["accuracy"] - data["baseline_accuracy"])


def test_translate_applies_a_saved_mask_set_and_refuses_a_foreign_one(run_dir, toy_dataset, tmp_path, capsys):
    image = sorted((toy_dataset / "testA").glob("*.png"))[0]
    _, _, graph = load_and_parse(run_dir, "G_A")
    masks = MaskSet(graph)
    masks.nullify_bottleneck()
    masks.set_filter(1, 0, 3.0)
    masks.save(tmp_path / "masks.json")
    assert main(["translate", str(run_dir), str(image), "--out", str(tmp_path / "plain")]) == 0
    assert main(["translate", str(run_dir), str(image), "--out", str(tmp_path / "masked"),
                 "--masks", str(tmp_path / "masks.json")]) == 0
    plain = cv2.imread(str(tmp_path / "plain" / f"{image.stem}.png"), cv2.IMREAD_UNCHANGED)
    masked = cv2.imread(str(tmp_path / "masked" / f"{image.stem}.png"), cv2.IMREAD_UNCHANGED)
    x = torch.from_numpy(cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)).permute(2, 0, 1).float() / 127.5 - 1
    expected = graph.run(x, masks)[0, 0].clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).numpy()
    assert np.array_equal(masked, expected) and not np.array_equal(masked, plain)
    capsys.readouterr()
    assert main(["translate", str(run_dir), str(image), "--out", str(tmp_path / "x"), "--direction", "BtoA",
                 "--masks", str(tmp_path / "masks.json")]) == 2
    assert "was made for a different architecture" in capsys.readouterr().err
