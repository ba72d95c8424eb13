"""Experiment 6, shifted figures: the accuracy of every generator on every test set, e.g. models trained on
centred and on randomly shifted figures, each scored on centred and on shifted test figures."""
from __future__ import annotations

import time

import numpy as np
from matplotlib.figure import Figure

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.visualization.experiments.descriptor import Experiment, MenuEntry
from cyclegan_workbench.visualization.experiments.figures import SMALL, TEXT, new_figure, show
from cyclegan_workbench.visualization.experiments.formatting import pct
from cyclegan_workbench.visualization.experiments.inputs import (
    as_colourizer,
    first_of_each_class,
    shifted_params,
)
from cyclegan_workbench.visualization.experiments.result import (
    CancelCheck,
    ExperimentResult,
    Progress,
    ProgressTracker,
)
from cyclegan_workbench.visualization.experiments.running import batch_count, translate
from cyclegan_workbench.visualization.render import image_rgb

KEY = "shift"
TITLE = "Shifted figures"
QUESTION = "Does training on randomly shifted figures change the accuracy, compared with centred figures?"


def shift_comparison(generators: dict, test_sets: dict[str, ScoringSet], samples: int = 3,
                     progress: Progress | None = None, cancelled: CancelCheck | None = None) -> ExperimentResult:
    """Accuracy of every generator on every test set (e.g. models trained on centred / shifted figures,
    test sets of centred / shifted figures); one generator works too."""
    started = time.perf_counter()
    if not generators or not test_sets:
        raise UserError("give at least one generator and one test set")
    graphs = {name: as_colourizer(g, next(iter(test_sets.values())).images.shape[-1]) for name, g in generators.items()}
    tracker = ProgressTracker(progress, cancelled,
                              sum(batch_count(len(s.classes)) for s in test_sets.values()) * len(graphs) + 1)
    matrix, per_class, shown = {}, {}, {}
    for name, graph in graphs.items():
        matrix[name], per_class[name] = {}, {}
        for set_name, images in test_sets.items():
            outputs = translate(graph, images.images, None, tracker, f"{name} on {set_name}")
            scored = score_outputs(outputs, images)
            matrix[name][set_name], per_class[name][set_name] = scored.accuracy, scored.per_class
            shown[(name, set_name)] = outputs
    numbers = {"accuracy": matrix, "per_class": per_class,
               "images": {k: len(s.classes) for k, s in test_sets.items()}}
    reading = " ".join(f"Model {m}: " + ", ".join(f"{acc:.1%} on {s} figures" for s, acc in row.items()) + "."
                       for m, row in matrix.items())
    figures = {"shift_accuracy": _shift_plot(matrix), "shift_examples": _shift_examples(test_sets, shown, samples)}
    tracker.advance("figures")
    setting = {"generators": list(generators), "test_sets": numbers["images"]}
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, reading, figures, time.perf_counter() - started)


def _shift_plot(matrix: dict) -> Figure:
    fig = new_figure(6, 3.2)
    ax = fig.subplots()
    models, sets = list(matrix), list(next(iter(matrix.values())))
    width = 0.8 / len(sets)
    for k, s in enumerate(sets):
        xs = np.arange(len(models)) + (k - (len(sets) - 1) / 2) * width
        values = [matrix[m][s] for m in models]
        bars = ax.bar(xs, values, width, label=f"{s} test figures")
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=SMALL)
    ax.set_xticks(np.arange(len(models)), [f"trained: {m}" for m in models], fontsize=TEXT)
    ax.set_ylabel("colourization accuracy", fontsize=TEXT)
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=SMALL)
    return fig


def _shift_examples(test_sets, shown, samples) -> Figure:
    models = list(dict.fromkeys(m for m, _ in shown))
    sets = list(test_sets)
    cols = []
    for s in sets:
        for i in first_of_each_class(test_sets[s].classes, samples):
            cols.append((s, i))
    fig = new_figure(1.6 * len(cols), 1.7 * (len(models) + 1))
    axes = fig.subplots(len(models) + 1, len(cols), squeeze=False)
    for c, (s, i) in enumerate(cols):
        show(axes[0][c], image_rgb(test_sets[s].images[i]), f"{s}: {test_sets[s].classes[i]}")
        for r, m in enumerate(models, 1):
            show(axes[r][c], image_rgb(shown[(m, s)][i]), f"trained: {m}")
    return fig


# --- in the pipeline, the report and the menu ------------------------------------------------------
def run_in_pipeline(ctx) -> ExperimentResult:
    sets = {"centred": ctx.test_images("default"), "shifted": ctx.test_images("shifted")}
    models = {"centred": ctx.colourizer("toy"), "shifted": ctx.colourizer("toy_shifted")}
    return shift_comparison(models, sets, **ctx.hooks())


def run_on_loaded_model(graph, inputs, hooks: dict) -> tuple[ExperimentResult, str]:
    """One model: its test images and as many figures rendered with random shifts."""
    test = inputs.test_images()
    shifted = ScoringSet.from_params(shifted_params(inputs.params), inputs.size, inputs.class_colors, inputs.per_class)
    # The dataset's own test split is only "centred" when the dataset was made without shifts.
    own = "centred" if not inputs.params.shift else f"test split (shift {inputs.params.shift} px)"
    result = shift_comparison({"loaded": graph}, {own: test, "shifted": shifted}, **hooks)
    return result, f"{inputs.test_images_text}, and the same number rendered with random shifts"


def setting_text(exp: dict, r: dict) -> str:
    n = exp["numbers"]
    shifted = r.get("datasets", {}).get("shifted", {}).get("params", {})
    return (f"Two models of the default preset with the same budget: one trained on centred figures, one on "
            f"figures shifted by up to {shifted.get('shift', '?')} px along each axis (of a "
            f"{shifted.get('size', '?')} px canvas). Each is scored on the centred and on the shifted test split ("
            + ", ".join(f"{k}: {v} images" for k, v in n["images"].items()) + ").")


def number_tables(n: dict, r: dict) -> list[tuple]:
    sets = list(next(iter(n["accuracy"].values())))
    rows = [[f"trained on {m} figures", *[pct(row[s]) for s in sets]] for m, row in n["accuracy"].items()]
    return [("table", ["model", *[f"{s} test figures" for s in sets]], rows)]


EXPERIMENT = Experiment(
    KEY, 6, TITLE, QUESTION, needs="toy", run_in_pipeline=run_in_pipeline, setting_text=setting_text,
    number_tables=number_tables, run_on_loaded_model=run_on_loaded_model,
    # Listed after the filter ranking: on one loaded model it is a reduced form of the experiment.
    menu=MenuEntry("S&hifted figures (centred vs shifted)",
                   "The loaded generator on centred test figures and on the same figures randomly shifted", order=6))
