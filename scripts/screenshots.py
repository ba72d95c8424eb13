"""Render each tab of the workbench under a real X server to docs/screenshots/{train,test,dataset}.png,
then check that the window fits a 1024x700 laptop screen and a 1920x1080 monitor.

    python scripts/screenshots.py [--out docs/screenshots] [--size 1280x800] [--model RUN_DIR]
    python scripts/screenshots.py --fit 1024x700 [--out DIR]     # only the fit check, on a screen that size

Without $DISPLAY it starts its own Xvfb (apt-get install xvfb). Everything it writes besides the PNGs
(a small dataset, a short training run) goes to a temporary folder. The Test tab shows --model, else
the bundled default model (resources/default_model), else a model this script trains for a minute.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.xvfb import rerun_under_xvfb  # noqa: E402


def wait(app, seconds: float, until=lambda: False) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        app.processEvents()
        time.sleep(0.01)


def train_quick_model(dataset: Path, run_dir: Path) -> Path:
    """The default preset, untouched, trained until it colourizes 95 % of the test shapes."""
    from cyclegan_workbench.models.config import DEFAULT_PRESET, preset_config
    from cyclegan_workbench.models.training import Trainer

    cfg = preset_config(DEFAULT_PRESET)
    cfg.dataroot = str(dataset)
    trainer = Trainer(cfg, run_dir)
    for report in trainer.run():
        s = report.epoch_summary
        if s:
            print(f"  screenshot model: epoch {s.epoch}, accuracy {s.accuracy}", flush=True)
            if s.accuracy is not None and s.accuracy >= 0.95:
                trainer.request_stop()
    return run_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--size", default="1280x800")
    parser.add_argument("--model", help="run folder for the Test tab")
    parser.add_argument("--fit", metavar="WxH", help="only check how the window fits a screen of this size")
    args = parser.parse_args()
    if args.fit and not os.environ.get("SCREENSHOT_FIT_CHILD"):
        os.environ["SCREENSHOT_FIT_CHILD"] = "1"  # a private Xvfb of exactly that size, whatever $DISPLAY is
        return rerun_under_xvfb(__file__, sys.argv[1:], args.fit)
    if args.fit:
        os.environ["QT_QPA_PLATFORM"] = "xcb"
        return check_fit(Path(args.out), args.fit)
    if not os.environ.get("DISPLAY"):
        try:
            status = rerun_under_xvfb(__file__, sys.argv[1:], args.size)
        except RuntimeError as exc:
            sys.exit(f"no $DISPLAY, and {exc}: run under an X server or install it")
        for size in FIT_SIZES:
            status |= subprocess.call([sys.executable, __file__, "--fit", size, "--out", args.out])
        return status
    width, height = (int(v) for v in args.size.split("x"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="workbench-shots-"))
    os.environ["CYCLEGAN_WORKBENCH_DATA"] = str(work / "data")
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    try:
        return render(out, width, height, work, args.model)
    finally:
        shutil.rmtree(work, ignore_errors=True)


FIT_SIZES = ("1024x700", "1920x1080")


def check_fit(out: Path, size: str) -> int:
    """A first start (no saved geometry) on a screen of `size`: the window lies within the screen's
    available area, is no smaller than its layout's minimum, and every tab is shown whole; one PNG per tab."""
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from cyclegan_workbench.app.main_window import MainWindow

    work = Path(tempfile.mkdtemp(prefix="workbench-fit-"))
    os.environ["CYCLEGAN_WORKBENCH_DATA"] = str(work / "data")
    try:
        app = QApplication([sys.argv[0]])
        window = MainWindow(QSettings(str(work / "settings.ini"), QSettings.IniFormat))
        window.show()
        window.test_tab.open_default()
        wait(app, 1.0)
        area = window.screen().availableGeometry()
        frame, minimum = window.frameGeometry(), window.minimumSizeHint()
        problems = []
        if not area.contains(frame):
            problems.append(f"the window {frame.width()}x{frame.height()} at {frame.x()},{frame.y()} leaves the "
                            f"screen's {area.width()}x{area.height()}")
        if window.width() < minimum.width() or window.height() < minimum.height():
            problems.append(f"the window is smaller than its layout's minimum {minimum.width()}x{minimum.height()}")
        out.mkdir(parents=True, exist_ok=True)
        for index, name in enumerate(("train", "test", "dataset")):
            window.tabs.setCurrentIndex(index)
            wait(app, 0.5)
            tab = window.tabs.currentWidget()
            if tab.width() < tab.minimumSizeHint().width() or tab.height() < tab.minimumSizeHint().height():
                problems.append(f"the {name} tab is cut: {tab.width()}x{tab.height()} shown, "
                                f"{tab.minimumSizeHint().width()}x{tab.minimumSizeHint().height()} needed")
            window.grab().save(str(out / f"fit-{size}-{name}.png"))
        window.close()
        print(f"screen {size}: window {window.width()}x{window.height()}, minimum "
              f"{minimum.width()}x{minimum.height()}: " + ("; ".join(problems) if problems else "fits"))
        return 1 if problems else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def render(out: Path, width: int, height: int, work: Path, model: str | None) -> int:
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from cyclegan_workbench.app import locations
    from cyclegan_workbench.app.main_window import APP_NAME, MainWindow
    from cyclegan_workbench.app.preload import preload_worker_libraries
    from cyclegan_workbench.data.shapes import generate_dataset

    preload_worker_libraries()  # as the app's launch does: without it the CUDA build of torch crashes on Start
    app = QApplication([sys.argv[0]])
    app.setApplicationName(APP_NAME)
    from cyclegan_workbench.data.shapes import PRESETS as DATASET_PRESETS

    dataset = generate_dataset(DATASET_PRESETS["default"](), work / "shapes")  # the built-in dataset
    if model is None and locations.has_default_model():
        model = str(locations.DEFAULT_MODEL_DIR)
    if model is None:
        print("training a small model for the Test tab…", flush=True)
        model = str(train_quick_model(dataset, work / "runs" / "screenshot"))

    window = MainWindow(QSettings(str(work / "settings.ini"), QSettings.IniFormat))
    window.resize(width, height)
    window.show()
    wait(app, 1.0)

    # Dataset tab: the default parameters and their preview.
    window.tabs.setCurrentWidget(window.dataset_tab)
    window.dataset_tab.output.set_text(str(work / "data" / "datasets" / "my-shapes"))
    wait(app, 1.0)
    window.grab().save(str(out / "dataset.png"))

    # Train tab: the default preset, untouched, on the built-in dataset, shown once it colourizes most
    # shapes (live views, the responses of a half-resolution layer of G_B, loss curves).
    train = window.train_tab
    window.tabs.setCurrentWidget(train)
    train.set_dataset(str(dataset))
    train.set_run_dir(str(work / "runs" / "live"))
    accuracy = []
    train.start()
    wait(app, 60, until=lambda: train._worker is not None and train.live.response.layers.get("G_B"))
    train._worker.signals.progressed.connect(
        lambda r: r.epoch_summary and accuracy.append(r.epoch_summary.accuracy or 0.0))
    train.live.response.which.setCurrentIndex(train.live.response.which.findData("G_B"))
    first = next(i for i, label in enumerate(train.live.response.layers["G_B"]) if "down 1: leaky relu" in label)
    train.live.response.layer.setCurrentIndex(first)  # 16 maps at half resolution: shapes are recognisable
    wait(app, 600, until=lambda: bool(accuracy) and accuracy[-1] >= 0.9)
    print(f"train tab: accuracy {accuracy[-1] if accuracy else None} after {len(accuracy)} epochs", flush=True)
    wait(app, 2.0)
    window.grab().save(str(out / "train.png"))
    train.stop()
    wait(app, 60, until=lambda: not train.busy)

    # Test tab: the colourizing generator, an ablation scan of its bottleneck, the top filter nullified.
    window.tabs.setCurrentWidget(window.test_tab)
    test = window.test_tab
    if not test.open_model(model):
        return 1
    wait(app, 1.0)
    test.inputs.thumbnails.setCurrentRow(min(3, test.inputs.thumbnails.count() - 1))
    graph = test.model.graphs[test.which]
    layer = next((l for l in graph.layers if l.level == 2 and l.kind == "activation"), graph.layers[graph.bottleneck])
    test.layers.select_layer(layer.index)  # a quarter-resolution activation: maps still show the shape
    wait(app, 0.5)
    test.scan_layer()
    wait(app, 60, until=lambda: not test.busy)
    result = test.ablation_result
    if result is not None:
        top = result.effects[0].filter
        test.model.masks[test.which].set_filter(test.layer, top, 0.0)
        test.scan.chart.bar_clicked.emit(top)
    wait(app, 1.0)
    window.grab().save(str(out / "test.png"))
    window.close()
    wait(app, 0.5)
    for name in ("dataset", "train", "test"):
        print(out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
