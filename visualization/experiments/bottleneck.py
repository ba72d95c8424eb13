"""Experiment 2, bottleneck nullification: the colourization accuracy and the output with every bottleneck
response zeroed, against the intact generator."""
from __future__ import annotations

import time

import numpy as np
import torch
from matplotlib.figure import Figure

from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.visualization.experiments.descriptor import Experiment, MenuEntry
from cyclegan_workbench.visualization.experiments.figures import grid_image, new_figure, show
from cyclegan_workbench.visualization.experiments.formatting import num, pct, toy_model_phrase
from cyclegan_workbench.visualization.experiments.inputs import as_colourizer, first_of_each_class
from cyclegan_workbench.visualization.experiments.result import (
    CancelCheck,
    ExperimentResult,
    Progress,
    ProgressTracker,
)
from cyclegan_workbench.visualization.experiments.running import batch_count, translate
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.measurements import coverage_at
from cyclegan_workbench.visualization.render import image_rgb

KEY = "bottleneck"
TITLE = "Bottleneck nullification"
QUESTION = ("What does the bottleneck contribute to the colourization: how much do accuracy and output change when "
            "its responses are zeroed?")


def bottleneck_nullification(generator, images: ScoringSet, samples: int = 2, progress: Progress | None = None,
                             cancelled: CancelCheck | None = None) -> ExperimentResult:
    started = time.perf_counter()
    graph = as_colourizer(generator, images.images.shape[-1])
    tracker = ProgressTracker(progress, cancelled, 2 * batch_count(len(images.classes)) + 1)
    masks = MaskSet(graph)
    masks.nullify_bottleneck()
    intact = translate(graph, images.images, None, tracker, "intact outputs")
    nulled = translate(graph, images.images, masks, tracker, "bottleneck zeroed")
    s_intact, s_nulled = score_outputs(intact, images), score_outputs(nulled, images)
    diff = (nulled - intact).abs()
    h, w = diff.shape[-2:]
    inside = torch.from_numpy(np.stack([coverage_at(m, h, w) for m in images.masks]))[:, None].expand_as(diff)
    b = graph.layers[graph.bottleneck]
    numbers = {
        "images": len(images.classes),
        "bottleneck": {"index": b.index, "label": b.label, "channels": b.channels, "shape": list(b.shape)},
        "accuracy_intact": s_intact.accuracy, "accuracy_nullified": s_nulled.accuracy,
        "per_class_intact": s_intact.per_class, "per_class_nullified": s_nulled.per_class,
        "mean_abs_output_change": float(diff.mean()),
        "mean_abs_output_change_in_shapes": float(diff[inside].mean()) if bool(inside.any()) else None,
    }
    reading = (f"Zeroing the bottleneck ({b.label}) changed the colourization accuracy from "
               f"{s_intact.accuracy:.1%} to {s_nulled.accuracy:.1%} "
               f"({100 * (s_nulled.accuracy - s_intact.accuracy):+.1f} points) on {numbers['images']} test images. "
               f"The output changed by {numbers['mean_abs_output_change']:.3f} on average over all pixels")
    if numbers["mean_abs_output_change_in_shapes"] is not None:
        reading += f" and by {numbers['mean_abs_output_change_in_shapes']:.3f} inside the shapes"
    reading += " (output range [-1, 1])."
    fig = _bottleneck_figure(graph, images, masks, intact, nulled, first_of_each_class(images.classes, samples))
    tracker.advance("figure")
    setting = {"images": numbers["images"], "bottleneck_layer": b.index}
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, reading, {"bottleneck": fig},
                            time.perf_counter() - started)


def _bottleneck_figure(graph, images, masks, intact, nulled, picks) -> Figure:
    node = graph.layers[graph.bottleneck].node
    fig = new_figure(11, 2.3 * len(picks))
    axes = fig.subplots(len(picks), 5, squeeze=False)
    for row, i in zip(axes, picks):
        _, raw, vals = graph.run(images.images[i:i + 1], masks, keep=True)
        before, after = raw[node][0].cpu(), vals[node][0].cpu()
        lo, hi = float(before.min()), float(before.max())
        span = (lo, hi if hi > lo else lo + 1e-6)
        show(row[0], image_rgb(images.images[i]), f"input ({images.classes[i]})")
        show(row[1], grid_image(before, span), "bottleneck responses")
        show(row[2], grid_image(after, span), "bottleneck zeroed")
        show(row[3], image_rgb(intact[i]), "output, intact")
        show(row[4], image_rgb(nulled[i]), "output, bottleneck zeroed")
    return fig


# --- in the pipeline, the report and the menu ------------------------------------------------------
def run_in_pipeline(ctx) -> ExperimentResult:
    images = ctx.test_images("default", ctx.budget.probe_images)
    return bottleneck_nullification(ctx.colourizer("toy"), images, **ctx.hooks())


def run_on_loaded_model(graph, inputs, hooks: dict) -> tuple[ExperimentResult, str]:
    return bottleneck_nullification(graph, inputs.test_images(), **hooks), inputs.test_images_text


def setting_text(exp: dict, r: dict) -> str:
    n = exp["numbers"]
    return (f"{toy_model_phrase(r)}; {n['images']} gray test images. The gain of every bottleneck response "
            f"({n['bottleneck']['label']}, layer {n['bottleneck']['index']}) is set to 0.")


def number_tables(n: dict, r: dict) -> list[tuple]:
    rows = [["colourization accuracy", pct(n["accuracy_intact"]), pct(n["accuracy_nullified"])]]
    for c in n["per_class_intact"]:
        rows.append([f"accuracy, {c}s", pct(n["per_class_intact"].get(c)), pct(n["per_class_nullified"].get(c))])
    rows.append(["mean absolute output change, all pixels", "", num(n["mean_abs_output_change"], 4)])
    rows.append(["mean absolute output change, inside shapes", "", num(n["mean_abs_output_change_in_shapes"], 4)])
    return [("table", ["measure", "intact", "bottleneck zeroed"], rows)]


EXPERIMENT = Experiment(
    KEY, 2, TITLE, QUESTION, needs="toy", run_in_pipeline=run_in_pipeline, setting_text=setting_text,
    number_tables=number_tables, run_on_loaded_model=run_on_loaded_model,
    menu=MenuEntry("&Bottleneck nullification", "Accuracy and outputs with the bottleneck's responses zeroed vs "
                   "intact", order=1))
