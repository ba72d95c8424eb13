"""`generate-dataset` and `score` end to end through app.main.main: exit codes, files, messages."""
from __future__ import annotations

import json
import shutil

import pytest

from cyclegan_workbench.app import cli as app_cli
from cyclegan_workbench.app.main import main
from cyclegan_workbench.data.shapes import load_manifest

TINY = ["--size", "48", "--train-per-class", "2", "--test-per-class", "3"]


@pytest.fixture(autouse=True)
def dataset_commands_only(monkeypatch):
    # These tests are about the dataset commands; other command families are tested on their own
    # and may import torch, which would slow every parse here.
    monkeypatch.setattr(app_cli, "_COMMAND_MODULES", ["cyclegan_workbench.app.cli.dataset_commands"])


def test_generate_dataset_applies_every_option(tmp_path, capsys):
    out = tmp_path / "ds"
    argv = [
        "generate-dataset", str(out), *TINY,
        "--shapes", "circle,square", "--colors", "square=10,20,30", "circle=200,0,0",
        "--gray-level", "100", "--background", "random:0-255", "--noise-sigma", "4", "--noise-domains", "A",
        "--rgb-domain", "B", "--shift", "3", "--scale", "0.3,0.5", "--rotation", "20",
        "--aspect", "2,4", "--shapes-per-image", "1", "--no-antialias", "--seed", "5",
    ]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert f"wrote 20 images to {out}" in captured.out
    assert "generating" in captured.err and "20/20" in captured.err
    params = load_manifest(out)["params"]
    assert params["shapes"] == ["circle", "square"]
    assert params["colors"] == {"circle": [200, 0, 0], "square": [10, 20, 30]}
    assert (params["gray_level"], params["background"], params["noise_sigma"]) == (100, "random:0-255", 4.0)
    assert (params["noise_domains"], params["rgb_domain"], params["shift"]) == (["A"], "B", 3)
    assert (params["scale"], params["rotation"], params["aspect"]) == ([0.3, 0.5], 20.0, [2.0, 4.0])
    assert (params["shapes_per_image"], params["antialias"], params["seed"]) == ([1, 1], False, 5)
    assert (params["train_per_class"], params["test_per_class"], params["size"]) == (2, 3, 48)
    assert len(list((out / "testB").glob("*.png"))) == 6


def test_preset_is_the_base_that_options_override(tmp_path):
    out = tmp_path / "unseen"
    assert main(["generate-dataset", str(out), "--preset", "unseen", "--test-per-class", "1", "--size", "64"]) == 0
    params = load_manifest(out)["params"]
    assert "circle" not in params["shapes"] and params["aspect"] == [1.0, 6.0]
    assert params["train_per_class"] == 0 and params["test_per_class"] == 1
    assert list((out / "trainA").iterdir()) == []


BAD = [
    (["--shapes", "circle,blob"], "unknown shape 'blob'"),
    (["--colors", "circle=300,0,0"], "colour of circle must be three integers 0-255"),
    (["--colors", "circle:red"], "--colors takes SHAPE=R,G,B"),
    (["--train-per-class", "-1"], "train images per class must be an integer from 0"),
    (["--scale", "0.5,0.9", "--shift", "6"], "do not fit the 48 px canvas"),
    (["--gray-level", "0"], "equals the constant background 0"),
    (["--scale", "big"], "--scale must be a number, got 'big'"),
    (["--seed", "1.5"], "--seed must be an integer"),
    (["--background", "plaid"], "background 'plaid' is not understood"),
    (["--format", "jpeg", "--jpeg-quality", "0"], "JPEG quality must be an integer from 1 to 100, got 0"),
    (["--jpeg-quality", "high"], "--jpeg-quality must be an integer, got 'high'"),
]


@pytest.mark.parametrize("extra, message", BAD, ids=[m for _, m in BAD])
def test_bad_options_exit_2_with_a_clear_message_and_write_nothing(tmp_path, capsys, extra, message):
    assert main(["generate-dataset", str(tmp_path / "ds"), *TINY, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Error: ") and message in err
    assert list(tmp_path.iterdir()) == []


def test_triangle_kind_and_jpeg_format(tmp_path, capsys):
    out = tmp_path / "ds"
    argv = ["generate-dataset", str(out), *TINY, "--triangle", "axis-aligned", "--format", "jpeg",
            "--jpeg-quality", "90"]
    assert main(argv) == 0
    manifest = load_manifest(out)
    params = manifest["params"]
    assert (params["triangle_kind"], params["image_format"], params["jpeg_quality"]) == ("axis-aligned", "jpeg", 90)
    assert sorted(p.name for p in (out / "testB").iterdir()) == [
        *(f"circle_{i:04d}.jpg" for i in range(3)), *(f"triangle_{i:04d}.jpg" for i in range(3))]
    triangles = [f for row in manifest["images"] for f in row["shapes"] if f["shape"] == "triangle"]
    assert all(f["kind"] == "right" and f["rotation"] % 90 == 45 for f in triangles)
    capsys.readouterr()
    assert main(["score", str(out), str(out / "testA")]) == 0
    assert capsys.readouterr().out.startswith("accuracy 1.000 (6/6)\n")


@pytest.mark.parametrize("option, value", [("--triangle", "obtuse"), ("--format", "gif")])
def test_triangle_and_format_choices_are_checked(tmp_path, capsys, option, value):
    with pytest.raises(SystemExit) as exc:
        main(["generate-dataset", str(tmp_path / "ds"), *TINY, option, value])
    assert exc.value.code == 2
    assert f"{option}: invalid choice: '{value}'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_existing_dataset_needs_overwrite(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["generate-dataset", str(out), *TINY, "--seed", "1"]) == 0
    before = (out / "testA" / "circle_0000.png").read_bytes()
    capsys.readouterr()
    assert main(["generate-dataset", str(out), *TINY, "--seed", "2"]) == 2
    err = capsys.readouterr().err
    assert err == f"Error: {out} is not empty: choose a new folder or overwrite (--overwrite) to replace it\n"
    assert (out / "testA" / "circle_0000.png").read_bytes() == before
    assert main(["generate-dataset", str(out), *TINY, "--seed", "2", "--overwrite"]) == 0
    assert (out / "testA" / "circle_0000.png").read_bytes() != before


def test_score_prints_a_table_or_json(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["generate-dataset", str(out), *TINY]) == 0
    fakes = tmp_path / "fakes"
    shutil.copytree(out / "testA", fakes)
    (fakes / "triangle_0001.png").unlink()
    capsys.readouterr()

    assert main(["score", str(out), str(fakes)]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("accuracy 1.000 (5/5)\n")
    assert "missing translations: 1 (triangle_0001)" in captured.out
    assert "warning: 1 gray test images have no translation" in captured.err

    assert main(["score", str(out / "manifest.json"), str(fakes), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["accuracy"] == 1.0 and data["n"] == 5 and data["missing"] == ["triangle_0001"]


def test_score_errors_exit_2(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["generate-dataset", str(out), *TINY]) == 0
    capsys.readouterr()
    assert main(["score", str(out), str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"Error: translations folder {tmp_path / 'nowhere'} does not exist\n"
    assert main(["score", str(tmp_path), str(out / "testA")]) == 2
    assert "Error: no manifest at" in capsys.readouterr().err
