"""The Experiments menu (pytest-qt, offscreen): enabled only with a model, an experiment from the menu
opens a results window with numbers and figures and saves a report, cancel stops the worker, a model
without a gray -> RGB generator gets a message, and the inputs without a generated dataset."""
from __future__ import annotations

import json
import shutil

from PyQt5.QtWidgets import QInputDialog, QMessageBox, QProgressDialog, QPushButton


def result_dialogs(window):
    from cyclegan_workbench.app.experiment_dialog import ExperimentDialog

    return window.findChildren(ExperimentDialog)


def test_the_menu_is_disabled_without_a_model_and_enabled_with_one(window, tiny_run):
    menu = window.experiments.menu
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles[-2:] == ["E&xperiments", "&Help"]
    assert not menu.isEnabled()
    entries = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    assert len(entries) == 7 and entries[0] == "Bottleneck nullification"
    architectures = window.experiments.reproduce_only["architectures"]
    assert not architectures.isEnabled() and "reproduce" in architectures.text()
    assert "cyclegan-workbench reproduce" in architectures.statusTip()

    window.open_run(str(tiny_run))
    assert menu.isEnabled()
    assert all(a.isEnabled() for a in window.experiments.actions.values())
    assert not architectures.isEnabled()


def test_bottleneck_nullification_from_the_menu_shows_numbers_figures_and_saves_a_report(qtbot, window, tiny_run,
                                                                                           tmp_path):
    window.open_run(str(tiny_run))
    tab = window.test_tab
    assert tab.which == "G_B"
    window.experiments.actions["bottleneck"].trigger()
    assert window.experiments.busy and window.findChild(QProgressDialog, "experiment_progress").isVisible()
    assert not window.experiments.actions["filters"].isEnabled()  # one experiment at a time
    qtbot.waitUntil(lambda: bool(result_dialogs(window)), timeout=15000)
    assert not window.experiments.busy and window.experiments.progress is None
    assert not any(d.isVisible() for d in window.findChildren(QProgressDialog))  # deleted later, closed now

    dialog = result_dialogs(window)[0]
    result = dialog.outcome.result
    assert result.key == "bottleneck" and dialog.outcome.generator == "G_B"
    assert result.numbers["images"] == 6  # the toy dataset's test split: 3 circles + 3 triangles
    assert "test images of dataset" in dialog.outcome.inputs
    assert "Bottleneck nullification" in dialog.header.text() and "Question." in dialog.header.text()
    assert str(result.reading[:20]) in dialog.reading.text()
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())}
    assert rows["images"] == "6"
    assert rows["accuracy_intact"] == f"{result.numbers['accuracy_intact']:.4g}"
    assert "bottleneck › channels" in rows  # nested dicts are flattened
    assert dialog.figures.count() >= 1
    image = dialog.panels["bottleneck"].viewer.image()
    assert image.ndim == 3 and image.shape[2] == 3 and image.shape[0] > 100
    # The experiment built its own masks: the Test tab's are untouched.
    assert tab.model.masks["G_B"].edited_layers() == []
    assert "done" in window.statusBar().currentMessage()

    md = dialog.save_report(tmp_path)
    text = md.read_text()
    assert md.name == "bottleneck.md" and "**Question.**" in text and "| images | 6 |" in text
    assert "![Bottleneck nullification: bottleneck](figures/bottleneck.png)" in text
    assert (tmp_path / "figures" / "bottleneck.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((tmp_path / "bottleneck.json").read_text())
    assert saved["numbers"]["images"] == 6 and saved["generator"] == "G_B"


def test_the_skip_experiment_asks_for_the_level(qtbot, window, tiny_run):
    window.open_run(str(tiny_run))
    window.experiments.actions["skip"].trigger()
    ask = window.findChild(QInputDialog, "skip_level_dialog")
    assert ask is not None and ask.intValue() == 1 and ask.intMaximum() == 2
    ask.setIntValue(2)
    ask.accept()
    qtbot.waitUntil(lambda: bool(result_dialogs(window)), timeout=15000)
    numbers = result_dialogs(window)[0].outcome.result.numbers
    assert numbers["level"] == 2 and numbers["images"] == 6


def test_cancel_stops_the_worker_and_opens_no_results(qtbot, window, tiny_run):
    from cyclegan_workbench.app.workers import running_workers

    window.open_run(str(tiny_run))
    menu = window.experiments
    menu.actions["unseen"].trigger()  # the longest of them on the tiny model (~1 s)
    with qtbot.waitSignal(menu.worker.signals.progressed, timeout=10000):
        pass
    cancel = window.findChild(QProgressDialog, "experiment_progress").findChild(QPushButton)
    qtbot.mouseClick(cancel, __import__("PyQt5.QtCore", fromlist=["Qt"]).Qt.LeftButton)
    qtbot.waitUntil(lambda: not menu.busy, timeout=10000)
    assert menu.last_outcome is None and not result_dialogs(window)
    # `finished` is emitted from inside the worker's run(), which returns just after: wait for that, not a race.
    qtbot.waitUntil(lambda: running_workers() == [], timeout=5000)
    assert window.statusBar().currentMessage() == "Experiment cancelled"
    assert all(a.isEnabled() for a in menu.actions.values())


def test_a_model_without_a_colourizer_gets_a_clear_message(qtbot, window, tiny_run, tmp_path):
    lone = tmp_path / "only-G_A"
    lone.mkdir()
    shutil.copy(tiny_run / "latest_net_G_A.pth", lone / "latest_net_G_A.pth")  # RGB -> gray, no sibling
    window.open_run(str(lone / "latest_net_G_A.pth"))
    assert window.test_tab.model is not None and window.experiments.menu.isEnabled()
    window.experiments.actions["bottleneck"].trigger()
    box = window.findChild(QMessageBox, "message_box")
    assert box is not None and "gray -> RGB" in box.text() and "G_A maps 3 -> 1 channels" in box.text()
    assert not window.experiments.busy


def test_without_a_generated_dataset_the_figures_are_rendered_in_memory(tiny_run):
    from cyclegan_workbench.visualization.experiments import run_loaded_experiment
    from cyclegan_workbench.visualization.inspection import InspectedModel

    model = InspectedModel.open(tiny_run)
    result, inputs = run_loaded_experiment("bottleneck", model.graphs["G_B"], model.size, dataset="", images=4)
    assert result.numbers["images"] == 4 and "rendered in memory" in inputs
    assert model.masks["G_B"].edited_layers() == []


def test_numbers_are_flattened_into_readable_rows():
    from cyclegan_workbench.app.experiment_dialog import MAX_ITEMS, flatten

    rows = flatten({"accuracy": 0.123456, "per_class": {"circle": 1.0, "triangle": None}, "levels": [0, 16, 32],
                    "per_aspect": [{"aspect": 1.5, "shape_pixels": {"circle": 0.25}}],
                    "effects": [{"filter": i, "output_change": 0.5} for i in range(MAX_ITEMS + 3)], "ok": True})
    assert rows[:4] == [("accuracy", "0.1235"), ("per_class › circle", "1"), ("per_class › triangle", "n/a"),
                        ("levels", "0, 16, 32")]
    assert ("per_aspect [aspect 1.5] › shape_pixels › circle", "0.25") in rows
    assert ("effects [filter 0] › output_change", "0.5") in rows
    assert not any(name.endswith("› filter") for name, _ in rows)  # the label is not repeated as a row
    assert ("effects …", "3 more entries (all in the saved JSON)") in rows
    assert rows[-1] == ("ok", "yes")


def test_closing_the_window_stops_a_running_experiment_first(qtbot, window, tiny_run):
    window.open_run(str(tiny_run))
    window.experiments.actions["unseen"].trigger()
    window.close()
    assert window.isVisible() and window.experiments.worker.aborted  # waits for the worker to end
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=10000)
    assert not window.experiments.busy and not result_dialogs(window)
