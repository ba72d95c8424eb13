"""Experiment 1, the architecture comparison: test losses, accuracy and loss curves of the U-Net variants
the pipeline trained (depth, width, batch size, dataset size). It needs several trained runs, so only the
reproduction pipeline runs it; the GUI menu points there."""
from __future__ import annotations

import time

from matplotlib.figure import Figure

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models.evaluation import TABLE_COLUMNS
from cyclegan_workbench.visualization.experiments.descriptor import Experiment, MenuEntry
from cyclegan_workbench.visualization.experiments.figures import HEADING, SMALL, TEXT, new_figure
from cyclegan_workbench.visualization.experiments.formatting import num, pct, secs
from cyclegan_workbench.visualization.experiments.result import ExperimentResult

KEY = "architectures"
TITLE = "Architecture comparison"
QUESTION = ("How do U-Net depth, width, batch size and dataset size change the test losses and the colourization "
            "accuracy, and do the models over-fit?")
# What a training stage's result contributes to a row (the rest, config and summaries, stays with the model).
ROW_KEYS = ("name", "label", "preset", "dataset", "batch_size", "train_images", "test_images", "iterations", "epochs",
            "images_seen", "train_seconds", "stopped_by", "table", "accuracy", "per_class", "curve")


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
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, " ".join(sentences), {"curves": fig},
                            time.perf_counter() - started)


def _tied(rows: list[dict], is_best) -> str:
    best = [r["label"] for r in rows if is_best(r)]
    if len(best) == len(rows) > 1:
        return f"all {len(rows)} models tie"
    return best[0] if len(best) == 1 else " and ".join([", ".join(best[:-1]), best[-1]]) + " (tied)"


def _curves_figure(rows: list[dict]) -> Figure:
    cols = min(3, len(rows))
    nrows = -(-len(rows) // cols)
    fig = new_figure(4.0 * cols, 2.8 * nrows)
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
            twin.tick_params(labelsize=SMALL, colors="tab:green")
            if ax is axes.flat[0]:
                twin.legend(fontsize=SMALL, loc="lower right")
        ax.set_title(row["label"], fontsize=HEADING)
        ax.set_xlabel("training images seen", fontsize=TEXT)
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3)
        if not points:
            ax.text(0.5, 0.5, "no curve points", ha="center", va="center", transform=ax.transAxes)
    axes.flat[0].legend(fontsize=SMALL)
    return fig


# --- in the pipeline and the report ----------------------------------------------------------------
def run_in_pipeline(ctx) -> ExperimentResult:
    rows = [{k: m[k] for k in ROW_KEYS} for m in ctx.trained_models("architecture")]
    return architecture_comparison(rows)


def setting_text(exp: dict, r: dict) -> str:
    n = exp["numbers"]["rows"]
    test = n[0].get("test_images") if n else None
    return (f"{len(n)} models, each trained as listed in the Setting section. Test losses are means over the "
            f"held-out test split of the default dataset ({test} gray + {test} RGB images, half circles, half "
            "triangles), with the discriminators judging real images and the generators' direct translations; "
            "Total = G_A + G_B + Cycle_A + Cycle_B (+ identity terms, off here because the domains have 1 and 3 "
            "channels). Accuracy: the colourization score of the gray -> RGB generator on the gray test images. "
            "Curves: train losses averaged since the previous point, validation losses on "
            f"{r['budget'].get('curve_val_images')} test images (half of each class).")


def number_tables(n: dict, r: dict) -> list[tuple]:
    head = ["model", "batch", "train images", "trained", *TABLE_COLUMNS, "accuracy"]
    rows = []
    for row in n["rows"]:
        t = row["table"]
        rows.append([row["label"], str(row.get("batch_size", "")), str(row.get("train_images", "")),
                     f"{row.get('iterations', '?')} it / {secs(row.get('train_seconds'))}",
                     *[num(t[c]) for c in TABLE_COLUMNS], pct(row.get("accuracy"))])
    curve_rows = []
    for row in n["rows"]:
        s = row["curve_summary"]
        curve_rows.append([row["label"], str(s["points"]), num(s["train_total_first"]), num(s["train_total_last"]),
                           num(s["val_total_min"]), num(s["val_total_last"])])
    return [("table", head, rows),
            ("table", ["model", "curve points", "train Total, first", "train Total, last", "validation Total, min",
                       "validation Total, last"], curve_rows)]


EXPERIMENT = Experiment(
    KEY, 1, TITLE, QUESTION, needs="architecture", run_in_pipeline=run_in_pipeline, setting_text=setting_text,
    number_tables=number_tables,
    menu=MenuEntry("Architecture comparison (cyclegan-workbench reproduce)",
                   "The architecture comparison trains several models; run it with "
                   "`cyclegan-workbench reproduce --out REPORT_DIR`", order=1))
