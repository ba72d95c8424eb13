"""The seven experiments of the reproduction as functions over trained generators: measurements + figures.

Each experiment runs on an already-loaded gray -> RGB generator (an nn.Module, or the NetworkGraph a
Test tab already holds) and on gray test figures with what the colourization score needs (an
ablation.ScoringSet read from a dataset, or a FigureSet rendered here in memory from toy-dataset
parameters). It returns an ExperimentResult: JSON-ready numbers, a neutral reading generated from them
and matplotlib Figures (plain `Figure` objects on an Agg canvas: no pyplot, no Qt; a GUI can show them
in a FigureCanvasQTAgg, the report saves them as PNG). Experiments build their own MaskSets and never
touch the caller's gains. Long loops call `progress(fraction, message)` and poll `cancelled()`; when it
returns True they raise ExperimentCancelled.

What "painted red" means is defined in visualization/measurements.py (chroma and hue rules). Pixel-level
measurements use the pixels at least half covered by a shape at the output resolution; accuracies use
data.scoring's rule (mean colour of the shape interior, nearest class colour).

Public API
----------
ExperimentResult: key, title, question, setting, numbers, reading, figures (name -> Figure), seconds;
    .to_dict() (everything but the figures)
ExperimentCancelled
FigureSet / render_figures(params, size, per_class=None, split="test") -> FigureSet
    .scoring(class_colors) -> ablation.ScoringSet      (figures rendered in memory, e.g. shifted ones)
balanced_test_set(dataset, size, count=None) -> ScoringSet   a dataset's gray test images, classes balanced
as_colourizer(generator, size) -> NetworkGraph        UserError unless it maps 1 -> 3 channels
Experiments (generator: nn.Module or NetworkGraph; images: ScoringSet; progress, cancelled optional):
  1 architecture_comparison(rows) -> ExperimentResult        rows: dicts from measure_cyclegan + training
    measure_cyclegan(model, test_batches, scoring) -> dict   test losses (D_A ... Total, SSIM) + accuracy
    cyclegan_accuracy(model, scoring) -> ScoreResult          of the CycleGAN's gray -> RGB generator
    LossCurve                                                 train/validation points of one training run
  2 bottleneck_nullification(generator, images, samples=2)
  3 skip_isolation(generator, images, level=1, edge_width=2, samples=2)
  4 unseen_figures(generator, size, base_params=None, class_colors=None, aspects=ASPECTS, per_aspect=10,
                   shapes=None, per_shape=6)                  base_params: the training dataset's parameters
  5 background_sweep(generator, size, base_params=None, class_colors=None, levels=range(0, 256, 16),
                     per_class=10, shown_levels=4)
  6 shift_comparison(generators: {name: generator}, test_sets: {name: ScoringSet}, samples=3)
  7 filter_ranking(generator, images, layers=None, top_k=6, rank_by="output")
run_experiment(key, generator, dataset, size=None, images=40, progress=None, cancelled=None)
    -> ExperimentResult: experiments 2-7 (keys LOADED_MODEL_EXPERIMENTS) on one loaded generator with a
    Test tab's defaults, figures drawn from `dataset` (the model's training dataset); the menu's one call
shifted_params(params) -> ShapeDatasetParams        the shifted preset's shift, scaled to the canvas
Measurements (pure numpy, in visualization/measurements.py, tested on their own):
  paint_labels, paint_fractions, edge_and_interior, rectangle_regions, coverage_at, untouched_at
  untouched_at(coverage, h, w) -> bool map of the pixels the shape does not touch
"""
from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from torch import nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import to_image, to_tensor
from cyclegan_workbench.data.scoring import score_images
from cyclegan_workbench.data.shapes import (
    SHAPES,
    ShapeDatasetParams,
    ShapeGeometry,
    render_coverage,
    render_scene,
)
from cyclegan_workbench.visualization.ablation import ScoringSet, ablate_layer
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.measurements import (
    coverage_at,
    edge_and_interior,
    fractions_from_labels,
    paint_fractions,
    paint_labels,
    pixel_chroma,
    rectangle_regions,
    untouched_at,
)
from cyclegan_workbench.visualization.parser import NetworkGraph, parse_generator
from cyclegan_workbench.visualization.render import image_rgb, render_map, tile_grid

Progress = Callable[[float, str], None]
CancelCheck = Callable[[], bool]

ASPECTS = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0)
TRAIN_TOTAL_KEYS = ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")
_BATCH = 16

QUESTIONS = {
    "architectures": "How do U-Net depth, width, batch size and dataset size change the test losses and the "
                     "colourization accuracy, and do the models over-fit?",
    "bottleneck": "What does the bottleneck contribute to the colourization: how much do accuracy and output "
                  "change when its responses are zeroed?",
    "skip": "With only the first skip connection carrying the input (everything below the top level zeroed), "
            "where does colour remain: on shape edges or in their interiors?",
    "unseen": "What does the model paint on figures it never saw: rectangles from square to 1:6 and other "
              "shapes? Which colour, and where on the shape?",
    "background": "How does the colourization accuracy depend on the background gray level (0-255), when "
                  "training used one background?",
    "shift": "Does training on randomly shifted figures change the accuracy, compared with centred figures?",
    "filters": "Which filters of the bottleneck and of the first layer matter most: what does nullifying each "
               "one do to the output and to the accuracy?",
}
TITLES = {
    "architectures": "Architecture comparison",
    "bottleneck": "Bottleneck nullification",
    "skip": "First skip connection isolated",
    "unseen": "Unseen figures",
    "background": "Background gray level",
    "shift": "Shifted figures",
    "filters": "Filter ranking",
}


class ExperimentCancelled(Exception):
    """The caller's cancel check returned True; nothing of the experiment is returned."""


@dataclass
class ExperimentResult:
    key: str
    title: str
    question: str
    setting: dict
    numbers: dict
    reading: str
    figures: dict[str, Figure] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "question": self.question, "setting": self.setting,
                "numbers": self.numbers, "reading": self.reading, "seconds": round(self.seconds, 3)}


class _Tracker:
    """Progress in work units; every advance also polls the cancel check."""

    def __init__(self, progress: Progress | None, cancelled: CancelCheck | None, total: float):
        self.progress, self.cancelled = progress, cancelled
        self.total, self.done = max(float(total), 1.0), 0.0

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise ExperimentCancelled("experiment cancelled")

    def advance(self, message: str, amount: float = 1.0) -> None:
        self.done += amount
        self.check()
        if self.progress is not None:
            self.progress(min(self.done / self.total, 1.0), message)


# =================================================================================================
# Inputs: generators and figure sets


def as_colourizer(generator, size: int | None = None) -> NetworkGraph:
    """The parsed gray -> RGB generator; a NetworkGraph is used as it is (its own masks are not touched)."""
    if isinstance(generator, NetworkGraph):
        graph = generator
    elif isinstance(generator, nn.Module):
        if size is None:
            raise UserError("give the input size the generator runs at")
        graph = parse_generator(generator, size, in_channels=1)
    else:
        raise UserError(f"expected a generator (nn.Module or NetworkGraph), got {type(generator).__name__}")
    if graph.input_shape[0] != 1 or graph.output_shape[0] != 3:
        raise UserError(f"the colourization experiments need the gray -> RGB generator; this one maps "
                        f"{graph.input_shape[0]} -> {graph.output_shape[0]} channels (load the other one)")
    return graph


@dataclass
class FigureSet:
    """Gray figures rendered in memory: model inputs plus what the measurements need about each one."""

    images: torch.Tensor  # (N, 1, size, size) in [-1, 1]
    masks: list[np.ndarray]  # bool shape interiors at the canvas size (as data.scoring uses them)
    coverages: list[np.ndarray]  # uint8 coverage at the canvas size
    classes: list[str]
    geometries: list[list[ShapeGeometry]]
    names: list[str]
    canvas: int

    def __len__(self) -> int:
        return len(self.classes)

    def scoring(self, class_colors: dict) -> ScoringSet:
        return ScoringSet(self.images, self.masks, self.classes, dict(class_colors), list(self.names))


def render_figures(params: ShapeDatasetParams, size: int, per_class: int | None = None,
                   split: str = "test") -> FigureSet:
    """The gray images of `split` (per_class of each class; default: the params' count), resized to `size`."""
    count = params.per_class(split) if per_class is None else per_class
    images, masks, coverages, classes, geometries, names = [], [], [], [], [], []
    for shape in params.shapes:
        for index in range(count):
            scene = render_scene(params, shape, index, split)
            coverage = render_coverage(scene.figures, params.size, params.antialias)
            inside = coverage == 255
            gray = scene.gray
            if gray.shape[0] != size:
                interp = cv2.INTER_AREA if gray.shape[0] > size else cv2.INTER_CUBIC
                gray = cv2.resize(gray, (size, size), interpolation=interp)
            images.append(to_tensor(gray))
            masks.append(inside if inside.any() else coverage > 0)
            coverages.append(coverage)
            classes.append(shape)
            geometries.append(scene.figures)
            names.append(f"{shape}_{index:04d}")
    if not images:
        raise UserError("no figures to render: the count per class is 0")
    return FigureSet(torch.stack(images), masks, coverages, classes, geometries, names, params.size)


def balanced_stems(manifest: dict, count: int | None = None, split: str = "test") -> list[str]:
    """File stems of `split`'s scenes, the same number of each class (count // classes), class by class;
    every scene when count is None."""
    gray = manifest["domains"]["gray"]
    by_class: dict[str, list[str]] = {}
    for row in manifest["images"]:
        if row["split"] == split and row["domain"] == gray:
            by_class.setdefault(row["shape"], []).append(row["stem"])
    per_class = None if count is None else max(1, count // max(len(by_class), 1))
    return [stem for stems in by_class.values() for stem in stems[:per_class]]


def balanced_test_set(dataset, size: int, count: int | None = None) -> ScoringSet:
    """The gray test images of a generated dataset (folder or manifest), `count` of them balanced over the
    classes (all when None), resized to `size`, with what the score needs."""
    from cyclegan_workbench.data.shapes import dataset_root, load_manifest

    manifest = load_manifest(dataset)
    stems = balanced_stems(manifest, count)
    if not stems:
        raise UserError(f"the dataset {dataset} has no test images")
    gray = manifest["domains"]["gray"]
    root = dataset_root(dataset)
    files = {r["stem"]: r["file"] for r in manifest["images"] if r["split"] == "test" and r["domain"] == gray}
    return ScoringSet.from_files(dataset, [root / files[s] for s in stems], size)


def _translate(graph: NetworkGraph, images: torch.Tensor, masks: MaskSet | None, tracker: _Tracker,
               message: str) -> torch.Tensor:
    outs = []
    for start in range(0, images.shape[0], _BATCH):
        tracker.check()
        outs.append(graph.run(images[start:start + _BATCH], masks).float().cpu())
        tracker.advance(message)
    return torch.cat(outs)


def _u8(outputs: torch.Tensor) -> list[np.ndarray]:
    return [to_image(o) for o in outputs]


def _score(scoring: ScoringSet, outputs: list[np.ndarray]):
    return score_images([None] * len(outputs), outputs, scoring.classes, scoring.class_colors,
                        masks=scoring.masks, names=scoring.names or None)


def _batches(n: int) -> int:
    return -(-n // _BATCH)


def _first_of_each_class(classes: Sequence[str], k: int) -> list[int]:
    """Up to k sample indices, cycling through the classes so that each one is shown."""
    by_class: dict[str, list[int]] = {}
    for i, c in enumerate(classes):
        by_class.setdefault(c, []).append(i)
    picked, depth = [], 0
    while len(picked) < min(k, len(classes)):
        for members in by_class.values():
            if depth < len(members) and len(picked) < k:
                picked.append(members[depth])
        depth += 1
    return picked


def conv_layers(graph: NetworkGraph) -> list:
    """Convolutions of the contracting path, in order (the "first layer" is the first of them)."""
    convs = [l for l in graph.layers if l.kind == "conv" and l.side == "down"]
    return convs or [graph.layers[0]]


def _pct(x) -> str:
    return "n/a" if x is None else f"{x:.1%}"


def _colour_name(rgb) -> str:
    names = {(255, 0, 0): "red", (0, 255, 0): "green", (0, 0, 255): "blue", (255, 255, 0): "yellow",
             (255, 0, 255): "magenta", (0, 255, 255): "cyan", (255, 128, 0): "orange", (128, 0, 255): "purple"}
    return names.get(tuple(int(v) for v in rgb), "rgb(" + ",".join(str(int(v)) for v in rgb) + ")")


def colour_names(class_colors: dict) -> dict[str, str]:
    """{class: "red"} for the report's sentences."""
    return {c: _colour_name(v) for c, v in class_colors.items()}


# =================================================================================================
# Figures


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """A figure as PNG bytes (Agg)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _show(ax, image: np.ndarray, title: str = "") -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def _label_image(labels: np.ndarray, class_colors: dict, region: np.ndarray | None = None) -> np.ndarray:
    """Class-colour map of painted pixels: other = mid gray, outside the region = black."""
    palette = np.asarray([class_colors[c] for c in class_colors] + [[110, 110, 110]], np.uint8)
    image = palette[np.where(labels < 0, len(class_colors), labels)]
    if region is not None:
        image[~region] = 0
    return image


def _grid_image(response: torch.Tensor, value_range=None) -> np.ndarray:
    return tile_grid(response, colormap="viridis", normalize="layer", value_range=value_range).image


# =================================================================================================
# 1. Architecture comparison


def measure_cyclegan(model, test_batches, scoring: ScoringSet | None) -> dict:
    """Test-set losses (D_A, D_B, G_A, G_B, Cycle_A, Cycle_B, Total, SSIM) and colourization accuracy."""
    from cyclegan_workbench.models.evaluation import evaluate_losses

    table = evaluate_losses(model, test_batches)
    result = {"table": table, "accuracy": None, "per_class": None}
    if scoring is not None:
        score = cyclegan_accuracy(model, scoring)
        result.update(accuracy=score.accuracy, per_class=score.per_class)
    return result


def cyclegan_accuracy(model, scoring: ScoringSet):
    """The colourization ScoreResult of a CycleGAN's gray -> RGB generator on `scoring`."""
    colourizer = model.G_A if model.cfg.network.input_nc == 1 else model.G_B
    return _score(scoring, _u8(_run_module(colourizer, scoring.images, model.device)))


@torch.no_grad()
def _run_module(net: nn.Module, images: torch.Tensor, device) -> torch.Tensor:
    was_training = net.training
    net.eval()
    try:
        return torch.cat([net(images[s:s + _BATCH].to(device)).float().cpu()
                          for s in range(0, images.shape[0], _BATCH)])
    finally:
        net.train(was_training)


class LossCurve:
    """Train and validation losses of one training run at chosen points.

    Train values at a point are the means over the iterations since the previous point; Total is the
    generator objective G_A + G_B + cycle_A + cycle_B + idt_A + idt_B, as in the test table.
    """

    def __init__(self, points: Iterable[dict] = ()):
        self.points: list[dict] = [dict(p) for p in points]
        self._sums: dict[str, float] = {}
        self._count = 0

    @property
    def pending(self) -> int:
        """Iterations accumulated since the last point."""
        return self._count

    def add_step(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self._sums[k] = self._sums.get(k, 0.0) + float(v)
        self._count += 1

    def add_point(self, step: int, images: int, epoch: float, seconds: float, validation: dict | None,
                  accuracy: float | None) -> dict:
        train = {k: v / self._count for k, v in self._sums.items()} if self._count else {}
        if train:
            train["Total"] = sum(train.get(k, 0.0) for k in TRAIN_TOTAL_KEYS)
        point = {"step": int(step), "images": int(images), "epoch": round(float(epoch), 4),
                 "seconds": round(float(seconds), 2), "train": train, "validation": validation,
                 "accuracy": accuracy}
        self.points.append(point)
        self._sums, self._count = {}, 0
        return point

    def truncate(self, step: int) -> None:
        """Forget points after `step` (a resumed run repeats them) and the pending iterations."""
        self.points = [p for p in self.points if p["step"] <= step]
        self._sums, self._count = {}, 0


def curve_summary(points: list[dict]) -> dict:
    """First/last train Total, last and minimum validation Total and how far the last is above the minimum."""
    train = [p["train"]["Total"] for p in points if p.get("train")]
    val = [p["validation"]["Total"] for p in points if p.get("validation")]
    return {
        "points": len(points),
        "train_total_first": train[0] if train else None,
        "train_total_last": train[-1] if train else None,
        "val_total_min": min(val) if val else None,
        "val_total_last": val[-1] if val else None,
        "val_total_rise": (val[-1] - min(val)) if val else None,
    }


def architecture_comparison(rows: list[dict]) -> ExperimentResult:
    """Experiment 1 from measured rows: {"name", "label", "table", "accuracy", "curve", ...} per model.

    Any other keys of a row (batch size, images, iterations, seconds, ...) are kept in the numbers.
    """
    started = time.perf_counter()
    if not rows:
        raise UserError("no models to compare")
    rows = [dict(r, curve_summary=curve_summary(r.get("curve") or [])) for r in rows]
    best_total = min(r["table"]["Total"] for r in rows)
    sentences = [f"Lowest test Total: {_tied(rows, lambda r: r['table']['Total'] == best_total)} ({best_total:.3f})."]
    scored = [r for r in rows if r.get("accuracy") is not None]
    best_acc = max(r["accuracy"] for r in scored) if scored else None
    if best_acc is not None:
        sentences.append(f"Highest colourization accuracy: {_tied(scored, lambda r: r['accuracy'] == best_acc)} "
                         f"({best_acc:.1%}).")
    rises = []
    for r in rows:
        s = r["curve_summary"]
        if s["val_total_rise"] is not None and s["points"] >= 3:
            rises.append(f"{r['label']} {s['val_total_rise']:+.3f}")
    if rises:
        sentences.append("Last validation Total minus its minimum over the curve (a positive value while the "
                         "train Total falls is the usual sign of over-fitting): " + "; ".join(rises) + ".")
    else:
        sentences.append("The curves have fewer than three validation points per model, too few to judge "
                         "over-fitting.")
    fig = _curves_figure(rows)
    numbers = {"rows": rows,
               "best_total": [r["name"] for r in rows if r["table"]["Total"] == best_total],
               "best_accuracy": [r["name"] for r in scored if r["accuracy"] == best_acc]}
    setting = {"models": [r["name"] for r in rows]}
    return ExperimentResult("architectures", TITLES["architectures"], QUESTIONS["architectures"], setting, numbers,
                            " ".join(sentences), {"curves": fig}, time.perf_counter() - started)


def _tied(rows: list[dict], is_best) -> str:
    best = [r["label"] for r in rows if is_best(r)]
    if len(best) == len(rows) > 1:
        return f"all {len(rows)} models tie"
    return best[0] if len(best) == 1 else " and ".join([", ".join(best[:-1]), best[-1]]) + " (tied)"


def _curves_figure(rows: list[dict]) -> Figure:
    cols = min(3, len(rows))
    nrows = -(-len(rows) // cols)
    fig = _figure(4.0 * cols, 2.8 * nrows)
    axes = fig.subplots(nrows, cols, squeeze=False)
    for ax in axes.flat[len(rows):]:
        ax.set_axis_off()
    for ax, row in zip(axes.flat, rows):
        points = row.get("curve") or []
        x = [p["images"] for p in points]
        train = [p["train"].get("Total") if p.get("train") else None for p in points]
        val = [p["validation"]["Total"] if p.get("validation") else None for p in points]
        ax.plot([a for a, b in zip(x, train) if b is not None], [b for b in train if b is not None], "o-",
                label="train Total", ms=3)
        ax.plot([a for a, b in zip(x, val) if b is not None], [b for b in val if b is not None], "s--",
                label="validation Total", ms=3)
        acc = [(p["images"], p["accuracy"]) for p in points if p.get("accuracy") is not None]
        if acc:
            twin = ax.twinx()
            twin.plot([a for a, _ in acc], [b for _, b in acc], "^:", color="tab:green", ms=3, label="accuracy")
            twin.set_ylim(-0.02, 1.02)
            twin.tick_params(labelsize=7, colors="tab:green")
            if ax is axes.flat[0]:
                twin.legend(fontsize=7, loc="lower right")
        ax.set_title(row["label"], fontsize=9)
        ax.set_xlabel("training images seen", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if not points:
            ax.text(0.5, 0.5, "no curve points", ha="center", va="center", transform=ax.transAxes)
    axes.flat[0].legend(fontsize=7)
    return fig


# =================================================================================================
# 2. Bottleneck nullification


def bottleneck_nullification(generator, images: ScoringSet, samples: int = 2, progress: Progress | None = None,
                             cancelled: CancelCheck | None = None) -> ExperimentResult:
    started = time.perf_counter()
    graph = as_colourizer(generator, images.images.shape[-1])
    tracker = _Tracker(progress, cancelled, 2 * _batches(len(images.classes)) + 1)
    masks = MaskSet(graph)
    masks.nullify_bottleneck()
    intact = _translate(graph, images.images, None, tracker, "intact outputs")
    nulled = _translate(graph, images.images, masks, tracker, "bottleneck zeroed")
    s_intact, s_nulled = _score(images, _u8(intact)), _score(images, _u8(nulled))
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
    fig = _bottleneck_figure(graph, images, masks, intact, nulled, _first_of_each_class(images.classes, samples))
    tracker.advance("figure")
    setting = {"images": numbers["images"], "bottleneck_layer": b.index}
    return ExperimentResult("bottleneck", TITLES["bottleneck"], QUESTIONS["bottleneck"], setting, numbers, reading,
                            {"bottleneck": fig}, time.perf_counter() - started)


def _bottleneck_figure(graph, images, masks, intact, nulled, picks) -> Figure:
    node = graph.layers[graph.bottleneck].node
    fig = _figure(11, 2.3 * len(picks))
    axes = fig.subplots(len(picks), 5, squeeze=False)
    for row, i in zip(axes, picks):
        _, raw, vals = graph.run(images.images[i:i + 1], masks, keep=True)
        before, after = raw[node][0].cpu(), vals[node][0].cpu()
        lo, hi = float(before.min()), float(before.max())
        span = (lo, hi if hi > lo else lo + 1e-6)
        _show(row[0], image_rgb(images.images[i]), f"input ({images.classes[i]})")
        _show(row[1], _grid_image(before, span), "bottleneck responses")
        _show(row[2], _grid_image(after, span), "bottleneck zeroed")
        _show(row[3], image_rgb(intact[i]), "output, intact")
        _show(row[4], image_rgb(nulled[i]), "output, bottleneck zeroed")
    return fig


# =================================================================================================
# 3. First skip connection isolated


def skip_isolation(generator, images: ScoringSet, level: int = 1, edge_width: int = 2, samples: int = 2,
                   progress: Progress | None = None, cancelled: CancelCheck | None = None) -> ExperimentResult:
    started = time.perf_counter()
    graph = as_colourizer(generator, images.images.shape[-1])
    tracker = _Tracker(progress, cancelled, 2 * _batches(len(images.classes)) + 2)
    masks = MaskSet(graph)
    masks.isolate_skip(level)
    intact = _translate(graph, images.images, None, tracker, "intact outputs")
    isolated = _translate(graph, images.images, masks, tracker, f"only skip {level}")
    out_intact, out_isolated = _u8(intact), _u8(isolated)
    regions = edge_interior_colour([out_intact, out_isolated], images, edge_width)
    tracker.advance("measuring")
    s_intact, s_isolated = _score(images, out_intact), _score(images, out_isolated)
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
               f"edges (a {edge_width}-pixel band) {_pct(e['coloured'])} of the pixels were painted a class colour "
               f"({_pct(e['true_colour'])} their own class's), mean chroma {e['mean_chroma']:.0f}; in the interiors "
               f"{_pct(i['coloured'])} ({_pct(i['true_colour'])}), mean chroma {i['mean_chroma']:.0f}. Intact "
               f"model: edges {_pct(regions[0]['edge']['coloured'])}, interiors "
               f"{_pct(regions[0]['interior']['coloured'])}.")
    fig = _skip_figure(images, intact, isolated, out_isolated, _first_of_each_class(images.classes, samples), level)
    tracker.advance("figure")
    setting = {"images": numbers["images"], "level": level, "edge_width_px": edge_width}
    return ExperimentResult("skip", TITLES["skip"], QUESTIONS["skip"], setting, numbers, reading, {"skip": fig},
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
    fig = _figure(9, 2.3 * len(picks))
    axes = fig.subplots(len(picks), 4, squeeze=False)
    for row, i in zip(axes, picks):
        out = out_isolated[i]
        shape = coverage_at(images.masks[i], *out.shape[:2])
        labels = _label_image(paint_labels(out, images.class_colors), images.class_colors, shape)
        _show(row[0], image_rgb(images.images[i]), f"input ({images.classes[i]})")
        _show(row[1], image_rgb(intact[i]), "output, intact")
        _show(row[2], image_rgb(isolated[i]), f"only skip {level}")
        _show(row[3], labels, "painted class (shape pixels)")
    return fig


# =================================================================================================
# 4. Unseen figures


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
    tracker = _Tracker(progress, cancelled, len(aspects) * (1 + _batches(per_aspect))
                       + len(shapes) * (1 + _batches(per_shape)) + 1)
    first = conv_layers(graph)[0]
    per_aspect_rows, rect_examples, shape_examples = [], [], []
    for aspect in aspects:
        params = replace(base_params, shapes=("rectangle",), aspect=(float(aspect), float(aspect)),
                         train_per_class=0, test_per_class=per_aspect)
        figs = render_figures(params, size)
        tracker.advance(f"rendering 1:{aspect:g} rectangles")
        outputs = _u8(_translate(graph, figs.images, None, tracker, f"1:{aspect:g} rectangles"))
        row = {"aspect": float(aspect), **_unseen_stats(figs, outputs, class_colors, rectangles=True)}
        per_aspect_rows.append(row)
        rect_examples.append((f"1:{aspect:g} rectangle", figs.images[0], outputs[0]))
    per_shape_rows = []
    for shape in shapes:
        params = replace(base_params, shapes=(shape,), train_per_class=0, test_per_class=per_shape)
        figs = render_figures(params, size)
        tracker.advance(f"rendering {shape}s")
        outputs = _u8(_translate(graph, figs.images, None, tracker, f"{shape}s"))
        per_shape_rows.append({"shape": shape, **_unseen_stats(figs, outputs, class_colors, rectangles=False)})
        shape_examples.append((shape, figs.images[0], outputs[0]))
    names = colour_names(class_colors)
    numbers = {"class_colours": {c: list(v) for c, v in class_colors.items()}, "first_layer": first.label,
               "per_aspect": per_aspect_rows, "per_shape": per_shape_rows}
    reading = _unseen_reading(per_aspect_rows, per_shape_rows, trained, names)
    figures = {"unseen_fractions": _unseen_plot(per_aspect_rows, trained, names),
               "unseen_rectangles": _examples_figure(graph, rect_examples, first, "first-layer responses")}
    if shape_examples:
        figures["unseen_shapes"] = _examples_figure(graph, shape_examples, first, "first-layer responses")
    tracker.advance("figures")
    setting = {"aspects": [float(a) for a in aspects], "per_aspect": per_aspect, "shapes": list(shapes),
               "per_shape": per_shape, "size": size}
    return ExperimentResult("unseen", TITLES["unseen"], QUESTIONS["unseen"], setting, numbers, reading, figures,
                            time.perf_counter() - started)


def _unseen_stats(figs: FigureSet, outputs: list[np.ndarray], class_colors: dict, rectangles: bool) -> dict:
    classes = list(class_colors)
    labels_all, by_region = [], {"centre": [], "corners": []}
    predicted: dict[str, int] = {}
    score = score_images([None] * len(outputs), outputs, figs.classes, class_colors, masks=figs.masks)
    for p in score.predictions:
        predicted[p["predicted"]] = predicted.get(p["predicted"], 0) + 1
    outside_coloured = 0
    for out, coverage, geometry in zip(outputs, figs.coverages, figs.geometries):
        h, w = out.shape[:2]
        shape = coverage_at(coverage, h, w)
        labels = paint_labels(out, class_colors)
        labels_all.append(labels[shape])
        outside_coloured += int((labels[untouched_at(coverage, h, w)] >= 0).sum())
        if rectangles:
            regions = rectangle_regions(geometry[0], figs.canvas, h)
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
        parts.append(f"1:{row['aspect']:g} {names[a]} {_pct(f[a])} / {names[b]} {_pct(f[b])}")
    text = "Shape pixels painted " + f"{names[a]} / {names[b]} per aspect ratio: " + "; ".join(parts) + "."
    first, last = per_aspect[0], per_aspect[-1]
    if first is not last:
        text += (f" Corners vs centre at 1:{first['aspect']:g}: {names[a]} {_pct(first['corners'][a])} vs "
                 f"{_pct(first['centre'][a])}, {names[b]} {_pct(first['corners'][b])} vs {_pct(first['centre'][b])}; "
                 f"at 1:{last['aspect']:g}: {names[a]} {_pct(last['corners'][a])} vs {_pct(last['centre'][a])}, "
                 f"{names[b]} {_pct(last['corners'][b])} vs {_pct(last['centre'][b])}.")
    text += (" Pixels painted a class colour outside the figure, per figure pixel: "
             + ", ".join(f"1:{r['aspect']:g} {r['coloured_outside_per_shape_pixel']:.2f}" for r in per_aspect) + ".")
    if per_shape:
        text += " Other shapes, " + f"{names[a]} / {names[b]}: " + "; ".join(
            f"{r['shape']} {_pct(r['shape_pixels'][a])} / {_pct(r['shape_pixels'][b])}" for r in per_shape) + "."
    return text


def _unseen_plot(rows, trained, names) -> Figure:
    fig = _figure(10, 3.2)
    ax1, ax2 = fig.subplots(1, 2)
    x = [r["aspect"] for r in rows]
    for cls in trained:
        colour = np.asarray(_rgb_of(names[cls])) / 255
        ax1.plot(x, [_nan(r["shape_pixels"][cls]) for r in rows], "o-", color=colour, label=names[cls])
        ax2.plot(x, [_nan(r["corners"][cls]) for r in rows], "o-", color=colour, label=f"{names[cls]}, corners")
        ax2.plot(x, [_nan(r["centre"][cls]) for r in rows], "s--", color=colour, label=f"{names[cls]}, centre")
    ax1.plot(x, [_nan(r["shape_pixels"]["other"]) for r in rows], "^:", color="0.4", label="neither")
    ax1.plot(x, [r["coloured_outside_per_shape_pixel"] for r in rows], "x--", color="tab:purple",
             label="coloured outside / figure pixels")
    ax1.set_title("fraction of shape pixels painted", fontsize=9)
    ax2.set_title("corners vs centre of the rectangle", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xlabel("aspect ratio (long side / short side)", fontsize=8)
        ax.set_ylim(-0.02, max(1.02, max(r["coloured_outside_per_shape_pixel"] for r in rows) + 0.05))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def _rgb_of(name: str):
    return {"red": (220, 30, 30), "green": (30, 160, 30), "blue": (30, 30, 220)}.get(name, (120, 120, 120))


def _nan(x):
    return float("nan") if x is None else x


def _examples_figure(graph, examples, layer, caption: str, value_range=None) -> Figure:
    """One column per (label, input tensor, output image): input, output and `layer`'s responses."""
    fig = _figure(max(4.0, 1.6 * len(examples)), 5.2)
    axes = fig.subplots(3, len(examples), squeeze=False)
    for col, (label, x, out) in enumerate(examples):
        _, raw, _ = graph.run(x[None], None, keep=True)
        _show(axes[0][col], image_rgb(x), label)
        _show(axes[1][col], out if isinstance(out, np.ndarray) else image_rgb(out), "output")
        _show(axes[2][col], _grid_image(raw[layer.node][0].cpu(), value_range), caption)
    fig.suptitle(f"{caption}: layer {layer.index} ({layer.label})", fontsize=8)
    return fig


# =================================================================================================
# 5. Background gray level


def background_sweep(generator, size: int, base_params: ShapeDatasetParams | None = None,
                     class_colors: dict | None = None, levels: Iterable[int] = range(0, 256, 16), per_class: int = 10,
                     shown_levels: int = 4,
                     progress: Progress | None = None, cancelled: CancelCheck | None = None) -> ExperimentResult:
    """The training figures (same geometry) on constant backgrounds; the level equal to the shape gray
    level is left out (the shapes would be invisible). Defaults as for unseen_figures."""
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
    tracker = _Tracker(progress, cancelled, len(used) * (1 + _batches(n_images)) + 1)
    accuracy, per_class_acc, sample_inputs = [], {c: [] for c in base_params.shapes}, {}
    background_coloured = []  # fraction of the pixels off the figures painted a class colour
    for level in used:
        params = replace(base_params, background=str(level), train_per_class=0, test_per_class=per_class)
        figs = render_figures(params, size)
        tracker.advance(f"rendering background {level}")
        outputs = _u8(_translate(graph, figs.images, None, tracker, f"background {level}"))
        score = score_images([None] * len(outputs), outputs, figs.classes, class_colors, masks=figs.masks)
        accuracy.append(score.accuracy)
        outside = [paint_labels(o, class_colors)[untouched_at(c, *o.shape[:2])]
                   for o, c in zip(outputs, figs.coverages)]
        background_coloured.append(float((np.concatenate(outside) >= 0).mean()))
        for c in per_class_acc:
            per_class_acc[c].append(score.per_class.get(c))
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
               "background_layer2": _examples_figure(graph, examples, layer, "layer-2 responses",
                                                     span if span[1] > span[0] else None)}
    numbers["layer2"] = {"index": layer.index, "label": layer.label, "levels_shown": shown}
    tracker.advance("figures")
    setting = {"levels": used, "per_class": per_class, "size": size}
    return ExperimentResult("background", TITLES["background"], QUESTIONS["background"], setting, numbers, reading,
                            figures, time.perf_counter() - started)


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
    fig = _figure(6.5, 3.2)
    ax = fig.subplots()
    ax.plot(n["levels"], n["accuracy"], "o-", color="k", label="all figures", ms=3)
    for c, values in n["per_class"].items():
        ax.plot(n["levels"], [_nan(v) for v in values], "--", label=c, alpha=0.7)
    ax.plot(n["levels"], n["background_coloured"], "x:", color="tab:purple", label="background pixels coloured")
    ax.axvline(n["shape_gray_level"], color="0.5", ls=":", label=f"shape gray level {n['shape_gray_level']}")
    ax.set_xlabel("background gray level", fontsize=8)
    ax.set_ylabel("fraction", fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(-5, 260)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


# =================================================================================================
# 6. Shifted figures


def shift_comparison(generators: dict, test_sets: dict[str, ScoringSet], samples: int = 3,
                     progress: Progress | None = None, cancelled: CancelCheck | None = None) -> ExperimentResult:
    """Accuracy of every generator on every test set (e.g. models trained on centred / shifted figures,
    test sets of centred / shifted figures); one generator works too."""
    started = time.perf_counter()
    if not generators or not test_sets:
        raise UserError("give at least one generator and one test set")
    graphs = {name: as_colourizer(g, next(iter(test_sets.values())).images.shape[-1]) for name, g in generators.items()}
    tracker = _Tracker(progress, cancelled, sum(_batches(len(s.classes)) for s in test_sets.values()) * len(graphs) + 1)
    matrix, per_class, shown = {}, {}, {}
    for name, graph in graphs.items():
        matrix[name], per_class[name] = {}, {}
        for set_name, images in test_sets.items():
            outputs = _translate(graph, images.images, None, tracker, f"{name} on {set_name}")
            score = _score(images, _u8(outputs))
            matrix[name][set_name], per_class[name][set_name] = score.accuracy, score.per_class
            shown[(name, set_name)] = outputs
    numbers = {"accuracy": matrix, "per_class": per_class,
               "images": {k: len(s.classes) for k, s in test_sets.items()}}
    reading = " ".join(f"Model {m}: " + ", ".join(f"{acc:.1%} on {s} figures" for s, acc in row.items()) + "."
                       for m, row in matrix.items())
    figures = {"shift_accuracy": _shift_plot(matrix), "shift_examples": _shift_examples(test_sets, shown, samples)}
    tracker.advance("figures")
    setting = {"generators": list(generators), "test_sets": numbers["images"]}
    return ExperimentResult("shift", TITLES["shift"], QUESTIONS["shift"], setting, numbers, reading, figures,
                            time.perf_counter() - started)


def _shift_plot(matrix: dict) -> Figure:
    fig = _figure(6, 3.2)
    ax = fig.subplots()
    models, sets = list(matrix), list(next(iter(matrix.values())))
    width = 0.8 / len(sets)
    for k, s in enumerate(sets):
        xs = np.arange(len(models)) + (k - (len(sets) - 1) / 2) * width
        values = [matrix[m][s] for m in models]
        bars = ax.bar(xs, values, width, label=f"{s} test figures")
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], fontsize=7)
    ax.set_xticks(np.arange(len(models)), [f"trained: {m}" for m in models], fontsize=8)
    ax.set_ylabel("colourization accuracy", fontsize=8)
    ax.set_ylim(0, 1.1)
    ax.legend(fontsize=7)
    return fig


def _shift_examples(test_sets, shown, samples) -> Figure:
    models = list(dict.fromkeys(m for m, _ in shown))
    sets = list(test_sets)
    cols = []
    for s in sets:
        for i in _first_of_each_class(test_sets[s].classes, samples):
            cols.append((s, i))
    fig = _figure(1.6 * len(cols), 1.7 * (len(models) + 1))
    axes = fig.subplots(len(models) + 1, len(cols), squeeze=False)
    for c, (s, i) in enumerate(cols):
        _show(axes[0][c], image_rgb(test_sets[s].images[i]), f"{s}: {test_sets[s].classes[i]}")
        for r, m in enumerate(models, 1):
            _show(axes[r][c], image_rgb(shown[(m, s)][i]), f"trained: {m}")
    return fig


# =================================================================================================
# 7. Filter ranking


def filter_ranking(generator, images: ScoringSet, layers: Sequence | None = None, top_k: int = 6,
                   rank_by: str = "output", progress: Progress | None = None,
                   cancelled: CancelCheck | None = None) -> ExperimentResult:
    """The ablation scan (visualization.ablation) of each layer, with accuracy; default layers: the
    bottleneck and the first convolution."""
    started = time.perf_counter()
    graph = as_colourizer(generator, images.images.shape[-1])
    chosen = [graph.layer(l) for l in layers] if layers else [graph.layers[graph.bottleneck], conv_layers(graph)[0]]
    total = sum(l.channels for l in chosen)
    done_before = 0
    scans = []
    for layer in chosen:
        def report(done, _total, base=done_before, label=layer.label):
            if cancelled is not None and cancelled():
                return False
            if progress is not None:
                progress(min((base + done) / total, 1.0), f"ablating {label}: {done}/{_total}")
            return True

        result = ablate_layer(graph, layer.index, scoring=images, rank_by=rank_by, progress=report)
        # A scan stopped after its last batch still reports itself complete: ask again.
        if not result.complete or (cancelled is not None and cancelled()):
            raise ExperimentCancelled("experiment cancelled")
        scans.append(result)
        done_before += layer.channels
    sample = _first_of_each_class(images.classes, 1)[0]
    _, raw, _ = graph.run(images.images[sample:sample + 1], None, keep=True)
    numbers = {"images": len(images.classes), "rank_by": rank_by, "layers": [s.to_dict() for s in scans]}
    for entry, scan in zip(numbers["layers"], scans):
        total_change = sum(e.output_change for e in scan.effects)
        entry["top_share_of_output_change"] = (sum(e.output_change for e in scan.top(top_k)) / total_change
                                               if total_change > 0 else None)
    reading = " ".join(_filter_sentence(scan, entry, top_k) for scan, entry in zip(scans, numbers["layers"]))
    figures = {f"filters_{i}": _filter_figure(scan, raw[scan.layer.node][0].cpu(), top_k, images.classes[sample])
               for i, scan in enumerate(scans)}
    setting = {"images": len(images.classes), "layers": [l.index for l in chosen], "top_k": top_k, "rank_by": rank_by}
    return ExperimentResult("filters", TITLES["filters"], QUESTIONS["filters"], setting, numbers, reading, figures,
                            time.perf_counter() - started)


def _filter_sentence(scan, entry, top_k) -> str:
    top = scan.effects[0]
    text = (f"{scan.layer.label}: nullifying filter {top.filter} changed the output most "
            f"({top.output_change:.4f} mean absolute change")
    if top.accuracy_change is not None:
        text += f", accuracy {100 * top.accuracy_change:+.1f} points"
    text += ")"
    if entry["top_share_of_output_change"] is not None:
        text += (f"; the top {min(top_k, len(scan.effects))} of {len(scan.effects)} filters account for "
                 f"{entry['top_share_of_output_change']:.0%} of the summed output change")
    if scan.baseline_accuracy is not None:
        worst = min(scan.effects, key=lambda e: (e.accuracy_change, -e.output_change))
        if worst.accuracy_change < 0:
            text += (f"; the largest accuracy drop, {100 * worst.accuracy_change:+.1f} points from "
                     f"{scan.baseline_accuracy:.1%}, came from filter {worst.filter}")
        else:
            text += f"; no single filter lowered the accuracy (baseline {scan.baseline_accuracy:.1%})"
    return text + "."


def _filter_figure(scan, response: torch.Tensor, top_k: int, sample_class: str) -> Figure:
    top = scan.top(top_k)
    cols = max(2, len(top))
    fig = _figure(max(7.0, 1.5 * cols), 4.8)
    grid = fig.add_gridspec(2, cols, height_ratios=[1.2, 1])
    half = cols // 2
    every = fig.add_subplot(grid[0, :half])
    changes = [e.output_change for e in scan.effects]
    every.plot(range(1, len(changes) + 1), changes, "-", color="0.5")
    every.plot(range(1, len(top) + 1), changes[:len(top)], "o", color="tab:red", ms=4)
    every.set_xlabel(f"rank among the {len(changes)} filters", fontsize=8)
    every.set_ylabel("mean |output change|", fontsize=8)
    bars = fig.add_subplot(grid[0, half:])
    bars.bar(range(len(top)), [e.output_change for e in top], color="tab:red")
    bars.set_xticks(range(len(top)), [str(e.filter) for e in top], fontsize=7)
    bars.set_xlabel("the most influential filters", fontsize=8)
    for ax in (every, bars):
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    h = response.shape[-1]
    scale = max(1, 64 // max(h, 1))
    for k, e in enumerate(top):
        sub = fig.add_subplot(grid[1, k])
        acc = "" if e.accuracy_change is None else f"\nacc {100 * e.accuracy_change:+.1f} pt"
        _show(sub, render_map(response, e.filter, scale=scale), f"filter {e.filter}{acc}")
    fig.suptitle(f"{scan.layer.label}: ablation effects; bottom: responses to one {sample_class}", fontsize=8)
    return fig


# =================================================================================================
# One entry point for a GUI


LOADED_MODEL_EXPERIMENTS = ("bottleneck", "skip", "unseen", "background", "shift", "filters")


def shifted_params(params: ShapeDatasetParams) -> ShapeDatasetParams:
    """`params` with the shifted preset's shift (48 px at 256 px), scaled to the canvas and kept inside it."""
    from cyclegan_workbench.data.shapes import PRESETS

    preset = PRESETS["shifted"]()
    room = int(params.size / 2 - 1 - params.scale[1] * params.size / 2)
    return replace(params, shift=max(1, min(round(preset.shift * params.size / 256), room)))


def run_experiment(key: str, generator, dataset, size: int | None = None, images: int = 40,
                   progress: Progress | None = None, cancelled: CancelCheck | None = None) -> ExperimentResult:
    """Experiment `key` (one of LOADED_MODEL_EXPERIMENTS) on one loaded gray -> RGB generator, with the
    settings a Test tab's Experiments menu offers: `images` test images of `dataset` (the model's training
    dataset: a folder or manifest.json of a generated dataset), unseen and background figures drawn with
    that dataset's parameters, and for "shift" the same test figures centred vs shifted (one model)."""
    from cyclegan_workbench.data.shapes import load_manifest

    if key not in LOADED_MODEL_EXPERIMENTS:
        raise UserError(f"unknown experiment {key!r}: choose {', '.join(LOADED_MODEL_EXPERIMENTS)}")
    if size is None:
        if not isinstance(generator, NetworkGraph):
            raise UserError("give the input size the generator runs at")
        size = generator.input_shape[1]
    graph = as_colourizer(generator, size)
    manifest = load_manifest(dataset)
    params = ShapeDatasetParams.from_dict(manifest["params"])
    colours = {k: tuple(v) for k, v in manifest["class_colors"].items()}
    hooks = {"progress": progress, "cancelled": cancelled}
    if key == "unseen":
        return unseen_figures(graph, size, params, colours, **hooks)
    if key == "background":
        return background_sweep(graph, size, params, colours, **hooks)
    test = balanced_test_set(dataset, size, images)
    if key == "bottleneck":
        return bottleneck_nullification(graph, test, **hooks)
    if key == "skip":
        return skip_isolation(graph, test, **hooks)
    if key == "filters":
        return filter_ranking(graph, test, **hooks)
    per_class = max(1, images // max(len(params.shapes), 1))
    shifted = render_figures(shifted_params(params), size, per_class).scoring(colours)
    return shift_comparison({"loaded": graph}, {"centred": test, "shifted": shifted}, **hooks)


__all__ = [
    "ExperimentResult", "ExperimentCancelled", "FigureSet", "render_figures", "as_colourizer", "conv_layers",
    "balanced_stems", "balanced_test_set", "run_experiment", "LOADED_MODEL_EXPERIMENTS", "shifted_params",
    "architecture_comparison", "measure_cyclegan", "cyclegan_accuracy", "LossCurve", "spread", "curve_summary",
    "bottleneck_nullification",
    "skip_isolation", "unseen_figures", "background_sweep", "shift_comparison", "filter_ranking",
    "paint_labels", "paint_fractions", "edge_and_interior", "edge_interior_colour", "rectangle_regions",
    "coverage_at", "untouched_at", "colour_names", "figure_png", "ASPECTS", "QUESTIONS", "TITLES",
]
