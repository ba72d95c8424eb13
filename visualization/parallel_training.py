"""Training a reproduction's independent models at once: worker processes on one machine, or torchrun's ranks.

The reproduction (visualization.reproduce) trains its models in groups (the default preset's, then the
architectures) and the models of a group do not depend on each other. Both classes here train a group's models
in several processes, each through the pipeline's own training stage, so every model's run folder and stage
file are those one process writes; the stage file also records which process trained it and on which device
(its "worker" entry). The pipeline then goes on with the group's experiments, which read those stages.

- `Workers` (`reproduce --workers N`, one machine): up to N spawned processes at once, one per model, started
  in turn as earlier ones finish. On CUDA worker k trains on `cuda:(k mod GPUs)` (torch.cuda.set_device in the
  worker); on a CPU each worker gets max(1, threads // N) torch threads. A worker's error stops the others
  after their current step (their states are saved, so a rerun resumes) and becomes the pipeline's UserError;
  so does Ctrl-C, which only the main process receives (see `_workers_ignore_sigint`). A worker whose main
  process is gone (killed, its terminal closed) stops the same way.
- `Ranks` (run by torchrun, WORLD_SIZE > 1): model i of a group is rank (i mod WORLD_SIZE)'s, trained on
  `cuda:LOCAL_RANK` with --device cuda, with no DistributedDataParallel inside a model. Rank 0 alone prepares
  the report folder and the datasets while the others wait; every rank waits at a gloo barrier once it has
  trained its share of a group; then rank 0 runs the experiments and writes the report, and the other ranks
  are done after the last group.

Public API
----------
Workers(count, device_name), Ranks(world): both have
    .start(device_name) / .stop()     around the pipeline's run (join and leave torchrun's group)
    .on_main(action)                  action's result in the main process (rank 0), None elsewhere
    .train(pipeline, group, total)    {stage: result} of the group's training stages (empty off rank 0)
    .describe(threads), .summary()    a line for the console, a dict for results.json
    .is_main                          whether this process runs the experiments and writes the report
where(record) -> str          "cpu, worker 1": a stage file's "worker" entry, for the timing lines
"""
from __future__ import annotations

import contextlib
import datetime
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from queue import Empty

import torch

from cyclegan_workbench.data.errors import UserError

# A worker's exit codes besides 0 (trained, its stage file written); an error's message comes through the queue.
_FAILED, _CANCELLED = 1, 3
_PROGRESS_INTERVAL = 1.0  # seconds between two progress messages a worker sends: the queue stays small
# How long a rank waits at a barrier for the others: a full-budget U-Net 128 trains for about 9 hours on a CPU.
_BARRIER_TIMEOUT = datetime.timedelta(days=7)


def where(record: dict) -> str:
    """Where a stage file's "worker" entry says its model trained: "cuda:1, worker 1" or "cpu, rank 3"."""
    kind = "rank" if record.get("launcher") == "torchrun" else "worker"
    return f"{record.get('device')}, {kind} {record.get('number')}"


# =================================================================================================
# Worker processes on one machine


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to train one model (picklable: it crosses into a spawned process)."""

    out: str
    budget: object  # reproduce.Budget
    device: str  # "cpu" or "cuda", as the pipeline was given
    seed: int
    model: str  # a ModelSpec name
    index: int  # the stage's place in the plan, for its progress line
    total: int
    worker: dict  # the stage file's "worker" entry
    threads: int
    gpu: int | None


class Workers:
    """Up to `count` worker processes train a group's unfinished models at once (see the module docstring)."""

    is_main = True

    def __init__(self, count: int, device_name: str):
        self.count = count
        self.device_name = device_name
        self.gpus = torch.cuda.device_count() if device_name == "cuda" else 0

    def describe(self, threads: int) -> str:
        text = f"{self.count} worker processes train each group's models"
        if not self.gpus:
            return f"{text}, {self._threads(threads)} torch thread(s) each"
        text += f", worker k on cuda:(k mod {self.gpus})"
        if self.count > self.gpus:  # allowed: small models leave a GPU idle much of the time
            text += f"; {self.count} workers share {self.gpus} GPU(s), so several train on one GPU"
        return text

    def summary(self) -> dict:
        return {"launcher": "workers", "count": self.count}

    def _threads(self, threads: int) -> int:
        return max(1, threads // self.count)

    def start(self, device_name: str) -> None:
        pass

    def stop(self) -> None:
        pass

    def on_main(self, action: Callable[[], object]):
        return action()

    def train(self, pipeline, group: list, total: int) -> dict:
        """The results of the group's training stages: reused when finished, else trained by the workers."""
        results, pending = {}, deque()
        for index, stage in group:
            if pipeline.saved_stage(stage.name) is not None:
                results[stage.name] = pipeline.run_stage(index, total, stage)  # reuses it
            else:
                pending.append((index, stage))
        if pending:
            results.update(_Pool(self, pipeline, total).run(pending))
        return {stage.name: results[stage.name] for _, stage in group}

    def job(self, pipeline, slot: int, index: int, total: int, stage) -> _Job:
        gpu = slot % self.gpus if self.gpus else None
        device = f"cuda:{gpu}" if gpu is not None else "cpu"
        record = {"launcher": "workers", "number": slot, "of": self.count, "device": device}
        return _Job(str(pipeline.out), pipeline.budget, self.device_name, pipeline.seed, stage.model.name, index,
                    total, record, self._threads(pipeline.threads), gpu)


class _Pool:
    """One group's worker processes: started in free slots, watched, stopped together on an error or Ctrl-C."""

    def __init__(self, workers: Workers, pipeline, total: int):
        self.workers, self.pipeline, self.total = workers, pipeline, total
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked torch threads or CUDA
        self.context = context
        self.events = context.Queue()
        self.stop = context.Event()  # set: every worker stops after its current step and saves its state
        self.running: dict[int, tuple] = {}  # slot -> (process, stage)
        self.errors: dict[str, str] = {}  # model -> the message its worker sent

    def run(self, pending: deque) -> dict:
        results, failure = {}, None
        try:
            while pending or self.running:
                if failure is None and not self.stop.is_set():
                    self._fill(pending)
                self._wait()
                for stage, code in self._reap():
                    if code == 0:
                        results[stage.name] = self.pipeline.collect_stage(stage.name)
                    elif code != _CANCELLED and failure is None:
                        failure = self._failure(stage.model.name, code)
                        self.stop.set()  # the others save their state and stop: a rerun resumes them
                if failure is not None or self._cancelled():
                    self.stop.set()
                    pending.clear()
        except BaseException:  # Ctrl-C above all: the workers stop after their step, and we wait for their saves
            self.stop.set()
            self._drain_until_all_exit()
            raise
        if failure is not None:
            raise UserError(failure)
        if self.stop.is_set():
            from cyclegan_workbench.visualization.reproduce import PipelineCancelled

            raise PipelineCancelled("reproduction cancelled; rerun to resume the training where it stopped")
        return results

    def _fill(self, pending: deque) -> None:
        for slot in range(self.workers.count):
            if not pending:
                return
            if slot in self.running:
                continue
            index, stage = pending.popleft()
            job = self.workers.job(self.pipeline, slot, index, self.total, stage)
            process = self.context.Process(target=_work, args=(job, self.events, self.stop),
                                           name=f"reproduce-{stage.model.name}")
            with _workers_ignore_sigint():
                process.start()
            self.running[slot] = (process, stage)
            self.pipeline.listener.stage_started(index, self.total, stage.name,
                                                 f"{stage.title} in worker {slot} ({job.worker['device']})")

    def _wait(self) -> None:
        wait([process.sentinel for process, _ in self.running.values()], timeout=0.2)
        self._relay()

    def _relay(self) -> None:
        """Pass the workers' progress to the pipeline's listener; keep their error messages."""
        while True:
            try:
                kind, model, *payload = self.events.get_nowait()
            except Empty:
                return
            if kind == "progress":
                self.pipeline.listener.stage_progress(*payload)
            elif kind == "error":
                self.errors[model] = payload[0]

    def _reap(self) -> list[tuple]:
        """(stage, exit code) of the workers that ended, their slots freed."""
        ended = []
        for slot, (process, stage) in list(self.running.items()):
            if process.exitcode is None:
                continue
            process.join()
            del self.running[slot]
            ended.append((stage, process.exitcode))
        if ended:
            self._relay()  # a worker puts its error message before it exits
        return ended

    def _failure(self, model: str, code: int) -> str:
        if model in self.errors:
            return f"training {model} failed: {self.errors[model]}"
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return f"the worker training {model} {how} (out of memory?); rerun to resume the other models"

    def _cancelled(self) -> bool:
        cancelled = self.pipeline.cancel_check
        return cancelled is not None and bool(cancelled())

    def _drain_until_all_exit(self) -> None:
        # A worker exits only once its queued messages are in the pipe: keep reading while waiting.
        while self.running:
            self._wait()
            self._reap()


@contextlib.contextmanager
def _workers_ignore_sigint():
    """Start a worker with SIGINT ignored, which it keeps (Python leaves an inherited ignored SIGINT alone).

    A terminal's Ctrl-C goes to every process of the command; the main process alone turns it into the stop
    event, so each worker finishes its step and saves, and no second signal interrupts a save half-way. A Ctrl-C
    in the moment a worker starts is ignored: press it again."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread; a GUI thread gets no Ctrl-C anyway
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _work(job: _Job, events, stop) -> None:
    """A worker process: trains one model through the pipeline's own training stage, then exits."""
    if job.gpu is not None:
        torch.cuda.set_device(job.gpu)  # before anything touches CUDA: "cuda" is this GPU from now on
    torch.set_num_threads(job.threads)
    from cyclegan_workbench.visualization.reproduce import PipelineCancelled, Reproduction

    parent = multiprocessing.parent_process()  # its sentinel is readable once the main process has gone

    def cancelled() -> bool:
        # An orphan (the main process killed, or its terminal closed) stops too: else it would train on and
        # write its stage into a folder that another run may own by then.
        return stop.is_set() or (parent is not None and not parent.is_alive())

    try:
        pipeline = Reproduction(job.out, job.budget, job.device, job.seed, listener=_Forwarder(events, job.model),
                                cancelled=cancelled)
        pipeline.run_stage(job.index, job.total, pipeline.training_stage(job.model), worker=job.worker)
    except PipelineCancelled:
        sys.exit(_CANCELLED)
    except UserError as exc:
        events.put(("error", job.model, str(exc)))
        sys.exit(_FAILED)
    except Exception as exc:  # noqa: BLE001 - reported as one line by the main process, like the CLI does
        detail = str(exc).splitlines()[0] if str(exc) else ""
        events.put(("error", job.model, f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} (a bug: "
                                        "CYCLEGAN_WORKBENCH_DEBUG=1 shows the traceback)"))
        if os.environ.get("CYCLEGAN_WORKBENCH_DEBUG"):
            raise
        sys.exit(_FAILED)


class _Forwarder:
    """A worker's pipeline listener: progress goes to the main process (at most one message a second); the
    main process announces the stage's start and end itself."""

    def __init__(self, events, model: str):
        self.events, self.model = events, model
        self._last = 0.0

    def stage_started(self, index, total, name, title) -> None:
        pass

    def stage_progress(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        if now - self._last >= _PROGRESS_INTERVAL:
            self._last = now
            self.events.put(("progress", self.model, fraction, message))

    def stage_finished(self, name, seconds, reused) -> None:
        pass

    def notice(self, text: str) -> None:
        pass


# =================================================================================================
# torchrun's ranks


class Ranks:
    """This process's part of a torchrun launch of `reproduce` (see the module docstring)."""

    def __init__(self, world):
        self.world = world  # models.distributed.World
        self.device = "cpu"
        self._handlers: dict = {}  # the signal handlers start() replaced

    @property
    def is_main(self) -> bool:
        return self.world.is_main

    def summary(self) -> dict:
        return {"launcher": "torchrun", "count": self.world.size}

    def describe(self, threads: int) -> str:
        return (f"{self.world.size} torchrun ranks train each group's models, model i on rank (i mod "
                f"{self.world.size}) ({self.device} here); rank 0 runs the experiments and writes the report")

    def start(self, device_name: str) -> None:
        """Join the launch's gloo group (barriers only: no model is data-parallel) on this rank's device."""
        import torch.distributed as dist

        if device_name == "cuda":
            if self.world.local_rank >= torch.cuda.device_count():
                raise UserError(f"process {self.world.local_rank} of this node has no GPU of its own "
                                f"({torch.cuda.device_count()} visible): start at most one process per GPU")
            torch.cuda.set_device(self.world.local_rank)  # "cuda" is this rank's GPU from now on
            self.device = f"cuda:{self.world.local_rank}"
        if not dist.is_initialized():
            dist.init_process_group("gloo", timeout=_BARRIER_TIMEOUT)
        self._handlers = _interrupt_once()

    def stop(self) -> None:
        from cyclegan_workbench.models import distributed

        for sig, handler in self._handlers.items():
            signal.signal(sig, handler)
        distributed.shutdown()

    def on_main(self, action: Callable[[], object]):
        """`action`'s result on rank 0, None elsewhere; the other ranks wait for it and share its UserError."""
        box = {}
        self.world.run_on_main(lambda: box.update(result=action()))
        return box.get("result")

    def train(self, pipeline, group: list, total: int) -> dict:
        """Trains this rank's share of the group and waits for the others'; rank 0 gets every result."""
        import torch.distributed as dist

        mine = {}
        record = {"launcher": "torchrun", "number": self.world.rank, "of": self.world.size, "device": self.device}
        for position, (index, stage) in enumerate(group):
            if position % self.world.size == self.world.rank:
                with _single_process_training():
                    mine[stage.name] = pipeline.run_stage(index, total, stage, worker=record)
        dist.barrier()
        if not self.is_main:
            return {}
        return {stage.name: mine[stage.name] if stage.name in mine else pipeline.collect_stage(stage.name)
                for _, stage in group}


@contextlib.contextmanager
def _single_process_training():
    """The Trainer reads torchrun's WORLD_SIZE to train data-parallel (models.distributed.from_environment);
    here each rank trains whole models of its own, so the Trainer must see a world of one."""
    saved = os.environ.pop("WORLD_SIZE", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["WORLD_SIZE"] = saved


def _interrupt_once() -> dict:
    """Ctrl-C or SIGTERM raise KeyboardInterrupt once, and later ones are ignored: torchrun sends SIGTERM to the
    ranks right after the terminal's Ctrl-C, which must not interrupt the training state's save it started.
    Returns the handlers it replaced."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def interrupted(signum, frame):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        raise KeyboardInterrupt

    return {sig: signal.signal(sig, interrupted) for sig in (signal.SIGINT, signal.SIGTERM)}


__all__ = ["Workers", "Ranks", "where"]
