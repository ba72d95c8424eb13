"""Running a parsed generator over a set of gray images in batches (with progress and cancel): the loop every
experiment on a loaded generator repeats. Its outputs are scored by data.scoring.score_outputs."""
from __future__ import annotations

import numpy as np
import torch

from cyclegan_workbench.data.images import to_image
from cyclegan_workbench.visualization.experiments.result import ProgressTracker
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.parser import NetworkGraph

BATCH = 16


def translate(graph: NetworkGraph, images: torch.Tensor, masks: MaskSet | None, tracker: ProgressTracker,
              message: str) -> torch.Tensor:
    """The generator's outputs for `images` (N, 1, H, W) with `masks` applied (None: intact), on the CPU."""
    outs = []
    for start in range(0, images.shape[0], BATCH):
        tracker.check()
        outs.append(graph.run(images[start:start + BATCH], masks).float().cpu())
        tracker.advance(message)
    return torch.cat(outs)


def batch_count(n: int) -> int:
    """How many progress units translate() spends on n images."""
    return -(-n // BATCH)


def to_u8(outputs: torch.Tensor) -> list[np.ndarray]:
    return [to_image(o) for o in outputs]
