"""Experiment 7, the filter ranking: the ablation scan (visualization.ablation) of the bottleneck and of the
first convolution: what nullifying each filter does to the output and to the accuracy."""
from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.visualization.ablation import ablate_layer
from cyclegan_workbench.visualization.experiments.descriptor import Experiment, MenuEntry
from cyclegan_workbench.visualization.experiments.figures import SMALL, TEXT, new_figure, show
from cyclegan_workbench.visualization.experiments.formatting import num, pct, toy_model_phrase
from cyclegan_workbench.visualization.experiments.inputs import as_colourizer, conv_layers, first_of_each_class
from cyclegan_workbench.visualization.experiments.result import (
    CancelCheck,
    ExperimentCancelled,
    ExperimentResult,
    Progress,
)
from cyclegan_workbench.visualization.render import render_map

KEY = "filters"
TITLE = "Filter ranking"
QUESTION = ("Which filters of the bottleneck and of the first layer matter most: what does nullifying each one do "
            "to the output and to the accuracy?")
DEFAULT_TOP_K = 6  # filters shown per layer when the results do not say (the report's table)


def filter_ranking(generator, images: ScoringSet, layers: Sequence | None = None, top_k: int = DEFAULT_TOP_K,
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
    sample = first_of_each_class(images.classes, 1)[0]
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
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, reading, figures, time.perf_counter() - started)


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
    fig = new_figure(max(7.0, 1.5 * cols), 4.8)
    grid = fig.add_gridspec(2, cols, height_ratios=[1.2, 1])
    half = cols // 2
    every = fig.add_subplot(grid[0, :half])
    changes = [e.output_change for e in scan.effects]
    every.plot(range(1, len(changes) + 1), changes, "-", color="0.5")
    every.plot(range(1, len(top) + 1), changes[:len(top)], "o", color="tab:red", ms=4)
    every.set_xlabel(f"rank among the {len(changes)} filters", fontsize=TEXT)
    every.set_ylabel("mean |output change|", fontsize=TEXT)
    bars = fig.add_subplot(grid[0, half:])
    bars.bar(range(len(top)), [e.output_change for e in top], color="tab:red")
    bars.set_xticks(range(len(top)), [str(e.filter) for e in top], fontsize=SMALL)
    bars.set_xlabel("the most influential filters", fontsize=TEXT)
    for ax in (every, bars):
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3)
    h = response.shape[-1]
    scale = max(1, 64 // max(h, 1))
    for k, e in enumerate(top):
        sub = fig.add_subplot(grid[1, k])
        acc = "" if e.accuracy_change is None else f"\nacc {100 * e.accuracy_change:+.1f} pt"
        show(sub, render_map(response, e.filter, scale=scale), f"filter {e.filter}{acc}")
    fig.suptitle(f"{scan.layer.label}: ablation effects; bottom: responses to one {sample_class}", fontsize=TEXT)
    return fig


# --- in the pipeline, the report and the menu ------------------------------------------------------
def run_in_pipeline(ctx) -> ExperimentResult:
    images = ctx.test_images("default", ctx.budget.probe_images)
    return filter_ranking(ctx.colourizer("toy"), images, top_k=ctx.budget.top_k, **ctx.hooks())


def run_on_loaded_model(graph, inputs, hooks: dict) -> tuple[ExperimentResult, str]:
    return filter_ranking(graph, inputs.test_images(), **hooks), inputs.test_images_text


def setting_text(exp: dict, r: dict) -> str:
    s = exp["setting"]
    return (f"{toy_model_phrase(r)}; {s['images']} gray test images. The ablation scan nullifies each filter of a "
            "layer in turn, measures the mean absolute change of the output against the intact output and the "
            f"change of colourization accuracy; filters ranked by {s['rank_by']} change.")


def number_tables(n: dict, r: dict) -> list[tuple]:
    out = []
    for layer in n["layers"]:
        k = r.get("budget", {}).get("top_k", DEFAULT_TOP_K)
        rows = [[str(rank), str(e["filter"]), num(e["output_change"], 4), pct(e["accuracy"]),
                 "n/a" if e["accuracy_change"] is None else f"{100 * e['accuracy_change']:+.1f} pt"]
                for rank, e in enumerate(layer["effects"][:k], 1)]
        out.append(("p", f"Layer {layer['layer']} ({layer['label']}), {len(layer['effects'])} filters, baseline "
                         f"accuracy {pct(layer['baseline_accuracy'])}; the top {len(rows)}:", None))
        out.append(("table", ["rank", "filter", "mean |output change|", "accuracy", "accuracy change"], rows))
    return out


EXPERIMENT = Experiment(
    KEY, 7, TITLE, QUESTION, needs="toy", run_in_pipeline=run_in_pipeline, setting_text=setting_text,
    number_tables=number_tables, run_on_loaded_model=run_on_loaded_model,
    menu=MenuEntry("&Filter ranking (bottleneck + first layer)",
                   "Nullify each filter of the bottleneck and of the first layer in turn; rank them by their effect",
                   order=5))
