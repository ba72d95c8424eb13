"""Experiment 5, the background gray level: the colourization accuracy of the training figures redrawn on
constant backgrounds from 0 to 255, and the second layer's responses at a few of them."""
from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

import numpy as np
from matplotlib.figure import Figure

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import ShapeDatasetParams
from cyclegan_workbench.visualization.experiments.descriptor import Experiment, MenuEntry
from cyclegan_workbench.visualization.experiments.figures import SMALL, TEXT, examples_figure, nan_for_none, new_figure
from cyclegan_workbench.visualization.experiments.formatting import pct, toy_model_phrase
from cyclegan_workbench.visualization.experiments.inputs import as_colourizer, conv_layers
from cyclegan_workbench.visualization.experiments.result import (
    CancelCheck,
    ExperimentResult,
    Progress,
    ProgressTracker,
)
from cyclegan_workbench.visualization.experiments.running import batch_count, to_u8, translate
from cyclegan_workbench.visualization.measurements import paint_labels, untouched_at

KEY = "background"
TITLE = "Background gray level"
QUESTION = ("How does the colourization accuracy depend on the background gray level (0-255), when training used "
            "one background?")
TABLE_LEVELS = 17  # background levels the report's table shows; results.json holds all


def background_sweep(generator, size: int, base_params: ShapeDatasetParams | None = None,
                     class_colors: dict | None = None, levels: Iterable[int] = range(0, 256, 16), per_class: int = 10,
                     shown_levels: int = 4,
                     progress: Progress | None = None, cancelled: CancelCheck | None = None) -> ExperimentResult:
    """The training figures (same geometry) on constant backgrounds; the level equal to the shape gray
    level is left out (the shapes would be invisible). Defaults as for unseen.unseen_figures."""
    started = time.perf_counter()
    graph = as_colourizer(generator, size)
    base_params = base_params or ShapeDatasetParams()
    class_colors = class_colors or base_params.class_colors()
    requested = sorted({int(l) for l in levels})
    if any(not 0 <= l <= 255 for l in requested):
        raise UserError("background levels must be between 0 and 255")
    gray = base_params.gray_level
    used = [l for l in requested if l != gray]
    if not used:
        raise UserError(f"no background level to test besides the shape gray level {gray}")
    n_images = per_class * len(base_params.shapes)
    tracker = ProgressTracker(progress, cancelled, len(used) * (1 + batch_count(n_images)) + 1)
    accuracy, per_class_acc, sample_inputs = [], {c: [] for c in base_params.shapes}, {}
    background_coloured = []  # fraction of the pixels off the figures painted a class colour
    for level in used:
        params = replace(base_params, background=str(level), train_per_class=0, test_per_class=per_class)
        figs = ScoringSet.from_params(params, size, class_colors)
        tracker.advance(f"rendering background {level}")
        outputs = to_u8(translate(graph, figs.images, None, tracker, f"background {level}"))
        scored = score_outputs(outputs, figs)
        accuracy.append(scored.accuracy)
        outside = [paint_labels(o, class_colors)[untouched_at(figs.coverage(i), *o.shape[:2])]
                   for i, o in enumerate(outputs)]
        background_coloured.append(float((np.concatenate(outside) >= 0).mean()))
        for c in per_class_acc:
            per_class_acc[c].append(scored.per_class.get(c))
        sample_inputs[level] = (figs.images[0], outputs[0])
    training_bg = base_params.background
    numbers = {"levels": used, "accuracy": accuracy, "per_class": per_class_acc, "images_per_level": n_images,
               "background_coloured": background_coloured,
               "excluded_levels": [l for l in requested if l == gray], "shape_gray_level": gray,
               "training_background": training_bg}
    reading = _background_reading(numbers)
    layer = conv_layers(graph)[min(1, len(conv_layers(graph)) - 1)]
    shown = spread(used, shown_levels)
    responses = [graph.run(sample_inputs[l][0][None], None, keep=True)[1][layer.node][0].cpu() for l in shown]
    span = (min(float(r.min()) for r in responses), max(float(r.max()) for r in responses))
    examples = [(f"background {l}", sample_inputs[l][0], sample_inputs[l][1]) for l in shown]
    figures = {"background_accuracy": _background_plot(numbers),
               "background_layer2": examples_figure(graph, examples, layer, "layer-2 responses",
                                                    span if span[1] > span[0] else None)}
    numbers["layer2"] = {"index": layer.index, "label": layer.label, "levels_shown": shown}
    tracker.advance("figures")
    setting = {"levels": used, "per_class": per_class, "size": size}
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, reading, figures, time.perf_counter() - started)


def spread(values: list, k: int) -> list:
    """k values evenly spread over `values`, first and last included."""
    if len(values) <= k:
        return list(values)
    return [values[round(i * (len(values) - 1) / (k - 1))] for i in range(k)] if k > 1 else [values[0]]


def _background_reading(n: dict) -> str:
    acc, levels = n["accuracy"], n["levels"]
    lo, hi = int(np.argmin(acc)), int(np.argmax(acc))
    text = (f"Over {len(levels)} background levels ({n['images_per_level']} figures each), accuracy ranged from "
            f"{acc[lo]:.1%} (background {levels[lo]}) to {acc[hi]:.1%} (background {levels[hi]}).")
    below = [a for l, a in zip(levels, acc) if l < n["shape_gray_level"]]
    above = [a for l, a in zip(levels, acc) if l > n["shape_gray_level"]]
    if below and above:
        text += (f" Mean accuracy on backgrounds darker than the shapes (gray {n['shape_gray_level']}): "
                 f"{np.mean(below):.1%}; lighter: {np.mean(above):.1%}.")
    try:
        train_level = int(n["training_background"])
    except (TypeError, ValueError):
        train_level = None
    if train_level in levels:
        text += f" At the training background ({train_level}): {acc[levels.index(train_level)]:.1%}."
    coloured = n["background_coloured"]
    top = int(np.argmax(coloured))
    text += (f" Share of background pixels painted a class colour: {min(coloured):.1%} to {coloured[top]:.1%} "
             f"(background {levels[top]}).")
    return text


def _background_plot(n: dict) -> Figure:
    fig = new_figure(6.5, 3.2)
    ax = fig.subplots()
    ax.plot(n["levels"], n["accuracy"], "o-", color="k", label="all figures", ms=3)
    for c, values in n["per_class"].items():
        ax.plot(n["levels"], [nan_for_none(v) for v in values], "--", label=c, alpha=0.7)
    ax.plot(n["levels"], n["background_coloured"], "x:", color="tab:purple", label="background pixels coloured")
    ax.axvline(n["shape_gray_level"], color="0.5", ls=":", label=f"shape gray level {n['shape_gray_level']}")
    ax.set_xlabel("background gray level", fontsize=TEXT)
    ax.set_ylabel("fraction", fontsize=TEXT)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-5, 260)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=SMALL)
    return fig


# --- in the pipeline, the report and the menu ------------------------------------------------------
def run_in_pipeline(ctx) -> ExperimentResult:
    b = ctx.budget
    return background_sweep(ctx.colourizer("toy"), ctx.model_size(), ctx.dataset_params("default"),
                            ctx.class_colors(), levels=b.bg_levels, per_class=b.bg_per_class, **ctx.hooks())


def run_on_loaded_model(graph, inputs, hooks: dict) -> tuple[ExperimentResult, str]:
    result = background_sweep(graph, inputs.size, inputs.params, inputs.class_colors, **hooks)
    return result, f"figures rendered with {inputs.source}, on each background"


def setting_text(exp: dict, r: dict) -> str:
    n = exp["numbers"]
    excluded = (f" Level {n['excluded_levels'][0]} equals the shape gray level (shapes invisible) and is left out."
                if n["excluded_levels"] else "")
    return (f"{toy_model_phrase(r)}; the test figures of the training classes ({n['images_per_level']} per level, "
            f"same geometry at every level) on constant backgrounds at {len(n['levels'])} levels from "
            f"{min(n['levels'])} to {max(n['levels'])}; training used background {n['training_background']}."
            f"{excluded} Layer 2: {n['layer2']['label']}, shown for levels "
            f"{', '.join(map(str, n['layer2']['levels_shown']))}.")


def number_tables(n: dict, r: dict) -> list[tuple]:
    levels = n["levels"]
    shown = spread(levels, TABLE_LEVELS)
    classes = list(n["per_class"])
    rows = []
    for level in shown:
        i = levels.index(level)
        rows.append([str(level), pct(n["accuracy"][i]), *[pct(n["per_class"][c][i]) for c in classes],
                     pct(n["background_coloured"][i])])
    note = ("" if len(shown) == len(levels) else
            f"{len(shown)} of the {len(levels)} levels shown; results.json holds all of them.")
    out = [("table", ["background", "accuracy", *[f"{c}s" for c in classes], "background pixels coloured"], rows)]
    if note:
        out.append(("p", note, None))
    return out


EXPERIMENT = Experiment(
    KEY, 5, TITLE, QUESTION, needs="toy", run_in_pipeline=run_in_pipeline, setting_text=setting_text,
    number_tables=number_tables, run_on_loaded_model=run_on_loaded_model,
    menu=MenuEntry("Background &gray-level sweep", "Colourization accuracy on backgrounds from 0 to 255", order=4))
