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

import errno
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PyQt5.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

from models.errors import UserError

log = logging.getLogger(__name__)

_alive: set["Worker"] = set()
_alive_lock = threading.Lock()


def running_workers() -> list["Worker"]:
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
        from data.shapes import GenerationCancelled, generate_dataset

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


@dataclass
class LiveVisuals:
    step: int
    images: dict[str, np.ndarray]  # real_A, fake_B, rec_A, real_B, fake_A, rec_B (uint8)
    response: np.ndarray | None = None  # the chosen layer's feature-map grid (uint8 RGB)
    response_label: str = ""


@dataclass
class TrainingOutcome:
    run_dir: Path
    completed: bool  # all epochs done (else stopped, resumable)
    epoch: int
    iteration: int
    checkpoint: Path | None = None


class TrainingSignals(WorkerSignals):
    started = pyqtSignal(object)  # TrainingStarted
    visuals_updated = pyqtSignal(object)  # LiveVisuals


class TrainingWorker(Worker):
    """Runs models.training.Trainer; pause/resume/stop are forwarded to it (thread-safe flags)."""

    Signals = TrainingSignals
    job = "training"

    def __init__(self, cfg, run_dir: str | Path, resume: bool = False, visuals_interval: float = 0.5):
        super().__init__()
        self.cfg, self.run_dir, self.resume = cfg, Path(run_dir), resume
        self.visuals_interval = visuals_interval  # seconds between live visuals (read by the worker)
        self.response_layer: tuple[str, int] = ("G_A", 0)  # set from the GUI thread; read between steps
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
        from models import checkpoints
        from models.training import Trainer

        trainer = Trainer(self.cfg, self.run_dir, resume=self.resume)
        with self._lock:
            self._trainer = trainer
            if self.aborted:
                trainer.request_stop()
            elif self.paused:
                trainer.request_pause()
        self._live = LiveProbe(trainer)
        per_epoch = trainer.dataset.batches_per_epoch(trainer.cfg.training.batch_size)
        self.signals.started.emit(TrainingStarted(
            trainer.run_dir, trainer.cfg, {"A": len(trainer.dataset.A), "B": len(trainer.dataset.B)}, per_epoch,
            trainer.epoch, list(trainer.history), self._live.layer_labels()))
        last_visuals = -float("inf")
        stepped = False
        for report in trainer.run():
            stepped = True
            self.signals.progressed.emit(report)
            now = time.monotonic()
            if report.epoch_summary is not None or now - last_visuals >= self.visuals_interval:
                last_visuals = now
                self.signals.visuals_updated.emit(self._live.visuals(report.global_step, *self.response_layer))
        if not stepped and self.aborted:
            trainer.save(reason="stop")  # stopped before the first step: still leave a resumable run
        return TrainingOutcome(trainer.run_dir, trainer.finished, trainer.epoch, trainer.iteration,
                               trainer.run_dir / checkpoints.STATE_FILE)


class LiveProbe:
    """The live views of a training run, computed in the training thread between two steps.

    A fixed probe pair (the first training image of each domain) goes through both generators, so
    successive views are comparable; the response panel shows one layer of either generator for it.
    """

    def __init__(self, trainer):
        self.model = trainer.model
        self.device = trainer.device
        self.real_A = trainer.dataset.A.images[:1].float().div(127.5).sub(1.0).to(self.device)
        self.real_B = trainer.dataset.B.images[:1].float().div(127.5).sub(1.0).to(self.device)
        self.responses = {"G_A": LayerResponses(self.model.G_A), "G_B": LayerResponses(self.model.G_B)}

    def layer_labels(self) -> dict[str, list[str]]:
        return {k: r.labels() for k, r in self.responses.items()}

    @torch.no_grad()
    def visuals(self, step: int, which: str, layer: int) -> LiveVisuals:
        from data.unaligned import to_image

        m = self.model
        was_training = m.training
        m.eval()
        try:
            fake_B = m.G_A(self.real_A)
            rec_A = m.G_B(fake_B)
            fake_A = m.G_B(self.real_B)
            rec_B = m.G_A(fake_A)
            tensors = {"real_A": self.real_A, "fake_B": fake_B, "rec_A": rec_A,
                       "real_B": self.real_B, "fake_A": fake_A, "rec_B": rec_B}
            images = {k: to_image(v[0]) for k, v in tensors.items()}
            probe = self.real_A if which == "G_A" else self.real_B
            grid, label = self.responses[which].render(probe, layer)
        finally:
            m.train(was_training)
        return LiveVisuals(step, images, grid, f"{which}: {label}")
