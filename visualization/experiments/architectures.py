"""Experiment 1, the architecture comparison: test losses, accuracy and loss curves of the U-Net variants
the pipeline trained (depth, width, batch size, dataset size). It needs several trained runs, so only the
reproduction pipeline runs it; the GUI menu points there. When a budget trains each variant with several seeds,
the variants are compared by their mean over the seeds, and a difference is called real only when the
variants' ranges over the seeds do not overlap."""
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
# The paper's test losses, then the cycle reconstructions' SSIM (higher is better), where a stage recorded it.
COLUMNS = (*TABLE_COLUMNS, "SSIM_A", "SSIM_B")
TITLE = "Architecture comparison"
QUESTION = ("How do U-Net depth, width, batch size and dataset size change the test losses and the colourization "
            "accuracy, and do the models over-fit?")
# What a training stage's result contributes to a row (the rest, config and summaries, stays with the model).
ROW_KEYS = ("name", "label", "preset", "dataset", "batch_size", "train_images", "test_images", "iterations", "epochs",
            "images_seen", "train_seconds", "stopped_by", "table", "accuracy", "per_class", "curve", "variant", "seed")


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
    variants = variant_summaries(rows)
    if any(v["seeds"] > 1 for v in variants):
        return _seeded_comparison(rows, variants, started)
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
    sentences.append(_overfitting_sentence(rises, ""))
    fig = _curves_figure(rows)
    numbers = {"rows": rows,
               "best_total": [r["name"] for r in rows if r["table"]["Total"] == best_total],
               "best_accuracy": [r["name"] for r in scored if r["accuracy"] == best_acc]}
    setting = {"models": [r["name"] for r in rows]}
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, " ".join(sentences), {"curves": fig},
                            time.perf_counter() - started)


def variant_summaries(rows: list[dict]) -> list[dict]:
    """One entry per variant (rows of the same model trained with other seeds), in the rows' order: the label of
    its first row without the seed, the number of seeds, and mean/min/max of every test loss and the accuracy."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r.get("variant") or r["name"], []).append(r)
    out = []
    for name, members in groups.items():
        stats = {c: _spread([m["table"][c] for m in members]) for c in COLUMNS
                 if all(c in m["table"] for m in members)}
        scored = [m["accuracy"] for m in members if m.get("accuracy") is not None]
        rises = [m["curve_summary"]["val_total_rise"] for m in members
                 if m["curve_summary"]["val_total_rise"] is not None and m["curve_summary"]["points"] >= 3]
        first = members[0]
        out.append({"variant": name, "label": first["label"].rsplit(", seed ", 1)[0], "seeds": len(members),
                    "models": [m["name"] for m in members], "batch_size": first.get("batch_size"),
                    "train_images": first.get("train_images"), "iterations": first.get("iterations"),
                    "train_seconds": _spread([m.get("train_seconds") or 0.0 for m in members]),
                    "table": stats, "accuracy": _spread(scored) if scored else None,
                    "val_total_rise": _spread(rises) if rises else None})
    return out


def _overfitting_sentence(rises: list[str], over: str) -> str:
    """The reading's sentence on the validation curves: "<label> <rise>" per model or variant, or why none."""
    if not rises:
        return "The curves have fewer than three validation points per model, too few to judge over-fitting."
    return (f"Last validation Total minus its minimum over the curve{over} (a positive value while the train Total "
            "falls is the usual sign of over-fitting): " + "; ".join(rises) + ".")


def _spread(values: list[float]) -> dict:
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}


def _seeded_comparison(rows: list[dict], variants: list[dict], started: float) -> ExperimentResult:
    """The comparison by variant: means over the seeds, ranges, and whether the best is separated from the rest."""
    by_total = sorted(variants, key=lambda v: v["table"]["Total"]["mean"])
    best, second = by_total[0], by_total[1] if len(by_total) > 1 else None
    t = best["table"]["Total"]
    sentences = [f"Lowest mean test Total over {best['seeds']} seeds: {best['label']} ({t['mean']:.3f}, range "
                 f"{t['min']:.3f}-{t['max']:.3f})."]
    if second is not None:
        s = second["table"]["Total"]
        apart = t["max"] < s["min"]
        sentences.append(f"Next: {second['label']} ({s['mean']:.3f}, range {s['min']:.3f}-{s['max']:.3f}); "
                         + ("the ranges do not overlap, so the difference holds over these seeds."
                            if apart else "the ranges overlap: over these seeds the difference is within the noise."))
    scored = [v for v in variants if v["accuracy"] is not None]
    best_accuracy = []
    if scored:
        high = max(v["accuracy"]["mean"] for v in scored)
        best_accuracy = [v for v in scored if v["accuracy"]["mean"] == high]
        low = min(scored, key=lambda v: v["accuracy"]["mean"])
        b = low["accuracy"]
        if len(best_accuracy) == len(scored):
            sentences.append(f"Every variant has the same mean colourization accuracy ({high:.1%}).")
        else:
            names = _and([v["label"] for v in best_accuracy])
            sentences.append(f"Highest mean colourization accuracy: {names} ({high:.1%}); lowest: {low['label']} "
                             f"({b['mean']:.1%}, range {b['min']:.1%}-{b['max']:.1%}).")
    rises = [f"{v['label']} {v['val_total_rise']['mean']:+.3f}" for v in variants if v["val_total_rise"] is not None]
    sentences.append(_overfitting_sentence(rises, ", mean over the seeds"))
    numbers = {"rows": rows, "variants": variants, "ranking": [v["variant"] for v in by_total],
               "best_total": [best["variant"]],
               "best_accuracy": [v["variant"] for v in best_accuracy]}
    setting = {"models": [r["name"] for r in rows], "seeds_per_variant": max(v["seeds"] for v in variants)}
    return ExperimentResult(KEY, TITLE, QUESTION, setting, numbers, " ".join(sentences),
                            {"curves": _variant_curves_figure(rows, variants)}, time.perf_counter() - started)


def _variant_curves_figure(rows: list[dict], variants: list[dict]) -> Figure:
    """One panel per variant: every seed's train (solid) and validation (dashed) Total against images seen."""
    by_name = {r["name"]: r for r in rows}
    fig, axes = _panels(len(variants))
    for ax, v in zip(axes, variants):
        for k, name in enumerate(v["models"]):
            points = by_name[name].get("curve") or []
            colour = f"C{k}"
            train = [(p["images"], p["train"]["Total"]) for p in points if p.get("train")]
            val = [(p["images"], p["validation"]["Total"]) for p in points if p.get("validation")]
            ax.plot([a for a, _ in train], [b for _, b in train], "-", color=colour, lw=1,
                    label=f"seed {by_name[name].get('seed', k)} train")
            ax.plot([a for a, _ in val], [b for _, b in val], "--", color=colour, lw=1, label="validation")
        ax.set_title(v["label"], fontsize=HEADING)
        ax.set_xlabel("training images seen", fontsize=TEXT)
        ax.set_ylabel("Total", fontsize=TEXT)
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=SMALL, ncol=2)
    return fig


def _panels(count: int) -> tuple[Figure, list]:
    """A figure of `count` panels, three to a row; the unused places of the last row left blank."""
    cols = min(3, count)
    fig = new_figure(4.0 * cols, 2.8 * -(-count // cols))
    axes = list(fig.subplots(-(-count // cols), cols, squeeze=False).flat)
    for ax in axes[count:]:
        ax.set_axis_off()
    return fig, axes[:count]


def _tied(rows: list[dict], is_best) -> str:
    best = [r["label"] for r in rows if is_best(r)]
    if len(best) == len(rows) > 1:
        return f"all {len(rows)} models tie"
    return best[0] if len(best) == 1 else _and(best) + " (tied)"


def _and(labels: list[str]) -> str:
    """"A, B and C"; "A; B and C" when a label has a comma of its own ("U-Net 128, batch 25")."""
    comma = "; " if any(", " in label for label in labels) else ", "
    return labels[0] if len(labels) == 1 else " and ".join([comma.join(labels[:-1]), labels[-1]])


def _curves_figure(rows: list[dict]) -> Figure:
    fig, axes = _panels(len(rows))
    for ax, row in zip(axes, rows):
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
            if ax is axes[0]:
                twin.legend(fontsize=SMALL, loc="lower right")
        ax.set_title(row["label"], fontsize=HEADING)
        ax.set_xlabel("training images seen", fontsize=TEXT)
        ax.tick_params(labelsize=SMALL)
        ax.grid(alpha=0.3)
        if not points:
            ax.text(0.5, 0.5, "no curve points", ha="center", va="center", transform=ax.transAxes)
    axes[0].legend(fontsize=SMALL)
    return fig


# --- in the pipeline and the report ----------------------------------------------------------------
def run_in_pipeline(ctx) -> ExperimentResult:
    rows = [{k: m.get(k) for k in ROW_KEYS} for m in ctx.trained_models("architecture")]
    return architecture_comparison(rows)


def setting_text(exp: dict, r: dict) -> str:
    n = exp["numbers"]["rows"]
    test = n[0].get("test_images") if n else None
    return (f"{len(n)} models, each trained as listed in the Setting section. Test losses are means over the "
            f"held-out test split of the default dataset ({test} gray + {test} RGB images, half circles, half "
            "triangles), with the discriminators judging real images and the generators' direct translations; "
            "Total = G_A + G_B + Cycle_A + Cycle_B (+ identity terms, off here because the domains have 1 and 3 "
            "channels). SSIM_A and SSIM_B: structural similarity of each cycle's reconstruction to its input (1 = "
            "identical; it weighs faint texture on a flat background heavily). Accuracy: the colourization score of "
            "the gray -> RGB generator on the gray test images. "
            "Curves: train losses averaged since the previous point, validation losses on "
            f"{r['budget'].get('curve_val_images')} test images (half of each class).")


def number_tables(n: dict, r: dict) -> list[tuple]:
    head = ["model", "batch", "train images", "trained", *COLUMNS, "accuracy"]
    variant_table = []
    if n.get("variants"):
        order = {name: i for i, name in enumerate(n["ranking"])}
        variant_rows = []
        for v in sorted(n["variants"], key=lambda v: order[v["variant"]]):
            cells = [_mean_range(v["table"][c], num) if c in v["table"] else "n/a" for c in COLUMNS]
            variant_rows.append([v["label"], str(v["seeds"]), str(v.get("batch_size", "")),
                                 str(v.get("train_images", "")),
                                 f"{v.get('iterations', '?')} it / {secs(v['train_seconds']['mean'])}", *cells,
                                 _mean_range(v["accuracy"], pct) if v["accuracy"] else "n/a"])
        variant_table = [("table", ["variant (by mean Total)", "seeds", "batch", "train images", "trained", *[
            f"{c} mean (range)" for c in COLUMNS], "accuracy mean (range)"], variant_rows)]
    rows = []
    for row in n["rows"]:
        t = row["table"]
        rows.append([row["label"], str(row.get("batch_size", "")), str(row.get("train_images", "")),
                     f"{row.get('iterations', '?')} it / {secs(row.get('train_seconds'))}",
                     *[num(t.get(c)) for c in COLUMNS], pct(row.get("accuracy"))])
    curve_rows = []
    for row in n["rows"]:
        s = row["curve_summary"]
        curve_rows.append([row["label"], str(s["points"]), num(s["train_total_first"]), num(s["train_total_last"]),
                           num(s["val_total_min"]), num(s["val_total_last"])])
    return [*variant_table, ("table", head, rows),
            ("table", ["model", "curve points", "train Total, first", "train Total, last", "validation Total, min",
                       "validation Total, last"], curve_rows)]


def _mean_range(stats: dict, fmt) -> str:
    return f"{fmt(stats['mean'])} ({fmt(stats['min'])}-{fmt(stats['max'])})"


EXPERIMENT = Experiment(
    KEY, 1, TITLE, QUESTION, needs="architecture", run_in_pipeline=run_in_pipeline, setting_text=setting_text,
    number_tables=number_tables,
    menu=MenuEntry("Architecture comparison (cyclegan-workbench reproduce)",
                   "The architecture comparison trains several models; run it with "
                   "`cyclegan-workbench reproduce --budget standard --workers 2 --out REPORT_DIR` (about an hour "
                   "on a 2-core CPU)", order=1))
