"""What the experiments run on: the gray -> RGB generator (as_colourizer) and gray test figures as a ScoringSet
(data.scoring_set), read from a generated dataset (balanced_test_set) or drawn in memory from toy-dataset
parameters (ScoringSet.from_params), plus the choices of samples and layers that several experiments share."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from torch import nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import ShapeDatasetParams, load_manifest
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
    stems = balanced_stems(load_manifest(dataset), count)
    if not stems:
        raise UserError(f"the dataset {dataset} has no test images")
    return ScoringSet.from_dataset(dataset, size, stems=stems)


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
