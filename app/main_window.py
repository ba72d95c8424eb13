"""The main window: Train, Test and Dataset tabs, menus (the Experiments menu is app.experiments_menu's),
recent items, export, remembered settings.

`launch()` is what `cyclegan-workbench` without a subcommand calls.
"""
from __future__ import annotations

import gc
import sys
from pathlib import Path

from PyQt5.QtCore import QSettings, Qt
from PyQt5.QtGui import QIcon, QKeySequence
from PyQt5.QtWidgets import (
    QAction,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
)

from cyclegan_workbench.app import locations
from cyclegan_workbench.app.dialogs import install_excepthook, show_error, show_message
from cyclegan_workbench.app.experiments_menu import ExperimentsMenu
from cyclegan_workbench.app.tabs.dataset_tab import DatasetTab
from cyclegan_workbench.app.tabs.test_tab import TestTab
from cyclegan_workbench.app.tabs.train_tab import TrainTab

APP_NAME = "CycleGAN Workbench"
ORGANIZATION = "cyclegan-workbench"
MAX_RECENT = 10
RECENT_KINDS = {"dataset": "Dataset", "run": "Run", "checkpoint": "Checkpoint"}

SHORTCUTS = (
    ("Ctrl+1 / Ctrl+2 / Ctrl+3", "Train, Test, Dataset tab"),
    ("Ctrl+D", "Open a dataset folder (Train tab)"),
    ("Ctrl+O", "Open a run folder (Test tab)"),
    ("Ctrl+Shift+O", "Open a generator checkpoint .pth (Test tab)"),
    ("Ctrl+E", "Export the visible panels of the current tab to PNG"),
    ("Ctrl+Return", "Start training"),
    ("Ctrl+P / Ctrl+R", "Pause / resume training"),
    ("Ctrl+.", "Stop training (saves a resumable checkpoint)"),
    ("Ctrl+G", "Generate the dataset (Dataset tab)"),
    ("Ctrl+B", "Nullify the bottleneck (Test tab)"),
    ("Ctrl+Backspace", "Reset all masks (Test tab)"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo a mask edit (Test tab)"),
    ("Ctrl+S / Ctrl+L", "Save / load a mask set (Test tab)"),
    ("Wheel, drag, F, double-click", "Zoom around the cursor, pan, fit an image to its panel"),
    ("Ctrl+Q", "Quit (stops training cleanly first)"),
)


class MainWindow(QMainWindow):
    def __init__(self, settings: QSettings | None = None):
        super().__init__()
        self.settings = settings or QSettings(ORGANIZATION, "workbench")
        self.setWindowTitle(APP_NAME)
        icon = locations.ICONS_DIR / "workbench.png"
        if icon.is_file():
            self.setWindowIcon(QIcon(str(icon)))
        self.tabs = QTabWidget()
        self.train_tab = TrainTab()
        self.test_tab = TestTab()
        self.dataset_tab = DatasetTab()
        self.tabs.addTab(self.train_tab, "Train")
        self.tabs.addTab(self.test_tab, "Test")
        self.tabs.addTab(self.dataset_tab, "Dataset")
        self.setCentralWidget(self.tabs)
        self.statusBar().showMessage("Ready", 3000)
        self._closing = False
        self._build_menus()
        self._connect_tabs()
        self._restore_settings()

    # --- menus -----------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        if menu is not None:
            menu.addAction(action)
        else:
            self.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Open &dataset…", self._on_open_dataset, "Ctrl+D",
                     "Choose a dataset folder to train on")
        self._action(file_menu, "&Open run…", self._on_open_run, QKeySequence.Open, "Open a run folder in the Test tab")
        self._action(file_menu, "Open &checkpoint (.pth)…", self._on_open_checkpoint, "Ctrl+Shift+O",
                     "Open one generator's weights (ours or the reference implementation's)")
        self.default_model_action = self._action(
            file_menu, "Open de&fault model", self.open_default_model, None,
            "The bundled model trained on the default toy dataset, in the Test tab")
        self.default_model_action.setEnabled(locations.has_default_model())
        self.recent_menu = file_menu.addMenu("Open &recent")
        file_menu.addSeparator()
        self._action(file_menu, "&Save mask set…", self.test_tab.save_masks_dialog, QKeySequence.Save)
        self._action(file_menu, "&Load mask set…", self.test_tab.load_masks_dialog, "Ctrl+L")
        self._action(file_menu, "&Export visible panels…", self._on_export, "Ctrl+E",
                     "Save what the current tab shows as a PNG")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.Quit)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self.test_tab.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.Undo)
        self.redo_action = self.test_tab.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        for action in (self.undo_action, self.redo_action):
            action.setStatusTip("Mask edits in the Test tab")
            edit_menu.addAction(action)

        train_menu = self.menuBar().addMenu("&Training")
        self._action(train_menu, "&Start", self.train_tab.start, "Ctrl+Return")
        self._action(train_menu, "&Pause", self.train_tab.pause, "Ctrl+P")
        self._action(train_menu, "&Resume", self.train_tab.resume, "Ctrl+R")
        self._action(train_menu, "S&top", self.train_tab.stop, "Ctrl+.")

        masks_menu = self.menuBar().addMenu("&Masks")
        self._action(masks_menu, "Nullify &bottleneck", self.test_tab.nullify_bottleneck, "Ctrl+B")
        self._action(masks_menu, "Reset &layer", self.test_tab.reset_layer)
        self._action(masks_menu, "Reset &all", self.test_tab.reset_all, "Ctrl+Backspace")

        self.experiments = ExperimentsMenu(self.test_tab, self)
        self.menuBar().addMenu(self.experiments.menu)

        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Keyboard shortcuts", self._on_shortcuts, "F1")
        self._action(help_menu, "&About", self._on_about)

        for i in range(3):
            self._action(None, f"Tab {i + 1}", lambda _=False, i=i: self.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}")
        self._action(None, "Generate dataset", lambda: self.dataset_tab.generate_button.click(), "Ctrl+G")
        self._rebuild_recent_menu()

    def _connect_tabs(self) -> None:
        for job in self._jobs():
            job.status_changed.connect(self._on_status)
        self.dataset_tab.dataset_chosen.connect(self._on_dataset_chosen)
        self.dataset_tab.dataset_generated.connect(lambda p: self.add_recent("dataset", p))
        self.train_tab.run_saved.connect(self._on_run_saved)
        self.train_tab.open_in_test.connect(self.open_run)
        for job in self._jobs():
            job.idle.connect(self._on_job_ended)
        self.test_tab.model_opened.connect(self._on_model_opened)

    # --- settings --------------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        s = self.settings
        geometry = s.value("window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 800)
        self.fit_to_screen()
        self.tabs.setCurrentIndex(int(s.value("window/tab", 0)))
        dataset = s.value("folders/dataset", "")
        if dataset and Path(dataset).is_dir():
            self.train_tab.set_dataset(dataset)
        out = s.value("folders/dataset_output", "")
        self.dataset_tab.output.set_text(out or str(locations.user_data_dir() / "datasets" / "my-shapes"),
                                         notify=False)
        for edit in (self.train_tab.dataset, self.train_tab.run_dir, self.dataset_tab.output):
            edit.start_dir = s.value("folders/last", "")

    def fit_to_screen(self) -> None:
        """At most the screen's available area (a geometry saved on a larger screen, or the 1280x800 default on
        a small one), and wholly on it."""
        screen = self.screen() if hasattr(self, "screen") else None
        if screen is None:
            return
        area = screen.availableGeometry()
        frame_w = self.frameGeometry().width() - self.geometry().width()
        frame_h = self.frameGeometry().height() - self.geometry().height()
        width = max(min(self.width(), area.width() - frame_w), self.minimumSizeHint().width())
        height = max(min(self.height(), area.height() - frame_h), self.minimumSizeHint().height())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        x = min(max(self.x(), area.left()), max(area.left(), area.right() - width - frame_w))
        y = min(max(self.y(), area.top()), max(area.top(), area.bottom() - height - frame_h))
        if (x, y) != (self.x(), self.y()):
            self.move(x, y)

    def _save_settings(self) -> None:
        s = self.settings
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/tab", self.tabs.currentIndex())
        s.setValue("folders/dataset", self.train_tab.dataset.text())
        s.setValue("folders/dataset_output", self.dataset_tab.output.text())
        s.sync()

    def _remember_folder(self, path: str) -> None:
        folder = str(Path(path) if Path(path).is_dir() else Path(path).parent)
        self.settings.setValue("folders/last", folder)
        for edit in (self.train_tab.dataset, self.train_tab.run_dir, self.dataset_tab.output):
            edit.start_dir = folder

    # --- recent items ----------------------------------------------------------------------------
    def recent_items(self) -> list[tuple[str, str]]:
        raw = self.settings.value("recent", []) or []
        if isinstance(raw, str):
            raw = [raw]
        items = []
        for entry in raw:
            kind, _, path = str(entry).partition("|")
            if kind in RECENT_KINDS and path:
                items.append((kind, path))
        return items

    def add_recent(self, kind: str, path: str) -> None:
        path = str(Path(path).resolve())
        items = [(k, p) for k, p in self.recent_items() if (k, p) != (kind, path)]
        items.insert(0, (kind, path))
        self.settings.setValue("recent", [f"{k}|{p}" for k, p in items[:MAX_RECENT]])
        self._remember_folder(path)
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        if locations.has_default_model():  # always at hand, whatever was opened since
            self.recent_menu.addAction("Default model (bundled)", self.open_default_model)
            self.recent_menu.addSeparator()
        items = self.recent_items()
        for kind, path in items:
            action = self.recent_menu.addAction(f"{RECENT_KINDS[kind]}: {path}")
            action.triggered.connect(lambda _=False, k=kind, p=path: self._on_open_recent(k, p))
        if not items:
            self.recent_menu.addAction("(nothing yet)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._on_clear_recent)

    def _on_clear_recent(self) -> None:
        self.settings.setValue("recent", [])
        self._rebuild_recent_menu()

    def _on_open_recent(self, kind: str, path: str) -> None:
        if not Path(path).exists():
            show_message(self, "Not found", f"{path} no longer exists.")
            return
        if kind == "dataset":
            self._on_dataset_chosen(path)
        else:
            self.open_run(path)

    # --- actions ---------------------------------------------------------------------------------
    def _start_dir(self) -> str:
        return self.settings.value("folders/last", "") or str(Path.home())

    def _on_open_dataset(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a dataset folder", self._start_dir())
        if path:
            self._on_dataset_chosen(path)

    def _on_dataset_chosen(self, path: str) -> None:
        self.train_tab.set_dataset(path)
        self.tabs.setCurrentWidget(self.train_tab)
        self.add_recent("dataset", path)

    def _on_open_run(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", self._start_dir())
        if path:
            self.open_run(path)

    def _on_open_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a generator checkpoint", self._start_dir(),
                                              "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.open_run(path)

    def open_default_model(self) -> None:
        self.tabs.setCurrentWidget(self.test_tab)
        self.test_tab.open_default()

    def open_run(self, path: str) -> None:
        """Open a run folder or a .pth in the Test tab."""
        self.tabs.setCurrentWidget(self.test_tab)
        self.test_tab.open_model(path)

    def _on_model_opened(self, path: str) -> None:
        self.add_recent("checkpoint" if Path(path).is_file() else "run", path)

    def _on_run_saved(self, run_dir: str) -> None:
        if Path(run_dir).is_dir():
            self.add_recent("run", run_dir)

    def _on_export(self) -> None:
        tab = self.tabs.currentWidget()
        name = self.tabs.tabText(self.tabs.currentIndex()).lower()
        path, _ = QFileDialog.getSaveFileName(self, "Export the visible panels",
                                              str(Path(self._start_dir()) / f"{name}.png"), "PNG image (*.png)")
        if path:
            self.export_tab(tab, path)

    def export_tab(self, tab, path: str) -> None:
        if not path.lower().endswith(".png"):
            path += ".png"
        if not tab.export_widget().grab().save(path, "PNG"):
            show_error(self, "Export failed", f"Could not write {path}.")
            return
        self.statusBar().showMessage(f"Exported to {path}", 5000)

    def _on_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    def _on_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;&nbsp;{v}</td></tr>" for k, v in SHORTCUTS)
        dialog = QDialog(self)
        dialog.setWindowTitle("Keyboard shortcuts")
        view = QTextBrowser()
        view.setHtml(f"<table>{rows}</table>")
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(view)
        layout.addWidget(buttons)
        dialog.resize(560, 440)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.open()

    def _on_about(self) -> None:
        show_message(self, f"About {APP_NAME}",
                     f"<b>{APP_NAME}</b><p>Train CycleGANs on toy shape datasets and look inside their generators: "
                     "layer responses, editable masks, skip connections, ablation scans.</p>"
                     "<p>Every job also runs headless: <code>cyclegan-workbench --help</code>.</p>",
                     QMessageBox.Information)

    # --- closing ---------------------------------------------------------------------------------
    def closeEvent(self, event) -> None:
        self._save_settings()
        busy = [t for t in self._jobs() if t.busy]
        if busy:
            # Stop the jobs, then close for real once they have ended (training saves a checkpoint first).
            self._closing = True
            for tab in busy:
                tab.shutdown()
            self.statusBar().showMessage("Stopping running jobs before closing…")
            event.ignore()
            return
        event.accept()

    def _on_job_ended(self) -> None:
        if self._closing and not any(t.busy for t in self._jobs()):
            self.close()

    def _jobs(self) -> tuple:
        """What may run a background job: each has `busy`, `shutdown()` and an `idle` signal."""
        return self.train_tab, self.dataset_tab, self.test_tab, self.experiments


def launch(argv: list[str] | None = None) -> int:
    from cyclegan_workbench.app.preload import preload_worker_libraries

    preload_worker_libraries()  # before Qt loads its GL stack: see app/preload.py
    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(ORGANIZATION)
    window = MainWindow()
    install_excepthook(window)
    window.show()
    window.test_tab.open_default()
    # Everything built so far (torch, Qt wrappers, the default model) lives as long as the app: moving
    # it out of the collector's sight shortens full collections, which otherwise froze the window for
    # 350-500 ms at a time while experiments ran.
    gc.freeze()
    return app.exec_()
