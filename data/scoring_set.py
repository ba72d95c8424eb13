"""The scoring set: gray inputs with what the colourization score needs about each, the one container every
scorer reads (the Trainer's probe, `evaluate`, `score`, the ablation scan, the experiments).

Built from a generated dataset's manifest (`from_dataset`, `from_files`), from figures drawn in memory from
dataset parameters (`from_params`), or, for a dataset without a manifest, from its class folders or file-name
prefixes (data.labels.probe_set). Every mask follows data.interior's rule, at the size of the images.
Loading this module loads no torch: `score` of saved translations (data.scoring) needs none.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import read_image, resize, to_tensor
from cyclegan_workbench.data.interior import figure_interior
from cyclegan_workbench.data.shapes import (
    ShapeDatasetParams,
    ShapeGeometry,
    dataset_root,
    load_manifest,
    render_coverage,
    render_scene,
)

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


@dataclass
class ScoringSet:
    """N gray images, the interior of their figures, their true classes and the class colours."""

    images: torch.Tensor | None  # N x 1 x size x size float in [-1, 1]: the generator's inputs (None: not read)
    masks: list[np.ndarray]  # bool, per image: the interior of its figures (data.interior), at the image size
    classes: list[str]  # true class per image
    class_colors: dict  # class -> (r, g, b)
    names: list[str] = field(default_factory=list)  # per image: file stem, relative path or figure name
    figures: list[list[ShapeGeometry]] | None = None  # per image: its figures, where the geometry is known
    params: ShapeDatasetParams | None = None  # the parameters the figures were drawn with, where known
    gray_level: int | None = None  # the figures' gray level: the dataset's, or measured in the images
    gray_domain: str | None = None  # "A" or "B": the dataset domain the images come from
    note: str = ""  # what the user should know about a score on this set (images it leaves out)

    def __len__(self) -> int:
        return len(self.classes)

    @cached_property
    def areas(self) -> list[int]:
        """Pixels inside each image's figure interior (its mask): what scores by figure area sort on."""
        return [int(mask.sum()) for mask in self.masks]

    def coverage(self, i: int) -> np.ndarray:
        """uint8 coverage of image i's figures on the canvas (255 inside, partial on anti-aliased edges)."""
        if self.figures is None or self.params is None:
            raise ValueError("this scoring set does not know its figures' geometry")
        return render_coverage(self.figures[i], self.params.size, self.params.antialias)

    @classmethod
    def from_dataset(cls, dataset, size: int | None, split: str = "test", limit: int | None = None,
                     stems: Sequence[str] | None = None, inputs: bool = True) -> ScoringSet:
        """The gray `split` images of a generated dataset (folder or manifest.json) at `size` (None: the canvas).

        `stems` picks images by file stem, in that order; otherwise every gray image in the split's folder
        that the manifest lists, in file-name order, the first `limit` when given. Unreadable files are
        skipped and noted. Without `inputs`, `images` stays None: enough to score saved translations.
        """
        manifest = load_manifest(dataset)
        params = ShapeDatasetParams.from_dict(manifest["params"])
        gray = params.gray_domain
        rows = {Path(r["file"]).stem: r for r in manifest["images"]
                if r.get("domain") == gray and r.get("split") == split}
        root = dataset_root(dataset)
        if stems is not None:
            missing = [s for s in stems if s not in rows]
            if missing:
                raise UserError(f"the dataset {dataset} has no gray {split} image {missing[0]}")
            found = [(root / rows[s]["file"], rows[s]) for s in stems]
        else:
            from cyclegan_workbench.data.unaligned import domain_folder, list_images  # loads torch

            found = [(p, rows[p.stem]) for p in list_images(domain_folder(root, split, gray)) if p.stem in rows]
        if not found:
            raise UserError(f"the dataset {dataset} has no gray {split} images")
        return _from_rows(manifest, found, size, limit, skip_unreadable=True, inputs=inputs)

    @classmethod
    def from_files(cls, manifest, paths: Sequence, size: int) -> ScoringSet:
        """The gray images at `paths`, looked up in the manifest (a dataset folder or its manifest.json)."""
        data = load_manifest(manifest)
        by_file = {r["file"]: r for r in data["images"]}
        # Both domains draw the same scenes under the same stems: a file's folder tells them apart;
        # a copy outside the dataset is matched by stem among the gray images.
        gray_by_stem = {r["stem"]: r for r in data["images"] if r.get("kind") == "gray"}
        found = []
        for path in map(Path, paths):
            row = by_file.get(f"{path.parent.name}/{path.name}") or gray_by_stem.get(path.stem)
            if row is None or row.get("kind") != "gray":
                raise UserError(f"{path} is not a gray image of the dataset whose manifest is {manifest}; "
                                "the colourization accuracy needs gray inputs and their true classes")
            found.append((path, row))
        return _from_rows(data, found, size)

    @classmethod
    def from_params(cls, params: ShapeDatasetParams, size: int, class_colors: dict | None = None,
                    per_class: int | None = None, split: str = "test") -> ScoringSet:
        """The gray scenes of `split` drawn in memory (per_class of each class; default: the params' count),
        at `size`, scored against `class_colors` (default: the params' own)."""
        count = params.per_class(split) if per_class is None else per_class
        images, masks, classes, figures, names = [], [], [], [], []
        for shape in params.shapes:
            for index in range(count):
                scene = render_scene(params, shape, index, split)
                images.append(to_tensor(resize(scene.gray, size)))
                masks.append(figure_interior(size, figures=scene.figures, canvas=params.size,
                                             antialias=params.antialias))
                classes.append(shape)
                figures.append(scene.figures)
                names.append(f"{shape}_{index:04d}")
        if not images:
            raise UserError("no figures to render: the count per class is 0")
        colours = {k: tuple(int(c) for c in v) for k, v in (class_colors or params.class_colors()).items()}
        return cls(_stack(images), masks, classes, colours, names, figures, params, params.gray_level)


def _from_rows(manifest: dict, found: list[tuple[Path, dict]], size: int | None, limit: int | None = None,
               skip_unreadable: bool = False, inputs: bool = True) -> ScoringSet:
    params = ShapeDatasetParams.from_dict(manifest["params"])
    size = size or params.size
    images, masks, classes, names, figures, unreadable = [], [], [], [], [], []
    for path, row in found:
        if limit and len(images) == limit:
            break
        try:
            gray = read_image(path, 1)
        except UserError as exc:
            if not skip_unreadable:
                raise
            unreadable.append(str(exc))
            continue
        drawn = [ShapeGeometry.from_dict(g) for g in row.get("shapes") or []]
        masks.append(figure_interior(size, figures=drawn, canvas=params.size, antialias=params.antialias,
                                     gray=gray, gray_level=row.get("gray_level", params.gray_level)))
        images.append(to_tensor(resize(gray, size)) if inputs else None)
        classes.append(row["shape"])
        names.append(row["stem"])
        figures.append(drawn)
    for message in unreadable:
        log.warning("skipped: %s", message)
    if not images:
        raise UserError(f"none of the {len(found)} gray images could be read")
    note = f"{len(unreadable)} unreadable gray images are left out" if unreadable else ""
    colours = {k: tuple(v) for k, v in manifest["class_colors"].items()}
    return ScoringSet(_stack(images) if inputs else None, masks, classes, colours, names,
                      figures if all(figures) else None, params, params.gray_level, params.gray_domain, note)


def _stack(images: list) -> torch.Tensor:
    import torch

    return torch.stack(images)


__all__ = ["ScoringSet"]
