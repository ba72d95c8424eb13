"""The Trainer's time cap and callbacks: what the cap counts (on a fake clock), when the hooks run, records
saved with the state, a resume that continues both, old states without them, and damaged ones refused."""
from __future__ import annotations

import types

import pytest
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models import checkpoints, training
from cyclegan_workbench.models.training import Trainer, TrainerCallback
from tests.conftest import tiny_config

STEP, HOOK, SAVE, CALLER = 1.0, 10.0, 100.0, 1000.0  # fake seconds: only STEP is training time


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """The training module's perf_counter, advanced by hand: every step takes STEP seconds, every save SAVE."""
    fake = Clock()
    monkeypatch.setattr(training, "time", types.SimpleNamespace(perf_counter=fake))
    return fake


class Recorder(TrainerCallback):
    key = "recorder"

    def __init__(self, clock: Clock, every_seconds: float | None = None):
        self.clock, self.every_seconds = clock, every_seconds
        self.calls: list[tuple] = []
        self.loaded = None

    def _hook(self, *entry):
        self.clock.now += HOOK  # a slow callback: not training time
        self.calls.append(entry)

    def on_step(self, trainer, report):
        self._hook("step", report.global_step, report.train_seconds)

    def on_interval(self, trainer, report):
        self._hook("interval", report.global_step, trainer.train_seconds)

    def on_epoch_end(self, trainer, summary):
        # Before the epoch's save: the state on disk is still the one before this epoch's end.
        saved = checkpoints.load_training_state(trainer.run_dir)["epoch"] if trainer._has_state() else None
        self._hook("epoch_end", summary.epoch, saved)

    def on_stop(self, trainer):
        self._hook("stop", trainer.stopped_by)

    def state_dict(self):
        return {"steps": sum(1 for c in self.calls if c[0] == "step"), "ratio": (1, 2.5)}

    def load_state_dict(self, record):
        self.loaded = record


def _trainer(dataset, run, clock, cap=None, callbacks=(), resume=False, **settings):
    cfg = tiny_config(dataset, val_images=0, **settings)
    trainer = Trainer(cfg, run, resume=resume, time_cap=cap, callbacks=callbacks)
    optimize, write = trainer.model.optimize, trainer._write_run_files

    def timed_optimize(a, b):
        clock.now += STEP
        return optimize(a, b)

    def timed_write(reason):
        clock.now += SAVE
        write(reason)

    trainer.model.optimize = timed_optimize
    trainer._write_run_files = timed_write
    return trainer


def _train(trainer, clock) -> list:
    reports = []
    for report in trainer.run():
        clock.now += CALLER  # the caller's turn (a GUI redraw): not training time
        reports.append(report)
    return reports


def test_the_cap_counts_training_steps_only_and_stops_after_the_iteration_that_reaches_it(toy_dataset,
                                                                                            tmp_path, clock):
    recorder = Recorder(clock, every_seconds=2.0)
    trainer = _trainer(toy_dataset, tmp_path / "run", clock, cap=4.5, callbacks=[recorder])
    per_epoch = trainer.dataset.batches_per_epoch(4)
    assert per_epoch == 3
    reports, decided = [], []
    for report in trainer.run():
        clock.now += CALLER  # the caller's turn (a GUI redraw): not training time
        reports.append(report)
        decided.append(trainer.stopped_by)  # known on the iteration that reaches the cap
    assert [r.global_step for r in reports] == [1, 2, 3, 4, 5] and decided == [None] * 4 + ["time cap"]
    assert [r.train_seconds for r in reports] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert trainer.stopped_by == "time cap" and trainer.train_seconds == 5.0
    assert recorder.calls == [
        ("step", 1, 1.0), ("step", 2, 2.0), ("interval", 2, 2.0), ("step", 3, 3.0), ("epoch_end", 1, None),
        ("step", 4, 4.0), ("interval", 4, 4.0), ("step", 5, 5.0), ("stop", "time cap")]
    state = checkpoints.load_training_state(tmp_path / "run")
    assert (state["epoch"], state["iteration"], state["train_seconds"]) == (1, 2, 5.0)
    assert state["callbacks"] == {"recorder": {"steps": 5, "ratio": [1, 2.5]}}  # saved after on_stop


def test_a_resume_continues_the_count_the_intervals_and_the_records(toy_dataset, tmp_path, clock):
    run = tmp_path / "run"
    _train(_trainer(toy_dataset, run, clock, cap=1.5, callbacks=[Recorder(clock)]), clock)

    again = Recorder(clock, every_seconds=2.0)
    used_up = _trainer("", run, clock, cap=2.0, callbacks=[again], resume=True)
    assert again.loaded == {"steps": 2, "ratio": [1, 2.5]} and used_up.train_seconds == 2.0
    assert _train(used_up, clock) == [] and used_up.stopped_by == "time cap" and again.calls == []

    resumed = _trainer("", run, clock, cap=None, callbacks=[again], resume=True)
    reports = _train(resumed, clock)
    assert reports[0].global_step == 3 and resumed.stopped_by == "epochs"
    assert [c[1] for c in again.calls if c[0] == "interval"] == [4, 6]  # 2.0 was the last tick before the stop
    assert resumed.train_seconds == 6.0


def test_a_capped_run_resumed_without_a_cap_ends_as_an_uninterrupted_one(toy_dataset, tmp_path, clock):
    straight = _trainer(toy_dataset, tmp_path / "straight", clock)
    _train(straight, clock)
    assert straight.stopped_by == "epochs" and straight.train_seconds == 6.0

    _train(_trainer(toy_dataset, tmp_path / "split", clock, cap=3.5, callbacks=[Recorder(clock, 1.0)]), clock)
    resumed = _trainer("", tmp_path / "split", clock, resume=True, callbacks=[Recorder(clock, 1.0)])
    _train(resumed, clock)
    for name, net in straight.model.networks().items():
        other = resumed.model.networks()[name].state_dict()
        assert all(torch.equal(v, other[k]) for k, v in net.state_dict().items()), name


def test_a_stop_request_is_stopped_by_stop_and_unknown_records_are_kept(toy_dataset, tmp_path, clock):
    run = tmp_path / "run"
    trainer = _trainer(toy_dataset, run, clock, callbacks=[Recorder(clock)])
    steps = []
    for report in trainer.run():
        steps.append(report.global_step)
        trainer.request_stop()
    assert trainer.stopped_by == "stop" and steps == [1]
    # A resume without the callback (the command line on a reproduction's run) keeps its record.
    plain = _trainer("", run, clock, resume=True)
    next(plain.run())
    plain.save(reason="stop")
    assert checkpoints.load_training_state(run)["callbacks"]["recorder"]["steps"] == 1


def test_a_state_of_an_older_version_resumes_with_no_seconds_and_no_records(toy_dataset, tmp_path, clock):
    run = tmp_path / "run"
    trainer = _trainer(toy_dataset, run, clock, callbacks=[Recorder(clock)])
    next(trainer.run())
    trainer.save(reason="stop")
    state = checkpoints.load_training_state(run)
    del state["train_seconds"], state["callbacks"]
    checkpoints.save_training_state(run, state)
    recorder = Recorder(clock)
    resumed = _trainer("", run, clock, cap=0.5, callbacks=[recorder], resume=True)
    assert resumed.train_seconds == 0.0 and recorder.loaded is None
    assert [r.global_step for r in _train(resumed, clock)] == [2]


@pytest.mark.parametrize("key, value", [
    ("train_seconds", -1.0), ("train_seconds", float("nan")), ("train_seconds", "12"), ("train_seconds", True),
    ("callbacks", [1]), ("callbacks", {"recorder": torch.zeros(2)}), ("callbacks", {"recorder": {1: 2}}),
])
def test_damaged_seconds_or_records_are_refused_clearly(toy_dataset, tmp_path, clock, key, value):
    run = tmp_path / "run"
    trainer = _trainer(toy_dataset, run, clock)
    trainer.save(reason="stop")
    state = checkpoints.load_training_state(run)
    state[key] = value
    torch.save(state, run / checkpoints.STATE_FILE)
    with pytest.raises(UserError, match="damaged"):
        _trainer("", run, clock, resume=True)


def test_a_record_its_callback_rejects_is_a_damaged_state(toy_dataset, tmp_path, clock):
    class Strict(Recorder):
        def load_state_dict(self, record):
            raise ValueError("not mine")

    run = tmp_path / "run"
    trainer = _trainer(toy_dataset, run, clock, callbacks=[Recorder(clock)])
    trainer.save(reason="stop")
    with pytest.raises(UserError, match="damaged.*not mine"):
        _trainer("", run, clock, resume=True, callbacks=[Strict(clock)])


def test_bad_caps_and_callbacks_are_refused(toy_dataset, tmp_path, clock):
    for cap in (0, -1.0, float("inf"), float("nan"), True, "60"):
        with pytest.raises(UserError, match="time cap"):
            Trainer(tiny_config(toy_dataset), tmp_path / "run", time_cap=cap)
    with pytest.raises(ValueError, match="share a record key"):
        Trainer(tiny_config(toy_dataset), tmp_path / "run", callbacks=[Recorder(clock), Recorder(clock)])
    with pytest.raises(ValueError, match="every_seconds"):
        Trainer(tiny_config(toy_dataset), tmp_path / "run", callbacks=[Recorder(clock, every_seconds=0)])
    assert not (tmp_path / "run").exists()
