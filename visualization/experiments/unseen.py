"""Experiment 4, unseen figures: what the generator paints on figures it never saw (rectangles from square to
1:6, other shapes), which class colour, where on the shape (corners vs centre) and outside it."""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from matplotlib.figure import Figure

from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import SHAPES, ShapeDatasetParams
from cyclegan_workbench.visualization.experiments.descriptor import Experiment, MenuEntry
from cyclegan_workbench.visualization.experiments.figures import (
    HEADING,
    SMALL,
    TEXT,
    examples_figure,
    nan_for_none,
    new_figure,
)
from cyclegan_workbench.visualization.experiments.formatting import colour_names, num, pct, toy_model_phrase
from cyclegan_workbench.visualization.experiments.inputs import as_colourizer, conv_layers
from cyclegan_workbench.visualization.experiments.result import (
    CancelCheck,
    ExperimentResult,
    Progress,
    ProgressTracker,
)
from cyclegan_workbench.visualization.experiments.running import batch_count, to_u8, translate
from cyclegan_workbench.visualization.measurements import (
    coverage_at,
    fractions_from_labels,
    paint_labels,
    rectangle_regions,
    untouched_at,
)

KEY = "unseen"
TITLE = "Unseen figures"
QUESTION = ("What does the model paint on figures it never saw: rectangles from square to 1:6 and other shapes? "
            "Which colour, and where on the shape?")
ASPECTS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0)


def unseen_figures(generator, size: int, base_params: ShapeDatasetParams | None = None,
                   class_colors: dict | None = None, aspects: Sequence[float] = ASPECTS, per_aspect: int = 10,
                   shapes: Sequence[str] | None = None,
                   per_shape: int = 6, progress: Progress | None = None,
                   cancelled: CancelCheck | None = None) -> ExperimentResult:
    """Rectangles at each aspect ratio (long/short side) and other shapes the model never saw.

    `base_params` are the training set's (gray level, background, sizes, rotation, seed; default: the
    default toy dataset's); only the shape and, for rectangles, the aspect change. `class_colors` are the
    trained classes' colours (default: base_params'). `shapes` defaults to every shape but the trained
    classes and the rectangle.
    """
    started = time.perf_counter()
    graph = as_colourizer(generator, size)
    base_params = base_params or ShapeDatasetParams()
    class_colors = class_colors or base_params.class_colors()
    trained = list(class_colors)
    if shapes is None:
        shapes = [s for s in SHAPES if s not in trained and s != "rectangle"]
    tracker = ProgressTracker(progress, cancelled, len(aspects) * (1 + batch_count(per_aspect))
                              + len(shapes) * (1 + batch_count(per_shape)) + 1)
    first = conv_layers(graph)[0]
    per_aspect_rows, rect_examples, shape_examples = [], [], []
    for aspect in aspects:
        params = replace(base_params, shapes=("rectangle",), aspect=(float(aspect), float(aspect)),
                         train_per_class=0, test_per_class=per_aspect)
        figs = ScoringSet.from_params(params, size, class_colors)
        tracker.advance(f"rendering 1:{aspect:g} rectangles")
        outputs = to_u8(translate(graph, figs.images, None, tracker, f"1:{aspect:g} rectangles"))
        row = {"aspect": float(aspect), **_unseen_stats(figs, outputs, class_colors, rectangles=True)}
        per_aspect_rows.append(row)
        rect_examples.append((f"1:{aspect:g} rectangle", figs.images[0], outputs[0]))
    per_shape_rows = []
    for shape in shapes:
        params = replace(base_params, shapes=(shape,), train_per_class=0, test_per_class=per_shape)
        figs = ScoringSet.from_params(params, size, class_colors)
        tracker.advance(f"rendering {shape}s")
        outputs = to_u8(translate(graph, figs.images, None, tracker, f"{shape}s"))
        per_shape_rows.append({"shape": shape, **_unseen_stats(figs, outputs, class_colors, rectangles=False)})
        shape_examples.append((shape, figs.images[0], outputs[0]))
    names = colour_names(class_colors)
    numbers = {"class_colours": {c: list(v) for c, v in class_colors.items()}, "first_layer": first.label,
               "per_aspect": per_aspect_rows, "per_shape": per_shape_rows}
    reading = _unseen_reading(per_aspect_rows, per_shape_rows, trained, names)
    figures = {"unseen_fractions": _unseen_plot(per_aspect_rows, trained, names),
               "unseen_rectangles": examples_figure(graph, rect_examples, first, "first-layer responses")}
    if shape_examples:
        figures["unseen_shapes"] = examples_figure(graph, shape_examples, first, "first-layer responses")
    tracker.advance("figures")
    setting = {"aspects": [float(a) for a in aspects], "per_aspect": per_aspect, "shapes": list(shapes),
               "per_shape": per_shape, "size": size}
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, reading, figures, time.perf_counter() - started)


def _unseen_stats(figs: ScoringSet, outputs: list[np.ndarray], class_colors: dict, rectangles: bool) -> dict:
    classes = list(class_colors)
    labels_all, by_region = [], {"centre": [], "corners": []}
    predicted: dict[str, int] = {}
    scored = score_outputs(outputs, figs)
    for p in scored.predictions:
        predicted[p["predicted"]] = predicted.get(p["predicted"], 0) + 1
    outside_coloured = 0
    for i, (out, geometry) in enumerate(zip(outputs, figs.figures)):
        h, w = out.shape[:2]
        coverage = figs.coverage(i)
        shape = coverage_at(coverage, h, w)
        labels = paint_labels(out, class_colors)
        labels_all.append(labels[shape])
        outside_coloured += int((labels[untouched_at(coverage, h, w)] >= 0).sum())
        if rectangles:
            regions = rectangle_regions(geometry[0], figs.params.size, h)
            for name in by_region:
                by_region[name].append(labels[shape & regions[name]])
    shape_pixels = fractions_from_labels(np.concatenate(labels_all), classes)
    # Colour painted where the figure is not, per pixel of figure: 0 for a translation that keeps the outline.
    stats = {"figures": len(outputs), "shape_pixels": shape_pixels, "figures_classified_as": predicted,
             "coloured_outside_per_shape_pixel": outside_coloured / max(shape_pixels["pixels"], 1)}
    if rectangles:
        stats.update({name: fractions_from_labels(np.concatenate(parts), classes) for name, parts in by_region.items()})
    return stats


def _unseen_reading(per_aspect, per_shape, trained, names) -> str:
    a, b = trained[0], trained[-1]
    parts = []
    for row in per_aspect:
        f = row["shape_pixels"]
        parts.append(f"1:{row['aspect']:g} {names[a]} {pct(f[a])} / {names[b]} {pct(f[b])}")
    text = "Shape pixels painted " + f"{names[a]} / {names[b]} per aspect ratio: " + "; ".join(parts) + "."
    first, last = per_aspect[0], per_aspect[-1]
    if first is not last:
        text += (f" Corners vs centre at 1:{first['aspect']:g}: {names[a]} {pct(first['corners'][a])} vs "
                 f"{pct(first['centre'][a])}, {names[b]} {pct(first['corners'][b])} vs {pct(first['centre'][b])}; "
                 f"at 1:{last['aspect']:g}: {names[a]} {pct(last['corners'][a])} vs {pct(last['centre'][a])}, "
                 f"{names[b]} {pct(last['corners'][b])} vs {pct(last['centre'][b])}.")
    text += (" Pixels painted a class colour outside the figure, per figure pixel: "
             + ", ".join(f"1:{r['aspect']:g} {r['coloured_outside_per_shape_pixel']:.2f}" for r in per_aspect) + ".")
    if per_shape:
        text += " Other shapes, " + f"{names[a]} / {names[b]}: " + "; ".join(
            f"{r['shape']} {pct(r['shape_pixels'][a])} / {pct(r['shape_pixels'][b])}" for r in per_shape) + "."
    return text


def _unseen_plot(rows, trained, names) -> Figure:
    fig = new_figure(10, 3.2)
    ax1, ax2 = fig.subplots(1, 2)
    x = [r["aspect"] for r in rows]
    for cls in trained:
        colour = np.asarray(_rgb_of(names[cls])) / 255
        ax1.plot(x, [nan_for_none(r["shape_pixels"][cls]) for r in rows], "o-", color=colour, label=names[cls])
        ax2.plot(x, [nan_for_none(r["corners"][cls]) for r in rows], "o-", color=colour,
                 label=f"{names[cls]}, corners")
        ax2.plot(x, [nan_for_none(r["centre"][cls]) for r in rows], "s--", color=colour, label=f"{names[cls]}, centre")
    ax1.plot(x, [nan_for_none(r["shape_pixels"]["other"]) for r in rows], "^:", color="0.4", label="neither")
    ax1.plot(x, [r["coloured_outside_per_shape_pixel"] for r in rows], "x--", color="tab:purple",
             label="coloured outside / figure pixels")
    ax1.set_title("fraction of shape pixels painted", fontsize=HEADING)
    ax2.set_title("corners vs centre of the rectangle", fontsize=HEADING)
    for ax in (ax1, ax2):
        ax.set_xlabel("aspect ratio (long side / short side)", fontsize=TEXT)
        ax.set_ylim(-0.02, max(1.02, max(r["coloured_outside_per_shape_pixel"] for r in rows) + 0.05))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=SMALL)
    return fig


def _rgb_of(name: str):
    """A plot colour for a class colour's name: pure red or green reads badly as a thin line."""
    return {"red": (220, 30, 30), "green": (30, 160, 30), "blue": (30, 30, 220)}.get(name, (120, 120, 120))


# --- in the pipeline, the report and the menu ------------------------------------------------------
def run_in_pipeline(ctx) -> ExperimentResult:
    b = ctx.budget
    return unseen_figures(ctx.colourizer("toy"), ctx.model_size(), ctx.dataset_params("default"), ctx.class_colors(),
                          aspects=b.aspects, per_aspect=b.per_aspect, per_shape=b.per_unseen_shape, **ctx.hooks())


def run_on_loaded_model(graph, inputs, hooks: dict) -> tuple[ExperimentResult, str]:
    result = unseen_figures(graph, inputs.size, inputs.params, inputs.class_colors, **hooks)
    return result, f"unseen figures rendered with {inputs.source}"


def setting_text(exp: dict, r: dict) -> str:
    s = exp["setting"]
    return (f"{toy_model_phrase(r)}; rectangles with aspect ratios {', '.join(f'1:{a:g}' for a in s['aspects'])} "
            f"({s['per_aspect']} each; 1:1 is a square) and {', '.join(s['shapes'])} ({s['per_shape']} each), "
            "drawn with the training set's sizes, rotations, gray level and background. Painted colour per pixel "
            "as in experiment 3, over the pixels at least half covered by the shape. Corners: the parts of a "
            "rectangle beyond half its length and half its width from the centre; centre: within half of both "
            "(each a quarter of its area).")


def number_tables(n: dict, r: dict) -> list[tuple]:
    names = colour_names({k: tuple(v) for k, v in n["class_colours"].items()})
    a, b = list(names)[0], list(names)[-1]
    na, nb = names[a], names[b]
    head = ["aspect", "figures", f"{na}", f"{nb}", "neither", f"corners {na}", f"corners {nb}", f"centre {na}",
            f"centre {nb}", "coloured outside / figure", "classified (mean colour)"]
    rows = []
    for row in n["per_aspect"]:
        f, c, m = row["shape_pixels"], row["corners"], row["centre"]
        rows.append([f"1:{row['aspect']:g}", str(row["figures"]), pct(f[a]), pct(f[b]), pct(f["other"]),
                     pct(c[a]), pct(c[b]), pct(m[a]), pct(m[b]), num(row["coloured_outside_per_shape_pixel"], 2),
                     _classified(row)])
    out = [("p", f"Fractions of shape pixels painted {na} / {nb} / neither, the same within the corners and the "
                 "centre of each rectangle, and the pixels painted a class colour where the figure is not, per "
                 "figure pixel:", None), ("table", head, rows)]
    if n["per_shape"]:
        rows = [[row["shape"], str(row["figures"]), pct(row["shape_pixels"][a]), pct(row["shape_pixels"][b]),
                 pct(row["shape_pixels"]["other"]), num(row["coloured_outside_per_shape_pixel"], 2),
                 _classified(row)] for row in n["per_shape"]]
        out.append(("table", ["shape", "figures", na, nb, "neither", "coloured outside / figure",
                              "classified (mean colour)"], rows))
    return out


def _classified(row) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(row["figures_classified_as"].items()))


EXPERIMENT = Experiment(
    KEY, 4, TITLE, QUESTION, needs="toy", run_in_pipeline=run_in_pipeline, setting_text=setting_text,
    number_tables=number_tables, run_on_loaded_model=run_on_loaded_model,
    menu=MenuEntry("&Unseen figures", "Rectangles from square to 1:6 and other shapes the model never saw: which "
                   "colour, and where", order=3))
