"""Experiment 3, the first skip connection isolated: with everything below one skip level zeroed, how much
colour is left, and is it on the shapes' edges or in their interiors."""
from __future__ import annotations

import time

import numpy as np
from matplotlib.figure import Figure

from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.visualization.experiments.descriptor import AskWholeNumber, Experiment, MenuEntry
from cyclegan_workbench.visualization.experiments.figures import label_image, new_figure, show
from cyclegan_workbench.visualization.experiments.formatting import (
    colour_names,
    num,
    pct,
    ranges,
    toy_model_phrase,
)
from cyclegan_workbench.visualization.experiments.inputs import as_colourizer, first_of_each_class
from cyclegan_workbench.visualization.experiments.result import (
    CancelCheck,
    ExperimentResult,
    Progress,
    ProgressTracker,
)
from cyclegan_workbench.visualization.experiments.running import batch_count, to_u8, translate
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.measurements import (
    coverage_at,
    edge_and_interior,
    fractions_from_labels,
    paint_labels,
    pixel_chroma,
)
from cyclegan_workbench.visualization.render import image_rgb

KEY = "skip"
TITLE = "First skip connection isolated"
QUESTION = ("With only the first skip connection carrying the input (everything below the top level zeroed), where "
            "does colour remain: on shape edges or in their interiors?")
# Keys of a region's statistics that are not a class (see edge_interior_colour).
_SUMMARY_KEYS = ("other", "pixels", "coloured", "true_colour", "mean_chroma")


def skip_isolation(generator, images: ScoringSet, level: int = 1, edge_width: int = 2, samples: int = 2,
                   progress: Progress | None = None, cancelled: CancelCheck | None = None) -> ExperimentResult:
    started = time.perf_counter()
    graph = as_colourizer(generator, images.images.shape[-1])
    tracker = ProgressTracker(progress, cancelled, 2 * batch_count(len(images.classes)) + 2)
    masks = MaskSet(graph)
    masks.isolate_skip(level)
    intact = translate(graph, images.images, None, tracker, "intact outputs")
    isolated = translate(graph, images.images, masks, tracker, f"only skip {level}")
    out_intact, out_isolated = to_u8(intact), to_u8(isolated)
    regions = edge_interior_colour([out_intact, out_isolated], images, edge_width)
    tracker.advance("measuring")
    s_intact, s_isolated = score_outputs(out_intact, images), score_outputs(out_isolated, images)
    numbers = {
        "images": len(images.classes), "level": level, "edge_width_px": edge_width,
        "zeroed_layers": masks.edited_layers(),
        "accuracy_intact": s_intact.accuracy, "accuracy_isolated": s_isolated.accuracy,
        "per_class_intact": s_intact.per_class, "per_class_isolated": s_isolated.per_class,
        "intact": regions[0], "isolated": regions[1],
    }
    e, i = regions[1]["edge"], regions[1]["interior"]
    reading = (f"With only skip connection {level} carrying the input ({len(numbers['zeroed_layers'])} layers below "
               f"it zeroed), accuracy went from {s_intact.accuracy:.1%} to {s_isolated.accuracy:.1%}. On shape "
               f"edges (a {edge_width}-pixel band) {pct(e['coloured'])} of the pixels were painted a class colour "
               f"({pct(e['true_colour'])} their own class's), mean chroma {e['mean_chroma']:.0f}; in the interiors "
               f"{pct(i['coloured'])} ({pct(i['true_colour'])}), mean chroma {i['mean_chroma']:.0f}. Intact "
               f"model: edges {pct(regions[0]['edge']['coloured'])}, interiors "
               f"{pct(regions[0]['interior']['coloured'])}.")
    fig = _skip_figure(images, intact, isolated, out_isolated, first_of_each_class(images.classes, samples), level)
    tracker.advance("figure")
    setting = {"images": numbers["images"], "level": level, "edge_width_px": edge_width}
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, reading, {"skip": fig},
                            time.perf_counter() - started)


def edge_interior_colour(output_sets: list[list[np.ndarray]], images: ScoringSet, edge_width: int) -> list[dict]:
    """For each list of RGB outputs (one per image of `images`): paint statistics of the shape edges and
    interiors, pooled over the images: fractions per class colour, "other", "coloured" (any class colour),
    "true_colour" (the image's own class colour), mean chroma, pixel count."""
    classes = list(images.class_colors)
    results = []
    for outputs in output_sets:
        pooled = {"edge": ([], [], []), "interior": ([], [], [])}  # labels, chroma, own-class flags
        for out, mask, true in zip(outputs, images.masks, images.classes):
            shape = coverage_at(mask, *out.shape[:2])
            edge, interior = edge_and_interior(shape, edge_width)
            labels, chroma = paint_labels(out, images.class_colors), pixel_chroma(out)
            own = classes.index(true) if true in classes else -2
            for name, region in (("edge", edge), ("interior", interior)):
                pooled[name][0].append(labels[region])
                pooled[name][1].append(chroma[region])
                pooled[name][2].append(labels[region] == own)
        summary = {}
        for name, (labels, chroma, own) in pooled.items():
            labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
            stats = fractions_from_labels(labels, classes)
            n = stats["pixels"]
            stats["coloured"] = None if not n else 1.0 - stats["other"]
            stats["true_colour"] = float(np.concatenate(own).mean()) if n else None
            stats["mean_chroma"] = float(np.concatenate(chroma).mean()) if n else 0.0
            summary[name] = stats
        results.append(summary)
    return results


def _skip_figure(images, intact, isolated, out_isolated, picks, level) -> Figure:
    fig = new_figure(9, 2.3 * len(picks))
    axes = fig.subplots(len(picks), 4, squeeze=False)
    for row, i in zip(axes, picks):
        out = out_isolated[i]
        shape = coverage_at(images.masks[i], *out.shape[:2])
        labels = label_image(paint_labels(out, images.class_colors), images.class_colors, shape)
        show(row[0], image_rgb(images.images[i]), f"input ({images.classes[i]})")
        show(row[1], image_rgb(intact[i]), "output, intact")
        show(row[2], image_rgb(isolated[i]), f"only skip {level}")
        show(row[3], labels, "painted class (shape pixels)")
    return fig


# --- in the pipeline, the report and the menu ------------------------------------------------------
def run_in_pipeline(ctx) -> ExperimentResult:
    images = ctx.test_images("default", ctx.budget.probe_images)
    return skip_isolation(ctx.colourizer("toy"), images, **ctx.hooks())


def run_on_loaded_model(graph, inputs, hooks: dict, level: int = 1) -> tuple[ExperimentResult, str]:
    return skip_isolation(graph, inputs.test_images(), level=level, **hooks), inputs.test_images_text


def setting_text(exp: dict, r: dict) -> str:
    n = exp["numbers"]
    return (f"{toy_model_phrase(r)}; {n['images']} gray test images. Every contracting-path layer below skip "
            f"connection {n['level']} and the bottleneck are zeroed (layers {ranges(n['zeroed_layers'])}). Edge: the "
            f"{n['edge_width_px']}-pixel band inside each shape's outline at the output resolution; interior: the "
            "rest of the shape. A pixel counts as painted with a class colour when its chroma is at least 48 and "
            "its hue within 45 degrees of that colour's.")


def number_tables(n: dict, r: dict) -> list[tuple]:
    colours = (r.get("class_colors") or {})
    names = colour_names(colours) if colours else {}
    classes = [k for k in n["isolated"]["edge"] if k not in _SUMMARY_KEYS]
    head = ["model", "region", "pixels", *[f"{names.get(c, c)} ({c})" for c in classes], "neither",
            "own class colour", "mean chroma"]
    rows = []
    for model in ("intact", "isolated"):
        for region in ("edge", "interior"):
            s = n[model][region]
            rows.append(["intact" if model == "intact" else f"only skip {n['level']}", region, str(s["pixels"]),
                         *[pct(s[c]) for c in classes], pct(s["other"]), pct(s["true_colour"]),
                         num(s["mean_chroma"], 1)])
    acc = [["colourization accuracy", pct(n["accuracy_intact"]), pct(n["accuracy_isolated"])]]
    for c in n.get("per_class_intact", {}):
        acc.append([f"accuracy, {c}s", pct(n["per_class_intact"].get(c)), pct(n["per_class_isolated"].get(c))])
    return [("table", head, rows), ("table", ["measure", "intact", f"only skip {n['level']}"], acc)]


EXPERIMENT = Experiment(
    KEY, 3, TITLE, QUESTION, needs="toy", run_in_pipeline=run_in_pipeline, setting_text=setting_text,
    number_tables=number_tables, run_on_loaded_model=run_on_loaded_model,
    menu=MenuEntry(
        "First &skip connection isolated…",
        "Only one skip connection carries the input (everything below it zeroed): is colour left on edges or "
        "interiors?", order=2,
        ask=AskWholeNumber("level", "Skip connection level to keep (1 = full resolution, up to {max}):",
                           choices=lambda graph: list(graph.skip_levels), preferred=1,
                           none_title="No skip connections",
                           none_message="{generator} has no skip connections to isolate.")))
