"""The Train tab's live views of a run, computed without Qt in the training thread between two steps:
the translations and reconstructions of a fixed probe pair, and the feature maps of one chosen layer."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cyclegan_workbench.data.images import to_image
from cyclegan_workbench.visualization.parser import parse_generator
from cyclegan_workbench.visualization.probe import Probe
from cyclegan_workbench.visualization.render import tile_grid

VIEW_KEYS = ("real_A", "fake_B", "rec_A", "real_B", "fake_A", "rec_B")


@dataclass
class LiveVisuals:
    step: int
    images: dict[str, np.ndarray]  # VIEW_KEYS -> H x W (gray) or H x W x 3 uint8
    response: np.ndarray | None = None  # the chosen layer's feature-map grid (uint8 RGB)
    response_label: str = ""


class LiveProbe:
    """One image of each domain through both generators, so that successive views are comparable.

    Each generator is parsed once (visualization.parser); its probe notices the optimizer's weight
    updates and recomputes, and serves the response panel's layer from the same forward that gives the
    translation. `probe_A` and `probe_B` are uint8 (C, H, W) tensors, as UnalignedDataset keeps its
    images; `size` is what the generators are parsed at (the images' own when None).
    """

    def __init__(self, G_A: nn.Module, G_B: nn.Module, probe_A: torch.Tensor, probe_B: torch.Tensor,
                 size: int | None = None):
        inputs = {"G_A": probe_A.float().div(127.5).sub(1.0), "G_B": probe_B.float().div(127.5).sub(1.0)}
        nets = {"G_A": G_A, "G_B": G_B}
        self.graphs = {k: parse_generator(nets[k], size or tuple(x.shape[-2:]), x.shape[-3])
                       for k, x in inputs.items()}
        self.probes = {k: Probe(g) for k, g in self.graphs.items()}
        for k, x in inputs.items():
            self.probes[k].set_input(x)

    @classmethod
    def of_trainer(cls, trainer) -> LiveProbe:
        """The first training image of each domain, at the run's training size (models.training.Trainer)."""
        model, dataset = trainer.model, trainer.dataset
        return cls(model.G_A, model.G_B, dataset.A.images[0], dataset.B.images[0], trainer.cfg.training.crop_size)

    def layer_labels(self) -> dict[str, list[str]]:
        """Readable labels of each generator's layers, in the order `visuals` numbers them."""
        return {k: [f"{l.index}  {l.label}" for l in g.layers] for k, g in self.graphs.items()}

    def visuals(self, step: int, which: str, layer: int) -> LiveVisuals:
        """The six views, and the response grid of `layer` (clamped to the layers there are) of `which`."""
        A, B = self.probes["G_A"], self.probes["G_B"]
        fake_B, fake_A = A.output(), B.output()
        tensors = {"real_A": A.input, "fake_B": fake_B, "rec_A": self.graphs["G_B"].run(fake_B),
                   "real_B": B.input, "fake_A": fake_A, "rec_B": self.graphs["G_A"].run(fake_A)}
        images = {k: np.ascontiguousarray(to_image(v[0])) for k, v in tensors.items()}
        graph = self.graphs[which]
        layer = min(max(layer, 0), len(graph.layers) - 1)
        grid = tile_grid(self.probes[which].response(layer), colormap="viridis", normalize="map")
        return LiveVisuals(step, images, grid.image, f"{which} layer {graph.layers[layer].label}")
