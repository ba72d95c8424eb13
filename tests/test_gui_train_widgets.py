"""The Train tab's widgets on their own (pytest-qt, offscreen): the response choice, the control bar's lines,
where a new run goes, and what the dataset box says. The tab that wires them is tests/test_gui_train.py's."""
from __future__ import annotations

from pathlib import Path

import pytest
from PyQt5.QtCore import Qt

from cyclegan_workbench.app.workers import TrainingOutcome
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.training import EpochSummary, StepReport


def test_the_response_choice_keeps_its_depth_across_generators_and_says_so(qtbot):
    from cyclegan_workbench.app.tabs.train_live_views import LiveResponse

    response = LiveResponse()
    qtbot.addWidget(response)
    chosen = []
    response.layer_chosen.connect(lambda which, layer: chosen.append((which, layer)))
    response.set_layers({"G_A": ["0  a", "1  b", "2  c", "3  d"], "G_B": ["0  x", "1  y"]})
    response.layer.setCurrentIndex(3)
    assert chosen[-1] == ("G_A", 3)
    response.which.setCurrentIndex(response.which.findData("G_B"))
    assert chosen[-1] == ("G_B", 1) and response.layer.count() == 2  # clamped to the layers G_B has
    response.show_response(None, "")
    assert response.view.title.text() == "Responses"


def test_the_control_bar_says_where_a_run_is_and_how_it_ended(qtbot):
    from cyclegan_workbench.app.tabs.train_controls import ControlBar, outcome_line

    bar = ControlBar()
    qtbot.addWidget(bar)
    summary = EpochSummary(3, {}, None, 0.925, 1.0, 2e-4)
    report = StepReport(3, 10, 6, 6, 18, {}, 0.25, 36.0, 2e-4, summary)
    bar.show_report(report, paused=True)
    assert bar.progress_label.text() == ("paused · epoch 3/10 · iteration 6/6 · 250 ms/step · 1 min 24 s left · "
                                         "accuracy 92.5%")
    assert (bar.progress.value(), bar.progress.maximum()) == (18, 60)
    bar.show_busy("loading")
    bar.show_end(outcome_line(None))
    assert bar.progress.maximum() == 1 and "with an error" in bar.progress_label.text()
    stopped = TrainingOutcome(Path("/runs/r"), completed=False, epoch=2, iteration=5)
    assert outcome_line(stopped) == ("Stopped at epoch 3, iteration 5; checkpoint saved in /runs/r. Resume "
                                     "continues it.")
    bar.show_notice("no accuracy: why")
    assert not bar.notice.isHidden()
    bar.show_notice("")
    assert bar.notice.isHidden()


def test_a_new_run_never_goes_into_a_folder_that_holds_a_saved_run(qtbot, workbench_home, tmp_path):
    from cyclegan_workbench.app import locations
    from cyclegan_workbench.app.tabs.train_run import RunBox

    box = RunBox()
    qtbot.addWidget(box)
    run_dir, kept = box.start_dir("toy")
    assert kept is None and run_dir.parent == locations.runs_dir() and run_dir.name.startswith("toy-")
    saved = tmp_path / "saved"
    saved.mkdir()
    (saved / checkpoints.STATE_FILE).write_bytes(b"")
    box.folder.set_text(str(saved))
    assert not box.resumable() and not box.has_weights()  # a state without config.json cannot be resumed
    run_dir, kept = box.start_dir("toy")
    assert kept == saved and run_dir != saved and not run_dir.exists()
    with pytest.raises(UserError, match="config"):
        box.saved_run()
    box.rate.setValue(4.0)
    assert box.intervals() == (0.25, 0.5)


def test_the_dataset_box_says_what_a_folder_holds_or_why_it_cannot_train(qtbot, workbench_home, toy_dataset,
                                                                        tmp_path):
    from cyclegan_workbench.app.tabs.train_dataset import DatasetBox, needs_generating

    box = DatasetBox()
    qtbot.addWidget(box)
    box.folder.set_text(str(toy_dataset))
    assert "trainA 12" in box.info.text() and box.info.styleSheet() == ""
    box.folder.set_text(str(tmp_path))
    assert box.info.styleSheet() == "color: #b00020;"
    qtbot.mouseClick(box.default_button, Qt.LeftButton)
    assert needs_generating(box.text()) and "generated here" in box.info.text() and not box.generating
