"""The main window's Experiments menu: the reproduction's experiments on the Test tab's loaded model.

Owns the menu, the one running ExperimentWorker (one experiment at a time), its non-modal progress
dialog, and the result windows it opens. The entries are the registered experiments'
(visualization.experiments.registry), each with its own menu text, tip and, where it asks for one, a
whole number (e.g. the skip level) asked for before it starts. The experiment runs on the loaded run's
gray -> RGB generator (whichever of G_A / G_B maps 1 -> 3 channels); the worker copies that generator,
so the Test tab stays usable meanwhile and its masks are never touched. Experiments that need several
trained runs (no run_on_loaded_model) are listed disabled below a separator: `cyclegan-workbench
reproduce` runs them.
"""
from __future__ import annotations

from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtWidgets import QAction, QInputDialog, QMenu, QProgressDialog, QWidget

from cyclegan_workbench.app.dialogs import show_error, show_warning
from cyclegan_workbench.app.experiment_dialog import ExperimentDialog
from cyclegan_workbench.app.workers import ExperimentWorker
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization.experiments.registry import experiment, experiments

PROGRESS_STEPS = 1000


def menu_title(key: str) -> str:
    """An experiment's menu text without its mnemonic and ellipsis, for dialogs and the status bar."""
    return experiment(key).menu.text.replace("&", "").rstrip("…")


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
        by_order = sorted(experiments(), key=lambda e: e.menu.order)
        self.actions: dict[str, QAction] = {}  # the experiments that run on the loaded model
        for described in by_order:
            if described.run_on_loaded_model is not None:
                action = self._add_action(described)
                action.triggered.connect(lambda _=False, k=described.key: self._on_triggered(k))
                self.actions[described.key] = action
        self.menu.addSeparator()
        self.reproduce_only: dict[str, QAction] = {}  # the ones only `cyclegan-workbench reproduce` runs
        for described in by_order:
            if described.run_on_loaded_model is None:
                self.reproduce_only[described.key] = self._add_action(described)
                self.reproduce_only[described.key].setEnabled(False)
        self.menu.menuAction().setStatusTip("The reproduction's experiments on the Test tab's model "
                                            "(open one there first)")
        test_tab.model_changed.connect(self._update_enabled)
        self._update_enabled()

    def _add_action(self, described) -> QAction:
        action = self.menu.addAction(described.menu.text)
        action.setStatusTip(described.menu.tip)
        action.setToolTip(described.menu.tip)
        return action

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
        described = experiment(key)
        question = described.menu.ask
        if question is None:
            self.run(key)
            return
        model = self.test_tab.model
        try:
            which = colourizer_of(model, self.test_tab.which) if model is not None else None
        except UserError as exc:
            show_warning(self.window, "No colourizer to study", str(exc))
            return
        allowed = question.choices(model.graphs[which]) if which else []
        if not allowed:
            show_warning(self.window, question.none_title, question.none_message.format(generator=which))
            return
        # Opened, not exec'd: the event loop keeps running while the question is asked.
        ask = QInputDialog(self.window)
        ask.setObjectName(f"{key}_{question.option}_dialog")
        ask.setAttribute(Qt.WA_DeleteOnClose, True)
        ask.setWindowTitle(described.title)
        ask.setLabelText(question.label.format(max=max(allowed)))
        ask.setInputMode(QInputDialog.IntInput)
        ask.setIntRange(min(allowed), max(allowed))
        ask.setIntValue(question.preferred if question.preferred in allowed else min(allowed))
        ask.intValueSelected.connect(lambda value: self.run(key, **{question.option: value}))
        ask.open()

    def run(self, key: str, **options) -> bool:
        """Start experiment `key` on the Test tab's model with the experiment's own `options` (e.g. level=2);
        False (with a message) when it cannot start."""
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
        title = menu_title(key)
        self.worker = ExperimentWorker(key, model.nets[which], model.size, model.dataroot, options=options,
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
