"""Does the default preset learn the colourization on every kind of toy dataset? Time to 95 % per cell.

    python benchmarks/robustness.py [--cells gray40,gray82,...] [--seeds 0,1,2] [--jobs 1] [--threads 2]
                                    [--cap 300] [--cap-epochs N] [--set NAME=VALUE] [--work DIR] [--json F]

Each cell is a toy dataset that differs from the default in one factor (gray level, background, triangle
kind, figure size, classes, JPEG, noise). The default preset (`toy`, all its defaults) trains on it from
scratch, one process per (cell, seed), `--jobs` at a time with `--threads` torch threads each. The default,
one run with 2 threads, is what a user's training gets on a 2-core machine (the target's "2 cores");
`--jobs 2 --threads 1` halves the wall time but gives each run one core (about 1.3x slower epochs). A run
stops `--confirm` epochs after its test accuracy first reached 95 % (so the printed final accuracy shows
whether it held) or at `--cap` seconds of training (or `--cap-epochs`, to compare settings by epochs on
another machine). Printed per cell: the training time to 95 % (median and worst over the seeds; "never" when
a seed missed the cap), the final accuracy of each seed, and the target: every cell and seed within 300 s,
median within 120 s. `--set NAME=VALUE` trains an alternative to the preset (a training or network setting).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGET_WORST_S = 300.0
TARGET_MEDIAN_S = 120.0
THRESHOLD = 0.95

# Dataset parameters that differ from data.shapes.ShapeDatasetParams() in each cell.
CELLS: dict[str, dict] = {
    "default": {},
    "gray40": {"gray_level": 40},
    "gray82": {"gray_level": 82},
    "gray200": {"gray_level": 200},
    "gray82-on-200": {"gray_level": 82, "background": "200"},
    "triangle-right": {"triangle_kind": "right"},
    "triangle-axis": {"triangle_kind": "axis-aligned"},
    "small": {"scale": (0.1, 0.3)},
    "large": {"scale": (0.4, 0.8)},
    "three-classes": {"shapes": ("circle", "triangle", "square")},
    "jpeg75": {"image_format": "jpeg", "jpeg_quality": 75},
    "noise10": {"noise_sigma": 10.0},
}


def dataset_for(cell: str, work: Path) -> Path:
    from cyclegan_workbench.data.shapes import ShapeDatasetParams, generate_dataset

    out = work / "datasets" / cell
    if not (out / "manifest.json").is_file():
        generate_dataset(ShapeDatasetParams(**CELLS[cell]), out)
    return out


def train_one(cell: str, seed: int, work: Path, cap: float, confirm: int, overrides: list[str],
              cap_epochs: int | None = None, threads: int = 2) -> dict:
    """Runs in its own process: one training run, its accuracy per epoch and the time to 95 %."""
    import torch

    from cyclegan_workbench.models.config import DEFAULT_PRESET, preset_config
    from cyclegan_workbench.models.training import Trainer

    torch.set_num_threads(threads)
    cfg = preset_config(DEFAULT_PRESET)
    cfg.dataroot = str(dataset_for(cell, work))
    cfg.training.seed = seed
    cfg.training.num_threads = threads
    for item in overrides:  # --set name=value: try an alternative to the defaults (training, then network)
        name, value = item.split("=")
        section = cfg.training if hasattr(cfg.training, name) else cfg.network
        kind = type(getattr(section, name))
        setattr(section, name, value.lower() in ("1", "true", "yes") if kind is bool else kind(value))
    run_dir = Path(tempfile.mkdtemp(prefix=f"{cell}-{seed}-", dir=work))
    trainer = Trainer(cfg, run_dir / "run")
    curve, reached, after = [], None, 0
    for report in trainer.run():
        summary = report.epoch_summary
        if summary is None:
            continue
        curve.append([summary.epoch, round(report.elapsed, 1), summary.accuracy])
        if reached is None and summary.accuracy is not None and summary.accuracy >= THRESHOLD:
            reached = (summary.epoch, report.elapsed)
        elif reached is not None:
            after += 1
        if ((reached is not None and after >= confirm) or report.elapsed >= cap
                or (cap_epochs is not None and summary.epoch >= cap_epochs)):
            trainer.request_stop()
    return {"cell": cell, "seed": seed, "contrasts": trainer.contrasts,
            "epoch_to_95": reached[0] if reached else None, "seconds_to_95": reached[1] if reached else None,
            "final_accuracy": curve[-1][2] if curve else None, "epochs": len(curve), "curve": curve}


def run_job(cell: str, seed: int, args) -> dict:
    cmd = [sys.executable, __file__, "--one", f"{cell}:{seed}", "--work", str(args.work), "--cap", str(args.cap),
           "--confirm", str(args.confirm)] + [f"--set={o}" for o in args.set]
    if args.cap_epochs:
        cmd += ["--cap-epochs", str(args.cap_epochs)]
    cmd += ["--threads", str(args.threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        return {"cell": cell, "seed": seed, "error": out.stderr.strip().splitlines()[-1:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    acc = result["final_accuracy"]
    reached = (f"at epoch {result['epoch_to_95']:3d} after {result['seconds_to_95']:5.0f} s"
               if result["seconds_to_95"] is not None else "never")
    final = f", final {acc:.1%} after {result['epochs']} epochs" if acc is not None else ", no accuracy"
    print(f"  {cell:14s} seed {seed}: 95 % {reached}{final}", flush=True)
    return result


def summarize(results: list[dict], cells: list[str]) -> bool:
    print(f"\n{'cell':14s} {'median s':>9s} {'worst s':>8s}  final accuracy per seed   contrast A/B")
    all_ok = True
    medians = []
    for cell in cells:
        rows = sorted((r for r in results if r["cell"] == cell), key=lambda r: r["seed"])
        if not rows:
            continue
        times = [r.get("seconds_to_95") for r in rows]
        missed = any(t is None for t in times)
        done = sorted(t for t in times if t is not None)
        median = statistics.median([float("inf") if t is None else t for t in times])
        worst = float("inf") if missed else max(done)
        medians.append(median)
        ok = worst <= TARGET_WORST_S and median <= TARGET_MEDIAN_S
        all_ok &= ok
        finals = " ".join("err" if "error" in r else f"{r['final_accuracy']:.0%}" for r in rows)
        c = rows[0].get("contrasts") or {}
        def fmt(v):
            return "never" if v == float("inf") else f"{v:.0f}"

        print(f"{cell:14s} {fmt(median):>9s} {fmt(worst):>8s}  {finals:24s} "
              f"{c.get('A', 0):.2f}/{c.get('B', 0):.2f}  {'ok' if ok else 'MISSED'}")
    overall = statistics.median(medians) if medians else float("inf")
    print(f"\ntarget: every cell and seed >= 95 % within {TARGET_WORST_S:.0f} s, median <= {TARGET_MEDIAN_S:.0f} s; "
          f"median of cell medians {overall:.0f} s; {'all met' if all_ok else 'NOT all met'}")
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=1, help="runs at a time")
    parser.add_argument("--cap", type=float, default=TARGET_WORST_S, help="seconds of training per run at most")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--cap-epochs", type=int, help="epochs per run at most (to compare runs on a faster "
                        "machine, whose seconds are not this target's: read the epochs, not the seconds)")
    parser.add_argument("--confirm", type=int, default=3, help="epochs trained after first reaching 95 %%")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "workbench-robustness")
    parser.add_argument("--json", type=Path, help="write every run's results here")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a training or network setting of the preset (to compare an alternative)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # CELL:SEED, internal: one run in this process
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.one:
        cell, seed = args.one.split(":")
        print(json.dumps(train_one(cell, int(seed), args.work, args.cap, args.confirm, args.set, args.cap_epochs,
                                   args.threads)))
        return 0
    cells = [c for c in args.cells.split(",") if c]
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        sys.exit(f"unknown cells {unknown}; choose from {', '.join(CELLS)}")
    for cell in cells:  # generated once, before the runs race for them
        dataset_for(cell, args.work)
    seeds = [int(s) for s in args.seeds.split(",")]
    jobs = [(c, s) for s in seeds for c in cells]
    print(f"{len(jobs)} runs, {args.jobs} at a time, {args.threads} thread(s) each, cap {args.cap:.0f} s of training "
          "per run" + (f", overrides {' '.join(args.set)}" if args.set else ""))
    start = time.time()
    with ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda job: run_job(*job, args), jobs))
    print(f"wall time {time.time() - start:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if summarize(results, cells) else 1


if __name__ == "__main__":
    sys.exit(main())
