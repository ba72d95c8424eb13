"""What the experiments run on: the gray -> RGB generator (as_colourizer) and gray test figures, read from a
generated dataset (balanced_test_set) or rendered in memory from toy-dataset parameters (FigureSet), plus
the choices of samples and layers that several experiments share."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch
from torch import nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import to_tensor
from cyclegan_workbench.data.shapes import ShapeDatasetParams, ShapeGeometry, render_coverage, render_scene
from cyclegan_workbench.visualization.ablation import ScoringSet
from cyclegan_workbench.visualization.parser import NetworkGraph, parse_generator


def as_colourizer(generator, size: int | None = None) -> NetworkGraph:
    """The parsed gray -> RGB generator; a NetworkGraph is used as it is (its own masks are not touched)."""
    if isinstance(generator, NetworkGraph):
        graph = generator
    elif isinstance(generator, nn.Module):
        if size is None:
            raise UserError("give the input size the generator runs at")
        graph = parse_generator(generator, size, in_channels=1)
    else:
        raise UserError(f"expected a generator (nn.Module or NetworkGraph), got {type(generator).__name__}")
    if graph.input_shape[0] != 1 or graph.output_shape[0] != 3:
        raise UserError(f"the colourization experiments need the gray -> RGB generator; this one maps "
                        f"{graph.input_shape[0]} -> {graph.output_shape[0]} channels (load the other one)")
    return graph


@dataclass
class FigureSet:
    """Gray figures rendered in memory: model inputs plus what the measurements need about each one."""

    images: torch.Tensor  # (N, 1, size, size) in [-1, 1]
    masks: list[np.ndarray]  # bool shape interiors at the canvas size (as data.scoring uses them)
    coverages: list[np.ndarray]  # uint8 coverage at the canvas size
    classes: list[str]
    geometries: list[list[ShapeGeometry]]
    names: list[str]
    canvas: int

    def __len__(self) -> int:
        return len(self.classes)

    def scoring(self, class_colors: dict) -> ScoringSet:
        return ScoringSet(self.images, self.masks, self.classes, dict(class_colors), list(self.names))


def render_figures(params: ShapeDatasetParams, size: int, per_class: int | None = None,
                   split: str = "test") -> FigureSet:
    """The gray images of `split` (per_class of each class; default: the params' count), resized to `size`."""
    count = params.per_class(split) if per_class is None else per_class
    images, masks, coverages, classes, geometries, names = [], [], [], [], [], []
    for shape in params.shapes:
        for index in range(count):
            scene = render_scene(params, shape, index, split)
            coverage = render_coverage(scene.figures, params.size, params.antialias)
            inside = coverage == 255
            gray = scene.gray
            if gray.shape[0] != size:
                interp = cv2.INTER_AREA if gray.shape[0] > size else cv2.INTER_CUBIC
                gray = cv2.resize(gray, (size, size), interpolation=interp)
            images.append(to_tensor(gray))
            masks.append(inside if inside.any() else coverage > 0)
            coverages.append(coverage)
            classes.append(shape)
            geometries.append(scene.figures)
            names.append(f"{shape}_{index:04d}")
    if not images:
        raise UserError("no figures to render: the count per class is 0")
    return FigureSet(torch.stack(images), masks, coverages, classes, geometries, names, params.size)


def balanced_stems(manifest: dict, count: int | None = None, split: str = "test") -> list[str]:
    """File stems of `split`'s scenes, the same number of each class (count // classes), class by class;
    every scene when count is None."""
    gray = manifest["domains"]["gray"]
    by_class: dict[str, list[str]] = {}
    for row in manifest["images"]:
        if row["split"] == split and row["domain"] == gray:
            by_class.setdefault(row["shape"], []).append(row["stem"])
    per_class = None if count is None else max(1, count // max(len(by_class), 1))
    return [stem for stems in by_class.values() for stem in stems[:per_class]]


def balanced_test_set(dataset, size: int, count: int | None = None) -> ScoringSet:
    """The gray test images of a generated dataset (folder or manifest), `count` of them balanced over the
    classes (all when None), resized to `size`, with what the score needs."""
    from cyclegan_workbench.data.shapes import dataset_root, load_manifest

    manifest = load_manifest(dataset)
    stems = balanced_stems(manifest, count)
    if not stems:
        raise UserError(f"the dataset {dataset} has no test images")
    gray = manifest["domains"]["gray"]
    root = dataset_root(dataset)
    files = {r["stem"]: r["file"] for r in manifest["images"] if r["split"] == "test" and r["domain"] == gray}
    return ScoringSet.from_files(dataset, [root / files[s] for s in stems], size)


def shifted_params(params: ShapeDatasetParams) -> ShapeDatasetParams:
    """`params` with the shifted preset's shift (48 px at 256 px), scaled to the canvas and kept inside it."""
    from cyclegan_workbench.data.shapes import PRESETS

    preset = PRESETS["shifted"]()
    room = int(params.size / 2 - 1 - params.scale[1] * params.size / 2)
    return replace(params, shift=max(1, min(round(preset.shift * params.size / 256), room)))


def first_of_each_class(classes: Sequence[str], k: int) -> list[int]:
    """Up to k sample indices, cycling through the classes so that each one is shown."""
    by_class: dict[str, list[int]] = {}
    for i, c in enumerate(classes):
        by_class.setdefault(c, []).append(i)
    picked, depth = [], 0
    while len(picked) < min(k, len(classes)):
        for members in by_class.values():
            if depth < len(members) and len(picked) < k:
                picked.append(members[depth])
        depth += 1
    return picked


def conv_layers(graph: NetworkGraph) -> list:
    """Convolutions of the contracting path, in order (the "first layer" is the first of them)."""
    convs = [l for l in graph.layers if l.kind == "conv" and l.side == "down"]
    return convs or [graph.layers[0]]
