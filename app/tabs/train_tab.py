"""Train tab: dataset, preset and hyper-parameters; Start / Pause / Resume / Stop; live views and losses.

Training runs in a TrainingWorker; this tab wires its widgets (train_dataset's DatasetBox, train_settings'
TrainingForm, train_run's RunBox, train_controls' ControlBar, train_live_views' LiveViews) to it: it sends
the worker requests and shows what it emits. Live visuals arrive already throttled by the worker; if
several queue up, only the latest is drawn.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import QSplitter, QVBoxLayout, QWidget

from cyclegan_workbench.app import locations
from cyclegan_workbench.app.dialogs import show_error, show_warning
from cyclegan_workbench.app.tabs.train_controls import ControlBar, outcome_line
from cyclegan_workbench.app.tabs.train_dataset import DatasetBox, dataset_summary, needs_generating
from cyclegan_workbench.app.tabs.train_live_views import LiveViews
from cyclegan_workbench.app.tabs.train_run import RunBox
from cyclegan_workbench.app.tabs.train_settings import TrainingForm
from cyclegan_workbench.app.widgets.forms import vertical_scroll
from cyclegan_workbench.app.workers import TrainingWorker
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models.config import DEFAULT_PRESET, RunConfig


class TrainTab(QWidget):
    """Signals: `run_saved(run_dir)` when a checkpoint exists; `open_in_test(run_dir)`; `idle()` when a
    job ends; `status_changed(text)` for the status bar."""

    run_saved = pyqtSignal(str)
    open_in_test = pyqtSignal(str)
    idle = pyqtSignal()
    status_changed = pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._worker: TrainingWorker | None = None
        self._pending_start: tuple[RunConfig, Path, bool] | None = None
        self._stop_requested = False
        self._pending: dict[str, object] = {}  # the latest report, loss-curve image and visuals not drawn yet
        self._draw_timer = QTimer(self, singleShot=True, interval=0)
        self._draw_timer.timeout.connect(self._on_draw_due)
        self._build()
        self._connect()
        self.form.load_preset(DEFAULT_PRESET)
        self.set_dataset(str(locations.default_dataset_dir()))
        self._update_buttons()

    # --- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.dataset_box, self.form, self.run_box = DatasetBox(), TrainingForm(), RunBox()
        self.controls, self.live = ControlBar(), LiveViews()
        # The path fields by their old names: the window remembers their folders.
        self.dataset, self.run_dir = self.dataset_box.folder, self.run_box.folder
        settings = QWidget()
        sv = QVBoxLayout(settings)
        for w in (self.dataset_box, self.form, self.run_box):
            sv.addWidget(w)
        sv.addStretch(1)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.controls)
        rv.addWidget(self.live, 1)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(vertical_scroll(settings))
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 950])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    def _connect(self) -> None:
        c = self.controls
        c.start_button.clicked.connect(self.start)
        c.pause_button.clicked.connect(self.pause)
        c.resume_button.clicked.connect(self.resume)
        c.stop_button.clicked.connect(self.stop)
        self.run_dir.path_changed.connect(lambda _: self._update_buttons())
        self.run_box.open_test_button.clicked.connect(lambda: self.open_in_test.emit(self.run_dir.text()))
        self.run_box.rate.valueChanged.connect(lambda _: self._send_rate())
        self.dataset_box.generation_progressed.connect(self.controls.show_steps)
        self.dataset_box.generation_finished.connect(self._on_dataset_generated)
        self.live.response.layer_chosen.connect(self._send_response_layer)

    def export_widget(self) -> QWidget:
        """The live views and the loss curves."""
        return self.live

    # --- configuration ---------------------------------------------------------------------------
    def config(self) -> RunConfig:
        """The form's configuration for the dataset in the dataset field (validated)."""
        return self.form.config(self.dataset.text())

    def set_dataset(self, path: str) -> None:
        self.dataset.set_text(path)

    def set_run_dir(self, path: str) -> None:
        self.run_dir.set_text(path)

    # --- actions ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None or self.dataset_box.generating

    def start(self) -> None:
        """Train a new run with the form's settings."""
        if self.busy:
            return
        try:
            cfg = self.config()
            if not cfg.dataroot:
                raise UserError("choose a dataset folder first")
            run_dir, kept = self.run_box.start_dir(cfg.preset)
            if not needs_generating(cfg.dataroot):
                dataset_summary(cfg.dataroot)
        except UserError as exc:
            show_warning(self, "Cannot start training", str(exc))
            return
        if kept is not None:
            self.status_changed.emit(f"{kept} holds a saved run (Resume continues it); the new run goes to {run_dir}")
        self._pending_start = (cfg, run_dir, False)
        if needs_generating(cfg.dataroot):
            self.controls.show_steps(0, self.dataset_box.generate_built_in())
            self.controls.progress_label.setText("Generating the built-in dataset (first use)…")
            self.status_changed.emit(f"Generating the built-in dataset into {cfg.dataroot}")
            self._update_buttons()
        else:
            self._launch()

    def resume(self) -> None:
        """Continue a paused run, or the stopped run in the run folder."""
        if self._worker is not None:
            if self._worker.paused:
                self._worker.resume_training()
                self.status_changed.emit("Training resumed")
            self._update_buttons()
            return
        if self.busy:
            return
        try:
            run_dir, saved = self.run_box.saved_run()
        except UserError as exc:
            show_warning(self, "Cannot resume", str(exc))
            return
        self.form.set_config(saved)
        # A resume trains on the run's own dataset; the dataset field only stands in when that has moved.
        dataroot = saved.dataroot if saved.dataroot and Path(saved.dataroot).is_dir() else self.dataset.text()
        self.dataset.set_text(dataroot)
        self._pending_start = (replace(saved, dataroot=dataroot), run_dir, True)
        self._launch()

    def pause(self) -> None:
        if self._worker is not None and not self._worker.paused:
            self._worker.pause()
            self.status_changed.emit("Training paused (after the current step)")
            self._update_buttons()

    def stop(self) -> None:
        """Stop after the current step; the worker saves a resumable checkpoint."""
        self.dataset_box.abort()
        if self._worker is not None:
            self._stop_requested = True
            self._worker.abort()
            self.controls.progress_label.setText("Stopping after the current step…")
            self.status_changed.emit("Stopping training and saving a checkpoint…")
        self._update_buttons()

    def shutdown(self) -> None:
        """For the window's close: stop everything; `idle` follows once the checkpoint is written."""
        self._pending_start = None
        self.stop()

    def _launch(self) -> None:
        cfg, run_dir, resume = self._pending_start
        self._pending_start = None
        self._stop_requested = False
        self._pending.clear()
        self._worker = TrainingWorker(cfg, run_dir, resume=resume)
        self._send_rate()
        self._worker.plot_size = self.live.loss_plot.pixel_size()
        self.live.loss_plot.live = True
        self._send_response_layer(*self.live.response.chosen())
        s = self._worker.signals
        s.started.connect(self._on_started)
        s.progressed.connect(self._on_progressed)
        s.visuals_updated.connect(lambda visuals: self._queue("visuals", visuals))
        s.plotted.connect(lambda image: self._queue("plot", image))
        s.failed.connect(lambda message: show_error(self, "Training stopped", message))
        s.finished.connect(self._on_finished)
        s.held.connect(lambda *_: self._update_buttons())  # a pause saved the run: it can be opened now
        self.run_dir.set_text(str(run_dir), notify=False)
        self.controls.show_busy("Loading the dataset and building the model…")
        self.status_changed.emit(("Resuming " if resume else "Training ") + str(run_dir))
        self._worker.start()
        self._update_buttons()

    def _update_buttons(self) -> None:
        training = self._worker is not None
        paused, stopping = training and self._worker.paused, self._stop_requested
        self.controls.set_actions(start=not self.busy, pause=training and not paused and not stopping,
                                  resume=(paused and not stopping) or (not self.busy and self.run_box.resumable()),
                                  stop=self.busy and not stopping)
        # A paused run has been saved where it holds (models.training), so it can be inspected meanwhile.
        self.run_box.open_test_button.setEnabled(self.run_box.has_weights() and (not training or paused))
        self.dataset_box.set_editable(not self.busy)
        self.run_dir.setEnabled(not self.busy)
        self.form.set_editable(not self.busy)

    # --- to the worker ---------------------------------------------------------------------------
    def _send_rate(self) -> None:
        if self._worker is not None:
            self._worker.visuals_interval, self._worker.plot_interval = self.run_box.intervals()

    def _send_response_layer(self, which: str, layer: int) -> None:
        if self._worker is not None:
            self._worker.response_layer = (which, layer)

    # --- from the workers ------------------------------------------------------------------------
    def _on_dataset_generated(self, ok: bool) -> None:
        if not ok or self._pending_start is None:
            self._pending_start = None
            self.controls.show_idle()
            self._update_buttons()
            self.idle.emit()
            return
        self._launch()

    def _on_started(self, info) -> None:
        self.controls.show_start(info)
        self.live.start_run(info)

    def _on_progressed(self, report) -> None:
        self.live.loss_plot.add_report(report)
        if self._worker is not None:
            self._worker.plot_size = self.live.loss_plot.pixel_size()
        summary = report.epoch_summary
        if summary is not None:
            self.run_saved.emit(str(self._worker.run_dir if self._worker else self.run_dir.text()))
            if summary.warning:
                self.controls.show_notice(summary.warning)
            elif summary.accuracy is not None and not summary.collapsed:
                self.controls.show_notice("")
        self._queue("report", report)

    def _queue(self, kind: str, item) -> None:
        """Keep the latest `item` of its kind and draw once the queued signals have all arrived."""
        self._pending[kind] = item
        if not self._draw_timer.isActive():
            self._draw_timer.start()

    def _on_draw_due(self) -> None:
        report = self._pending.pop("report", None)
        if report is not None:
            self.controls.show_report(report, paused=self._worker is not None and self._worker.paused)
        plot = self._pending.pop("plot", None)
        if plot is not None:
            self.live.loss_plot.show_image(plot)
        visuals = self._pending.pop("visuals", None)
        if visuals is not None:
            self.live.show_visuals(visuals)

    def _on_finished(self, outcome) -> None:
        self._worker = None
        self.live.loss_plot.live = False
        self._stop_requested = False
        self._on_draw_due()  # the last report and views (all were queued before `finished`)
        self._draw_timer.stop()
        self.controls.show_end(outcome_line(outcome))
        if outcome is not None:
            self.status_changed.emit(outcome_line(outcome))
            self.run_saved.emit(str(outcome.run_dir))
        self._update_buttons()
        self.idle.emit()
