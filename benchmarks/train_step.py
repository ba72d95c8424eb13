"""Training-step speed on CPU: ours against a reference-style step, for unet_128 and the default preset.

    python benchmarks/train_step.py [--iters N]

The unet_128 case is the issue's: ngf 64, 128 px, batch 1, 3->1 channels, no identity loss. Target: at
least 1.5x faster than the reference implementation, which takes about 1.3 s per iteration for it on a
2-core machine, so <= 0.87 s. The "reference-style" row runs the same networks and losses the way the
reference schedules them (four separate generator calls, separate real/fake discriminator calls, per-
parameter Adam, the default allocator), each case in a fresh process so allocator settings cannot leak.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

REFERENCE_SECONDS = 1.3  # reference implementation, unet_128 case, 2-core CPU (from the issue)
TARGET_SPEEDUP = 1.5


def _config(case: str):
    from cyclegan_workbench.models.config import DEFAULT_PRESET, preset_config

    cfg = preset_config("unet_128" if case == "unet_128" else DEFAULT_PRESET)
    cfg.network.input_nc, cfg.network.output_nc = 3, 1
    if case == "unet_128":
        cfg.training.lambda_identity = 0.0
        cfg.training.batch_size = 1
    return cfg


def measure(case: str, style: str, iters: int) -> float:
    import torch

    from cyclegan_workbench.models.cyclegan import CycleGAN
    from cyclegan_workbench.models.runtime import tune_allocator

    if style == "ours":
        tune_allocator()
    cfg = _config(case)
    torch.manual_seed(0)
    model = CycleGAN(cfg)
    if style == "reference":
        model._batch_calls = False
        t = cfg.training
        model.optimizer_G = torch.optim.Adam(list(model.G_A.parameters()) + list(model.G_B.parameters()),
                                             lr=t.lr, betas=(t.beta1, 0.999), foreach=False)
        model.optimizer_D = torch.optim.Adam(list(model.D_A.parameters()) + list(model.D_B.parameters()),
                                             lr=t.lr, betas=(t.beta1, 0.999), foreach=False)
    b, s = cfg.training.batch_size, cfg.training.crop_size
    real_A, real_B = torch.rand(b, 3, s, s) * 2 - 1, torch.rand(b, 1, s, s) * 2 - 1
    for _ in range(3):  # warm-up: allocator pools, kernels, optimizer state
        model.optimize(real_A, real_B)
    start = time.perf_counter()
    for _ in range(iters):
        model.optimize(real_A, real_B)
    return (time.perf_counter() - start) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--child", nargs=2, metavar=("CASE", "STYLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1], args.iters)))
        return

    import torch

    from cyclegan_workbench.models.config import DEFAULT_PRESET

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    results = {}
    for case in ("unet_128", "default"):
        for style in ("reference", "ours"):
            out = subprocess.run([sys.executable, __file__, "--iters", str(args.iters), "--child", case, style],
                                 check=True, capture_output=True, text=True).stdout
            results[case, style] = float(out.strip().splitlines()[-1])
    ours, ref_style = results["unet_128", "ours"], results["unet_128", "reference"]
    target = REFERENCE_SECONDS / TARGET_SPEEDUP
    print("unet_128, 128 px, batch 1, 3->1, identity 0:")
    print(f"  reference-style step here: {ref_style:.3f} s/iter ({1 / ref_style:.2f} it/s)")
    print(f"  ours:                      {ours:.3f} s/iter ({1 / ours:.2f} it/s)")
    print(f"  speed-up vs reference-style here: {ref_style / ours:.2f}x")
    print(f"  vs the reference's {REFERENCE_SECONDS} s: {REFERENCE_SECONDS / ours:.2f}x "
          f"(target >= {TARGET_SPEEDUP}x, i.e. <= {target:.3f} s/iter: {'met' if ours <= target else 'NOT met'})")
    d_ours, d_ref = results["default", "ours"], results["default", "reference"]
    print(f"default preset ({DEFAULT_PRESET}): ours {d_ours * 1000:.1f} ms/iter ({1 / d_ours:.1f} it/s), "
          f"reference-style {d_ref * 1000:.1f} ms/iter, {d_ref / d_ours:.2f}x")


if __name__ == "__main__":
    main()
