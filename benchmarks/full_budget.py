"""How long `reproduce --budget full` takes: seconds per iteration of every model, projected to 1 and N GPUs.

    python benchmarks/full_budget.py [--device cuda] [--seconds 15] [--gpus 1,8] [--concurrent 6] [--json F]

Each model of the reproduction (the six architecture variants of Table I and the default preset's two) trains
through the pipeline's own training stage (visualization.reproduce) on the full budget's datasets and settings
(256 px images resized to 128 px, batch 1 or 25, 200 or 600 training images), capped at --seconds of training.
Measured per model: seconds per iteration (training time of the capped run over its iterations), seconds of
the loss-curve evaluation at each epoch end, and seconds of each epoch's save (the resumable state: 1 GB for
U-Net 128). Its full-budget time is iterations x s/iteration + epochs x (curve + save seconds).

--concurrent K also trains the architecture models K at a time, one process each on the same device, as
`reproduce --workers K` does on one GPU: small networks at batch 1 leave a GPU idle between kernels.

Projection: the models of a group (the default preset's, then the architectures) go to the workers in order as
they free up (visualization.parallel_training), one worker per GPU; a group ends with its last model. One GPU
with K concurrent workers: the group's longest model at the shared pace (an upper bound: the pace improves as
models finish). The seven experiments (minutes on a GPU) are not counted.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _reproduction(out: Path, seconds: float, device: str):
    from cyclegan_workbench.visualization.reproduce import BUDGETS, Reproduction

    budget = dataclasses.replace(BUDGETS["full"], arch_seconds=seconds, toy_seconds=seconds)
    return Reproduction(out, budget=budget, device=device)


def _timed_saves():
    """Trainer.save wrapped to record (reason, seconds): the save is off the training clock."""
    from cyclegan_workbench.models import training

    saves: list[tuple[str, float]] = []
    original = training.Trainer.save

    def save(self, reason: str = "epoch") -> None:
        start = time.perf_counter()
        original(self, reason)
        saves.append((reason, time.perf_counter() - start))

    training.Trainer.save = save
    return saves


def measure(out: Path, datasets: Path, model: str, seconds: float, device: str) -> dict:
    """One model trained for `seconds` through the pipeline's stage; its pace and full-budget iterations."""
    import torch

    from cyclegan_workbench.models.runtime import tune_allocator

    tune_allocator()
    saves = _timed_saves()
    repro = _reproduction(out, seconds, device)
    repro._prepare_out_dir()
    if not (out / "datasets").exists():
        (out / "datasets").symlink_to(datasets)
    started = time.perf_counter()
    result = repro.training_stage(model).run()
    wall = time.perf_counter() - started
    t = result["config"]["training"]
    per_epoch = round(result["iterations"] / result["epochs"]) if result["epochs"] else 0
    epoch_saves = [s for reason, s in saves if reason == "epoch"]
    points = len(result["curve"])
    return {
        "model": model, "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "batch_size": result["batch_size"], "size": result["size"], "train_images": result["train_images"],
        "iterations": result["iterations"], "train_seconds": result["train_seconds"],
        "s_per_iteration": result["train_seconds"] / max(result["iterations"], 1),
        "curve_seconds_per_point": result["curve_seconds"] / points if points else 0.0,
        "save_seconds_per_epoch": sum(epoch_saves) / len(epoch_saves) if epoch_saves else None,
        "full_epochs": t["n_epochs"] + t["n_epochs_decay"], "iterations_per_epoch": per_epoch,
        "stage_wall_seconds": wall,
    }


def full_seconds(m: dict, s_per_iteration: float | None = None) -> float:
    """The model's projected training time under the full budget, at its measured (or the given) pace."""
    pace = m["s_per_iteration"] if s_per_iteration is None else s_per_iteration
    per_epoch_extra = m["curve_seconds_per_point"] + (m["save_seconds_per_epoch"] or 0.0)
    return m["full_epochs"] * (m["iterations_per_epoch"] * pace + per_epoch_extra)


def schedule(times: list[float], workers: int) -> float:
    """Wall time of jobs handed in order to the first free of `workers` (parallel_training's order)."""
    free = [0.0] * workers
    for t in times:
        i = free.index(min(free))
        free[i] += t
    return max(free)


def _child(args, model: str, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--one", model, "--seconds", str(args.seconds), "--device", args.device,
           "--work", str(args.work), "--out-dir", str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _result(proc: subprocess.Popen, model: str) -> dict:
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"{model} failed:\n{stderr[-3000:]}")
    return json.loads(stdout.strip().splitlines()[-1])


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cpu", "cuda"))
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of training per model")
    parser.add_argument("--gpus", default="1,8", help="GPU counts to project to")
    parser.add_argument("--concurrent", type=int, default=0, help="also train K architecture models at once")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "workbench-full-budget")
    parser.add_argument("--json", type=Path, help="write the measurements here")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # MODEL: one measurement in this process
    parser.add_argument("--out-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.out_dir, args.work / "datasets", args.one, args.seconds, args.device)))
        return 0

    import torch

    from cyclegan_workbench.visualization.reproduce import ARCHITECTURES, TOY_MODELS

    args.work.mkdir(parents=True, exist_ok=True)
    data = args.work / "datasets"
    if not (data / "default" / "manifest.json").is_file() or not (data / "large" / "manifest.json").is_file():
        setup = _reproduction(args.work / "setup", args.seconds, args.device)
        setup._prepare_out_dir()
        setup._datasets()
        if data.exists():
            import shutil
            shutil.rmtree(data)
        (args.work / "setup" / "datasets").rename(data)
    where = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {os.cpu_count()} cores"
    print(f"torch {torch.__version__} on {where}; {args.seconds:g} s of training per model", flush=True)
    load = os.getloadavg()[0]
    if load > 1.0:  # on a GPU too: a step at batch 1 is the CPU launching kernels
        print(f"warning: load average {load:.1f} before the first model; other processes slow every step",
              flush=True)

    sequential = {}
    for spec in (*TOY_MODELS, *ARCHITECTURES):  # one at a time: each gets the device alone
        m = _result(_child(args, spec.name, args.work / "sequential" / spec.name), spec.name)
        sequential[spec.name] = m
        print(f"  {spec.name:20s} batch {m['batch_size']:2d}, {m['iterations']:5d} it: {m['s_per_iteration']*1e3:7.2f} "
              f"ms/it, curve {m['curve_seconds_per_point']:.2f} s/epoch, save "
              f"{m['save_seconds_per_epoch'] or 0:.2f} s/epoch -> full budget {m['full_epochs']} epochs x "
              f"{m['iterations_per_epoch']} it = {_hours(full_seconds(m))}", flush=True)
    concurrent = {}
    if args.concurrent > 1:
        names = [s.name for s in ARCHITECTURES][:args.concurrent]
        procs = {n: _child(args, n, args.work / "concurrent" / n) for n in names}
        concurrent = {n: _result(p, n) for n, p in procs.items()}
        print(f"  {len(names)} architecture models at once on one device:", flush=True)
        for n, m in concurrent.items():
            alone = sequential[n]["s_per_iteration"]
            print(f"    {n:20s} {m['s_per_iteration']*1e3:7.2f} ms/it ({m['s_per_iteration'] / alone:.1f}x its time "
                  "alone)", flush=True)

    toy = [full_seconds(sequential[s.name]) for s in TOY_MODELS]
    arch = [full_seconds(sequential[s.name]) for s in ARCHITECTURES]
    print("\nProjected training time of `reproduce --budget full` (experiments not counted):")
    projection = {}
    for gpus in (int(g) for g in args.gpus.split(",")):
        total = schedule(toy, gpus) + schedule(arch, gpus)
        projection[f"{gpus} GPU"] = total
        print(f"  {gpus} GPU{'s' if gpus > 1 else ''}, --workers {gpus}: {_hours(total)} "
              f"(default preset's models {_hours(schedule(toy, gpus))}, architectures {_hours(schedule(arch, gpus))})")
    if concurrent:
        shared = [full_seconds(sequential[n], concurrent[n]["s_per_iteration"]) for n in concurrent]
        rest = [full_seconds(sequential[s.name]) for s in ARCHITECTURES if s.name not in concurrent]
        total = sum(toy) + max(shared) + sum(rest)
        projection[f"1 GPU, {len(concurrent)} workers"] = total
        print(f"  1 GPU, --workers {len(concurrent)}: at most {_hours(total)} (the longest model at the shared pace)")
    if args.json:
        args.json.write_text(json.dumps({"device": where, "torch": torch.__version__, "seconds": args.seconds,
                                         "sequential": sequential, "concurrent": concurrent,
                                         "projection_seconds": projection}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
