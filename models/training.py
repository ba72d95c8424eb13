"""The one training loop, shared by the command line and the GUI worker.

`Trainer.run()` is a generator: it yields a `StepReport` after every iteration and honours stop and
pause requests between iterations (the requests are thread-safe flags, so a GUI thread may set them
while the loop runs in a worker). It never prints; callers turn reports into progress bars or signals.
Under torchrun the same loop trains data-parallel (models.distributed): each rank takes its share of every
batch, the ranks agree on losses and on when to stop, and rank 0 alone validates and writes the run folder.

Optional: a time cap (seconds of training, kept in the training state so a resume continues the count) and
callbacks (TrainerCallback) called between iterations; the time the callbacks, saves, pauses and the caller
take is not training time. A callback may keep a small JSON record in the training state.
"""
from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import numbers
import random
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.files import (
    atomic_write_text,
    claim_folder,
    remove_leftovers,
)
from cyclegan_workbench.data.unaligned import (
    UnalignedDataset,
    domain_folder,
    paired_test_batches,
)
from cyclegan_workbench.models import checkpoints, distributed
from cyclegan_workbench.models.collapse import CollapseWatch
from cyclegan_workbench.models.config import RunConfig, validate
from cyclegan_workbench.models.cyclegan import LOSS_NAMES, CycleGAN
from cyclegan_workbench.models.evaluation import ColourizationProbe, evaluate_losses
from cyclegan_workbench.models.runtime import (
    configure_threads,
    resolve_device,
    tune_allocator,
)

log = logging.getLogger(__name__)


class TrainingDiverged(UserError):
    """A loss became NaN or infinite; the last saved checkpoint, if any, is kept."""


@dataclass
class EpochSummary:
    epoch: int
    train: dict[str, float]
    validation: dict[str, float] | None
    accuracy: float | None
    seconds: float
    lr: float
    warning: str | None = None  # set when the colourization has collapsed for several epochs (models.collapse)
    collapsed: bool = False  # this epoch's colourization looks collapsed (one colour, or chance)


@dataclass
class StepReport:
    epoch: int  # 1-based
    total_epochs: int
    iteration: int  # 1-based, within the epoch
    iterations_per_epoch: int
    global_step: int
    losses: dict[str, float]
    seconds: float  # this iteration
    elapsed: float  # training time of this run so far (resumed runs count from the resume)
    lr: float
    epoch_summary: EpochSummary | None = None  # set on an epoch's last iteration
    start_step: int = 0  # global step this run (re)started from, for the ETA
    train_seconds: float = 0.0  # training time of the whole run, resumes included: what the time cap counts

    @property
    def total_steps(self) -> int:
        return self.total_epochs * self.iterations_per_epoch

    @property
    def eta(self) -> float:
        """Seconds left, from this run's pace (validation time included in it)."""
        return self.elapsed / max(self.global_step - self.start_step, 1) * (self.total_steps - self.global_step)


class TrainerCallback:
    """Hooks of Trainer.run(), called in the training thread between iterations; all no-ops here.

    The time they take is not training time. Every process calls them (torchrun); rank 0's records are the
    ones saved. A callback with a `key` keeps `state_dict()` (plain JSON data) in the training state, saved
    with every save of it; a resume hands the saved record to `load_state_dict()` (a ValueError there makes
    the state count as damaged). Records of callbacks absent from a resume are kept as they are.
    """

    key: str | None = None
    every_seconds: float | None = None  # on_interval's period in seconds of training; None: never

    def on_step(self, trainer: Trainer, report: StepReport) -> None:
        """After every iteration (its epoch's end, if it is the last, included; the epoch not yet saved)."""

    def on_interval(self, trainer: Trainer, report: StepReport) -> None:
        """After the iteration that reaches the next multiple of every_seconds, after on_step."""

    def on_epoch_end(self, trainer: Trainer, summary: EpochSummary) -> None:
        """After an epoch's end, before its save: what it records is saved with that epoch."""

    def on_stop(self, trainer: Trainer) -> None:
        """A stop request or the time cap ends the run early (trainer.stopped_by says which); before its save."""

    def state_dict(self):
        return None

    def load_state_dict(self, record) -> None:
        pass


class Trainer:
    """Trains a CycleGAN described by a RunConfig into a run directory.

    time_cap: stop after the iteration that brings the run's training seconds to it (None: no cap).
    callbacks: TrainerCallback instances, called in order.
    """

    def __init__(self, cfg: RunConfig, run_dir: str | Path, resume: bool = False, *,
                 time_cap: float | None = None, callbacks=()):
        self.time_cap = _time_cap(time_cap)
        self.callbacks: list[TrainerCallback] = list(callbacks)
        keys = [c.key for c in self.callbacks if c.key is not None]
        if len(keys) != len(set(keys)):
            raise ValueError(f"two callbacks share a record key: {keys}")
        if any(c.every_seconds is not None and not c.every_seconds > 0 for c in self.callbacks):
            raise ValueError("every_seconds must be positive")
        self.run_dir = Path(run_dir)
        self.world = distributed.from_environment()
        if resume:
            saved = checkpoints.load_config(self.run_dir)
            # A resume continues the saved run; only where the data lives may change.
            saved.dataroot = cfg.dataroot or saved.dataroot
            cfg = saved
        validate(cfg)
        if not cfg.dataroot:
            raise UserError("no dataset folder given")
        self.cfg = cfg
        t = cfg.training
        self.world.check_batch_size(t.batch_size)
        tune_allocator()
        configure_threads(t.num_threads)
        self.device = self.world.join(resolve_device(t.device))
        self.dataset = UnalignedDataset(cfg.dataroot, "train", cfg.network.input_nc or None,
                                        cfg.network.output_nc or None, t.load_size, t.crop_size, t.flip, t.seed)
        cfg.network.input_nc, cfg.network.output_nc = self.dataset.A.channels, self.dataset.B.channels
        self.world.run_on_main(lambda: self._prepare_run_dir(resume))
        # A run folder is always resumable or plainly restartable: the resume of a run that never saved an
        # epoch (killed, diverged, disk full) starts it again with its saved settings.
        state = checkpoints.load_training_state(self.run_dir) if resume and self._has_state() else None
        torch.manual_seed(t.seed)
        random.seed(t.seed)
        np.random.seed(t.seed)
        self.model = CycleGAN(cfg, self.device)
        self.contrasts = self.dataset.contrasts()
        self.model.set_contrasts(self.contrasts)
        self.history: list[dict] = []
        self.collapse = CollapseWatch()
        self.epoch, self.iteration = 0, 0
        self.train_seconds = 0.0  # what the time cap counts, saved with the state
        # Why run() ends: "epochs", "time cap" or "stop"; set once decided (the cap: on the iteration reaching it).
        self.stopped_by: str | None = None
        self._records: dict = {}  # saved records, those of callbacks absent now included (kept, not dropped)
        self._tick: float | None = None  # since when training time is being counted; None: not counting
        self._clock_stops = 0  # nesting depth of _off_the_clock()
        if state is not None:
            self._restore(state)
            self.world.run_on_main(lambda: checkpoints.repair_latest_networks(self.run_dir, self.model.networks()))
        else:
            self.world.run_on_main(lambda: checkpoints.save_config(self.run_dir, cfg))
        self.world.wrap(self.model)
        # Validation and accuracy are rank 0's: the other ranks would only repeat them.
        self._val_batches = self._load_validation() if self.world.is_main else None
        self.probe, self.probe_note = None, ""  # the note: why there is no accuracy, or what it leaves out
        if t.val_images and self.world.is_main:
            probe = ColourizationProbe.create(cfg.dataroot, t.crop_size, limit=t.val_images)
            self.probe, self.probe_note = (None, probe) if isinstance(probe, str) else (probe, probe.note)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        # Called in the training thread with (epoch, iteration) when a pause takes hold: no step runs
        # from then until request_resume or request_stop.
        self.on_hold: Callable[[int, int], None] | None = None

    # --- control (thread-safe) -------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()

    def request_pause(self) -> None:
        self._running.clear()

    def request_resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def finished(self) -> bool:
        return self.epoch >= self.cfg.training.total_epochs

    # --- set-up ----------------------------------------------------------------------------------
    def _has_state(self) -> bool:
        return (self.run_dir / checkpoints.STATE_FILE).is_file()

    def _prepare_run_dir(self, resume: bool) -> None:
        """Refuse someone else's folder or a finished run before any work; clean killed writes' leftovers."""
        if not resume and self._has_state():
            raise UserError(f"{self.run_dir} already holds a run; resume it (--resume) or choose another folder")
        # A folder with our config.json but no training state never saved an epoch: it may be restarted.
        claim_folder(self.run_dir, checkpoints.CONFIG_FILE, "run", create_marker=False)
        for name in remove_leftovers(self.run_dir):
            log.info("removed %s, left over from an interrupted save", name)

    def _load_validation(self):
        t = self.cfg.training
        if not t.val_images:
            return None
        try:
            domain_folder(self.cfg.dataroot, "test", "A")
            domain_folder(self.cfg.dataroot, "test", "B")
        except UserError:
            return None  # no held-out split: train without validation
        batches = list(paired_test_batches(self.cfg.dataroot, self.dataset.A.channels, self.dataset.B.channels,
                                           t.crop_size, batch_size=32, limit=t.val_images))
        return batches

    # --- the loop --------------------------------------------------------------------------------
    def run(self):
        """Train until the last epoch, a stop request or the time cap; yields a StepReport per iteration.

        Afterwards stopped_by says why it ended. A run whose cap is already used up trains nothing.
        """
        self.stopped_by = None
        if not self.finished and self._cap_reached():
            self.stopped_by = "time cap"
            return
        self._tick = time.perf_counter()
        try:
            yield from self._loop()
        finally:
            self._count()
            self._tick = None

    def _loop(self):
        t = self.cfg.training
        per_epoch = self.dataset.batches_per_epoch(t.batch_size)
        start_step = self.epoch * per_epoch + self.iteration
        started = time.perf_counter()
        ticks = [(math.floor(self.train_seconds / c.every_seconds) + 1) * c.every_seconds if c.every_seconds
                 else None for c in self.callbacks]
        while self.epoch < t.total_epochs:
            if self.iteration >= per_epoch:
                # Stopped during an epoch's end (validation, checkpoint) after its last step: finish that
                # end, which has no randomness, rather than loop over an epoch with no batches left.
                with warnings.catch_warnings():
                    # No optimizer has stepped in this process yet; the restored schedule is right.
                    warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
                    summary = self._end_epoch(0.0)
                self._call("on_epoch_end", summary)
                self.save(reason="epoch")
                continue
            epoch_start = time.perf_counter()
            for index, real_A, real_B in self.dataset.epoch(self.epoch, t.batch_size, start=self.iteration):
                # One rank's stop request (a signal to one process) stops every rank after the same step.
                if not self.world.everyone(self._wait_while_paused()):
                    self.stopped_by = self.stopped_by or "stop"
                    self._call("on_stop")
                    self.save(reason="stop")
                    return
                t0 = time.perf_counter()
                batch_size = real_A.shape[0]  # the global batch; this rank trains on its share
                losses = self.world.average(self.model.optimize(self.world.share(real_A), self.world.share(real_B)))
                if not all(math.isfinite(v) for v in losses.values()):
                    bad = ", ".join(k for k, v in losses.items() if not math.isfinite(v))
                    kept = ("the last saved checkpoint is kept; --resume continues from it" if self._has_state()
                            else "nothing was saved yet, so the same --out starts the run again")
                    raise TrainingDiverged(
                        f"training diverged at epoch {self.epoch + 1}, iteration {index + 1}: {bad} became "
                        f"NaN or infinite; try a lower learning rate ({kept}).")
                self.iteration = index + 1
                self._accumulate(losses, batch_size)
                summary = None
                if self.iteration == per_epoch:
                    summary = self._end_epoch(time.perf_counter() - epoch_start)
                now = time.perf_counter()
                report = StepReport(
                    epoch=self.epoch + (0 if summary else 1), total_epochs=t.total_epochs,
                    iteration=index + 1, iterations_per_epoch=per_epoch,
                    global_step=(self.epoch - (1 if summary else 0)) * per_epoch + index + 1,
                    losses=losses, seconds=now - t0, elapsed=now - started, lr=self.model.learning_rate,
                    epoch_summary=summary, start_step=start_step, train_seconds=self._count())
                self._after_step(report, ticks)
                with self._off_the_clock():
                    yield report
        self.stopped_by = "epochs"

    def _after_step(self, report: StepReport, ticks: list) -> None:
        """The callbacks, the epoch's save and the time cap, in that order."""
        self._call("on_step", report)
        for i, callback in enumerate(self.callbacks):
            if ticks[i] is not None and report.train_seconds >= ticks[i]:
                with self._off_the_clock():
                    callback.on_interval(self, report)
                while ticks[i] <= report.train_seconds:
                    ticks[i] += callback.every_seconds
        if report.epoch_summary is not None:
            self._call("on_epoch_end", report.epoch_summary)
            self.save(reason="epoch")
        if not self.finished and self._cap_reached():
            # The stop flag, not a return, so that every rank stops after this iteration (the next one's
            # agreement); from here on nothing is training, so the clock stops.
            self.stopped_by = "time cap"
            self._stop.set()
            self._count()
            self._tick = None

    def _call(self, hook: str, *args) -> None:
        with self._off_the_clock():
            for callback in self.callbacks:
                getattr(callback, hook)(self, *args)

    def _cap_reached(self) -> bool:
        return self.time_cap is not None and self.train_seconds >= self.time_cap

    # --- the training clock: seconds in the loop, less callbacks, saves, pauses and the caller's turns ----
    def _count(self) -> float:
        if self._tick is not None and not self._clock_stops:
            now = time.perf_counter()
            self.train_seconds += now - self._tick
            self._tick = now
        return self.train_seconds

    @contextlib.contextmanager
    def _off_the_clock(self):
        self._count()
        self._clock_stops += 1
        try:
            yield
        finally:
            self._clock_stops -= 1
            if self._tick is not None:
                self._tick = time.perf_counter()

    def _wait_while_paused(self) -> bool:
        """Blocks while paused; False when a stop was requested."""
        if not self._running.is_set():
            with self._off_the_clock():
                # A paused run is saved where it holds, so the Test tab (or translate) can open the generators
                # as they are now; resuming afterwards is unaffected (saving draws no random numbers).
                self.save(reason="pause")
                if self.on_hold is not None:
                    self.on_hold(self.epoch, self.iteration)
                while not self._running.wait(timeout=0.1):
                    pass
        return not self._stop.is_set()

    def _accumulate(self, losses: dict[str, float], n: int) -> None:
        acc = getattr(self, "_epoch_sums", None)
        if acc is None or self.iteration == 1:
            acc = self._epoch_sums = {"n": 0, **{k: 0.0 for k in LOSS_NAMES}}
        acc["n"] += n
        for k, v in losses.items():
            acc[k] += v * n

    def _end_epoch(self, seconds: float) -> EpochSummary:
        acc = self._epoch_sums
        train = {k: acc[k] / max(acc["n"], 1) for k in LOSS_NAMES}
        validation = evaluate_losses(self.model, self._val_batches) if self._val_batches else None
        accuracy = warning = None
        if self.probe is not None:
            score = self.probe.accuracy(self.model.G_B if self.probe.gray_domain == "B" else self.model.G_A,
                                        self.device)
            accuracy = score.accuracy
            collapse = self.collapse.update(score)
            warning = collapse.message if collapse else None
        lr = self.model.learning_rate
        self.model.step_schedulers()
        self.epoch += 1
        self.iteration = 0
        summary = EpochSummary(self.epoch, train, validation, accuracy, seconds, lr, warning,
                               collapsed=self.collapse.streak > 0)
        self.history.append({"epoch": self.epoch, "lr": lr, "seconds": seconds, "train": train,
                             "validation": validation, "accuracy": accuracy})
        return summary  # saved by the caller, after the callbacks, so that their records go with this epoch

    # --- checkpoints -----------------------------------------------------------------------------
    def save(self, reason: str = "epoch") -> None:
        """Latest weights, the full training state and losses.csv; numbered weights every few epochs.

        Every rank calls it at the same points; rank 0 writes while the others wait, so that none leaves (and
        torchrun ends the group) before the run folder is complete, and a failed write stops every rank.
        """
        with self._off_the_clock():
            self.world.run_on_main(lambda: self._write_run_files(reason))

    def _write_run_files(self, reason: str) -> None:
        nets = self.model.networks()
        # The training state first: it is what a resume trusts, and a resume rewrites latest_net_* from it
        # when a kill fell between the two (checkpoints.repair_latest_networks).
        checkpoints.save_training_state(self.run_dir, self._state())
        checkpoints.save_networks(self.run_dir, nets, "latest")
        freq = self.cfg.training.save_epoch_freq
        if reason == "epoch" and freq and (self.epoch % freq == 0 or self.finished):
            checkpoints.save_networks(self.run_dir, nets, str(self.epoch))
        atomic_write_text(self.run_dir / checkpoints.LOSSES_FILE, self.losses_csv())

    def _state(self) -> dict:
        m = self.model
        version, internal, gauss = random.getstate()
        return {
            "epoch": self.epoch, "iteration": self.iteration,
            "nets": {k: v.state_dict() for k, v in m.networks().items()},
            "optimizer_G": m.optimizer_G.state_dict(), "optimizer_D": m.optimizer_D.state_dict(),
            "schedulers": [s.state_dict() for s in m.schedulers],
            "pools": {"A": m.pool_A.state_dict(), "B": m.pool_B.state_dict()},
            "rng": {"torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                    "python": [version, list(internal), gauss]},
            "epoch_sums": getattr(self, "_epoch_sums", None) if self.iteration else None,
            "history": self.history,
            "collapse": self.collapse.state_dict(),
            "train_seconds": self.train_seconds,
            "callbacks": {**self._records, **{c.key: _plain_json(c.state_dict()) for c in self.callbacks
                                              if c.key is not None}},
        }

    def _restore(self, state: dict) -> None:
        """Load a saved training state; any damage (a hand edit, another version) is one clear UserError."""
        m = self.model
        try:
            for name, net in m.networks().items():
                checkpoints.load_weights(net, state["nets"][name], f"{self.run_dir} ({name})")
            for name, optimizer in (("optimizer_G", m.optimizer_G), ("optimizer_D", m.optimizer_D)):
                _load_optimizer(optimizer, state[name], name)
            if len(state["schedulers"]) != len(m.schedulers):
                raise ValueError("wrong number of schedulers")
            for s, s_state in zip(m.schedulers, state["schedulers"]):
                s.load_state_dict(s_state)
            n, size = self.cfg.network, self.cfg.training.crop_size
            m.pool_A.load_state_dict(state["pools"]["A"], self.device, (n.input_nc, size, size))
            m.pool_B.load_state_dict(state["pools"]["B"], self.device, (n.output_nc, size, size))
            torch.set_rng_state(state["rng"]["torch"])
            if state["rng"]["cuda"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
                self.world.restore_cuda_rng(state["rng"]["cuda"])
            version, internal, gauss = state["rng"]["python"]
            random.setstate((version, tuple(internal), gauss))
            self.epoch, self.iteration = _position(state, self.cfg.training.total_epochs,
                                                   self.dataset.batches_per_epoch(self.cfg.training.batch_size))
            if state.get("epoch_sums"):
                # States saved before the shape losses existed lack their (zero) sums.
                self._epoch_sums = {"shape_A": 0.0, "shape_B": 0.0,
                                    **{k: float(v) for k, v in dict(state["epoch_sums"]).items()}}
                if set(self._epoch_sums) != {"n", *LOSS_NAMES}:
                    raise ValueError("unexpected running loss sums")
            self.history = list(state.get("history", []))
            self.collapse.load_state_dict(state.get("collapse", {}))
            self.train_seconds = _seconds(state.get("train_seconds", 0.0))  # states of older versions: 0
            self._records = _plain_json(state.get("callbacks", {}))
            if not isinstance(self._records, dict):
                raise ValueError("callbacks must map keys to records")
            for callback in self.callbacks:
                if callback.key in self._records:
                    callback.load_state_dict(self._records[callback.key])
            self.losses_csv()  # the history must be writable as losses.csv
            self._state()
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged state fails in many ways; none may escape as a traceback
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise UserError(f"the training state in {self.run_dir} is damaged, incomplete or from another "
                            f"version ({detail}); start a new run in another folder") from exc

    def losses_csv(self) -> str:
        """One row per epoch: learning rate, mean train losses, validation losses, accuracy, seconds."""
        val_keys = sorted({k for h in self.history if h["validation"] for k in h["validation"]})
        header = ["epoch", "lr", "seconds"] + [f"train_{k}" for k in LOSS_NAMES] + \
                 [f"val_{k}" for k in val_keys] + ["accuracy"]
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        for h in self.history:
            val = h["validation"] or {}
            writer.writerow([h["epoch"], f"{h['lr']:.6g}", f"{h['seconds']:.2f}"]
                            + [f"{h['train'].get(k, 0.0):.6f}" for k in LOSS_NAMES]
                            + [f"{val[k]:.6f}" if k in val else "" for k in val_keys]
                            + ["" if h["accuracy"] is None else f"{h['accuracy']:.4f}"])
        return out.getvalue()


def _time_cap(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
        raise UserError(f"the time cap must be a positive number of seconds, got {value!r}")
    return float(value)


def _seconds(value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
        raise ValueError(f"train_seconds is {value!r}")
    return float(value)


def _plain_json(value, depth: int = 0):
    """`value` as plain JSON data (tuples as lists, NumPy numbers as Python ones), so that a weights-only
    load reads it back; ValueError for anything else (tensors, objects, keys that are not strings)."""
    if depth > 32:
        raise ValueError("a callback record is nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain_json(v, depth + 1) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain_json(v, depth + 1) for k, v in value.items()}
    raise ValueError(f"a callback record holds {type(value).__name__}, not JSON data")


def _position(state: dict, total_epochs: int, per_epoch: int) -> tuple[int, int]:
    epoch, iteration = state["epoch"], state["iteration"]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (epoch, iteration)):
        raise ValueError("epoch and iteration must be integers")
    if not (0 <= epoch <= total_epochs and 0 <= iteration <= per_epoch):
        raise ValueError(f"position epoch {epoch}, iteration {iteration} is outside the run")
    return epoch, iteration


def _load_optimizer(optimizer: torch.optim.Optimizer, saved, name: str) -> None:
    """optimizer.load_state_dict, checked: torch accepts settings and moments of any type or shape, and a
    damaged one would fail only at the next step, in the middle of training."""
    template = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    moments = saved.get("state") if isinstance(saved, dict) else None
    if not isinstance(moments, dict) or not all(isinstance(v, dict) for v in moments.values()):
        raise ValueError(f"{name} is not an optimizer state")  # before torch reads it in ways that warn
    optimizer.load_state_dict(saved)
    for group, fresh in zip(optimizer.param_groups, template):
        for key, value in fresh.items():
            loaded = group.get(key)
            if type(loaded) is not type(value) or (isinstance(value, tuple) and len(loaded) != len(value)):
                raise ValueError(f"{name}: setting {key} is {loaded!r}")
            numbers = loaded if isinstance(loaded, tuple) else (loaded,)
            if any(isinstance(x, float) and not math.isfinite(x) for x in numbers):
                raise ValueError(f"{name}: setting {key} is {loaded!r}")
        expected = {"step", "exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group.get("amsgrad") else set())
        for p in group["params"]:
            state = optimizer.state.get(p)
            if not state:
                continue  # Adam starts the moments of a parameter it has not stepped yet
            if set(state) != expected or not all(isinstance(v, torch.Tensor) for v in state.values()):
                raise ValueError(f"{name}: the moments of a parameter are incomplete")
            if state["step"].ndim or not state["step"].is_floating_point():
                raise ValueError(f"{name}: step must be a float scalar")
            for key in expected - {"step"}:
                value = state[key]
                if value.shape != p.shape or value.dtype != p.dtype or not torch.isfinite(value).all():
                    raise ValueError(f"{name}: {key} does not fit its parameter (shape, type or NaN)")
