"""Hostile but fair use of the command line: nothing the user had is lost, every failure is one `Error:` line.

Each case here is a defect found by trying 320 bad inputs, signals and odd folders (issue 11); the test
fails on the code before the fix.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cyclegan_workbench.app.main import main
from cyclegan_workbench.models import checkpoints

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--size", "32", "--num-downs", "3", "--ngf", "4", "--ndf", "4", "--batch-size", "4", "--threads", "1"]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0  # root ignores file permissions


@pytest.fixture(scope="module")
def trained_run(toy_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("hostile") / "run"
    assert main(["train", str(toy_dataset), "--out", str(run), "--epochs", "1", "--epochs-decay", "0", *TINY]) == 0
    return run


def copy_run(run: Path, to: Path) -> Path:
    to.mkdir()
    for f in run.iterdir():
        (to / f.name).write_bytes(f.read_bytes())
    return to


def one_error_line(capsys, *fragments: str) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def weights(run: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {n: checkpoints.load_state_dict_file(run / f"latest_net_{n}.pth") for n in checkpoints.NET_NAMES}


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    for name in checkpoints.NET_NAMES:
        for key in wa[name]:
            assert torch.equal(wa[name][key], wb[name][key]), (name, key)


# --- signals: resume is exact ----------------------------------------------------------------------
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_resume_after_ctrl_c_or_sigterm_is_bit_identical(toy_dataset, tmp_path, capsys, signum, code):
    args = [str(toy_dataset), "--epochs", "6", "--epochs-decay", "6", *TINY]
    reference = tmp_path / "reference"
    assert main(["train", *args, "--out", str(reference)]) == 0

    run = tmp_path / "run"
    argv = ["train", *args, "--out", str(run)]
    script = f"import sys; from cyclegan_workbench.app.main import main; sys.exit(main({argv!r}))"
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (run / checkpoints.STATE_FILE).exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signum)  # lands in the middle of some step of epoch 2 or later
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert "state saved after the current step" in err and "Traceback" not in err
    state = checkpoints.load_training_state(run)
    assert (state["epoch"], state["iteration"]) != (12, 0)  # it did stop early

    capsys.readouterr()
    assert main(["train", "--resume", "--out", str(run)]) == 0
    assert_same_weights(run, reference)


# --- run folders ------------------------------------------------------------------------------------
def test_train_refuses_a_folder_holding_someone_elses_files(toy_dataset, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "latest_net_G_A.pth").write_bytes(b"my own generator")
    (out / "losses.csv").write_text("my numbers")
    assert main(["train", str(toy_dataset), "--out", str(out), *TINY]) == 2
    one_error_line(capsys, "already holds files this program did not write", "latest_net_G_A.pth")
    assert (out / "latest_net_G_A.pth").read_bytes() == b"my own generator"
    assert sorted(p.name for p in out.iterdir()) == ["latest_net_G_A.pth", "losses.csv"]


def test_train_refuses_a_file_as_its_folder(toy_dataset, tmp_path, capsys):
    out = tmp_path / "notes.txt"
    out.write_text("keep")
    assert main(["train", str(toy_dataset), "--out", str(out), *TINY]) == 2
    one_error_line(capsys, "is a file, not a folder")
    assert out.read_text() == "keep"


@pytest.mark.skipif(IS_ROOT, reason="root may write into read-only folders")
def test_resume_into_a_read_only_folder_fails_before_any_work(trained_run, tmp_path, capsys):
    run = copy_run(trained_run, tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    cfg["training"]["n_epochs"] = 3
    (run / "config.json").write_text(json.dumps(cfg))
    run.chmod(0o555)
    try:
        started = time.perf_counter()
        assert main(["train", "--resume", "--out", str(run)]) == 2
        assert time.perf_counter() - started < 5
        one_error_line(capsys, "cannot write into")
    finally:
        run.chmod(0o755)


def test_a_diverged_first_epoch_leaves_a_folder_that_starts_again(toy_dataset, tmp_path, capsys, monkeypatch):
    from cyclegan_workbench.models.cyclegan import CycleGAN

    run = tmp_path / "run"
    real_optimize = CycleGAN.optimize
    monkeypatch.setattr(CycleGAN, "optimize", lambda self, a, b: {**real_optimize(self, a, b), "G_A": float("nan")})
    assert main(["train", str(toy_dataset), "--out", str(run), *TINY]) == 2
    one_error_line(capsys, "diverged", "nothing was saved yet, so the same --out starts the run again")
    monkeypatch.undo()
    assert main(["train", str(toy_dataset), "--out", str(run), "--epochs", "1", "--epochs-decay", "0", *TINY]) == 0
    assert (run / checkpoints.STATE_FILE).is_file()


def test_leftovers_of_killed_saves_are_removed_and_the_checkpoint_set_is_made_whole(trained_run, tmp_path):
    """SIGKILL during a save leaves a hidden temporary file, or latest_net_* one save behind the state."""
    run = copy_run(trained_run, tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    cfg["training"]["n_epochs"] = 2
    (run / "config.json").write_text(json.dumps(cfg))
    (run / ".latest_net_G_A.pth.999999999-x1y2z3.tmp").write_bytes(b"\0" * 4096)  # a dead writer's
    (run / ".training_state.pth.qwertyui.tmp").write_bytes(b"\0" * 4096)  # an older version's name
    live = run / f".losses.csv.{os.getpid()}-abc.tmp"  # a writer that is still running: kept
    live.write_bytes(b"")
    state = checkpoints.load_training_state(run)
    state["nets"]["D_B"] = {k: v + 1 for k, v in state["nets"]["D_B"].items()}  # the state is one save ahead
    checkpoints.save_training_state(run, state)

    from cyclegan_workbench.models.training import Trainer
    from tests.conftest import tiny_config

    trainer = Trainer(tiny_config(""), run, resume=True)
    names = sorted(p.name for p in run.iterdir())
    assert not any(n.endswith(".tmp") for n in names if n != live.name) and live.exists()
    saved = checkpoints.load_state_dict_file(run / "latest_net_D_B.pth")
    assert all(torch.equal(saved[k], v) for k, v in trainer.model.D_B.state_dict().items())


# --- outputs never overwrite inputs or other people's files -----------------------------------------
def test_translate_never_writes_over_its_inputs_or_foreign_files(trained_run, toy_dataset, tmp_path, capsys):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for p in sorted((toy_dataset / "testB").iterdir())[:2]:
        (inputs / p.name).write_bytes(p.read_bytes())
    before = {p.name: p.read_bytes() for p in inputs.iterdir()}
    assert main(["translate", str(trained_run), str(inputs), "--direction", "BtoA", "--out", str(inputs)]) == 2
    one_error_line(capsys, "would overwrite the input images")
    assert {p.name: p.read_bytes() for p in inputs.iterdir()} == before

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "holiday.jpg").write_bytes(b"photo")
    assert main(["translate", str(trained_run), str(inputs), "--direction", "BtoA", "--out", str(theirs)]) == 2
    one_error_line(capsys, "already holds files this program did not write")
    assert [p.name for p in theirs.iterdir()] == ["holiday.jpg"]

    ours = tmp_path / "ours"
    for _ in range(2):  # translating again into its own folder replaces its own outputs
        assert main(["translate", str(trained_run), str(inputs), "--direction", "BtoA", "--out", str(ours)]) == 0
    assert sorted(p.name for p in ours.iterdir() if p.suffix == ".png") == sorted(before)


@pytest.mark.parametrize("size", ["0", "-5", "7", "12"])
def test_translate_refuses_a_size_the_generator_cannot_take(trained_run, toy_dataset, tmp_path, capsys, size):
    assert main(["translate", str(trained_run), str(toy_dataset / "testB"), "--out", str(tmp_path / "o"),
                 "--direction", "BtoA", "--size", size]) == 2
    one_error_line(capsys, "needs an image size from 8", f"; {size} is not")
    assert not (tmp_path / "o").exists()


# --- silent wrong results ----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_not_translated_to_black(trained_run, toy_dataset, tmp_path, capsys, bad):
    run = copy_run(trained_run, tmp_path / "run")
    state = checkpoints.load_state_dict_file(run / "latest_net_G_B.pth")
    next(v for v in state.values() if v.is_floating_point()).view(-1)[0] = bad
    torch.save(state, run / "latest_net_G_B.pth")
    assert main(["translate", str(run), str(toy_dataset / "testB"), "--direction", "BtoA",
                 "--out", str(tmp_path / "o")]) == 2
    one_error_line(capsys, "NaN or infinite weights")
    assert main(["evaluate", str(run)]) == 2
    one_error_line(capsys, "NaN or infinite weights")


def test_a_domain_mixing_gray_and_colour_files_is_refused(toy_dataset, tmp_path, capsys):
    data = tmp_path / "mixed"
    for d in ("trainA", "trainB"):
        (data / d).mkdir(parents=True)
        for p in (toy_dataset / d).iterdir():
            (data / d / p.name).write_bytes(p.read_bytes())
    gray = next((data / "trainB").iterdir())
    cv2.imwrite(str(data / "trainB" / "zz_colour.png"), np.dstack([cv2.imread(str(gray), 0)] * 2
                                                                   + [np.zeros((32, 32), np.uint8)]))
    assert main(["train", str(data), "--out", str(tmp_path / "run"), *TINY]) == 2
    one_error_line(capsys, "mixes", "gray image(s)", "zz_colour.png")
    assert not (tmp_path / "run").exists()


# --- tracebacks become messages ------------------------------------------------------------------------
BAD_CONFIGS = {
    "wrong type": lambda c: c["network"].update(ngf="64"),
    "null": lambda c: c["training"].update(lr=None),
    "negative size": lambda c: c["training"].update(crop_size=-64, load_size=-64),
    "huge size": lambda c: c["training"].update(crop_size=10**9, load_size=10**9),
    "unknown generator": lambda c: c["network"].update(generator="transformer"),
    "bool as int": lambda c: c["training"].update(batch_size=True),
    "list section": lambda c: c.update(training=[1, 2]),
    "unknown top-level key": lambda c: c.update(extra=1),
    "unknown nested key": lambda c: c["network"].update(depth=3),
    "nan": lambda c: c["training"].update(lr=float("nan")),
}


@pytest.mark.parametrize("damage", sorted(BAD_CONFIGS))
def test_a_damaged_config_json_is_one_clear_error_for_every_command(trained_run, tmp_path, capsys, damage):
    run = copy_run(trained_run, tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    BAD_CONFIGS[damage](cfg)
    (run / "config.json").write_text(json.dumps(cfg))
    for argv in (["evaluate", str(run)], ["train", "--resume", "--out", str(run)],
                 ["translate", str(run), str(run), "--out", str(tmp_path / "o")], ["inspect", str(run)]):
        assert main(argv) == 2, argv
        one_error_line(capsys, "config.json is not a valid run configuration")


@pytest.mark.parametrize("payload, message", [
    (b"\xff\xfe\x00garbage", "not UTF-8"), (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b"", "invalid JSON"), (b"[1, 2]", "not a JSON object"),
])
def test_unreadable_config_bytes_are_one_clear_error(trained_run, tmp_path, capsys, payload, message):
    run = copy_run(trained_run, tmp_path / "run")
    (run / "config.json").write_bytes(payload)
    assert main(["evaluate", str(run)]) == 2
    one_error_line(capsys, message)


@pytest.mark.parametrize("command", ["translate", "evaluate", "resume", "inspect"])
def test_a_zero_byte_checkpoint_is_one_clear_error(trained_run, tmp_path, capsys, command):
    run = copy_run(trained_run, tmp_path / "run")
    for name in ("latest_net_G_A.pth", "latest_net_G_B.pth", "latest_net_D_A.pth", "latest_net_D_B.pth",
                 checkpoints.STATE_FILE):
        (run / name).write_bytes(b"")
    argv = {"translate": ["translate", str(run), str(run), "--out", str(tmp_path / "o")],
            "evaluate": ["evaluate", str(run)], "resume": ["train", "--resume", "--out", str(run)],
            "inspect": ["inspect", str(run)]}[command]
    assert main(argv) == 2
    one_error_line(capsys, "is not a readable PyTorch checkpoint")


def test_a_symlink_loop_as_dataset_is_one_clear_error(tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    assert main(["train", str(loop), "--out", str(tmp_path / "run"), *TINY]) == 2
    one_error_line(capsys, "is a symbolic link that points to itself")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(IS_ROOT, reason="root reads unreadable folders")
def test_an_unreadable_domain_folder_says_so(toy_dataset, tmp_path, capsys):
    data = tmp_path / "data"
    for d in ("trainA", "trainB"):
        (data / d).mkdir(parents=True)
        for p in (toy_dataset / d).iterdir():
            (data / d / p.name).write_bytes(p.read_bytes())
    (data / "trainA").chmod(0)
    try:
        assert main(["train", str(data), "--out", str(tmp_path / "run"), *TINY]) == 2
        one_error_line(capsys, "cannot read the folder", "permission denied")
    finally:
        (data / "trainA").chmod(0o755)


@pytest.mark.parametrize("content, message", [(b"\xff\xff", "not UTF-8"), (b"[1]", "not a JSON object")])
def test_a_damaged_reproduction_marker_is_one_clear_error(tmp_path, capsys, content, message):
    out = tmp_path / "report"
    out.mkdir()
    (out / "pipeline.json").write_bytes(content)
    assert main(["reproduce", "--out", str(out), "--budget", "tiny"]) == 2
    one_error_line(capsys, "pipeline.json", message)
    assert (out / "pipeline.json").read_bytes() == content


def test_a_huge_mask_gain_is_refused(trained_run, toy_dataset, tmp_path, capsys):
    from cyclegan_workbench.visualization.masks import MaskSet
    from cyclegan_workbench.visualization.parser import parse_generator

    net, _ = checkpoints.load_generator(trained_run, "G_B")
    masks = MaskSet(parse_generator(net, 32))
    masks.set_filter(1, 0, 2.0)
    data = masks.to_dict()
    data["layers"][0]["groups"][0]["gain"] = 1e308
    (tmp_path / "m.json").write_text(json.dumps(data))
    assert main(["translate", str(trained_run), str(toy_dataset / "testB"), "--direction", "BtoA",
                 "--out", str(tmp_path / "o"), "--masks", str(tmp_path / "m.json")]) == 2
    one_error_line(capsys, "a gain must be from -1000 to 1000")
