"""The main window (pytest-qt, offscreen): launch, tabs, menus, settings, the Dataset tab's generation,
closing during training, and the fixture that catches runnables left alive."""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PyQt5.QtCore import Qt

from cyclegan_workbench.models import checkpoints
from tests.conftest import live_runnables


def test_the_window_opens_with_three_tabs_menus_and_embedded_defaults(window):
    from cyclegan_workbench.app import locations

    assert [window.tabs.tabText(i) for i in range(3)] == ["Train", "Test", "Dataset"]
    menus = [a.text() for a in window.menuBar().actions()]
    assert menus[0] == "&File" and menus[-1] == "&Help"
    file_actions = [a.text() for a in window.menuBar().actions()[0].menu().actions()]
    assert {"Open &dataset…", "&Open run…", "Open &checkpoint (.pth)…", "&Export visible panels…"} <= set(file_actions)
    # The Train tab starts on the built-in dataset (not yet generated) and the default preset.
    assert window.train_tab.dataset.text() == str(locations.default_dataset_dir())
    assert "generated here when you start training" in window.train_tab.dataset_box.info.text()
    assert window.train_tab.form.preset.currentText() == "toy"
    # The Dataset tab starts on the default parameters, with a preview.
    from cyclegan_workbench.data.shapes import PRESETS

    assert window.dataset_tab.params().to_dict() == PRESETS["default"]().to_dict()
    assert window.dataset_tab.preview.viewer.has_image()
    assert window.statusBar() is not None


def test_the_default_model_opens_or_the_test_tab_says_how_to_open_one(window):
    from cyclegan_workbench.app import locations

    opened = window.test_tab.open_default()
    if locations.has_default_model():
        assert opened and window.test_tab.model is not None
        assert window.test_tab.outputs.panels["after"].viewer.has_image()
    else:
        assert not opened and window.test_tab.stack.currentWidget() is window.test_tab.placeholder
        assert "Open run" in window.test_tab.placeholder.text()


def fake_screen(monkeypatch, width: int, height: int) -> None:
    """Windows believe they are on a screen of this available size (offscreen's own is 800x600)."""
    from PyQt5.QtCore import QRect

    from cyclegan_workbench.app.main_window import MainWindow

    class Screen:
        def availableGeometry(self):
            return QRect(0, 0, width, height)

    monkeypatch.setattr(MainWindow, "screen", lambda self: Screen())


def test_tab_geometry_and_folders_are_remembered(qtbot, settings, workbench_home, toy_dataset, monkeypatch):
    from cyclegan_workbench.app.main_window import MainWindow

    fake_screen(monkeypatch, 1920, 1080)
    first = MainWindow(settings)
    qtbot.addWidget(first)
    first.show()
    first.resize(1100, 700)
    first.tabs.setCurrentIndex(2)
    first.train_tab.set_dataset(str(toy_dataset))
    first.add_recent("dataset", str(toy_dataset))
    first.close()
    second = MainWindow(settings)
    qtbot.addWidget(second)
    assert second.tabs.currentIndex() == 2
    assert second.train_tab.dataset.text() == str(toy_dataset)
    assert (second.width(), second.height()) == (1100, 700)
    assert second.recent_items()[0] == ("dataset", str(toy_dataset.resolve()))
    assert any(str(toy_dataset.resolve()) in a.text() for a in second.recent_menu.actions())


def test_generate_a_small_dataset_from_the_dataset_tab_and_use_it(qtbot, window, tmp_path):
    tab = window.dataset_tab
    window.tabs.setCurrentWidget(tab)
    tab.size.setValue(32)
    tab.train_count.setValue(3)
    tab.test_count.setValue(2)
    tab.shape_checks["square"].setChecked(True)
    qtbot.waitUntil(lambda: "420" not in tab.summary.text() and "30 files" in tab.summary.text(), timeout=3000)
    # The preview follows the parameters: 3 x 3 pairs of 32 px scenes, a square among them.
    qtbot.waitUntil(lambda: tab.preview.viewer.image().shape[:2] == (3 * 32 + 2 * 4, 3 * (2 * 32 + 4) + 2 * 8),
                    timeout=3000)
    third_pair_rgb = tab.preview.viewer.image()[:32, 152:184]
    assert ((third_pair_rgb[..., 2] == 255) & (third_pair_rgb[..., 0] == 0)).any()  # a blue square
    target = tmp_path / "mini"
    tab.output.set_text(str(target))
    with qtbot.waitSignal(tab.dataset_generated, timeout=20000) as generated:
        qtbot.mouseClick(tab.generate_button, Qt.LeftButton)
    assert generated.args[0] == str(target)
    assert len(list((target / "trainA").glob("*.png"))) == 9 and (target / "manifest.json").is_file()
    assert tab.progress.value() == tab.progress.maximum() == 30
    qtbot.waitUntil(lambda: tab.use_button.isEnabled(), timeout=2000)
    qtbot.mouseClick(tab.use_button, Qt.LeftButton)
    assert window.tabs.currentWidget() is window.train_tab
    assert window.train_tab.dataset.text() == str(target)
    assert "trainA 9" in window.train_tab.dataset_box.info.text()


def test_invalid_dataset_parameters_disable_generate_and_say_why(qtbot, window):
    tab = window.dataset_tab
    tab.gray_level.setValue(0)  # equals the black background
    qtbot.waitUntil(lambda: "invisible" in tab.message.text(), timeout=3000)
    assert not tab.generate_button.isEnabled()
    tab.gray_level.setValue(128)
    qtbot.waitUntil(lambda: tab.message.text() == "", timeout=3000)
    assert tab.generate_button.isEnabled()


def test_cancelling_a_generation_leaves_the_folder_as_it_was(qtbot, window, tmp_path):
    tab = window.dataset_tab
    tab.size.setValue(64)
    tab.train_count.setValue(400)
    target = tmp_path / "big"
    tab.output.set_text(str(target))
    tab.generate_button.click()
    qtbot.waitUntil(lambda: tab.progress.value() > 0, timeout=20000)
    with qtbot.waitSignal(tab.idle, timeout=20000):
        qtbot.mouseClick(tab.cancel_button, Qt.LeftButton)
    assert not target.exists()
    assert tab.generate_button.isEnabled() and not tab.busy


def test_the_built_in_dataset_is_generated_on_first_start(qtbot, window, workbench_home, monkeypatch):
    """Start on the built-in dataset generates it first (shrunk here to keep the test fast), then trains."""
    from cyclegan_workbench.app import locations
    from cyclegan_workbench.data import shapes

    small = lambda: shapes.ShapeDatasetParams(size=32, train_per_class=4, test_per_class=2)  # noqa: E731
    monkeypatch.setitem(shapes.PRESETS, "default", small)
    tab = window.train_tab
    tab.form.image_size.setValue(32)
    tab.form.ngf.setValue(4)
    tab.form.depth.setValue(3)
    tab.form.epochs.setValue(1)
    tab.form.epochs_decay.setValue(0)
    tab.start()
    qtbot.waitUntil(lambda: tab._worker is not None, timeout=20000)
    assert (locations.default_dataset_dir() / "trainA").is_dir()
    with qtbot.waitSignal(tab.idle, timeout=60000):
        pass
    assert "Training complete" in tab.controls.progress_label.text()
    run_dir = tab.run_dir.text()
    assert run_dir.startswith(str(locations.runs_dir()))
    assert (Path(run_dir) / checkpoints.STATE_FILE).is_file()


def test_closing_the_window_during_training_stops_cleanly_and_keeps_the_checkpoint(qtbot, window, toy_dataset,
                                                                                 tmp_path):
    from tests.test_gui_train import set_tiny

    tab = window.train_tab
    set_tiny(tab, toy_dataset, epochs=100, decay=0)
    run_dir = tmp_path / "closing"
    tab.set_run_dir(str(run_dir))
    tab.start()
    worker = tab._worker
    steps = []
    worker.signals.progressed.connect(steps.append)
    qtbot.waitUntil(lambda: len(steps) >= 2, timeout=60000)
    with qtbot.waitSignal(worker.signals.finished, timeout=30000) as finished:
        window.close()
        assert window.isVisible(), "the window must wait for the checkpoint before closing"
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5000)
    outcome = finished.args[0]
    assert outcome is not None and not outcome.completed
    import torch

    state = torch.load(run_dir / checkpoints.STATE_FILE, weights_only=True)
    assert (state["epoch"], state["iteration"]) == (outcome.epoch, outcome.iteration)
    assert state["epoch"] * steps[0].iterations_per_epoch + state["iteration"] >= len(steps)
    assert live_runnables() == 0


def test_export_writes_the_visible_panels_to_png(qtbot, window, tmp_path):
    path = tmp_path / "dataset.png"
    window.tabs.setCurrentWidget(window.dataset_tab)
    window.export_tab(window.dataset_tab, str(path))
    from cyclegan_workbench.data.images import read_image

    image = read_image(path)
    assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0


def test_the_fixture_check_sees_a_runnable_left_alive(qtbot):
    """What the autouse fixture relies on: a runnable still running is counted after the grace period."""
    from PyQt5.QtCore import QRunnable, QThreadPool

    release = threading.Event()

    class Blocked(QRunnable):
        def run(self):
            release.wait(10)

    runnable = Blocked()
    QThreadPool.globalInstance().start(runnable)
    try:
        assert live_runnables(grace_ms=200) == 1
    finally:
        release.set()
    assert live_runnables() == 0


def test_train_stop_open_the_checkpoint_in_the_test_tab_and_edit_it(qtbot, window, toy_dataset, tmp_path):
    """The whole path a user takes: train a tiny run, stop it, open it in the Test tab, click a map."""
    from tests.test_gui_test_tab import after, click_tile
    from tests.test_gui_train import set_tiny

    train = window.train_tab
    set_tiny(train, toy_dataset, epochs=100, decay=0)
    run_dir = tmp_path / "e2e"
    train.set_run_dir(str(run_dir))
    qtbot.mouseClick(train.controls.start_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: train.live.visuals_drawn >= 3, timeout=60000)
    with qtbot.waitSignal(train.idle, timeout=30000):
        qtbot.mouseClick(train.controls.stop_button, Qt.LeftButton)
    assert (run_dir / checkpoints.STATE_FILE).is_file() and train.run_box.open_test_button.isEnabled()
    assert window.recent_items()[0] == ("run", str(run_dir.resolve()))

    qtbot.mouseClick(train.run_box.open_test_button, Qt.LeftButton)
    test = window.test_tab
    assert window.tabs.currentWidget() is test and test.model is not None
    assert test.model.source == run_dir
    qtbot.waitUntil(lambda: test.outputs.panels["after"].viewer.has_image(), timeout=5000)
    test.layers.select_layer(1)
    qtbot.waitUntil(lambda: test.layer == 1 and len(test.response.channels) == 4, timeout=2000)
    before = after(test)
    for tile in range(4):  # every map of the first activation
        click_tile(qtbot, test, tile)
    qtbot.waitUntil(lambda: test.model.masks[test.which].filter_gains(1) == [0.0] * 4, timeout=2000)
    qtbot.waitUntil(lambda: np.abs(after(test) - before).max() > 0, timeout=2000)


def test_worker_errors_reach_the_gui_as_messages(qtbot):
    import errno

    import torch

    from cyclegan_workbench.app.workers import Worker, describe_error
    from cyclegan_workbench.data.errors import UserError

    assert describe_error(UserError("bad folder"), "Training") == "bad folder"
    assert "ran out of memory" in describe_error(torch.OutOfMemoryError("CUDA out of memory"), "Training")
    assert "ran out of memory" in describe_error(RuntimeError("DefaultCPUAllocator: not enough memory: you "
                                                              "tried to allocate; out of memory"), "Training")
    full = OSError(errno.ENOSPC, "No space left on device", "/runs/x/training_state.pth")
    assert "disk is full" in describe_error(full, "Training") and "training_state.pth" in describe_error(full, "T")

    class Broken(Worker):
        job = "the broken job"

        def work(self):
            raise ZeroDivisionError("boom")

    worker = Broken()
    failures = []
    worker.signals.failed.connect(failures.append)
    with qtbot.waitSignal(worker.signals.finished, timeout=5000) as finished:
        worker.start()
    assert finished.args == [None]
    assert failures == ["The broken job failed unexpectedly: ZeroDivisionError: boom"]


def test_launch_opens_the_window_on_the_default_model_or_the_open_prompt(qtbot, monkeypatch, tmp_path, workbench_home):
    from PyQt5.QtCore import QSettings
    from PyQt5.QtWidgets import QApplication

    from cyclegan_workbench.app import locations, main_window

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # launch() installs its own; restored afterwards
    monkeypatch.setattr(main_window, "QSettings",
                        lambda *a: QSettings(str(tmp_path / "user.ini"), QSettings.IniFormat))
    shown = []
    monkeypatch.setattr(QApplication, "exec_", lambda self: shown.extend(
        w for w in QApplication.topLevelWidgets() if isinstance(w, main_window.MainWindow) and w.isVisible()) or 0)
    assert main_window.launch() == 0
    assert len(shown) == 1
    window = shown[0]
    qtbot.addWidget(window)
    assert window.windowTitle() == "CycleGAN Workbench" and not window.windowIcon().isNull()
    assert (window.test_tab.model is not None) == locations.has_default_model()
    # An unexpected error in a slot becomes a dialog (PyQt would otherwise abort the process).
    sys.excepthook(ValueError, ValueError("surprise"), None)
    from PyQt5.QtWidgets import QMessageBox

    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "ValueError: surprise" in boxes[0].text()
    boxes[0].close()


def test_help_menu_shows_the_shortcuts_and_about(qtbot, window):
    from PyQt5.QtWidgets import QDialog, QMessageBox, QTextBrowser

    help_menu = window.menuBar().actions()[-1].menu()
    actions = {a.text(): a for a in help_menu.actions()}
    actions["&Keyboard shortcuts"].trigger()
    dialog = next(d for d in window.findChildren(QDialog) if d.windowTitle() == "Keyboard shortcuts")
    text = dialog.findChild(QTextBrowser).toPlainText()
    assert "Ctrl+B" in text and "Nullify the bottleneck" in text
    dialog.close()
    actions["&About"].trigger()
    about = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert about and "CycleGAN Workbench" in about[0].text()
    about[0].close()


@pytest.mark.parametrize("saved", [True, False])
def test_the_window_fits_the_screen_it_opens_on(qtbot, settings, workbench_home, monkeypatch, saved):
    """A geometry saved on a large monitor, or the 1280x800 default, is brought within a 1024x700 laptop
    screen, where the layout still fits; on a large screen the saved geometry is kept."""
    from cyclegan_workbench.app.main_window import MainWindow

    if saved:
        fake_screen(monkeypatch, 1920, 1080)
        big = MainWindow(settings)
        qtbot.addWidget(big)
        big.resize(1800, 1000)
        big.close()  # saves the geometry
        again = MainWindow(settings)
        qtbot.addWidget(again)
        assert (again.width(), again.height()) == (1800, 1000)
    fake_screen(monkeypatch, 1024, 700)
    window = MainWindow(settings)
    qtbot.addWidget(window)
    assert window.width() <= 1024 and window.height() <= 700
    assert window.minimumSizeHint().width() <= window.width()
    assert window.minimumSizeHint().height() <= window.height()
