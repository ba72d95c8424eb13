"""`train`, `evaluate` and `translate` end to end through the real entry point."""
from __future__ import annotations

import json
import math

import cv2
import pytest

from cyclegan_workbench.app.main import main

TINY = ["--size", "32", "--num-downs", "3", "--ngf", "4", "--ndf", "4", "--batch-size", "4"]


def test_train_evaluate_translate_and_score(toy_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(toy_dataset), "--out", str(run), "--epochs", "1", "--epochs-decay", "1", *TINY]) == 0
    assert (run / "latest_net_G_B.pth").is_file() and (run / "losses.csv").is_file()
    capsys.readouterr()

    assert main(["evaluate", str(run), "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    for key in ("D_A", "D_B", "G_A", "G_B", "Cycle_A", "Cycle_B", "Total", "SSIM_A", "SSIM_B", "accuracy"):
        assert math.isfinite(table[key]), key
    assert table["Total"] >= table["Cycle_A"] + table["Cycle_B"]
    classes = set(table["per_class"])
    assert classes and set(table["by_area"]) <= classes and all(len(p) == 3 for p in table["by_area"].values())

    assert main(["evaluate", str(run)]) == 0
    text = capsys.readouterr().out
    assert "Cycle_A" in text and "cycle SSIM" in text
    assert "colourization accuracy" in text and "confusion" in text and "by figure area" in text

    out = tmp_path / "colourized"
    assert main(["translate", str(run), str(toy_dataset / "testB"), "--direction", "BtoA", "--out", str(out)]) == 0
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert files == sorted(p.name for p in (toy_dataset / "testB").iterdir())
    image = cv2.imread(str(out / files[0]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (32, 32, 3)

    capsys.readouterr()
    assert main(["score", str(toy_dataset), str(out), "--json"]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["accuracy"] <= 1.0


def test_resume_finishes_a_run_and_knows_when_it_is_done(toy_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", str(toy_dataset), "--out", str(run), "--epochs", "1", "--epochs-decay", "0", *TINY]) == 0
    assert main(["train", "--resume", "--out", str(run)]) == 0
    assert "already finished" in capsys.readouterr().out


def test_bad_input_exits_2_with_a_message_naming_the_problem(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    assert main(["train", "--resume", "--out", str(tmp_path / "empty")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert main(["translate", str(tmp_path / "g.pth"), str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "checkpoint not found" in capsys.readouterr().err


@pytest.mark.parametrize("option, value, message", [
    ("--seed", "-1", "seed must be 0 or more"), ("--size", "0", "from 8 to 4096 pixels"),
    ("--size", "-8", "from 8 to 4096 pixels"), ("--threads", "-1", "threads must be 0"),
])
def test_impossible_settings_are_refused_before_anything_is_written(toy_dataset, tmp_path, capsys, option, value,
                                                                    message):
    run = tmp_path / "run"
    assert main(["train", str(toy_dataset), "--out", str(run), option, value, *TINY[2:]]) == 2
    assert message in capsys.readouterr().err
    assert not run.exists()



def test_translate_with_a_reference_run_folder_works_at_its_trained_size(toy_dataset, tmp_path):
    """pytorch-CycleGAN-and-pix2pix writes latest_net_G_*.pth and train_opt.txt, no config.json."""
    import torch

    from cyclegan_workbench.models.networks import UnetGenerator

    ref = tmp_path / "reference"
    ref.mkdir()
    torch.save(UnetGenerator(1, 3, 7, 4, "instance").state_dict(), ref / "latest_net_G_B.pth")  # a unet_128
    out = tmp_path / "out"
    assert main(["translate", str(ref), str(toy_dataset / "testB"), "--direction", "BtoA", "--out", str(out)]) == 0
    image = cv2.imread(str(next(out.glob("*.png"))), cv2.IMREAD_UNCHANGED)
    assert image.shape == (128, 128, 3)
    (ref / "train_opt.txt").write_text("               crop_size: 256                           \n")
    assert main(["translate", str(ref / "latest_net_G_B.pth"), str(toy_dataset / "testB"), "--out", str(out)]) == 0
    assert cv2.imread(str(next(out.glob("*.png"))), cv2.IMREAD_UNCHANGED).shape == (256, 256, 3)
