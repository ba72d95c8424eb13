"""The Train tab in a real X server (Xvfb, Qt's xcb platform), started through the real entry point.

The rest of the GUI suite runs offscreen, where Qt loads no GL stack; this test runs the app the way a
user's desktop does (tests/train_session.py drives it) and checks what the window showed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.xvfb import start_xvfb

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def x_display():
    """A private Xvfb server; its display name (":N")."""
    try:
        server, display = start_xvfb()
    except RuntimeError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"{exc}; .ci/run installs it")
        pytest.skip(f"needs a private X server: {exc}")
    yield display
    server.terminate()
    server.wait(10)


def test_training_in_a_real_window_shows_views_that_change_and_survives_every_button(x_display, toy_dataset, tmp_path):
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb", "PYTHONPATH": str(ROOT),
           "CYCLEGAN_WORKBENCH_DATA": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = tmp_path / "session"
    proc = subprocess.run([sys.executable, "-X", "faulthandler", str(ROOT / "tests" / "train_session.py"),
                           str(toy_dataset), str(out)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the app exited with {proc.returncode}:\n{proc.stderr[-4000:]}"
    session = json.loads((out / "session.json").read_text())
    assert session["errors"] == []

    frames = session["frames"]
    assert len(frames) >= 3
    steps = [f["step"] for f in frames]
    assert steps == sorted(steps) and steps[-1] > steps[0]
    for view in ("fake_A", "fake_B", "response"):
        shown = [f[view] for f in frames]
        assert len(set(shown)) >= 3, f"the {view} view did not follow the training: {shown}"
    # fake A is the colourized translation of a gray image: the panel paints colour, not gray.
    assert frames[-1]["fake_A_saturation"] > 1.0
    assert frames[-1]["response_title"].startswith("G_A layer ")

    assert session["steps_while_paused"] == 0
    assert session["steps_after_resume"] >= 3
    assert session["stopped"]
    assert session["test_tab_current"] and Path(session["test_tab_source"]) == out / "run"
