"""Time to 95 % colourization accuracy for the default preset, from scratch, on the default toy dataset.

    python benchmarks/default_preset.py [--seeds 0,1,2] [--budget 300]

Target: the test colourization accuracy (gray circles painted red, gray triangles green, scored on the
80 held-out gray images after every epoch) reaches 95 % within 5 minutes on 2 CPU cores. Unpaired
CycleGAN training; the time counts training and the per-epoch validation, not dataset generation.
Prints the accuracy curve per seed, the time to 95 % and the ratio against the target.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

TARGET_ACCURACY = 0.95
TARGET_SECONDS = 300.0


def run_seed(dataroot: Path, seed: int, budget: float, workdir: Path) -> tuple[float | None, list]:
    from cyclegan_workbench.models.config import DEFAULT_PRESET, preset_config
    from cyclegan_workbench.models.training import Trainer

    cfg = preset_config(DEFAULT_PRESET)
    cfg.dataroot = str(dataroot)
    cfg.training.seed = seed
    trainer = Trainer(cfg, workdir / f"seed{seed}")
    start = time.perf_counter()
    curve, reached = [], None
    for report in trainer.run():
        summary = report.epoch_summary
        if summary is None:
            continue
        elapsed = time.perf_counter() - start
        curve.append((summary.epoch, round(elapsed, 1), summary.accuracy))
        if reached is None and summary.accuracy >= TARGET_ACCURACY:
            reached = elapsed
            break
        if elapsed > budget:
            break
    return reached, curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds")
    parser.add_argument("--budget", type=float, default=TARGET_SECONDS, help="seconds per seed before giving up")
    args = parser.parse_args()

    import torch

    from cyclegan_workbench.data.shapes import PRESETS as DATASET_PRESETS
    from cyclegan_workbench.data.shapes import generate_dataset
    from cyclegan_workbench.models.config import DEFAULT_PRESET

    print(f"preset {DEFAULT_PRESET}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dataroot = generate_dataset(DATASET_PRESETS["default"](), work / "shapes")
        times = []
        for seed in (int(s) for s in args.seeds.split(",")):
            reached, curve = run_seed(dataroot, seed, args.budget, work)
            shown = " ".join(f"{e}:{a:.0%}@{t:.0f}s" for e, t, a in curve)
            print(f"seed {seed}: {shown}")
            if reached is None:
                print(f"seed {seed}: did NOT reach {TARGET_ACCURACY:.0%} within {args.budget:.0f} s")
            else:
                print(f"seed {seed}: {TARGET_ACCURACY:.0%} after {reached:.0f} s, epoch {curve[-1][0]} "
                      f"(target {TARGET_SECONDS:.0f} s, {TARGET_SECONDS / reached:.2f}x better)")
            times.append(reached)
    done = [t for t in times if t is not None]
    if done:
        print(f"reached by {len(done)}/{len(times)} seeds; median {statistics.median(done):.0f} s, "
              f"worst {max(done):.0f} s (target {TARGET_SECONDS:.0f} s)")
    else:
        print(f"no seed reached {TARGET_ACCURACY:.0%}")


if __name__ == "__main__":
    main()
