"""How long the window stays unresponsive while the default preset trains: heartbeat, tab switches, redraws.

    python benchmarks/gui_heartbeat.py [--seconds 20] [--platform xcb|offscreen] [--threads 0]

Runs the real main window (under its own Xvfb with Qt's xcb platform unless $DISPLAY is set or
--platform offscreen), trains the default preset on a generated default-size dataset with live views at
the default rate, and after the first epoch measures for --seconds:
- heartbeat: the largest gap between beats of a 20 ms QTimer (wall clock), and the GUI thread's own CPU
  time between two beats (what our code costs, without time the OS gave to the training threads);
- tab switches: Train -> Test -> Dataset -> Train, each timed from the switch to the end of its repaint;
- redraws: a full repaint of the Train tab with its live views.
Then it runs an experiment of the Experiments menu on the bundled model and measures the heartbeat while
it computes and its results window opens. Target: every figure under 100 ms (printed with its ratio).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.xvfb import rerun_under_xvfb  # noqa: E402

TARGET_MS = 100.0


class Heartbeat:
    """A 20 ms QTimer; the gaps between its beats in wall-clock and GUI-thread CPU seconds."""

    def __init__(self):
        from PyQt5.QtCore import QTimer

        self.beats: list[tuple[float, float]] = []
        self.timer = QTimer(interval=20)
        self.timer.timeout.connect(lambda: self.beats.append((time.perf_counter(), time.thread_time())))

    def __enter__(self):
        self.beats.clear()
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.stop()

    def gaps(self) -> tuple[list[float], list[float]]:
        pairs = list(zip(self.beats, self.beats[1:]))
        return [b[0] - a[0] for a, b in pairs], [b[1] - a[1] for a, b in pairs]


def pump(app, seconds: float, until=lambda: False) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        app.processEvents()
        time.sleep(0.002)


def percentiles(values: list[float]) -> str:
    import numpy as np

    ms = np.asarray(values) * 1000
    worst = ms.max()
    return (f"median {np.median(ms):6.1f} ms, p95 {np.percentile(ms, 95):6.1f} ms, max {worst:6.1f} ms "
            f"({worst / TARGET_MS:.2f}x the {TARGET_MS:.0f} ms target: {'met' if worst < TARGET_MS else 'MISSED'})")


def timed(app, action) -> float:
    """Wall time of `action` plus the repaint it causes."""
    start = time.perf_counter()
    action()
    app.processEvents()  # layout and paint events posted by the action
    return time.perf_counter() - start


def run(seconds: float, threads: int) -> int:
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from cyclegan_workbench.app.main_window import MainWindow
    from cyclegan_workbench.app.preload import preload_worker_libraries
    from cyclegan_workbench.data.shapes import PRESETS, generate_dataset
    from cyclegan_workbench.models.runtime import configure_threads

    configure_threads(threads)
    preload_worker_libraries()
    work = Path(tempfile.mkdtemp(prefix="heartbeat-"))
    os.environ["CYCLEGAN_WORKBENCH_DATA"] = str(work / "data")
    os.environ.setdefault("XDG_RUNTIME_DIR", str(work))
    try:
        app = QApplication([sys.argv[0]])
        dataset = generate_dataset(PRESETS["default"](), work / "shapes")
        window = MainWindow(QSettings(str(work / "settings.ini"), QSettings.IniFormat))
        window.resize(1280, 800)
        window.show()
        window.test_tab.open_default()
        pump(app, 1.0)
        train = window.train_tab
        train.set_dataset(str(dataset))
        train.set_run_dir(str(work / "run"))
        train.start()
        steps = []
        train._worker.signals.progressed.connect(steps.append)
        pump(app, 180, until=lambda: any(r.epoch_summary is not None for r in steps[-3:]))  # past the first epoch end
        print(f"platform {app.platformName()}, {os.cpu_count()} cores, training threads "
              f"{threads or 'all'}, default preset, {len(steps)} steps before measuring")

        switches, redraws = [], []
        beat = Heartbeat()
        s0, v0 = len(steps), train.live.visuals_drawn
        with beat:
            end = time.monotonic() + seconds
            order = [window.test_tab, window.dataset_tab, train]
            k = 0
            while time.monotonic() < end:
                target = order[k % len(order)]
                switches.append(timed(app, lambda target=target: window.tabs.setCurrentWidget(target)))
                k += 1
                pump(app, 0.3)
                if window.tabs.currentWidget() is train:
                    redraws.append(timed(app, train.repaint))
                    pump(app, 0.2)
        wall, busy = beat.gaps()
        drawn = train.live.visuals_drawn - v0
        print(f"while training ({len(steps) - s0} steps, {drawn} live updates, {seconds:.0f} s):")
        print(f"  heartbeat gap (wall):        {percentiles(wall)}")
        print(f"  GUI thread busy between beats: {percentiles(busy)}")
        print(f"  tab switch + repaint ({len(switches)}):  {percentiles(switches)}")
        print(f"  Train tab repaint ({len(redraws)}):     {percentiles(redraws)}")
        train.stop()
        pump(app, 60, until=lambda: not train.busy)

        menu = window.experiments
        window.tabs.setCurrentWidget(window.test_tab)
        with beat:
            menu.actions["unseen"].trigger()
            pump(app, 120, until=lambda: not menu.busy)
            pump(app, 0.5)
        wall, busy = beat.gaps()
        print("while an experiment runs and its results window opens:")
        print(f"  heartbeat gap (wall):        {percentiles(wall)}")
        print(f"  GUI thread busy between beats: {percentiles(busy)}")
        window.close()
        pump(app, 1.0)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--platform", choices=("xcb", "offscreen"), default="xcb")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: one per core)")
    args = parser.parse_args()
    os.environ["QT_QPA_PLATFORM"] = args.platform
    if args.platform == "xcb" and not os.environ.get("DISPLAY"):
        try:
            return rerun_under_xvfb(__file__, sys.argv[1:])
        except RuntimeError as exc:
            sys.exit(f"no $DISPLAY, and {exc}; or pass --platform offscreen")
    return run(args.seconds, args.threads)


if __name__ == "__main__":
    sys.exit(main())
