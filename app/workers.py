"""Background jobs of the window: QRunnables composed with a QObject that owns their signals.

A QRunnable is not a QObject, so each worker carries a `signals` object created in the GUI thread;
signals emitted from the pool thread are queued to the GUI thread. Every worker polls an abort flag
between steps, and a module-level set keeps a reference to each running worker until its `run`
returns, so Python never collects one mid-run. `finished` is always the last signal a worker emits
(with its result, or None after `failed` or a cancel).

The GUI thread never touches a model while it trains: the training worker computes the live visuals
itself, between two steps, and emits plain numpy arrays.
"""
from __future__ import annotations

import copy
import errno
import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PyQt5.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization.plots import LossFigure, LossHistory

log = logging.getLogger(__name__)

_alive: set[Worker] = set()
_alive_lock = threading.Lock()


def running_workers() -> list[Worker]:
    """Workers whose run() has not returned yet."""
    with _alive_lock:
        return list(_alive)


def describe_error(exc: BaseException, job: str) -> str:
    """A message for a dialog: what went wrong and what the user can do about it."""
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, (MemoryError, torch.OutOfMemoryError)) or "out of memory" in str(exc).lower():
        return (f"{job} ran out of memory. Lower the batch size, the image size or ngf, "
                "or close other programs, and try again.")
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"{job} stopped: the disk is full ({exc.filename or 'no space left on device'}). Free some space."
    if isinstance(exc, OSError):
        return f"{job} failed: {exc.strerror or exc}" + (f" ({exc.filename})" if exc.filename else "")
    return f"{job} failed unexpectedly: {type(exc).__name__}: {exc}"


class WorkerSignals(QObject):
    progressed = pyqtSignal(object)
    failed = pyqtSignal(str)
    finished = pyqtSignal(object)


class Worker(QRunnable):
    """Base class: subclasses implement `work()`; errors become `failed`, then `finished(None)`."""

    Signals = WorkerSignals
    job = "the job"

    def __init__(self):
        super().__init__()
        self.setAutoDelete(False)  # Python owns the worker (see _alive), not the pool
        self.signals = self.Signals()
        self._abort = threading.Event()

    def start(self, pool: QThreadPool | None = None) -> None:
        with _alive_lock:
            _alive.add(self)
        (pool or QThreadPool.globalInstance()).start(self)

    def abort(self) -> None:
        """Ask the job to stop at its next check; thread-safe."""
        self._abort.set()

    @property
    def aborted(self) -> bool:
        return self._abort.is_set()

    def work(self):
        raise NotImplementedError

    def run(self) -> None:
        result = None
        try:
            result = self.work()
        except Exception as exc:  # noqa: BLE001 - every error must reach the GUI as a message
            if not isinstance(exc, UserError):
                log.exception("%s failed", self.job)
            self.signals.failed.emit(describe_error(exc, self.job.capitalize()))
        finally:
            try:
                self.signals.finished.emit(result)
            finally:
                with _alive_lock:
                    _alive.discard(self)


# --- dataset generation --------------------------------------------------------------------------
class DatasetWorker(Worker):
    """Writes a toy dataset; `progressed((done, total))` at most every 50 ms; finished(path or None)."""

    job = "dataset generation"

    def __init__(self, params, out_dir: str | Path, overwrite: bool = False):
        super().__init__()
        self.params, self.out_dir, self.overwrite = params, Path(out_dir), overwrite
        self._last_emit = 0.0

    def _progress(self, done: int, total: int) -> bool:
        now = time.monotonic()
        if now - self._last_emit >= 0.05 or done == total:
            self._last_emit = now
            self.signals.progressed.emit((done, total))
        return not self.aborted

    def work(self):
        from cyclegan_workbench.data.shapes import GenerationCancelled, generate_dataset

        try:
            return generate_dataset(self.params, self.out_dir, self.overwrite, progress=self._progress)
        except GenerationCancelled:
            return None


# --- training ------------------------------------------------------------------------------------
@dataclass
class TrainingStarted:
    run_dir: Path
    cfg: object  # RunConfig as the trainer uses it (channels filled in)
    counts: dict[str, int]  # images per domain
    iterations_per_epoch: int
    start_epoch: int
    history: list[dict]
    layers: dict[str, list[str]]  # readable layer labels of G_A and G_B, for the response panel
    note: str = ""  # what the user should know before the first epoch ends (no accuracy, and why)


@dataclass
class TrainingOutcome:
    run_dir: Path
    completed: bool  # all epochs done (else stopped, resumable)
    epoch: int
    iteration: int
    checkpoint: Path | None = None


class TrainingSignals(WorkerSignals):
    started = pyqtSignal(object)  # TrainingStarted
    visuals_updated = pyqtSignal(object)  # visualization.live_views.LiveVisuals
    plotted = pyqtSignal(object)  # the loss curves as an H x W x 4 uint8 image (visualization.plots)
    held = pyqtSignal(int, int)  # (epoch, iteration) at which a pause took hold: no step runs until resumed


class TrainingWorker(Worker):
    """Runs models.training.Trainer; pause/resume/stop are forwarded to it (thread-safe flags)."""

    Signals = TrainingSignals
    job = "training"

    def __init__(self, cfg, run_dir: str | Path, resume: bool = False, visuals_interval: float = 0.5,
                 plot_interval: float = 1.0):
        super().__init__()
        self.cfg, self.run_dir, self.resume = cfg, Path(run_dir), resume
        # Set from the GUI thread at any time (plain attribute writes), read by the worker between steps:
        self.visuals_interval = visuals_interval  # seconds between live visuals
        self.plot_interval = plot_interval  # seconds between loss-curve images
        self.plot_size: tuple[int, int] | None = None  # pixel size of the loss plot; None: no images
        self.response_layer: tuple[str, int] = ("G_A", 0)
        self._trainer = None
        self._paused = threading.Event()
        self._lock = threading.Lock()
        self._live = None

    # control, from the GUI thread
    def abort(self) -> None:
        super().abort()
        with self._lock:
            if self._trainer is not None:
                self._trainer.request_stop()

    def pause(self) -> None:
        self._paused.set()
        with self._lock:
            if self._trainer is not None:
                self._trainer.request_pause()

    def resume_training(self) -> None:
        self._paused.clear()
        with self._lock:
            if self._trainer is not None:
                self._trainer.request_resume()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    # the job, in the pool thread
    def work(self) -> TrainingOutcome:
        from cyclegan_workbench.models import checkpoints
        from cyclegan_workbench.models.training import Trainer
        from cyclegan_workbench.visualization.live_views import LiveProbe

        trainer = Trainer(self.cfg, self.run_dir, resume=self.resume)
        trainer.on_hold = self.signals.held.emit
        with self._lock:
            self._trainer = trainer
            if self.aborted:
                trainer.request_stop()
            elif self.paused:
                trainer.request_pause()
        self._live = LiveProbe.of_trainer(trainer)
        per_epoch = trainer.dataset.batches_per_epoch(trainer.cfg.training.batch_size)
        self.signals.started.emit(TrainingStarted(
            trainer.run_dir, trainer.cfg, {"A": len(trainer.dataset.A), "B": len(trainer.dataset.B)}, per_epoch,
            trainer.epoch, list(trainer.history), self._live.layer_labels(), trainer.probe_note))
        history = LossHistory.from_epochs(trainer.history, per_epoch)
        figure = LossFigure()
        last_visuals = last_plot = -float("inf")
        # A stop request (also one made before the first step) ends run() after it saved the state.
        for report in trainer.run():
            self.signals.progressed.emit(report)
            history.add_report(report)
            now = time.monotonic()
            if report.epoch_summary is not None or now - last_visuals >= self.visuals_interval:
                last_visuals = now
                self.signals.visuals_updated.emit(self._live.visuals(report.global_step, *self.response_layer))
            size = self.plot_size
            if size is not None and (report.epoch_summary is not None or now - last_plot >= self.plot_interval):
                last_plot = now
                self.signals.plotted.emit(figure.render(history, *size))
        return TrainingOutcome(trainer.run_dir, trainer.finished, trainer.epoch, trainer.iteration,
                               trainer.run_dir / checkpoints.STATE_FILE)


# --- ablation scan -------------------------------------------------------------------------------
class AblationWorker(Worker):
    """Ranks a layer's filters (visualization.ablation) on a private copy of the generator.

    The GUI keeps using its own graph and probe meanwhile. The worker copies the network (in its own
    thread: a deep copy of a large U-Net takes longer than a GUI frame) because every traced run
    switches its network between eval and train modes, which must never race with the GUI's runs.
    `progressed((done, total))` after every chunk; an abort returns the partial ranking.
    """

    job = "the ablation scan"

    def __init__(self, net, size: int, layer: int, inputs: torch.Tensor, masks, scoring_dataset: str = ""):
        super().__init__()
        self.net, self.size, self.layer = net, size, layer
        self.inputs = inputs.clone()
        self.masks = masks.copy()  # copy on write: later edits in the GUI do not reach the scan
        self.scoring_dataset = scoring_dataset

    def _progress(self, done: int, total: int) -> bool:
        self.signals.progressed.emit((done, total))
        return not self.aborted

    def work(self):
        from cyclegan_workbench.visualization.ablation import ScoringSet, ablate_layer
        from cyclegan_workbench.visualization.parser import parse_generator

        graph = parse_generator(copy.deepcopy(self.net), self.size, self.inputs.shape[-3])
        scoring = None
        if self.scoring_dataset:
            scoring = ScoringSet.from_dataset(self.scoring_dataset, self.size, limit=32)
        return ablate_layer(graph, self.layer, inputs=None if scoring else self.inputs, masks=self.masks,
                            scoring=scoring, progress=self._progress)


# --- experiments of the reproduction (visualization.experiments) ---------------------------------
@dataclass
class ExperimentOutcome:
    """A finished experiment with its figures already drawn (drawing takes longer than a GUI frame)."""

    result: object  # visualization.experiments.ExperimentResult, without its Figures
    pngs: dict[str, bytes]  # figure name -> PNG
    images: dict[str, np.ndarray]  # figure name -> the same, decoded to H x W x 3 uint8 RGB
    model: str  # what was loaded: the Test tab's description of the run or .pth
    generator: str  # G_A or G_B
    inputs: str  # where the images came from, in words


class ExperimentWorker(Worker):
    """Runs one registered experiment (visualization.experiments.run_loaded_experiment: any experiment
    with a run_on_loaded_model) on a private copy of a generator; `options` are the experiment's own
    (what its menu entry asked for, e.g. {"level": 2}).

    `progressed((fraction, message))` at most every 50 ms; `finished(ExperimentOutcome)`, or
    finished(None) after a cancel or a failure. The experiment builds its own masks, so the Test tab's
    masks are never involved.
    """

    job = "the experiment"

    def __init__(self, key: str, net, size: int, dataset: str = "", options: dict | None = None, model: str = "",
                 generator: str = "G_B", images: int = 40):
        super().__init__()
        self.key, self.net, self.size, self.dataset = key, net, size, dataset
        self.options = dict(options or {})
        self.model, self.generator, self.images = model, generator, images
        self._last_emit = -float("inf")

    def _progress(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._last_emit >= 0.05:
            self._last_emit = now
            self.signals.progressed.emit((float(fraction), message))

    def work(self):
        import copy

        from cyclegan_workbench.data.images import decode_image
        from cyclegan_workbench.visualization.experiments import (
            ExperimentCancelled,
            as_colourizer,
            figure_png,
            run_loaded_experiment,
        )

        # The copy is made here, not in the GUI thread: a 128 px U-Net (42 M parameters) takes ~0.2 s to
        # copy. Copying only reads the shared net; every forward of the Test tab's probe toggles the
        # modules' training flags (parser.eval_mode), which is why the experiment never runs on the shared
        # net itself, and why the copy is put in eval mode explicitly.
        net = copy.deepcopy(self.net).eval()
        if self.aborted:
            return None
        try:
            graph = as_colourizer(net, self.size)
            result, inputs = run_loaded_experiment(self.key, graph, self.size, self.dataset, self.images,
                                                   progress=self._progress, cancelled=lambda: self.aborted,
                                                   **self.options)
        except ExperimentCancelled:
            return None
        pngs, images = {}, {}
        for i, (name, fig) in enumerate(result.figures.items()):
            if self.aborted:
                return None
            self.signals.progressed.emit((1.0, f"drawing figure {i + 1} of {len(result.figures)}"))
            pngs[name] = figure_png(fig)
            images[name] = np.ascontiguousarray(decode_image(pngs[name], 3))
        # The Figures are not kept: the PNGs say the same, and thousands of live artists per figure would
        # lengthen every full garbage collection while a results window stays open.
        return ExperimentOutcome(replace(result, figures={}), pngs, images, self.model, self.generator, inputs)
