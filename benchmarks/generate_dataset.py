"""Speed of the toy shape generator: the default dataset end to end, and one scene for the live preview.

Target (issue 2): the default dataset, 560 images at 256 px with its manifest, in at most 2 s on 2 cores.
Run from the repository root: `python benchmarks/generate_dataset.py [--repeats N]`.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from cyclegan_workbench.data.shapes import PRESETS, generate_dataset, render_scene  # noqa: E402

TARGET_S = 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of the full dataset; the best counts")
    args = parser.parse_args()

    params = PRESETS["default"]()
    n = params.image_count()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            start = time.perf_counter()
            generate_dataset(params, Path(tmp) / f"run{i}")
            times.append(time.perf_counter() - start)
    best = min(times)
    verdict = f"{TARGET_S / best:.2f}x better" if best <= TARGET_S else f"{best / TARGET_S:.2f}x too slow"
    print(f"cpu cores: {os.cpu_count()}")
    print(f"default dataset: {best:.2f} s for {n} images at {params.size} px + manifest, {n / best:.0f} images/s "
          f"(best of {args.repeats}; target {TARGET_S:.2f} s, {verdict})")

    start = time.perf_counter()
    scenes = 200
    for i in range(scenes):
        render_scene(params, params.shapes[i % len(params.shapes)], i)
    per_scene_ms = (time.perf_counter() - start) / scenes * 1000
    print(f"render_scene (live preview): {per_scene_ms:.2f} ms per scene at {params.size} px, both domains")


if __name__ == "__main__":
    main()
