"""Train tab (pytest-qt, offscreen): live updates, pause/resume, stop + checkpoint, resume, errors, jitter."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PyQt5.QtCore import Qt

from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.visualization.render import tile_grid


@pytest.fixture
def train_tab(qtbot, workbench_home):
    from cyclegan_workbench.app.tabs.train_tab import TrainTab

    tab = TrainTab()
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    yield tab
    if tab.busy:  # a failing test must not leave training running
        tab.stop()
        qtbot.waitUntil(lambda: not tab.busy, timeout=20000)


def set_tiny(tab, dataset, epochs=1, decay=1):
    """The form set to a tiny configuration (U-Net depth 3, ngf 4, 32 px, batch 2)."""
    tab.set_dataset(str(dataset))
    tab.form.preset.setCurrentText("toy")
    tab.form.epochs.setValue(epochs)
    tab.form.epochs_decay.setValue(decay)
    tab.form.batch_size.setValue(2)  # 6 steps per epoch: fewer epoch ends (validation, checkpoint)
    tab.form.image_size.setValue(32)
    tab.form.ngf.setValue(4)
    tab.form.depth.setValue(3)
    tab.run_box.rate.setValue(20.0)


def test_the_form_builds_the_configuration_the_trainer_gets(train_tab, toy_dataset):
    set_tiny(train_tab, toy_dataset)
    train_tab.form.lambda_cycle.setValue(7.5)
    cfg = train_tab.config()
    assert (cfg.network.num_downs, cfg.network.ngf) == (3, 4)
    assert (cfg.training.load_size, cfg.training.crop_size) == (32, 32)
    assert cfg.training.lambda_A == cfg.training.lambda_B == 7.5
    assert cfg.dataroot == str(toy_dataset)
    assert "trainA 12" in train_tab.dataset_box.info.text() and "testB 6" in train_tab.dataset_box.info.text()


def test_train_live_updates_pause_resume_stop_and_resume_from_the_checkpoint(qtbot, train_tab, toy_dataset, tmp_path):
    set_tiny(train_tab, toy_dataset, epochs=30, decay=0)
    run_dir = tmp_path / "run"
    train_tab.set_run_dir(str(run_dir))
    reports = []
    qtbot.mouseClick(train_tab.controls.start_button, Qt.LeftButton)
    worker = train_tab._worker
    assert worker is not None and train_tab.busy
    worker.signals.progressed.connect(reports.append)
    # At least three live updates of the six views, drawn in the window, that follow the weights.
    qtbot.waitUntil(lambda: train_tab.live.visuals_drawn >= 1, timeout=30000)
    first = {k: train_tab.live.views[k].viewer.image().copy() for k in ("fake_A", "fake_B")}
    first["response"] = train_tab.live.response.view.viewer.image().copy()
    qtbot.waitUntil(lambda: train_tab.live.visuals_drawn >= 3, timeout=30000)
    later = {k: train_tab.live.views[k].viewer.image() for k in ("fake_A", "fake_B")}
    later["response"] = train_tab.live.response.view.viewer.image()
    for k in first:
        assert not np.array_equal(first[k], later[k]), f"the {k} view stayed at its first frame"
    shown = train_tab.live.views["fake_B"].viewer.image()
    assert shown is not None and shown.shape[:2] == (32, 32)

    # The response panel shows the layer the user picks, of the generator the user picks.
    train_tab.live.response.which.setCurrentIndex(train_tab.live.response.which.findData("G_B"))
    train_tab.live.response.layer.setCurrentIndex(2)
    layer = worker._live.graphs["G_B"].layers[2]  # static metadata of the parsed network
    n = train_tab.live.visuals_drawn
    qtbot.waitUntil(lambda: train_tab.live.visuals_drawn > n + 1, timeout=30000)
    assert train_tab.live.response.view.title.text() == f"G_B layer {layer.label}"
    expected = tile_grid(torch.zeros((1, *layer.shape)), colormap="viridis", normalize="map").image
    assert train_tab.live.response.view.viewer.image().shape == expected.shape
    assert train_tab.live.views["real_A"].viewer.image().shape == (32, 32, 3)
    history = train_tab.live.loss_plot.history
    assert history.steps and all(math.isfinite(v) for v in history.values["cycle_A"])

    # Pause: the trainer holds (it says where), no step is reported; Resume: it goes on from that step.
    with qtbot.waitSignal(worker.signals.held, timeout=20000) as held:
        qtbot.mouseClick(train_tab.controls.pause_button, Qt.LeftButton)
    controls = train_tab.controls
    assert worker.paused and controls.resume_button.isEnabled() and not controls.pause_button.isEnabled()
    epoch, iteration = held.args
    per_epoch = reports[-1].iterations_per_epoch
    with qtbot.assertNotEmitted(worker.signals.progressed, wait=500):
        pass  # the GUI thread's events keep flowing while the trainer holds
    # The paused run was saved where it holds: it can be opened in the Test tab meanwhile.
    qtbot.waitUntil(train_tab.run_box.open_test_button.isEnabled, timeout=5000)
    saved = torch.load(run_dir / checkpoints.STATE_FILE, weights_only=True)
    assert (saved["epoch"], saved["iteration"]) == (epoch, iteration)
    n = len(reports)
    qtbot.mouseClick(train_tab.controls.resume_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: len(reports) > n + 2, timeout=20000)
    assert reports[n].global_step == epoch * per_epoch + iteration + 1, "a step ran while paused"

    # Stop: the worker ends and leaves a resumable checkpoint.
    with qtbot.waitSignal(worker.signals.finished, timeout=20000) as finished:
        qtbot.mouseClick(train_tab.controls.stop_button, Qt.LeftButton)
    outcome = finished.args[0]
    assert outcome is not None and not outcome.completed
    assert not train_tab.busy
    state = torch.load(run_dir / checkpoints.STATE_FILE, weights_only=True)
    stopped_at = (state["epoch"], state["iteration"])
    assert stopped_at == (outcome.epoch, outcome.iteration) and stopped_at != (0, 0)
    assert (run_dir / "latest_net_G_A.pth").is_file() and (run_dir / checkpoints.CONFIG_FILE).is_file()
    assert "checkpoint saved" in train_tab.controls.progress_label.text()
    assert train_tab.controls.resume_button.isEnabled() and train_tab.run_box.open_test_button.isEnabled()

    # Resume from the checkpoint continues at the saved position.
    qtbot.mouseClick(train_tab.controls.resume_button, Qt.LeftButton)
    resumed = train_tab._worker
    first = []
    resumed.signals.progressed.connect(first.append)
    qtbot.waitUntil(lambda: len(first) >= 1, timeout=20000)
    per_epoch = first[0].iterations_per_epoch
    assert first[0].global_step == stopped_at[0] * per_epoch + stopped_at[1] + 1
    with qtbot.waitSignal(resumed.signals.finished, timeout=20000):
        train_tab.stop()


def test_a_bad_dataset_shows_a_dialog_and_leaves_the_tab_usable(qtbot, train_tab, tmp_path):
    from PyQt5.QtWidgets import QMessageBox

    empty = tmp_path / "empty"
    (empty / "trainA").mkdir(parents=True)
    (empty / "trainB").mkdir()
    train_tab.set_dataset(str(empty))
    assert "no images" in train_tab.dataset_box.info.text()
    qtbot.mouseClick(train_tab.controls.start_button, Qt.LeftButton)
    boxes = [b for b in train_tab.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "no images" in boxes[0].text()
    assert not train_tab.busy and train_tab.controls.start_button.isEnabled()
    boxes[0].close()


def test_a_diverging_run_reports_the_error_in_a_dialog(qtbot, train_tab, toy_dataset, tmp_path):
    from PyQt5.QtWidgets import QMessageBox

    set_tiny(train_tab, toy_dataset, epochs=3)
    train_tab.form.lr.setValue(1.0)
    train_tab.form.lambda_cycle.setValue(1000)
    train_tab.set_run_dir(str(tmp_path / "nan"))
    cfg = train_tab.config()
    assert cfg.training.lr == 1.0
    # A learning rate of 1 with lambda 1000 diverges at once for LSGAN on this tiny model; if it
    # happens not to, a NaN is planted in the weights through the worker's own trainer.
    train_tab.start()
    worker = train_tab._worker
    qtbot.waitUntil(lambda: worker._trainer is not None, timeout=20000)
    with torch.no_grad():
        for p in worker._trainer.model.G_A.parameters():
            p.fill_(float("nan"))
            break
    with qtbot.waitSignal(worker.signals.failed, timeout=20000) as failed:
        pass
    assert "diverged" in failed.args[0]
    qtbot.waitUntil(lambda: not train_tab.busy, timeout=10000)
    boxes = [b for b in train_tab.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "diverged" in boxes[0].text()
    assert train_tab.controls.start_button.isEnabled()
    boxes[0].close()


def test_stop_right_after_start_still_leaves_a_resumable_run(qtbot, train_tab, toy_dataset, tmp_path):
    set_tiny(train_tab, toy_dataset)
    run_dir = tmp_path / "early"
    train_tab.set_run_dir(str(run_dir))
    train_tab.start()
    worker = train_tab._worker
    with qtbot.waitSignal(worker.signals.finished, timeout=30000) as finished:
        train_tab.stop()  # before the trainer has even loaded the dataset
    assert finished.args[0] is not None and not finished.args[0].completed
    assert (run_dir / checkpoints.STATE_FILE).is_file() and train_tab.controls.resume_button.isEnabled()


def test_the_tab_says_why_a_dataset_gets_no_accuracy(qtbot, train_tab, toy_dataset, tmp_path):
    import shutil

    plain = tmp_path / "plain"
    shutil.copytree(toy_dataset, plain)
    (plain / "manifest.json").unlink()
    for domain in ("trainA", "trainB", "testA", "testB"):
        for i, path in enumerate(sorted((plain / domain).iterdir())):
            path.rename(path.with_name(f"{i:04d}{path.suffix}"))  # names that carry no class
    set_tiny(train_tab, plain, epochs=30, decay=0)
    train_tab.set_run_dir(str(tmp_path / "run"))
    train_tab.start()
    worker = train_tab._worker  # kept alive here: the tab drops its reference when the run ends
    qtbot.waitUntil(lambda: train_tab.controls.notice.isVisible(), timeout=30000)
    notice = train_tab.controls.notice.text()
    assert notice.startswith("no accuracy:") and "sub-folder" in notice
    with qtbot.waitSignal(worker.signals.finished, timeout=20000):
        train_tab.stop()


def test_the_cycle_noise_field_reaches_the_configuration(train_tab, toy_dataset):
    set_tiny(train_tab, toy_dataset)
    assert train_tab.form.cycle_noise.value() == 0.5  # the toy preset's
    assert "contrast" in train_tab.form.cycle_noise.toolTip()
    assert train_tab.form.cycle_margin.value() == 0.05 and "saturation" in train_tab.form.cycle_margin.toolTip()
    form = train_tab.form
    assert (form.shape_weight.value(), form.cycle_balance.value(), form.encoder_weight.value()) == (10.0, 1.0, 0.0)
    assert "shape" in form.shape_weight.toolTip() and "small figures" in form.cycle_balance.toolTip()
    assert "hiding" in form.encoder_weight.toolTip()
    assert form.cycle_loss.currentText() == "l2" and "one colour" in form.cycle_loss.toolTip()
    form.cycle_loss.setCurrentText("l1")
    assert train_tab.config().training.cycle_loss == "l1"
    form.cycle_noise.setValue(0.8)
    form.cycle_margin.setValue(0.0)
    form.shape_weight.setValue(3.0)
    form.cycle_balance.setValue(0.5)
    form.encoder_weight.setValue(1.0)
    cfg = train_tab.config().training
    assert (cfg.cycle_noise, cfg.cycle_margin, cfg.lambda_shape, cfg.cycle_balance, cfg.cycle_encoder_weight) == \
        (0.8, 0.0, 3.0, 0.5, 1.0)
    form.load_preset("toy")
    assert form.preset.itemText(form.preset.currentIndex()) == "toy"
    form.encoder_weight.setValue(1.0)  # the paper's, no longer the preset's
    assert form.preset.itemText(form.preset.currentIndex()) == "toy (edited)"
