"""The colourization score: did a gray -> RGB translation give each shape the colour of its class?

For every gray input and its translation, the mean colour inside the shape is assigned to the nearest
class colour. The shape mask comes from the manifest's geometry (redrawn, exact) or is found in the gray
input. Accuracy, per-class accuracy and a confusion table follow; the training code uses the accuracy
as its quality measure. Pure numpy + OpenCV.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import read_image
from cyclegan_workbench.data.shapes import (
    ShapeDatasetParams,
    dataset_root,
    load_manifest,
    render_coverage,
)

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

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "n": self.n,
            "per_class": dict(self.per_class),
            "confusion": {t: dict(row) for t, row in self.confusion.items()},
            "classes": list(self.classes),
            "predictions": [dict(p) for p in self.predictions],
            "missing": list(self.missing),
        }

    def format_table(self) -> str:
        correct = sum(self.confusion.get(c, {}).get(c, 0) for c in self.confusion)
        lines = [f"accuracy {self.accuracy:.3f} ({correct}/{self.n})", "per class:"]
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
        if self.missing:
            shown = ", ".join(self.missing[:5]) + (", ..." if len(self.missing) > 5 else "")
            lines.append(f"missing translations: {len(self.missing)} ({shown})")
        return "\n".join(lines)


def shape_mask_from_gray(gray: np.ndarray, gray_level: int, tol: int = 12, clean: bool = True) -> np.ndarray:
    """Pixels of the shapes in a gray input: those within `tol` of `gray_level`, bool H x W.

    With `clean` (the default), the mask is also cut where the image has edges, so that background
    regions near the shape level (a texture blob, a gradient band) do not merge with the shape: a 3x3
    median tames Gaussian noise, pixels whose local contrast exceeds a threshold that rises with the
    noise estimated in the image are dropped, specks are opened away, regions touching the border are
    dropped when others remain (generated shapes lie inside the canvas, background bands run off it),
    and the kept regions grow back over their edge ring. Limits: where the background itself is within
    `tol` of the shape level the shape is invisible, and a linear gradient crossing that level usually
    joins the shape; masks redrawn from manifest geometry have neither problem.
    """
    g = np.asarray(gray)
    if g.ndim == 3:
        g = cv2.cvtColor(g, cv2.COLOR_RGB2GRAY)
    if g.dtype != np.uint8 or g.ndim != 2:
        raise ValueError(f"gray input must be a uint8 H x W array, got {g.dtype} {g.shape}")
    if not clean:
        return np.abs(g.astype(np.int16) - int(gray_level)) <= tol
    smooth = cv2.medianBlur(g, 3)
    candidate = (np.abs(smooth.astype(np.int16) - int(gray_level)) <= tol).astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    contrast = cv2.morphologyEx(cv2.GaussianBlur(smooth, (5, 5), 0), cv2.MORPH_GRADIENT, kernel)
    core = candidate & (contrast <= 6 + _noise_sigma(g)).astype(np.uint8)
    core = cv2.morphologyEx(core, cv2.MORPH_OPEN, kernel)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(core, connectivity=4)
    h, w = core.shape
    min_area = max(4, h * w // 2000)
    inner, border = [], []
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area < min_area:
            continue
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        (border if touches else inner).append(i)
    mask = np.isin(labels, inner or border).astype(np.uint8)
    # The median rounds off corners, so the regrowth may also take unfiltered pixels at the level.
    regrow = candidate | (np.abs(g.astype(np.int16) - int(gray_level)) <= tol).astype(np.uint8)
    for _ in range(3):  # the contrast cut (5x5 blur + 3x3 gradient) ate up to three pixels per edge
        mask = cv2.dilate(mask, kernel) & regrow
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel).astype(bool)


_LAPLACE_DIFF = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def _noise_sigma(gray: np.ndarray) -> float:
    """Standard deviation of additive Gaussian noise (Immerkaer 1996): blind to smooth content."""
    if min(gray.shape) < 3:
        return 0.0
    response = cv2.filter2D(gray.astype(np.float32), -1, _LAPLACE_DIFF)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(response).mean() / 6)


def classify_colour(mean_rgb, class_colors: dict[str, Sequence[int]]) -> str:
    """The class whose colour is nearest (Euclidean, RGB) to `mean_rgb`; ties go to the first class."""
    if not class_colors:
        raise ValueError("no class colours to compare with")
    names = list(class_colors)
    table = np.asarray([class_colors[n] for n in names], np.float64)
    dist = ((table - np.asarray(mean_rgb, np.float64)[None, :3]) ** 2).sum(axis=1)
    return names[int(np.argmin(dist))]


def score_images(
    gray_inputs: list[np.ndarray],
    outputs: list[np.ndarray],
    true_classes: list[str],
    class_colors: dict,
    gray_level: int = 128,
    masks: list[np.ndarray] | None = None,
    names: list[str] | None = None,
) -> ScoreResult:
    """Score RGB translations (H x W x 3 uint8, any size) of gray inputs against their true classes.

    Masks (bool, input size) default to `shape_mask_from_gray` of each input; they are resized to the
    output with nearest-neighbour. `gray_inputs` may hold None entries when masks are given.
    """
    n = len(outputs)
    if len(true_classes) != n or (masks is None and len(gray_inputs) != n) or (masks is not None and len(masks) != n):
        raise ValueError("gray_inputs (or masks), outputs and true_classes must have the same length")
    if masks is None:
        masks = [shape_mask_from_gray(g, gray_level) for g in gray_inputs]
    names = names if names is not None else [str(i) for i in range(n)]
    return _tally(outputs, masks, true_classes, class_colors, names)


def _tally(outputs, masks, true_classes, class_colors, names, missing=()) -> ScoreResult:
    if not outputs:
        raise UserError("nothing to score: no translated images")
    colors = {k: tuple(int(c) for c in v) for k, v in class_colors.items()}
    predictions = []
    for out, mask, true, name in zip(outputs, masks, true_classes, names):
        out = _as_rgb(out, name)
        mask = np.asarray(mask, bool)
        if mask.shape != out.shape[:2]:
            mask = cv2.resize(mask.astype(np.uint8), (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
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
    )


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
    `circle_0003_fake_A.png` naming. Masks are redrawn from the manifest geometry. Gray images without a
    translation are listed in `missing`; none matching at all is an error.
    """
    manifest = load_manifest(manifest_or_dataset)
    root = dataset_root(manifest_or_dataset)
    params = ShapeDatasetParams.from_dict(manifest["params"])
    gray_domain = params.gray_domain
    rows = [r for r in manifest["images"] if r["split"] == split and r["domain"] == gray_domain]
    if not rows:
        raise UserError(f"the manifest lists no {split} images in the gray domain ({split}{gray_domain})")
    tdir = Path(translations_dir)
    if not tdir.is_dir():
        raise UserError(f"translations folder {tdir} does not exist")
    found = _index_translations(tdir, f"_fake_{params.rgb_domain}")
    outputs, masks, classes, names, missing = [], [], [], [], []
    for row in rows:
        path = found.get(row["stem"])
        if path is None:
            missing.append(row["stem"])
            continue
        outputs.append(read_image(path, 3))
        masks.append(_row_mask(row, params, root))
        classes.append(row["shape"])
        names.append(row["stem"])
    if not outputs:
        raise UserError(
            f"none of the {len(rows)} {split}{gray_domain} images has a translation in {tdir} "
            f"(expected files named like {rows[0]['stem']}.png)"
        )
    return _tally(outputs, masks, classes, manifest["class_colors"], names, missing)


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


def geometry_mask(row: dict, params: ShapeDatasetParams, size: int | None = None) -> np.ndarray:
    """Interior of a manifest row's figures, redrawn from its geometry; at `size` pixels when given.

    Interior only: anti-aliased edges blend with the background in any faithful translation. A mask
    shrunk to a training size keeps the pixels at least half covered by the interior.
    """
    coverage = render_coverage(row["shapes"], params.size, params.antialias)
    inside = coverage == 255
    mask = inside if inside.any() else coverage > 0
    if size is not None and size != params.size:
        mask = cv2.resize(mask.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA) >= 0.5
    return mask


def _row_mask(row: dict, params: ShapeDatasetParams, root: Path) -> np.ndarray:
    if row.get("shapes"):
        return geometry_mask(row, params)
    gray = read_image(root / row["file"], 1)
    return shape_mask_from_gray(gray, row.get("gray_level", params.gray_level))


__all__ = ["NO_SHAPE", "ScoreResult", "shape_mask_from_gray", "geometry_mask", "classify_colour", "score_images",
           "score_directory"]
