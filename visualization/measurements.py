"""Pixel measurements of the experiments: which class colour a pixel is painted with, and where.

A pixel is painted with a class's colour when its chroma (max - min channel, 0-255) is at least
MIN_CHROMA and its hue lies within MAX_HUE_DISTANCE degrees of that colour's hue (the nearest such class
wins); otherwise it counts as "other" (gray, black, white, or a hue of no class). Pure numpy + OpenCV.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from cyclegan_workbench.data.shapes import ShapeGeometry

MIN_CHROMA = 48
MAX_HUE_DISTANCE = 45.0


def _hue(rgb: np.ndarray) -> np.ndarray:
    """Hue in degrees [0, 360) from the opponent axes (exact for primaries: red 0, green 120, blue 240)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return np.degrees(np.arctan2(math.sqrt(3) * (g - b), 2 * r - g - b)) % 360


def pixel_chroma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int16)
    return rgb.max(axis=-1) - rgb.min(axis=-1)


def paint_labels(rgb: np.ndarray, class_colors: dict) -> np.ndarray:
    """Per pixel of an H x W x 3 uint8 image: the index (class_colors order) of the class colour it is
    painted with, or -1 (see the module docstring for the rule)."""
    rgb = np.asarray(rgb)
    labels = np.full(rgb.shape[:2], -1, np.int64)
    colours = np.asarray([class_colors[c] for c in class_colors], np.float64).reshape(-1, 3)
    usable = [i for i, c in enumerate(colours) if c.max() - c.min() >= MIN_CHROMA]
    if not usable:
        return labels
    hue = _hue(rgb)
    coloured = pixel_chroma(rgb) >= MIN_CHROMA
    class_hues = _hue(colours[usable])
    dist = np.abs(hue[..., None] - class_hues)
    dist = np.minimum(dist, 360 - dist)
    nearest = dist.argmin(axis=-1)
    ok = coloured & (dist.min(axis=-1) <= MAX_HUE_DISTANCE)
    labels[ok] = np.asarray(usable)[nearest[ok]]
    return labels


def paint_fractions(rgb: np.ndarray, region: np.ndarray, class_colors: dict) -> dict:
    """Fractions of the region's pixels painted with each class colour and with none ("other")."""
    return fractions_from_labels(paint_labels(rgb, class_colors)[np.asarray(region, bool)], list(class_colors))


def fractions_from_labels(labels: np.ndarray, classes: list[str]) -> dict:
    n = int(labels.size)
    out = {c: (float((labels == i).sum()) / n if n else None) for i, c in enumerate(classes)}
    out["other"] = float((labels < 0).sum()) / n if n else None
    out["pixels"] = n
    return out


def coverage_at(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    """Pixels of an h x w output at least half covered by a (canvas-size) mask or uint8 coverage."""
    m = np.asarray(mask)
    frac = m.astype(np.float32) / (255.0 if m.dtype == np.uint8 else 1.0)
    if frac.shape != (h, w):
        frac = cv2.resize(frac, (w, h), interpolation=cv2.INTER_AREA)
    return frac >= 0.5


def untouched_at(coverage: np.ndarray, h: int, w: int) -> np.ndarray:
    """Pixels of an h x w output that a (canvas-size) uint8 coverage does not touch at all."""
    frac = np.asarray(coverage).astype(np.float32)
    if frac.shape != (h, w):
        frac = cv2.resize(frac, (w, h), interpolation=cv2.INTER_AREA)
    return frac <= 0


def edge_and_interior(mask: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(edge, interior) of a bool shape mask: the edge is the band of `width` pixels inside its outline
    (what `width` erosions by a 3x3 square remove), the interior what remains."""
    m = np.asarray(mask, np.uint8)
    interior = cv2.erode(m, np.ones((3, 3), np.uint8), iterations=int(width), borderType=cv2.BORDER_CONSTANT,
                         borderValue=0).astype(bool)
    return m.astype(bool) & ~interior, interior


def rectangle_regions(g: ShapeGeometry, canvas: int, out: int) -> dict[str, np.ndarray]:
    """Regions of a rectangle's frame at an out x out output of a canvas x canvas scene.

    With u, v the distances from the centre along the long and the short side as fractions of the half
    sides: "centre" is u < 1/2 and v < 1/2, "corners" u > 1/2 and v > 1/2 (each a quarter of the area),
    "sides" the rest. Clip with a shape mask; the regions extend beyond the rectangle.
    """
    k = canvas / out
    coords = (np.arange(out) + 0.5) * k - 0.5  # output pixel centres in canvas pixels
    x, y = np.meshgrid(coords - g.center[0], g.center[1] - coords)  # y up, as the geometry's rotation is
    t = math.radians(g.rotation)
    along = np.abs(x * math.cos(t) + y * math.sin(t))
    across = np.abs(-x * math.sin(t) + y * math.cos(t))
    aspect = g.aspect or 1.0
    r = g.size / 2
    u = along / (r * aspect / math.hypot(1, aspect))
    v = across / (r / math.hypot(1, aspect))
    centre, corners = (u < 0.5) & (v < 0.5), (u > 0.5) & (v > 0.5)
    return {"centre": centre, "corners": corners, "sides": ~centre & ~corners}
