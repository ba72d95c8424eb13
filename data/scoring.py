"""The colourization score: did a gray -> RGB translation give each figure the colour of its class?

`score_outputs` is the one scoring function: for every image of a ScoringSet (data.scoring_set) and its
translation, the mean colour inside the figure's interior (data.interior) is assigned to the nearest class
colour; accuracy, per-class accuracy, a confusion table and each class's accuracy by figure area follow. The
Trainer, `evaluate`, the ablation scan and the experiments score through it; `score_directory` scores
translations saved as files.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import read_image, to_image
from cyclegan_workbench.data.interior import interior_at
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import ShapeDatasetParams, load_manifest

NO_SHAPE = "(no shape)"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@dataclass
class ScoreResult:
    """Accuracy over n images; per_class and confusion are keyed by true class (then predicted)."""

    accuracy: float
    per_class: dict[str, float]
    confusion: dict[str, dict[str, int]]
    n: int
    predictions: list[dict]  # {"name", "true", "predicted", "mean_rgb"} per image
    classes: list[str] = field(default_factory=list)  # column order of the confusion table
    missing: list[str] = field(default_factory=list)  # stems with no translation (score_directory)
    # Per true class, its images in thirds by figure area, smallest first: (smallest area, largest area, correct,
    # images) each, areas in pixels of the figures' interior. A generator that colours by size rather than by
    # shape misses one end of a class (toy datasets overlap in area across classes).
    by_area: dict[str, list[tuple[int, int, int, int]]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "per_class": dict(self.per_class),
            "confusion": {t: dict(row) for t, row in self.confusion.items()},
            "classes": list(self.classes),
            "predictions": [dict(p) for p in self.predictions],
            "missing": list(self.missing),
            "by_area": {t: [list(part) for part in parts] for t, parts in self.by_area.items()},
        }

    def format_table(self, headline: bool = True) -> str:
        """The printed score; `headline` False leaves out the first line (the overall accuracy)."""
        correct = sum(self.confusion.get(c, {}).get(c, 0) for c in self.confusion)
        lines = [f"accuracy {self.accuracy:.3f} ({correct}/{self.n})"] if headline else []
        lines.append("per class:")
        width = max([len(c) for c in [*self.classes, *self.confusion]] + [10])
        for true, acc in self.per_class.items():
            row = self.confusion[true]
            lines.append(f"  {true:<{width}} {acc:.3f} ({row.get(true, 0)}/{sum(row.values())})")
        columns = list(self.classes)
        if any(NO_SHAPE in row for row in self.confusion.values()):
            columns.append(NO_SHAPE)
        col = max([len(c) for c in columns] + [5])
        lines.append("confusion (rows: true class, columns: predicted colour):")
        lines.append("  " + " " * width + "".join(f" {c:>{col}}" for c in columns))
        for true, row in self.confusion.items():
            lines.append(f"  {true:<{width}}" + "".join(f" {row.get(c, 0):>{col}}" for c in columns))
        if self.by_area:
            lines.append("by figure area (each class's images in thirds, smallest first; area in pixels):")
            for true, parts in self.by_area.items():
                lines.append(f"  {true:<{width}}" + "".join(
                    f"  {lo}-{hi} px {correct}/{n}" for lo, hi, correct, n in parts))
        if self.missing:
            shown = ", ".join(self.missing[:5]) + (", ..." if len(self.missing) > 5 else "")
            lines.append(f"missing translations: {len(self.missing)} ({shown})")
        return "\n".join(lines)


def classify_colour(mean_rgb, class_colors: dict[str, Sequence[int]]) -> str:
    """The class whose colour is nearest (Euclidean, RGB) to `mean_rgb`; ties go to the first class."""
    if not class_colors:
        raise ValueError("no class colours to compare with")
    names = list(class_colors)
    table = np.asarray([class_colors[n] for n in names], np.float64)
    dist = ((table - np.asarray(mean_rgb, np.float64)[None, :3]) ** 2).sum(axis=1)
    return names[int(np.argmin(dist))]


def score_outputs(outputs, scoring: ScoringSet, missing: Sequence[str] = ()) -> ScoreResult:
    """Score a generator's RGB outputs, one per image of `scoring`: the mean colour inside each figure's
    interior against the class colours.

    `outputs` is an (N, 3, H, W) tensor in [-1, 1] or a list of H x W x 3 uint8 images, any size: the masks
    are brought to each output's size by data.interior's rule. `missing` is passed through to the result.
    """
    if len(outputs) != len(scoring.classes):
        raise ValueError(f"{len(outputs)} outputs for {len(scoring.classes)} scored images")
    if not len(outputs):
        raise UserError("nothing to score: no translated images")
    colors = {k: tuple(int(c) for c in v) for k, v in scoring.class_colors.items()}
    names = scoring.names or [str(i) for i in range(len(outputs))]
    predictions = []
    for out, mask, true, name in zip(outputs, scoring.masks, scoring.classes, names):
        out = _as_rgb(out if isinstance(out, np.ndarray) else to_image(out), name)
        mask = interior_at(mask, *out.shape[:2])
        if mask.any():
            mean = out[mask].mean(axis=0)
            predicted = classify_colour(mean, colors)
            mean_rgb = [round(float(v), 2) for v in mean]
        else:
            predicted, mean_rgb = NO_SHAPE, None
        predictions.append({"name": name, "true": true, "predicted": predicted, "mean_rgb": mean_rgb})
    order = list(colors) + sorted({p["true"] for p in predictions} - set(colors))
    confusion = {t: {} for t in order if any(p["true"] == t for p in predictions)}
    for p in predictions:
        row = confusion[p["true"]]
        row[p["predicted"]] = row.get(p["predicted"], 0) + 1
    per_class = {t: row.get(t, 0) / sum(row.values()) for t, row in confusion.items()}
    correct = sum(p["true"] == p["predicted"] for p in predictions)
    return ScoreResult(
        accuracy=correct / len(predictions),
        per_class=per_class,
        confusion=confusion,
        n=len(predictions),
        predictions=predictions,
        classes=list(colors),
        missing=list(missing),
        by_area=_by_area(predictions, scoring.areas, list(confusion)),
    )


def _by_area(predictions: list[dict], areas: list[int], classes: list[str]) -> dict[str, list[tuple]]:
    """ScoreResult.by_area: for every class with at least 3 images."""
    out = {}
    for true in classes:
        members = sorted((areas[i], p["true"] == p["predicted"]) for i, p in enumerate(predictions)
                         if p["true"] == true)
        if len(members) >= 3:
            n = len(members)
            thirds = [members[k * n // 3:(k + 1) * n // 3] for k in range(3)]
            out[true] = [(part[0][0], part[-1][0], sum(ok for _, ok in part), len(part)) for part in thirds]
    return out


def _as_rgb(img: np.ndarray, name: str) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"translation {name} must be uint8, got {img.dtype}")
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f"translation {name} must be H x W x 3 RGB, got shape {img.shape}")
    return img[..., :3]


def score_directory(manifest_or_dataset: str | Path, translations_dir: str | Path, split: str = "test") -> ScoreResult:
    """Score the translations of a dataset's gray `split` images found in `translations_dir`.

    A translation is matched by stem: `circle_0003.png` (or .jpg), or the reference implementation's
    `circle_0003_fake_A.png` naming. Masks are redrawn from the manifest geometry at the canvas size.
    Gray images without a translation are listed in `missing`; none matching at all is an error.
    """
    manifest = load_manifest(manifest_or_dataset)
    params = ShapeDatasetParams.from_dict(manifest["params"])
    gray_domain = params.gray_domain
    stems = [r["stem"] for r in manifest["images"] if r["split"] == split and r["domain"] == gray_domain]
    if not stems:
        raise UserError(f"the manifest lists no {split} images in the gray domain ({split}{gray_domain})")
    tdir = Path(translations_dir)
    if not tdir.is_dir():
        raise UserError(f"translations folder {tdir} does not exist")
    found = _index_translations(tdir, f"_fake_{params.rgb_domain}")
    matched = [s for s in stems if s in found]
    if not matched:
        raise UserError(
            f"none of the {len(stems)} {split}{gray_domain} images has a translation in {tdir} "
            f"(expected files named like {stems[0]}.png)"
        )
    scoring = ScoringSet.from_dataset(manifest_or_dataset, None, split, stems=matched, inputs=False)
    outputs = [read_image(found[name], 3) for name in scoring.names]  # an unreadable gray image drops out
    return score_outputs(outputs, scoring, missing=[s for s in stems if s not in found])


def _index_translations(folder: Path, fake_suffix: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir(), key=lambda p: (p.suffix.lower() != ".png", p.name)):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        stem = path.stem
        if stem.endswith(fake_suffix):
            stem = stem[: -len(fake_suffix)]
        found.setdefault(stem, path)
    return found


__all__ = ["NO_SHAPE", "ScoreResult", "classify_colour", "score_outputs", "score_directory"]
