"""Latency of a mask edit: from a single-filter gain change to the updated output plus the edited layer's
rendered grid, at every layer, CPU, batch 1; and the time to render a 64-map 64x64 grid.

Targets (issue 4): unet_128 (ngf 64, 128 px): mean over layers <= 35 ms, worst layer <= 1.1x one full
forward; the default preset: p95 <= 10 ms; a 64-map 64x64 grid <= 5 ms.

    python benchmarks/mask_latency.py [--threads N] [--rounds R]

Each layer is edited `rounds` times (another filter each time, gains 0 / 0.5 / 2 in turn) and its median
is kept; the edit is undone, untimed, before the next layer. One thread by default: on a shared
machine a second thread waits on other jobs at every barrier and the figures stop meaning anything;
pass --threads 0 for all cores.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch  # noqa: E402

from cyclegan_workbench.models.config import DEFAULT_PRESET, preset_config  # noqa: E402
from cyclegan_workbench.models.networks import build_generator  # noqa: E402
from cyclegan_workbench.models.runtime import configure_threads, tune_allocator  # noqa: E402
from cyclegan_workbench.visualization.parser import parse_generator  # noqa: E402
from cyclegan_workbench.visualization.probe import Probe  # noqa: E402
from cyclegan_workbench.visualization.render import tile_grid  # noqa: E402

GAINS = (0.0, 0.5, 2.0)


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def build(preset: str):
    cfg = preset_config(preset)
    size = cfg.training.crop_size
    torch.manual_seed(0)
    net = build_generator(cfg.network, 3, 3).eval()
    x = torch.rand(1, 3, size, size) * 2 - 1
    return net, x, size


def edit_latencies(net, x, size, rounds: int):
    """Per layer, the median ms of edit -> output -> grid; every single measurement; and the median ms
    of full forwards (the module's own, the parsed graph's) timed between the rounds, so that both
    figures see the same machine load."""
    graph = parse_generator(net, size)
    probe = Probe(graph)
    probe.set_input(x)
    probe.output()
    per_layer, samples, module_ms, graph_ms = [], [], [], []
    for r in range(-1, rounds):  # round -1 warms every kernel and shape up, untimed
        for _ in range(2):
            module_ms.append(median_ms(lambda: _plain(net, x), 1))
            graph_ms.append(median_ms(lambda: graph.run(x), 1))
        for layer in graph.layers:
            f = (layer.index * 7 + max(r, 0)) % layer.channels
            start = time.perf_counter()
            probe.masks.set_filter(layer.index, f, GAINS[max(r, 0) % len(GAINS)])
            probe.output()
            probe.grid(layer.index, colormap="jet")
            elapsed = (time.perf_counter() - start) * 1e3
            probe.masks.reset_layer(layer.index)
            probe.update()
            if r >= 0:
                samples.append(elapsed)
                if r == 0:
                    per_layer.append([elapsed])
                else:
                    per_layer[layer.index].append(elapsed)
    full = (statistics.median(module_ms[2:]), statistics.median(graph_ms[2:]))
    return graph, [statistics.median(t) for t in per_layer], samples, full


def _plain(net, x):
    with torch.no_grad():
        net(x)


def line(name: str, value: float, target: float, unit: str = "ms") -> str:
    ok = "ok" if value <= target else "MISSED"
    return f"  {name:<46} {value:8.2f} {unit:<3} target <= {target:6.2f} {unit:<3} ratio {value / target:5.2f}  {ok}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0 = all cores; default 1)")
    parser.add_argument("--rounds", type=int, default=9, help="edits per layer (default 9)")
    args = parser.parse_args(argv)
    tuned = tune_allocator()
    threads = configure_threads(args.threads)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__}, {threads} thread(s), {os.cpu_count()} cores, load {load:.1f}, "
          f"allocator tuned: {tuned}")

    net, x, size = build("unet_128")
    graph, per_layer, _, (module_ms, graph_ms) = edit_latencies(net, x, size, args.rounds)
    worst = max(range(len(per_layer)), key=per_layer.__getitem__)
    print(f"unet_128 (ngf 64, {size} px, {len(graph.layers)} layers): full forward {module_ms:.1f} ms (module), "
          f"{graph_ms:.1f} ms (parsed graph, prepacked kernels)")
    print(line("mean over layers", statistics.mean(per_layer), 35.0))
    print(line(f"worst layer ({worst}: {graph.layers[worst].label})", per_layer[worst], 1.1 * module_ms))
    print(f"  {'':<46} worst / module forward {per_layer[worst] / module_ms:.2f}x, "
          f"worst / graph forward {per_layer[worst] / graph_ms:.2f}x (target 1.1x)")

    net, x, size = build(DEFAULT_PRESET)
    graph, per_layer, samples, _ = edit_latencies(net, x, size, max(args.rounds, 10))
    p95 = statistics.quantiles(samples, n=20)[-1]
    print(f"{DEFAULT_PRESET} (default preset, {size} px, {len(graph.layers)} layers): {len(samples)} edits, "
          f"median {statistics.median(samples):.2f} ms")
    print(line("p95 over edits", p95, 10.0))

    maps = torch.randn(64, 64, 64)
    tile_grid(maps, colormap="jet")
    print("render")
    render_ms = median_ms(lambda: tile_grid(maps, colormap="jet"), 50)
    print(line("64 maps of 64x64, jet, per-map normalisation", render_ms, 5.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
