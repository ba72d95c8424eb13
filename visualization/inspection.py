"""A model opened for inspection (the Test tab's model, without Qt): its generators, parsed, with one MaskSet
and one incremental Probe each, the current input, and the images and numbers of the current edit.

All computing is done by the other modules of visualization/ (parser, masks, probe, render); InspectedModel
keeps the pieces together so that the tab that shows them stays a thin view.
"""
from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import as_channels
from cyclegan_workbench.data.unaligned import domain_folder, list_images
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.config import check_input_size
from cyclegan_workbench.resources import RESOURCES_DIR
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.parser import parse_generator
from cyclegan_workbench.visualization.probe import Probe
from cyclegan_workbench.visualization.render import image_rgb, render_map, tile_grid

GENERATORS = {"G_A": ("A", "B"), "G_B": ("B", "A")}  # input domain, output domain
# The images installed with the package (app.locations.SAMPLES_DIR, named here without importing app/).
BUNDLED_SAMPLES = RESOURCES_DIR / "samples"


@dataclass
class EditView:
    """The effect of the current masks on the current input (uint8 RGB images)."""

    input: np.ndarray
    before: np.ndarray
    after: np.ndarray
    difference: np.ndarray  # mean |after - before| over channels, colour-mapped to [0, max_change]
    reconstruction: np.ndarray | None  # the edited output through the other generator
    output_change: float
    max_change: float
    cycle_loss: float | None
    unedited_cycle_loss: float | None

    def numbers(self) -> str:
        text = f"Output change: mean {self.output_change:.4f}, max {self.max_change:.3f}"
        if self.cycle_loss is not None:
            delta = self.cycle_loss - self.unedited_cycle_loss
            text += f"\nCycle loss (L1): {self.unedited_cycle_loss:.4f} → {self.cycle_loss:.4f} ({delta:+.4f})"
        return text


def _locked(method):
    """Run a method of InspectedModel under its lock (the GUI thread and a view worker share the probes)."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


def _sibling_pth(path: Path, which: str) -> Path:
    """latest_net_G_A.pth <-> latest_net_G_B.pth"""
    other = "G_B" if which == "G_A" else "G_A"
    return path.with_name(re.sub(r"G_[AB]", other, path.name))


class InspectedModel:
    """Open with `InspectedModel.open(run_dir_or_pth)`; UserError when it cannot be used."""

    def __init__(self, source: Path, nets: dict, size: int, dataroot: str, description: str):
        self.source, self.size, self.dataroot, self.description = source, size, dataroot, description
        # Held while inputs, masks or probes change or compute: sketch views are computed in a worker thread.
        self.lock = threading.RLock()
        self.nets = nets
        self.graphs = {k: parse_generator(net, size) for k, net in nets.items()}
        self.masks = {k: MaskSet(g) for k, g in self.graphs.items()}
        self.probes = {k: Probe(g, self.masks[k]) for k, g in self.graphs.items()}
        self.inputs: dict[str, np.ndarray] = {}

    @classmethod
    def open(cls, source: str | Path, size: int | None = None) -> InspectedModel:
        """A run folder (ours or the reference's) or a generator .pth; `size` overrides the trained size."""
        source = Path(source)
        if source.is_dir() and not (source / checkpoints.CONFIG_FILE).is_file():
            pths = [source / f"latest_net_{k}.pth" for k in GENERATORS if (source / f"latest_net_{k}.pth").is_file()]
            if not pths:
                raise UserError(f"{source} is neither a run folder (no {checkpoints.CONFIG_FILE}) nor a reference "
                                "run folder (no latest_net_G_A.pth / latest_net_G_B.pth)")
            return cls._open_pth(pths[0], size, label=source.name)
        if source.is_dir():
            return cls._open_run(source, size)
        if not source.is_file():
            raise UserError(f"no run folder or checkpoint at {source}")
        return cls._open_pth(source, size, label=source.name)

    @classmethod
    def _open_run(cls, source: Path, size: int | None) -> InspectedModel:
        """A run folder of ours: config.json says the architecture, the dataset and the trained size."""
        cfg = checkpoints.load_config(source)
        nets = {k: checkpoints.load_generator(source, k)[0] for k in GENERATORS
                if (source / f"latest_net_{k}.pth").is_file()}
        if not nets:
            raise UserError(f"{source} holds no generator weights (latest_net_G_A.pth / latest_net_G_B.pth)")
        size = _checked_size(cfg.network, size or cfg.training.crop_size)
        return cls(source, nets, size, cfg.dataroot, f"{source.name}: {_architecture(cfg.network)}, {size} px")

    @classmethod
    def _open_pth(cls, source: Path, size: int | None, label: str) -> InspectedModel:
        """A generator .pth and its sibling (G_A <-> G_B) if present, at the size it was trained at."""
        which = "G_B" if "G_B" in source.name else "G_A"
        net, net_cfg = checkpoints.load_generator(source)
        nets = {which: net}
        sibling = _sibling_pth(source, which)
        if sibling != source and sibling.is_file():
            nets[next(k for k in GENERATORS if k != which)] = checkpoints.load_generator(sibling)[0]
        dataroot = ""
        if (source.parent / checkpoints.CONFIG_FILE).is_file():
            cfg = checkpoints.load_config(source.parent)
            trained, dataroot = cfg.training.crop_size, cfg.dataroot
        else:
            trained = checkpoints.trained_size(source.parent, net_cfg)
        size = _checked_size(net_cfg, size or trained)
        return cls(source, nets, size, dataroot, f"{label}: {_architecture(net_cfg)}, {size} px")

    @property
    def size_step(self) -> int:
        """Input sizes must be multiples of this (a U-Net halves the image once per downsampling)."""
        net = next(iter(self.nets.values()))
        cfg = checkpoints.network_config_from_weights(net.state_dict())
        return 2 ** cfg.num_downs if cfg.generator == "unet" else 4

    def preferred_generator(self) -> str:
        """The colourizing direction (gray -> RGB) when there is one: the toy task's interesting side."""
        for which, graph in self.graphs.items():
            if graph.input_shape[0] == 1 and graph.output_shape[0] == 3:
                return which
        return "G_A"

    # --- per generator ---------------------------------------------------------------------------
    def other(self, which: str) -> str | None:
        other = "G_B" if which == "G_A" else "G_A"
        return other if other in self.graphs else None

    def input_sources(self, which: str, samples: Path = BUNDLED_SAMPLES) -> tuple[list[Path], str]:
        """Images of the generator's input domain and where they are from, in words: the run's test split
        (else its train split), else `samples`/<domain> (else every image under `samples`)."""
        domain = GENERATORS[which][0]
        if self.dataroot:
            for split in ("test", "train"):
                try:
                    folder = domain_folder(self.dataroot, split, domain)
                except UserError:
                    continue
                files = list_images(folder)
                if files:
                    return files, f"{folder}"
        samples = Path(samples)
        folder = samples / domain if (samples / domain).is_dir() else samples
        files = list_images(folder) if folder.is_dir() else []
        return files, "bundled samples" if samples == BUNDLED_SAMPLES else f"{folder}"

    @_locked
    def set_input(self, which: str, image: np.ndarray) -> None:
        """Any uint8 image: converted to the generator's channels and resized to its input size."""
        c, h, w = self.graphs[which].input_shape
        image = as_channels(np.asarray(image), c)
        if image.shape[:2] != (h, w):
            interp = cv2.INTER_AREA if image.shape[0] > h else cv2.INTER_NEAREST
            image = cv2.resize(image, (w, h), interpolation=interp)
        self.inputs[which] = np.ascontiguousarray(image)
        self.probes[which].set_input(self.inputs[which])

    def has_input(self, which: str) -> bool:
        return which in self.inputs

    def compute(self, which: str, layer: int, colormap: str, normalize: str, sort_by_energy: bool,
                image: np.ndarray | None = None):
        """(EditView, grid) of the current edit, after setting `image` as the input when given; any thread."""
        with self.lock:
            if image is not None:
                self.set_input(which, image)
            return self.view(which), self.grid(which, layer, colormap, normalize, sort_by_energy)

    @_locked
    def view(self, which: str) -> EditView:
        probe = self.probes[which]
        other = self.other(which)
        if other is not None:
            cv = probe.cycle(self.graphs[other])
            after, before, recon = cv.output, cv.unedited_output, image_rgb(cv.reconstruction)
            cycle, unedited_cycle = cv.cycle_loss, cv.unedited_cycle_loss
        else:
            after, before, recon, cycle, unedited_cycle = probe.output(), probe.unedited_output(), None, None, None
        change = (after - before).abs().mean(dim=1)  # (1, H, W)
        top = float(change.max())
        difference = render_map(change, 0, colormap="magma", value_range=(0.0, max(top, 1e-6)))
        return EditView(image_rgb(probe.input), image_rgb(before), image_rgb(after), difference, recon,
                        float(change.mean()), top, cycle, unedited_cycle)

    @_locked
    def grid(self, which: str, layer: int, colormap: str = "viridis", normalize: str = "map",
             sort_by_energy: bool = False):
        response = self.probes[which].response(layer)
        return tile_grid(response, colormap=colormap, normalize=normalize, sort_by_energy=sort_by_energy,
                         scale=_tile_scale(response.shape[-1]))

    @_locked
    def feature_map(self, which: str, layer: int, channel: int, colormap: str = "viridis") -> np.ndarray:
        return render_map(self.probes[which].response(layer), channel, colormap=colormap)

    @_locked
    def value_range(self, which: str, layer: int, channel: int | None = None) -> tuple[float, float]:
        """Min and max of a layer's response (of one map when `channel` is given)."""
        return self.probes[which].value_range(layer, channel)

    @_locked
    def activation(self, which: str, layer: int, channel: int, row: int, col: int) -> float:
        return self.probes[which].value(layer, channel, row, col)

    @_locked
    def marks(self, which: str, layer: int) -> dict[int, float | None]:
        """Per edited filter of a layer: its gain, or None when the gain varies over the map (a region)."""
        gain = self.masks[which].tensor(layer)
        if gain is None:
            return {}
        flat = gain.flatten(1)
        lo, hi = flat.min(dim=1).values, flat.max(dim=1).values
        out = {}
        for c in range(flat.shape[0]):
            if float(lo[c]) != float(hi[c]):
                out[c] = None
            elif float(lo[c]) != 1.0:
                out[c] = float(lo[c])
        return out


def _architecture(n) -> str:
    arch = f"U-Net, {n.num_downs} downsamplings" if n.generator == "unet" else f"ResNet, {n.n_blocks} blocks"
    return f"{arch}, ngf {n.ngf}"


def _checked_size(n, size: int) -> int:
    check_input_size(n, size)
    return size


def _tile_scale(width: int) -> int:
    """Small maps are magnified in whole pixels so the grid stays crisp (the viewer zooms with nearest)."""
    return max(1, 32 // max(width, 1))
