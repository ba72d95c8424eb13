"""The main window's Experiments menu: the reproduction's experiments on the Test tab's loaded model.

Owns the menu, the one running ExperimentWorker (one experiment at a time), its non-modal progress
dialog, and the result windows it opens. The experiment runs on the loaded run's gray -> RGB
generator (whichever of G_A / G_B maps 1 -> 3 channels); the worker copies that generator, so the
Test tab stays usable meanwhile and its masks are never touched. The architecture comparison needs
several trained runs and is left to `cyclegan-workbench reproduce`.
"""
from __future__ import annotations

from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtWidgets import QAction, QInputDialog, QMenu, QProgressDialog, QWidget

from cyclegan_workbench.app.dialogs import show_error, show_warning
from cyclegan_workbench.app.experiment_dialog import ExperimentDialog
from cyclegan_workbench.app.workers import ExperimentWorker
from cyclegan_workbench.data.errors import UserError

# (key of visualization.experiments, menu text, status tip)
ENTRIES = (
    ("bottleneck", "&Bottleneck nullification",
     "Accuracy and outputs with the bottleneck's responses zeroed vs intact"),
    ("skip", "First &skip connection isolated…",
     "Only one skip connection carries the input (everything below it zeroed): is colour left on edges or "
     "interiors?"),
    ("unseen", "&Unseen figures",
     "Rectangles from square to 1:6 and other shapes the model never saw: which colour, and where"),
    ("background", "Background &gray-level sweep",
     "Colourization accuracy on backgrounds from 0 to 255"),
    ("filters", "&Filter ranking (bottleneck + first layer)",
     "Nullify each filter of the bottleneck and of the first layer in turn; rank them by their effect"),
    ("shift", "S&hifted figures (centred vs shifted)",
     "The loaded generator on centred test figures and on the same figures randomly shifted"),
)
ARCHITECTURES_TIP = ("The architecture comparison trains several models; run it with "
                     "`cyclegan-workbench reproduce --out REPORT_DIR`")
PROGRESS_STEPS = 1000


def colourizer_of(model, preferred: str) -> str:
    """The loaded model's gray -> RGB generator: `preferred` when it is one, else the other; UserError
    naming what each generator maps when neither takes 1 channel to 3."""
    from cyclegan_workbench.visualization.experiments import as_colourizer

    for which in [preferred] + [k for k in model.graphs if k != preferred]:
        if which in model.graphs:
            try:
                as_colourizer(model.graphs[which])
                return which
            except UserError:
                continue
    shapes = ", ".join(f"{k} maps {g.input_shape[0]} -> {g.output_shape[0]} channels" for k, g in model.graphs.items())
    raise UserError(f"The experiments study a gray -> RGB colourizer (1 -> 3 channels), and this model has none "
                    f"({shapes}). Open the run folder, or the .pth of the generator that colourizes.")


class ExperimentsMenu(QObject):
    """Signals: `status_changed(text)`, `idle()` when a running experiment has ended (like the tabs')."""

    status_changed = pyqtSignal(str)
    idle = pyqtSignal()

    def __init__(self, test_tab, window: QWidget):
        super().__init__(window)
        self.test_tab, self.window = test_tab, window
        self.worker: ExperimentWorker | None = None
        self.progress: QProgressDialog | None = None
        self.last_outcome = None
        self.menu = QMenu("E&xperiments", window)
        self.menu.setToolTipsVisible(True)
        self.actions: dict[str, QAction] = {}
        for key, text, tip in ENTRIES:
            action = self.menu.addAction(text)
            action.setStatusTip(tip)
            action.setToolTip(tip)
            action.triggered.connect(lambda _=False, k=key: self._on_triggered(k))
            self.actions[key] = action
        self.menu.addSeparator()
        self.architectures = self.menu.addAction("Architecture comparison (cyclegan-workbench reproduce)")
        self.architectures.setEnabled(False)
        self.architectures.setStatusTip(ARCHITECTURES_TIP)
        self.architectures.setToolTip(ARCHITECTURES_TIP)
        self.menu.menuAction().setStatusTip("The reproduction's experiments on the Test tab's model "
                                            "(open one there first)")
        test_tab.model_changed.connect(self._update_enabled)
        self._update_enabled()

    # --- state -----------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    def _update_enabled(self) -> None:
        self.menu.setEnabled(self.test_tab.model is not None)
        for action in self.actions.values():
            action.setEnabled(not self.busy)

    def shutdown(self) -> None:
        """Ask the running experiment to stop (the window closes once `idle` arrives)."""
        if self.worker is not None:
            self.worker.abort()

    # --- starting --------------------------------------------------------------------------------
    def _on_triggered(self, key: str) -> None:
        if key != "skip":
            self.run(key)
            return
        model = self.test_tab.model
        try:
            which = colourizer_of(model, self.test_tab.which) if model is not None else None
        except UserError as exc:
            show_warning(self.window, "No colourizer to study", str(exc))
            return
        levels = model.graphs[which].skip_levels if which else []
        if not levels:
            show_warning(self.window, "No skip connections", f"{which} has no skip connections to isolate.")
            return
        # Opened, not exec'd: the event loop keeps running while the question is asked.
        ask = QInputDialog(self.window)
        ask.setObjectName("skip_level_dialog")
        ask.setAttribute(Qt.WA_DeleteOnClose, True)
        ask.setWindowTitle("First skip connection isolated")
        ask.setLabelText(f"Skip connection level to keep (1 = full resolution, up to {max(levels)}):")
        ask.setInputMode(QInputDialog.IntInput)
        ask.setIntRange(min(levels), max(levels))
        ask.setIntValue(1 if 1 in levels else min(levels))
        ask.intValueSelected.connect(lambda level: self.run("skip", level=level))
        ask.open()

    def run(self, key: str, level: int = 1) -> bool:
        """Start experiment `key` on the Test tab's model; False (with a message) when it cannot start."""
        model = self.test_tab.model
        if model is None:
            show_warning(self.window, "No model", "Open a run or a .pth in the Test tab first.")
            return False
        if self.busy:
            self.status_changed.emit("An experiment is already running; cancel it or wait for it to end")
            return False
        try:
            which = colourizer_of(model, self.test_tab.which)
        except UserError as exc:
            show_warning(self.window, "No colourizer to study", str(exc))
            return False
        title = dict((k, t) for k, t, _ in ENTRIES)[key].replace("&", "").rstrip("…")
        self.worker = ExperimentWorker(key, model.nets[which], model.size, model.dataroot, level=level,
                                       model=model.description, generator=which)
        self.worker.signals.progressed.connect(self._on_progressed)
        self.worker.signals.failed.connect(lambda message: show_error(self.window, f"{title} failed", message))
        self.worker.signals.finished.connect(self._on_finished)
        self.progress = self._progress_dialog(f"{title} on {which}…")
        self._update_enabled()
        self.worker.start()
        self.status_changed.emit(f"Running {title.lower()} on {which}")
        return True

    def _progress_dialog(self, text: str) -> QProgressDialog:
        dialog = QProgressDialog(text, "Cancel", 0, PROGRESS_STEPS, self.window)
        dialog.setObjectName("experiment_progress")
        dialog.setWindowTitle("Experiment")
        dialog.setWindowModality(Qt.NonModal)  # the Test tab stays usable while it runs
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumDuration(0)
        dialog.setValue(0)
        dialog.canceled.connect(self.cancel)
        dialog.show()
        return dialog

    # --- running ---------------------------------------------------------------------------------
    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.abort()
            if self.progress is not None:
                self.progress.setLabelText("Cancelling…")
            self.status_changed.emit("Cancelling the experiment…")

    def _on_progressed(self, fraction_message) -> None:
        fraction, message = fraction_message
        if self.progress is not None and self.worker is not None and not self.worker.aborted:
            self.progress.setValue(round(fraction * PROGRESS_STEPS))
            self.progress.setLabelText(message)

    def _on_finished(self, outcome) -> None:
        aborted = self.worker.aborted
        self.worker = None
        if self.progress is not None:
            self.progress.canceled.disconnect(self.cancel)  # closing a progress dialog emits canceled
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None
        self._update_enabled()
        self.last_outcome = outcome
        if outcome is not None:
            dialog = ExperimentDialog(outcome, self.window)
            dialog.show()
            self.status_changed.emit(f"{outcome.result.title}: done in {outcome.result.seconds:.1f} s")
        elif aborted:
            self.status_changed.emit("Experiment cancelled")
        self.idle.emit()
