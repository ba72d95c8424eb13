"""The training loop: it learns, reports, checkpoints, stops, pauses, resumes exactly, and refuses NaN."""
from __future__ import annotations

import csv
import logging
import math
import threading
import time

import pytest
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.cyclegan import LOSS_NAMES, CycleGAN
from cyclegan_workbench.models.training import Trainer, TrainingDiverged
from tests.conftest import tiny_config


def _weights(net):
    return {k: v.clone() for k, v in net.state_dict().items()}


def test_a_few_iterations_give_finite_losses_change_weights_and_write_the_run(toy_dataset, tmp_path):
    trainer = Trainer(tiny_config(toy_dataset), tmp_path / "run")
    before = _weights(trainer.model.G_B)
    reports = list(trainer.run())
    per_epoch = trainer.dataset.batches_per_epoch(4)
    assert len(reports) == 2 * per_epoch == reports[-1].global_step
    assert all(set(r.losses) == set(LOSS_NAMES) for r in reports)
    assert all(math.isfinite(v) for r in reports for v in r.losses.values())
    after = trainer.model.G_B.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    summaries = [r.epoch_summary for r in reports if r.epoch_summary]
    assert [s.epoch for s in summaries] == [1, 2]
    assert summaries[-1].validation is not None and 0.0 <= summaries[-1].accuracy <= 1.0
    run = tmp_path / "run"
    for name in ("G_A", "G_B", "D_A", "D_B"):
        assert (run / f"latest_net_{name}.pth").is_file() and (run / f"2_net_{name}.pth").is_file()
    rows = list(csv.DictReader(open(run / "losses.csv")))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert {"train_cycle_A", "val_Total", "val_SSIM_B", "accuracy"} <= set(rows[0])
    # Learning-rate schedule: constant for n_epochs, then linear decay.
    lr = trainer.cfg.training.lr
    assert float(rows[0]["lr"]) == pytest.approx(lr)
    assert float(rows[1]["lr"]) == pytest.approx(lr * (1 - 1 / 2))


def test_identity_loss_is_switched_off_with_an_explanation_for_gray_and_rgb(toy_dataset, tmp_path, caplog):
    cfg = tiny_config(toy_dataset, lambda_identity=0.5)
    with caplog.at_level(logging.INFO):
        trainer = Trainer(cfg, tmp_path / "run")
    assert (cfg.network.input_nc, cfg.network.output_nc) == (3, 1)
    assert trainer.model.lambda_identity == 0
    assert "identity loss turned off" in caplog.text


def test_identity_loss_is_used_when_channels_match():
    from cyclegan_workbench.models.config import preset_config

    cfg = preset_config("toy")
    cfg.network.num_downs, cfg.network.ngf, cfg.network.ndf = 3, 4, 4
    cfg.network.input_nc = cfg.network.output_nc = 3
    cfg.training.lambda_identity = 0.5
    model = CycleGAN(cfg)
    losses = model.optimize(torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1)
    assert losses["idt_A"] > 0 and losses["idt_B"] > 0


def test_stop_and_resume_give_the_same_weights_as_an_uninterrupted_run(toy_dataset, tmp_path):
    cfg = tiny_config(toy_dataset, n_epochs=1, n_epochs_decay=1, val_images=0)
    straight = Trainer(cfg, tmp_path / "straight")
    list(straight.run())

    first = Trainer(tiny_config(toy_dataset, n_epochs=1, n_epochs_decay=1, val_images=0), tmp_path / "split")
    for report in first.run():
        if report.global_step == 2:  # mid first epoch
            first.request_stop()
    assert (first.epoch, first.iteration) == (0, 2)
    resumed = Trainer(tiny_config(""), tmp_path / "split", resume=True)
    reports = list(resumed.run())
    assert reports[0].global_step == 3
    for name, net in straight.model.networks().items():
        other = resumed.model.networks()[name].state_dict()
        for key, value in net.state_dict().items():
            assert torch.equal(value, other[key]), f"{name}.{key} differs after resume"
    assert [h["epoch"] for h in resumed.history] == [1, 2]


def test_pause_holds_the_loop_until_resumed(toy_dataset, tmp_path):
    trainer = Trainer(tiny_config(toy_dataset, val_images=0), tmp_path / "run")
    steps = trainer.run()
    next(steps)
    trainer.request_pause()
    threading.Timer(0.3, trainer.request_resume).start()
    start = time.perf_counter()
    next(steps)
    assert time.perf_counter() - start >= 0.25
    steps.close()


def test_a_nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint(toy_dataset, tmp_path, monkeypatch):
    trainer = Trainer(tiny_config(toy_dataset, val_images=0), tmp_path / "run")
    per_epoch = trainer.dataset.batches_per_epoch(4)
    steps = trainer.run()
    for _ in range(per_epoch):
        next(steps)  # first epoch done and saved
    saved = (tmp_path / "run" / "latest_net_G_A.pth").read_bytes()
    real = trainer.model.optimize
    monkeypatch.setattr(trainer.model, "optimize", lambda a, b: {**real(a, b), "G_A": float("nan")})
    with pytest.raises(TrainingDiverged, match="G_A became NaN"):
        next(steps)
    assert (tmp_path / "run" / "latest_net_G_A.pth").read_bytes() == saved
    resumed = Trainer(tiny_config(""), tmp_path / "run", resume=True)
    assert (resumed.epoch, resumed.iteration) == (1, 0)


def test_a_run_directory_is_never_overwritten_by_a_new_run(toy_dataset, tmp_path):
    trainer = Trainer(tiny_config(toy_dataset), tmp_path / "run")
    trainer.save(reason="stop")
    with pytest.raises(UserError, match="already holds a run"):
        Trainer(tiny_config(toy_dataset), tmp_path / "run")


def test_a_run_that_never_saved_can_be_started_again_or_resumed(toy_dataset, tmp_path):
    """Killed, diverged or out of disk before its first save: the folder holds only config.json."""
    Trainer(tiny_config(toy_dataset), tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]
    restarted = Trainer(tiny_config(toy_dataset, seed=3), tmp_path / "run")
    assert restarted.cfg.training.seed == 3
    resumed = Trainer(tiny_config(""), tmp_path / "run", resume=True)
    assert (resumed.epoch, resumed.iteration, resumed.cfg.training.seed) == (0, 0, 3)
    next(resumed.run())
    assert resumed.iteration == 1


def test_bad_settings_are_rejected_before_training(toy_dataset, tmp_path):
    cfg = tiny_config(toy_dataset)
    cfg.training.crop_size = 20
    cfg.training.load_size = 20
    with pytest.raises(UserError, match="divisible by 8"):
        Trainer(cfg, tmp_path / "a")
    with pytest.raises(UserError, match="dataset folder not found"):
        Trainer(tiny_config(tmp_path / "nowhere"), tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_training_state_holds_only_plain_data(toy_dataset, tmp_path):
    trainer = Trainer(tiny_config(toy_dataset, val_images=0), tmp_path / "run")
    list(trainer.run())
    state = checkpoints.load_training_state(tmp_path / "run")  # weights_only=True load
    assert state["epoch"] == 2 and len(state["pools"]["A"]["images"]) == 4


def test_cycle_noise_perturbs_only_the_reconstruction_input_and_only_in_training():
    from cyclegan_workbench.models.config import preset_config

    cfg = preset_config("toy")
    cfg.network.num_downs, cfg.network.ngf, cfg.network.ndf = 3, 4, 4
    cfg.network.input_nc, cfg.network.output_nc = 3, 1
    cfg.training.cycle_noise = 0.5
    model = CycleGAN(cfg)
    a, b = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 1, 32, 32) * 2 - 1
    one, two = model.translate(a, b), model.translate(a, b)
    assert torch.equal(one["fake_B"], two["fake_B"]) and torch.equal(one["fake_A"], two["fake_A"])
    assert not torch.equal(one["rec_A"], two["rec_A"]) and not torch.equal(one["rec_B"], two["rec_B"])
    model.eval()
    with torch.no_grad():
        one, two = model.translate(a, b), model.translate(a, b)
    assert torch.equal(one["rec_A"], two["rec_A"]) and torch.equal(one["rec_B"], two["rec_B"])


def test_a_run_stopped_during_its_epoch_end_resumes_and_matches_an_uninterrupted_run(toy_dataset, tmp_path,
                                                                                    monkeypatch):
    """Ctrl-C during the end-of-epoch validation once saved iteration == iterations per epoch, and
    `train --resume` then spun forever on an epoch with no batches left."""
    from cyclegan_workbench.models import training

    cfg = tiny_config(toy_dataset, n_epochs=2, n_epochs_decay=0)
    straight = Trainer(cfg, tmp_path / "straight")
    list(straight.run())

    real_evaluate = training.evaluate_losses
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(training, "evaluate_losses", interrupted)
    first = Trainer(tiny_config(toy_dataset, n_epochs=2, n_epochs_decay=0), tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        list(first.run())
    first.save(reason="stop")  # what the command line does on Ctrl-C
    per_epoch = first.dataset.batches_per_epoch(cfg.training.batch_size)
    assert (first.epoch, first.iteration) == (0, per_epoch)
    monkeypatch.setattr(training, "evaluate_losses", real_evaluate)

    resumed = Trainer(cfg, tmp_path / "run", resume=True)
    done = threading.Thread(target=lambda: list(resumed.run()), daemon=True)
    done.start()
    done.join(60)
    assert not done.is_alive(), "the resumed run hangs"
    assert resumed.finished and [h["epoch"] for h in resumed.history] == [1, 2]
    for name, net in resumed.model.networks().items():
        for a, b in zip(net.state_dict().values(), straight.model.networks()[name].state_dict().values()):
            assert torch.equal(a, b), name


def test_a_paused_run_is_saved_where_it_holds_and_resumes_unchanged(toy_dataset, tmp_path):
    """Pause saves the generators as they are (the Test tab can open them); the run then ends exactly as an
    uninterrupted one."""
    reference = Trainer(tiny_config(toy_dataset), tmp_path / "reference")
    for _ in reference.run():
        pass

    trainer = Trainer(tiny_config(toy_dataset), tmp_path / "paused")
    held, steps = threading.Event(), []
    trainer.on_hold = lambda epoch, iteration: held.set()

    def train():
        for report in trainer.run():
            steps.append(report.global_step)
            if report.global_step == 2:
                trainer.request_pause()

    worker = threading.Thread(target=train)
    worker.start()
    assert held.wait(30)
    saved = checkpoints.load_state_dict_file(tmp_path / "paused" / "latest_net_G_B.pth")
    assert all(torch.equal(saved[k], v) for k, v in trainer.model.G_B.state_dict().items())
    assert checkpoints.load_training_state(tmp_path / "paused")["iteration"] == 2
    trainer.request_resume()
    worker.join(60)
    assert steps == list(range(1, steps[-1] + 1))
    for name, net in reference.model.networks().items():
        other = trainer.model.networks()[name].state_dict()
        assert all(torch.equal(v, other[k]) for k, v in net.state_dict().items()), name
