"""The experiment registry drives the report, the pipeline, the worker and the menu: one more module in the
experiments package (here a dummy written to a temporary folder added to the package's path) appears in all
of them without another edit anywhere."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PyQt5.QtWidgets import QInputDialog

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization import experiments as package
from cyclegan_workbench.visualization.experiments import registry

DUMMY_MODULE = "dummy_probe"
DUMMY = '''"""A dummy experiment: it only counts its test images (times a factor its menu entry asks for)."""
from cyclegan_workbench.visualization.experiments.descriptor import AskWholeNumber, Experiment, MenuEntry
from cyclegan_workbench.visualization.experiments.figures import new_figure
from cyclegan_workbench.visualization.experiments.result import ExperimentResult


def count_images(images, factor=1):
    fig = new_figure(2, 2)
    fig.subplots().plot([0, 1], [0, factor])
    n = len(images.classes) * factor
    return ExperimentResult("dummy", "Dummy probe", "Does the registry reach everything?", {"factor": factor},
                            {"images": n, "mean": 0.5}, f"The dummy counted {n} images.", {"dummy_line": fig})


def run_in_pipeline(ctx):
    images = ctx.test_images("default", ctx.budget.probe_images)
    ctx.hooks()["progress"](1.0, "dummy: counted")
    return count_images(images)


def run_on_loaded_model(graph, inputs, hooks, factor=1):
    return count_images(inputs.test_images(), factor), inputs.test_images_text


EXPERIMENT = Experiment(
    "dummy", 8, "Dummy probe", "Does the registry reach everything?", needs="toy", run_in_pipeline=run_in_pipeline,
    setting_text=lambda exp, r: f"Counted with factor {exp['setting']['factor']}.",
    number_tables=lambda n, r: [("table", ["measure", "value"], [["dummy images", str(n["images"])]])],
    run_on_loaded_model=run_on_loaded_model,
    menu=MenuEntry("&Dummy probe", "Counts the test images", order=7,
                   ask=AskWholeNumber("factor", "Factor (up to {max}):", choices=lambda graph: [1, 2, 3],
                                      preferred=2, none_title="No factor", none_message="{generator}: none")))
'''


@pytest.fixture
def dummy_registered(tmp_path, monkeypatch):
    """The dummy module in a folder of its own, added to the experiments package's path; afterwards the
    registry forgets it again."""
    folder = tmp_path / "more_experiments"
    folder.mkdir()
    (folder / f"{DUMMY_MODULE}.py").write_text(DUMMY, encoding="utf-8")
    monkeypatch.setattr(package, "__path__", [*package.__path__, str(folder)])
    monkeypatch.setattr(registry, "_found", None)  # discover again; the real list comes back at teardown
    importlib.invalidate_caches()
    yield folder
    sys.modules.pop(f"{package.__name__}.{DUMMY_MODULE}", None)


def test_the_real_experiments_in_report_order():
    keys = [e.key for e in package.experiments()]
    assert keys == ["architectures", "bottleneck", "skip", "unseen", "background", "shift", "filters"]
    assert [e.number for e in package.experiments()] == list(range(1, 8))
    assert [e.key for e in package.loaded_model_experiments()] == keys[1:]
    with pytest.raises(UserError, match="unknown experiment 'nope'"):
        package.experiment("nope")


def test_every_registered_experiment_loads_no_qt():
    script = ("import sys; from cyclegan_workbench.visualization.experiments import experiments; "
              "print(len(experiments())); "
              "print(','.join(m for m in sys.modules if m.split('.')[0] in ('PyQt5', 'PyQt6', 'PySide2', 'PySide6')))")
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[1],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["7", ""]


def test_a_new_module_is_an_experiment_of_the_registry_and_of_run_experiment(dummy_registered, toy_dataset):
    from cyclegan_workbench.models.networks import UnetGenerator
    from cyclegan_workbench.visualization.parser import parse_generator

    assert [e.key for e in package.experiments()][-2:] == ["filters", "dummy"]
    assert package.experiment("dummy").stage == "exp8_dummy"
    graph = parse_generator(UnetGenerator(1, 3, 3, 4, "instance").eval(), 32)
    result, inputs = package.run_loaded_experiment("dummy", graph, 32, str(toy_dataset), images=4, factor=3)
    assert result.numbers["images"] == 12 and "test images of dataset" in inputs
    assert package.run_experiment("dummy", graph, toy_dataset).numbers["images"] == 6


def test_two_experiments_with_one_number_are_refused(dummy_registered):
    text = (dummy_registered / f"{DUMMY_MODULE}.py").read_text(encoding="utf-8")
    (dummy_registered / "dummy_twin.py").write_text(text.replace('"dummy", 8,', '"twin", 8,'), encoding="utf-8")
    try:
        with pytest.raises(RuntimeError, match=r"experiments share a number: \[8\]"):
            package.experiments()
    finally:
        sys.modules.pop(f"{package.__name__}.dummy_twin", None)


def test_the_pipeline_and_the_report_run_and_show_a_new_experiment(dummy_registered, tmp_path):
    from cyclegan_workbench.visualization.reproduce import Listener, reproduce

    class Titles(Listener):
        def __init__(self):
            self.titles = []

        def stage_started(self, index, total, name, title):
            self.titles.append(f"[{index}/{total}] {title}")

    listener = Titles()
    out = tmp_path / "report"
    results = reproduce(out, "tiny", listener=listener)
    # Right after the experiments of the default-preset model it needs, before the architectures train.
    assert listener.titles[8:10] == ["[9/18] experiment 7: Filter ranking", "[10/18] experiment 8: Dummy probe"]
    assert listener.titles[-1] == "[18/18] writing the report"
    stage = json.loads((out / "stages" / "exp8_dummy.json").read_text(encoding="utf-8"))
    assert stage["result"]["numbers"] == {"images": 4, "mean": 0.5}  # the tiny budget's 4 probe images
    assert results["experiments"]["dummy"]["figures"] == {"dummy_line": "figures/exp8_dummy_line.png"}
    assert (out / "figures" / "exp8_dummy_line.png").read_bytes()[:4] == b"\x89PNG"
    md = (out / "report.md").read_text(encoding="utf-8")
    section = md.split("## 8. Dummy probe\n")[1]
    for text in ("**Question.** Does the registry reach everything?", "**Setting.** Counted with factor 1.",
                 "| dummy images | 4 |", "**Reading.** The dummy counted 4 images.",
                 "![Dummy probe: dummy line](figures/exp8_dummy_line.png)"):
        assert text in section
    assert "**Model for experiments 2-8.**" in md
    assert md.index("## 7. Filter ranking") < md.index("## 8. Dummy probe") < md.index("## Timings")


def test_the_menu_offers_a_new_experiment_and_asks_its_question(dummy_registered, qtbot, window, tiny_run):
    from cyclegan_workbench.app.experiment_dialog import ExperimentDialog

    menu = window.experiments
    texts = [a.text() for a in menu.menu.actions() if not a.isSeparator()]
    assert texts.index("&Dummy probe") == texts.index("S&hifted figures (centred vs shifted)") + 1
    assert menu.actions["dummy"].statusTip() == "Counts the test images"
    window.open_run(str(tiny_run))
    menu.actions["dummy"].trigger()
    ask = window.findChild(QInputDialog, "dummy_factor_dialog")
    assert ask is not None and ask.windowTitle() == "Dummy probe" and ask.labelText() == "Factor (up to 3):"
    assert (ask.intMinimum(), ask.intMaximum(), ask.intValue()) == (1, 3, 2)
    ask.accept()
    qtbot.waitUntil(lambda: bool(window.findChildren(ExperimentDialog)), timeout=15000)
    result = window.findChildren(ExperimentDialog)[0].outcome.result
    assert result.key == "dummy" and result.numbers["images"] == 12  # the toy dataset's 6 test images, twice
    assert "Dummy probe: done" in window.statusBar().currentMessage()
