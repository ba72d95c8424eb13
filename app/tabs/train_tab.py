"""Train tab: dataset, preset and hyper-parameters; Start / Pause / Resume / Stop; live views and losses.

Training runs in a TrainingWorker; this tab only sends it requests and shows what it emits. Live
visuals arrive already throttled by the worker; if several queue up, only the latest is drawn.
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cyclegan_workbench.app import locations
from cyclegan_workbench.app.dialogs import show_error, show_warning
from cyclegan_workbench.app.tabs.train_settings import TrainingForm, dataset_summary
from cyclegan_workbench.app.widgets.forms import PathEdit, vertical_scroll
from cyclegan_workbench.app.widgets.image_viewer import ImagePanel
from cyclegan_workbench.app.widgets.loss_plot import LossPlot
from cyclegan_workbench.app.workers import DatasetWorker, TrainingWorker
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.config import DEFAULT_PRESET, RunConfig

VIEWS = (("real_A", "real A"), ("fake_B", "fake B = G_A(A)"), ("rec_A", "reconstructed A"),
         ("real_B", "real B"), ("fake_A", "fake A = G_B(B)"), ("rec_B", "reconstructed B"))


def format_duration(seconds: float) -> str:
    """A duration that cannot be read as a time of day: '45 s', '16 min 22 s', '2 h 05 min'."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min {s:02d} s" if m else f"{s} s"


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
        self._dataset_worker: DatasetWorker | None = None
        self._pending_start: tuple[RunConfig, Path, bool] | None = None
        self._last_report = None
        self._pending_visuals = None
        self._pending_plot = None
        self._stop_requested = False
        self._layers: dict[str, list[str]] = {}
        self.visuals_drawn = 0  # live updates shown so far
        self._draw_timer = QTimer(self, singleShot=True, interval=0)
        self._draw_timer.timeout.connect(self._on_draw_due)
        self._build()
        self.form.load_preset(DEFAULT_PRESET)
        self.set_dataset(str(locations.default_dataset_dir()))
        self._update_buttons()

    # --- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        controls = QWidget()
        cv = QVBoxLayout(controls)
        cv.addWidget(self._dataset_box())
        self.form = TrainingForm()
        cv.addWidget(self.form)
        cv.addWidget(self._run_box())
        cv.addStretch(1)
        scroll = vertical_scroll(controls)

        self.views: dict[str, ImagePanel] = {}
        view_grid = QGridLayout()
        view_grid.setSpacing(4)
        for i, (key, title) in enumerate(VIEWS):
            self.views[key] = ImagePanel(title)
            view_grid.addWidget(self.views[key], i // 3, i % 3)
        views = QWidget()
        views.setLayout(view_grid)

        self.response_which = QComboBox()
        self.response_which.addItem("G_A (A→B)", "G_A")
        self.response_which.addItem("G_B (B→A)", "G_B")
        self.response_layer = QComboBox()
        self.response_layer.setMinimumContentsLength(6)
        self.response_layer.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.response_view = ImagePanel("Responses", placeholder="Feature maps of the chosen layer for the "
                                                                 "probe image appear while training")
        row = QHBoxLayout()
        row.addWidget(self.response_which)
        row.addWidget(self.response_layer, 1)
        response = QWidget()
        rv = QVBoxLayout(response)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addLayout(row)
        rv.addWidget(self.response_view, 1)
        self.response_which.currentIndexChanged.connect(self._on_response_generator_changed)
        self.response_layer.currentIndexChanged.connect(self._on_response_layer_changed)

        top = QSplitter(Qt.Horizontal)
        top.addWidget(views)
        top.addWidget(response)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        self.loss_plot = LossPlot()
        plots = QSplitter(Qt.Vertical)
        plots.addWidget(top)
        plots.addWidget(self.loss_plot)
        plots.setStretchFactor(0, 3)
        plots.setStretchFactor(1, 2)
        self.plots = plots
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self._control_bar())
        rv.addWidget(plots, 1)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 950])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    def _dataset_box(self) -> QGroupBox:
        box = QGroupBox("Dataset")
        v = QVBoxLayout(box)
        self.dataset = PathEdit("Dataset folder (trainA, trainB, testA, testB)")
        self.dataset.path_changed.connect(self._on_dataset_changed)
        self.dataset_info = QLabel()
        self.dataset_info.setWordWrap(True)
        self.default_dataset_button = QPushButton("Built-in dataset")
        self.default_dataset_button.setToolTip("The default toy dataset, generated on first use")
        self.default_dataset_button.clicked.connect(lambda: self.set_dataset(str(locations.default_dataset_dir())))
        v.addWidget(self.dataset)
        v.addWidget(self.dataset_info)
        v.addWidget(self.default_dataset_button, 0, Qt.AlignLeft)
        return box

    def _run_box(self) -> QGroupBox:
        box = QGroupBox("Run")
        v = QVBoxLayout(box)
        self.run_dir = PathEdit("Run folder (checkpoints and losses)")
        self.run_dir.edit.setPlaceholderText("new folder in the workbench's runs")
        self.run_dir.setToolTip("Where checkpoints go. Empty: a new folder. A stopped run here: Resume continues it.")
        self.run_dir.path_changed.connect(lambda _: self._update_buttons())
        self.open_test_button = QPushButton("Open in Test tab")
        self.open_test_button.clicked.connect(lambda: self.open_in_test.emit(self.run_dir.text()))
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.1, 20.0)
        self.rate.setSingleStep(0.5)
        self.rate.setValue(2.0)
        self.rate.setSuffix(" / s")
        self.rate.setToolTip("How often the live views (images, responses, loss curves) refresh at most")
        self.rate.valueChanged.connect(self._on_rate_changed)
        rate_row = QFormLayout()
        rate_row.addRow("Live views at most", self.rate)
        v.addWidget(self.run_dir)
        v.addLayout(rate_row)
        v.addWidget(self.open_test_button, 0, Qt.AlignLeft)
        return box

    def _control_bar(self) -> QWidget:
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.start_button.setToolTip("Train a new run (Ctrl+Return)")
        self.pause_button.setToolTip("Pause after the current step (Ctrl+P)")
        self.resume_button.setToolTip("Continue a paused run, or the stopped run in the run folder (Ctrl+R)")
        self.stop_button.setToolTip("Stop after the current step and save a resumable checkpoint (Ctrl+.)")
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress_label = QLabel("Not running")
        self.progress_label.setMinimumWidth(1)  # long status lines are clipped, never widen the window
        self.progress_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        bar = QWidget()
        grid = QGridLayout(bar)
        grid.setContentsMargins(4, 0, 4, 0)
        for i, b in enumerate((self.start_button, self.pause_button, self.resume_button, self.stop_button)):
            grid.addWidget(b, 0, i)
        grid.addWidget(self.progress, 0, 4)
        grid.addWidget(self.progress_label, 1, 0, 1, 5)
        # Why there is no accuracy, or that the run has painted every shape one colour for a while.
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #a04000;")
        self.notice.setVisible(False)
        grid.addWidget(self.notice, 2, 0, 1, 5)
        grid.setColumnStretch(4, 1)
        return bar

    def export_widget(self) -> QWidget:
        """The live views and the loss curves."""
        return self.plots

    # --- configuration ---------------------------------------------------------------------------
    def config(self) -> RunConfig:
        """The form's configuration for the dataset in the dataset field (validated)."""
        return self.form.config(self.dataset.text())

    def set_dataset(self, path: str) -> None:
        self.dataset.set_text(path)

    def set_run_dir(self, path: str) -> None:
        self.run_dir.set_text(path)

    def _is_default_dataset(self, path: str) -> bool:
        return bool(path) and Path(path) == locations.default_dataset_dir()

    def _on_dataset_changed(self, path: str) -> None:
        if self._is_default_dataset(path) and not (Path(path) / "trainA").is_dir():
            self.dataset_info.setText("Built-in toy dataset (red circles and green triangles vs gray shapes); "
                                      "generated here when you start training.")
            self.dataset_info.setStyleSheet("")
            return
        try:
            self.dataset_info.setText(dataset_summary(path) if path else "Choose a dataset folder")
            self.dataset_info.setStyleSheet("")
        except UserError as exc:
            self.dataset_info.setText(str(exc))
            self.dataset_info.setStyleSheet("color: #b00020;")

    # --- actions ---------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._worker is not None or self._dataset_worker is not None

    def start(self) -> None:
        """Train a new run with the form's settings."""
        if self.busy:
            return
        try:
            cfg = self.config()
            if not cfg.dataroot:
                raise UserError("choose a dataset folder first")
            run_dir = Path(self.run_dir.text()) if self.run_dir.text() else self._new_run_dir(cfg)
            if (run_dir / checkpoints.STATE_FILE).exists():
                # Start always starts a new run: one that has saved is kept for Resume, never overwritten.
                kept, run_dir = run_dir, self._new_run_dir(cfg)
                self.status_changed.emit(f"{kept} holds a saved run (Resume continues it); the new run goes to "
                                         f"{run_dir}")
            if not self._is_default_dataset(cfg.dataroot) or (Path(cfg.dataroot) / "trainA").is_dir():
                dataset_summary(cfg.dataroot)
        except UserError as exc:
            show_warning(self, "Cannot start training", str(exc))
            return
        self._pending_start = (cfg, run_dir, False)
        if self._is_default_dataset(cfg.dataroot) and not (Path(cfg.dataroot) / "trainA").is_dir():
            self._generate_default_dataset(Path(cfg.dataroot))
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
        run_dir = Path(self.run_dir.text())
        try:
            saved = checkpoints.load_config(run_dir)
            if not (run_dir / checkpoints.STATE_FILE).is_file():
                raise UserError(f"nothing to resume in {run_dir}: no {checkpoints.STATE_FILE}")
        except UserError as exc:
            show_warning(self, "Cannot resume", str(exc))
            return
        self.form.set_config(saved)
        # A resume trains on the run's own dataset; the dataset field only stands in when that has moved.
        dataroot = saved.dataroot if saved.dataroot and Path(saved.dataroot).is_dir() else self.dataset.text()
        self.dataset.set_text(dataroot)
        cfg = replace(saved, dataroot=dataroot)
        self._pending_start = (cfg, run_dir, True)
        self._launch()

    def pause(self) -> None:
        if self._worker is not None and not self._worker.paused:
            self._worker.pause()
            self.status_changed.emit("Training paused (after the current step)")
            self._update_buttons()

    def stop(self) -> None:
        """Stop after the current step; the worker saves a resumable checkpoint."""
        if self._dataset_worker is not None:
            self._dataset_worker.abort()
        if self._worker is not None:
            self._stop_requested = True
            self._worker.abort()
            self.progress_label.setText("Stopping after the current step…")
            self.status_changed.emit("Stopping training and saving a checkpoint…")
        self._update_buttons()

    def shutdown(self) -> None:
        """For the window's close: stop everything; `idle` follows once the checkpoint is written."""
        self._pending_start = None
        self.stop()

    def _new_run_dir(self, cfg: RunConfig) -> Path:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = locations.runs_dir() / f"{cfg.preset}-{stamp}"
        k = 1
        while path.exists():
            k += 1
            path = locations.runs_dir() / f"{cfg.preset}-{stamp}-{k}"
        return path

    def _generate_default_dataset(self, target: Path) -> None:
        from cyclegan_workbench.data.shapes import PRESETS as DATASET_PRESETS

        params = DATASET_PRESETS["default"]()
        self._dataset_worker = DatasetWorker(params, target)
        self._dataset_worker.signals.progressed.connect(self._on_dataset_progressed)
        self._dataset_worker.signals.failed.connect(self._on_dataset_failed)
        self._dataset_worker.signals.finished.connect(self._on_dataset_finished)
        self.progress.setRange(0, params.image_count())
        self.progress_label.setText("Generating the built-in dataset (first use)…")
        self.status_changed.emit(f"Generating the built-in dataset into {target}")
        self._dataset_worker.start()
        self._update_buttons()

    def _launch(self) -> None:
        cfg, run_dir, resume = self._pending_start
        self._pending_start = None
        self._stop_requested = False
        self._last_report = None
        self._worker = TrainingWorker(cfg, run_dir, resume=resume)
        self._on_rate_changed(self.rate.value())
        self._worker.plot_size = self.loss_plot.pixel_size()
        self.loss_plot.live = True
        self._on_response_layer_changed()
        s = self._worker.signals
        s.started.connect(self._on_started)
        s.progressed.connect(self._on_progressed)
        s.visuals_updated.connect(self._on_visuals_updated)
        s.plotted.connect(self._on_plotted)
        s.failed.connect(self._on_failed)
        s.finished.connect(self._on_finished)
        self.run_dir.set_text(str(run_dir), notify=False)
        self.progress.setRange(0, 0)
        self.progress_label.setText("Loading the dataset and building the model…")
        self.status_changed.emit(("Resuming " if resume else "Training ") + str(run_dir))
        self._worker.start()
        self._update_buttons()

    def _update_buttons(self) -> None:
        training = self._worker is not None
        paused = training and self._worker.paused
        run_dir = Path(self.run_dir.text()) if self.run_dir.text() else None
        resumable = (run_dir is not None and (run_dir / checkpoints.STATE_FILE).is_file()
                     and (run_dir / checkpoints.CONFIG_FILE).is_file())
        self.start_button.setEnabled(not self.busy)
        self.pause_button.setEnabled(training and not paused and not self._stop_requested)
        self.resume_button.setEnabled((paused and not self._stop_requested) or (not self.busy and resumable))
        self.stop_button.setEnabled(self.busy and not self._stop_requested)
        has_weights = run_dir is not None and (run_dir / "latest_net_G_A.pth").is_file()
        self.open_test_button.setEnabled(has_weights and not training)
        for w in (self.dataset, self.default_dataset_button, self.run_dir):
            w.setEnabled(not self.busy)
        self.form.set_editable(not self.busy)

    # --- worker slots ----------------------------------------------------------------------------
    def _on_dataset_progressed(self, done_total) -> None:
        done, total = done_total
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _on_dataset_failed(self, message: str) -> None:
        self._pending_start = None
        show_error(self, "Could not generate the built-in dataset", message)

    def _on_dataset_finished(self, path) -> None:
        self._dataset_worker = None
        self._on_dataset_changed(self.dataset.text())
        if path is None or self._pending_start is None:
            self._pending_start = None
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.progress_label.setText("Not running")
            self._update_buttons()
            self.idle.emit()
            return
        self._launch()

    def _on_started(self, info) -> None:
        total = info.cfg.training.total_epochs * info.iterations_per_epoch
        self.progress.setRange(0, total)
        self.progress.setValue(info.start_epoch * info.iterations_per_epoch)
        if info.history:
            self.loss_plot.load_history(info.history, info.iterations_per_epoch)
        else:
            self.loss_plot.clear_data()
        which = self.response_which.currentData()
        self._layers = info.layers
        self._fill_layers(which)
        self.progress_label.setText(f"{info.counts['A']} A / {info.counts['B']} B images, "
                                    f"{info.iterations_per_epoch} iterations per epoch")
        self._show_notice(info.note)

    def _show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _fill_layers(self, which: str) -> None:
        labels = self._layers.get(which, [])
        current = self.response_layer.currentIndex()
        self.response_layer.blockSignals(True)
        self.response_layer.clear()
        self.response_layer.addItems(labels)
        self.response_layer.setCurrentIndex(min(max(current, 0), len(labels) - 1))
        self.response_layer.blockSignals(False)
        self._on_response_layer_changed()

    def _on_response_generator_changed(self, *_) -> None:
        self._fill_layers(self.response_which.currentData())

    def _on_response_layer_changed(self, *_) -> None:
        which = self.response_which.currentData()
        if self._worker is not None:
            self._worker.response_layer = (which, max(self.response_layer.currentIndex(), 0))

    def _on_rate_changed(self, value: float) -> None:
        if self._worker is not None:
            self._worker.visuals_interval = 1.0 / value
            # Loss curves cost a matplotlib draw in the training thread: at most twice a second.
            self._worker.plot_interval = max(1.0 / value, 0.5)

    def _on_plotted(self, image) -> None:
        self._pending_plot = image
        self._schedule_draw()

    def _on_progressed(self, report) -> None:
        self.loss_plot.add_report(report)
        if self._worker is not None:
            self._worker.plot_size = self.loss_plot.pixel_size()
        summary = report.epoch_summary
        if summary is not None:
            self.run_saved.emit(str(self._worker.run_dir if self._worker else self.run_dir.text()))
            if summary.warning:
                self._show_notice(summary.warning)
            elif summary.accuracy is not None and not summary.collapsed:
                self._show_notice("")
        self._last_report = report
        self._schedule_draw()

    def _on_visuals_updated(self, visuals) -> None:
        self._pending_visuals = visuals
        self._schedule_draw()

    def _schedule_draw(self) -> None:
        if not self._draw_timer.isActive():
            self._draw_timer.start()

    def _on_draw_due(self) -> None:
        r = self._last_report
        if r is not None:
            self.progress.setMaximum(r.total_steps)
            self.progress.setValue(r.global_step)
            state = "paused · " if self._worker is not None and self._worker.paused else ""
            acc = ""
            if r.epoch_summary is not None and r.epoch_summary.accuracy is not None:
                acc = f" · accuracy {r.epoch_summary.accuracy:.1%}"
            self.progress_label.setText(
                f"{state}epoch {r.epoch}/{r.total_epochs} · iteration {r.iteration}/{r.iterations_per_epoch}"
                f" · {r.seconds * 1000:.0f} ms/step · {format_duration(r.eta)} left{acc}")
        plot, self._pending_plot = self._pending_plot, None
        if plot is not None:
            self.loss_plot.show_image(plot)
        v, self._pending_visuals = self._pending_visuals, None
        if v is not None:
            for key, panel in self.views.items():
                panel.set_image(v.images.get(key))
            self.response_view.set_image(v.response)
            self.response_view.set_title(v.response_label or "Responses")
            self.visuals_drawn += 1

    def _on_failed(self, message: str) -> None:
        show_error(self, "Training stopped", message)

    def _on_finished(self, outcome) -> None:
        self._worker = None
        self.loss_plot.live = False
        self._stop_requested = False
        self._on_draw_due()  # the last report and views (all were queued before `finished`)
        self._draw_timer.stop()
        if outcome is not None:
            run_dir = str(outcome.run_dir)
            if outcome.completed:
                text = f"Training complete: {outcome.epoch} epochs. Saved in {run_dir}"
            else:
                text = (f"Stopped at epoch {outcome.epoch + 1}, iteration {outcome.iteration}; checkpoint saved in "
                        f"{run_dir}. Resume continues it.")
            self.progress_label.setText(text)
            self.status_changed.emit(text)
            self.run_saved.emit(run_dir)
        else:
            self.progress_label.setText("Training stopped with an error; the last checkpoint is kept")
            if self.progress.maximum() == 0:
                self.progress.setRange(0, 1)
        self._update_buttons()
        self.idle.emit()
