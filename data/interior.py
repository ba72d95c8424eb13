"""Which pixels of an image lie inside its figures: the one interior rule of the colourization score.

A faithful translation blends a figure's anti-aliased edge with the background, so the score reads the
colour of the figure's interior only. `figure_interior` is the rule every scorer uses:

- figures of known geometry (generated datasets, figures drawn in memory): redrawn exactly, the pixels they
  cover fully (every covered pixel when a figure is too thin to cover any fully);
- otherwise found in the gray image: the pixels at the figures' gray level (`shape_mask_from_gray`), or the
  pixels that stand out from the image's border (`figure_pixels_gray`) when none are. An image larger than
  the wanted size is searched at its own resolution, where thin parts and corners survive;
- at another size than it was found at: the pixels at least half covered by it (`interior_at`).

Pure numpy + OpenCV.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from cyclegan_workbench.data.images import resize
from cyclegan_workbench.data.shapes import ShapeGeometry, render_coverage

GRAY_FIGURE_DISTANCE = 20  # a figure pixel of a gray image is this far from its border median


def figure_interior(size: int | None = None, *, figures: Sequence[ShapeGeometry | dict] | None = None,
                    canvas: int | None = None, antialias: bool = True, gray: np.ndarray | None = None,
                    gray_level: int = 128) -> np.ndarray:
    """Bool size x size (default: the source's size): the interior of an image's figures.

    From `figures` (drawn on a `canvas` x `canvas` image, as the manifest records them) when given, else
    found in `gray` (uint8, at the file's own resolution) at `gray_level`; see the module docstring.
    """
    if figures:
        coverage = render_coverage(figures, canvas, antialias)
        inside = coverage == 255
        mask = inside if inside.any() else coverage > 0
    elif gray is None:
        raise ValueError("an interior needs the figures' geometry or the gray image")
    else:
        if size is not None and min(gray.shape[:2]) <= size:
            gray = resize(gray, size)  # too small to gain from its own resolution: search it as the model sees it
        mask = shape_mask_from_gray(gray, gray_level)
        # The level-based mask misses figures whose gray differs from the level by more than its tolerance
        # (a measured level, a figure of another gray); the plain contrast rule still finds them.
        if not mask.any():
            mask = figure_pixels_gray(gray)
    return mask if size is None else interior_at(mask, size, size)


def interior_at(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    """`mask` at h x w: the pixels at least half covered by it (the mask itself when it is that size)."""
    mask = np.asarray(mask, bool)
    if mask.shape == (h, w):
        return mask
    return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) >= 0.5


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


def border_median(image: np.ndarray) -> np.ndarray:
    """Median of the outermost ring of pixels, per channel: the background, as figures rarely fill the border."""
    img = image if image.ndim == 3 else image[:, :, None]
    ring = np.concatenate([img[0], img[-1], img[1:-1, 0], img[1:-1, -1]]).reshape(-1, img.shape[2])
    return np.median(ring.astype(np.float64), axis=0)


def figure_pixels_gray(gray: np.ndarray) -> np.ndarray:
    """Bool H x W: pixels farther than GRAY_FIGURE_DISTANCE from the image's border median."""
    return np.abs(gray.astype(np.float64) - border_median(gray)[0]) > GRAY_FIGURE_DISTANCE


__all__ = ["figure_interior", "interior_at", "shape_mask_from_gray", "border_median", "figure_pixels_gray",
           "GRAY_FIGURE_DISTANCE"]
