"""The toy shape generator: seeded scenes of figures, the dataset folders they fill, and their manifest.

Every scene is drawn once as a coverage mask and composited twice: in the RGB domain with the colour of
its class, in the gray domain at one gray level shared by every class, so that colour can only be
inferred from shape. Pure numpy + OpenCV (no Qt, no torch): the CLI, the GUI preview and the score
all import it.

Determinism: each scene draws from its own random streams, seeded by (seed, split, class, index) and
split by factor (geometry, placement, background, noise). The same parameters give byte-identical
files, and presets that change one factor (background, shift) keep the same figures for the same seed.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.files import read_json, remove_leftovers, temporary_folder
from cyclegan_workbench.data.images import encode_image

SHAPES = ("circle", "triangle", "square", "rectangle", "ellipse", "pentagon", "hexagon", "star", "cross")
DEFAULT_COLORS: dict[str, tuple[int, int, int]] = {
    "circle": (255, 0, 0),
    "triangle": (0, 255, 0),
    "square": (0, 0, 255),
    "rectangle": (255, 255, 0),
    "ellipse": (255, 0, 255),
    "pentagon": (0, 255, 255),
    "hexagon": (128, 128, 0),
    "star": (255, 128, 0),
    "cross": (128, 0, 255),
}
SPLITS = ("train", "test")
DOMAINS = ("A", "B")
DATASET_ENTRIES = ("trainA", "trainB", "testA", "testB", "manifest.json")
MANIFEST_NAME = "manifest.json"
BACKGROUND_KINDS = ("constant", "random", "sweep", "gradient", "texture")
TRIANGLE_KINDS = ("equilateral", "right", "axis-aligned")
IMAGE_FORMATS = ("png", "jpeg")
_SUFFIXES = {"png": ".png", "jpeg": ".jpg"}

# Drawing uses 4 fractional bits, so sub-pixel centres and sizes from the manifest redraw exactly.
_SHIFT = 4
_ONE = 1 << _SHIFT
# Anti-aliased edges spill about a pixel beyond the geometric outline; keep them off the border.
_MARGIN = 1.0
_MIN_SHAPE_PX = 4.0
_STREAMS = ("geometry", "placement", "background", "noise_rgb", "noise_gray")


# ----------------------------------------------------------------------------------------------
# Parameters


@dataclass(frozen=True)
class Background:
    """A parsed background spec: see `parse_background`."""

    kind: str
    color: tuple[int, int, int] | None = None  # constant only
    low: int = 0
    high: int = 255

    @property
    def gray(self) -> int | None:
        """The gray-domain level of a constant background (BT.601 luma of a colour)."""
        if self.color is None:
            return None
        r, g, b = self.color
        return int(round(0.299 * r + 0.587 * g + 0.114 * b))


_BACKGROUND_HELP = (
    "use a gray level 0-255, a colour R,G,B, or random|sweep|gradient|texture with an optional "
    "level range, e.g. random:0-255"
)


def parse_background(spec: str) -> Background:
    """Read a background spec.

    "0".."255": constant gray; "R,G,B": constant colour (its luma in the gray domain);
    "random[:LO-HI]": one random level per image; "sweep[:LO-HI]": levels evenly spread over the images
    of each class; "gradient[:LO-HI]": a linear ramp at a random angle; "texture[:LO-HI]": smooth noise.
    The range defaults to 0-255.
    """
    text = str(spec).strip().lower()
    kind, _, rng_text = text.partition(":")
    try:
        if kind in BACKGROUND_KINDS[1:]:
            low, high = (0, 255)
            if rng_text:
                lo_text, sep, hi_text = rng_text.partition("-")
                if not sep:
                    raise ValueError
                low, high = int(lo_text), int(hi_text)
            if not (0 <= low <= high <= 255):
                raise UserError(f"background {spec!r}: the level range must satisfy 0 <= LO <= HI <= 255")
            return Background(kind, low=low, high=high)
        if rng_text:
            raise ValueError
        parts = [int(p) for p in kind.split(",")]
    except ValueError:
        raise UserError(f"background {spec!r} is not understood: {_BACKGROUND_HELP}") from None
    if len(parts) not in (1, 3):
        raise UserError(f"background {spec!r} is not understood: {_BACKGROUND_HELP}")
    if any(not 0 <= p <= 255 for p in parts):
        raise UserError(f"background {spec!r}: levels must be between 0 and 255")
    color = (parts[0],) * 3 if len(parts) == 1 else tuple(parts)
    return Background("constant", color=color, low=min(color), high=max(color))


@dataclass
class ShapeDatasetParams:
    """Every factor of a toy shape dataset. Plain values only, so it round-trips through JSON.

    Sizes: `scale` is the diameter of a shape's circumscribed circle as a fraction of the canvas;
    `shift` moves each shape up to that many pixels along each axis; `rotation` draws an angle in
    [-rotation, +rotation] degrees (counter-clockwise on screen). `aspect` is the long/short side ratio
    of rectangles, `ellipse_aspect` the axis ratio of ellipses. With several shapes per image, all of
    the image's class, the canvas is cut into a grid of cells (2x2 for up to 4 shapes, ...) and each
    shape sits in its own cell, so shapes never overlap.

    `triangle_kind`: "equilateral"; "right" (right isosceles, its hypotenuse a diameter of the
    circumscribed circle, randomly rotated like the other shapes); "axis-aligned" (the same right
    triangle with its legs along the image axes, one of four orientations, `rotation` ignored).
    `image_format` "png" (lossless) or "jpeg" (files <stem>.jpg at `jpeg_quality` 1-100).
    """

    shapes: tuple[str, ...] = ("circle", "triangle")
    colors: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # overrides DEFAULT_COLORS
    gray_level: int = 128
    background: str = "0"
    noise_sigma: float = 0.0
    noise_domains: tuple[str, ...] = ("A", "B")
    rgb_domain: str = "A"
    shift: int = 0
    scale: tuple[float, float] = (0.3, 0.6)
    rotation: float = 180.0
    aspect: tuple[float, float] = (1.5, 3.0)
    ellipse_aspect: tuple[float, float] = (1.5, 2.5)
    shapes_per_image: tuple[int, int] = (1, 1)
    triangle_kind: str = "equilateral"
    antialias: bool = True
    size: int = 256
    train_per_class: int = 100
    test_per_class: int = 40
    seed: int = 0
    image_format: str = "png"
    jpeg_quality: int = 75

    # -- derived values ------------------------------------------------------------------------
    def class_colors(self) -> dict[str, tuple[int, int, int]]:
        """Colour of every selected class in the RGB domain, in class order."""
        return {s: tuple(int(c) for c in self.colors.get(s, DEFAULT_COLORS.get(s, (0, 0, 0)))) for s in self.shapes}

    @property
    def gray_domain(self) -> str:
        return "B" if self.rgb_domain == "A" else "A"

    def per_class(self, split: str) -> int:
        return self.train_per_class if split == "train" else self.test_per_class

    def image_count(self) -> int:
        """Files the dataset holds: one per scene and domain."""
        return 2 * len(self.shapes) * (self.train_per_class + self.test_per_class)

    @property
    def suffix(self) -> str:
        """File extension of the images: .png or .jpg."""
        return _SUFFIXES[self.image_format]

    def grid(self) -> int:
        """Cells per side when several shapes share an image."""
        return math.ceil(math.sqrt(self.shapes_per_image[1]))

    # -- JSON ----------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "colors":
                value = {k: list(v) for k, v in self.class_colors().items()}
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict) -> ShapeDatasetParams:
        """Inverse of to_dict; missing keys take their defaults, unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"unknown dataset parameter(s): {', '.join(unknown)}")
        values = dict(data)
        for name in ("shapes", "noise_domains", "scale", "aspect", "ellipse_aspect", "shapes_per_image"):
            if name in values and isinstance(values[name], list):
                values[name] = tuple(values[name])
        if "colors" in values:
            if not isinstance(values["colors"], dict):
                raise UserError("colors must map shape names to R,G,B triples")
            values["colors"] = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in values["colors"].items()}
        return cls(**values)

    # -- validation ----------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise UserError naming the first problem; nothing is drawn or written before this passes."""
        if isinstance(self.shapes, str) or not self.shapes:
            raise UserError("choose at least one shape (a list of names such as circle, triangle)")
        for s in self.shapes:
            if s not in SHAPES:
                raise UserError(f"unknown shape {s!r}: choose from {', '.join(SHAPES)}")
        if len(set(self.shapes)) != len(self.shapes):
            raise UserError(f"a shape is listed twice in {', '.join(self.shapes)}")
        self._validate_colors()
        _check_int("gray level", self.gray_level, 0, 255)
        bg = parse_background(self.background)
        self._validate_contrast(bg)
        _check_number("noise sigma", self.noise_sigma, 0, 255)
        if isinstance(self.noise_domains, str) or any(d not in DOMAINS for d in self.noise_domains):
            raise UserError(f"noise domains must be a list of A and/or B, got {self.noise_domains!r}")
        if self.rgb_domain not in DOMAINS:
            raise UserError(f"the RGB domain must be A or B, got {self.rgb_domain!r}")
        self._validate_geometry()
        _check_int("train images per class", self.train_per_class, 0, 10**6)
        _check_int("test images per class", self.test_per_class, 0, 10**6)
        if self.train_per_class + self.test_per_class == 0:
            raise UserError("train and test images per class are both 0: nothing to generate")
        _check_int("seed", self.seed, 0, 2**63 - 1)
        if not isinstance(self.antialias, bool):
            raise UserError(f"antialias must be true or false, got {self.antialias!r}")
        if self.image_format not in IMAGE_FORMATS:
            raise UserError(f"unknown image format {self.image_format!r}: choose from {', '.join(IMAGE_FORMATS)}")
        _check_int("JPEG quality", self.jpeg_quality, 1, 100)

    def _validate_colors(self) -> None:
        if not isinstance(self.colors, dict):
            raise UserError("colors must map shape names to R,G,B triples")
        for name, color in self.colors.items():
            if name not in SHAPES:
                raise UserError(f"colour given for unknown shape {name!r}: choose from {', '.join(SHAPES)}")
            ok = isinstance(color, (tuple, list)) and len(color) == 3
            if not ok or any(not _is_int(c) or not 0 <= c <= 255 for c in color):
                raise UserError(f"colour of {name} must be three integers 0-255 (R,G,B), got {color!r}")
        seen: dict[tuple, str] = {}
        for name, color in self.class_colors().items():
            if color in seen:
                raise UserError(
                    f"{seen[color]} and {name} have the same colour {color}: the score could not tell them apart"
                )
            seen[color] = name

    def _validate_contrast(self, bg: Background) -> None:
        if bg.kind == "constant":
            if bg.gray == self.gray_level:
                raise UserError(
                    f"the shape gray level {self.gray_level} equals the constant background "
                    f"{_fmt_bg(bg)}: shapes would be invisible in the gray domain"
                )
            for name, color in self.class_colors().items():
                if color == bg.color:
                    raise UserError(
                        f"the {name} colour {color} equals the background: {name}s would be invisible "
                        "in the RGB domain"
                    )
        elif bg.kind in ("random", "sweep") and bg.low == bg.high == self.gray_level:
            raise UserError(
                f"the background range {bg.low}-{bg.high} holds only the shape gray level {self.gray_level}: "
                "shapes would be invisible in the gray domain"
            )

    def _validate_geometry(self) -> None:
        _check_int("shift", self.shift, 0, 10**5)
        lo, hi = _check_range("scale", self.scale, 0.0, 1.0)
        if lo <= 0:
            raise UserError(f"scale must be above 0, got {lo}")
        _check_number("rotation", self.rotation, 0, 180)
        _check_range("aspect", self.aspect, 1.0, 100.0)
        _check_range("ellipse aspect", self.ellipse_aspect, 1.0, 100.0)
        if self.triangle_kind not in TRIANGLE_KINDS:
            raise UserError(
                f"unknown triangle kind {self.triangle_kind!r}: choose from {', '.join(TRIANGLE_KINDS)}"
            )
        kmin, kmax = _check_range("shapes per image", self.shapes_per_image, 1, 100, integer=True)
        _check_int("canvas size", self.size, 8, 4096)
        if lo * self.size < _MIN_SHAPE_PX:
            raise UserError(
                f"scale {lo} of a {self.size} px canvas gives shapes of {lo * self.size:.1f} px; "
                f"the smallest drawable shape is {_MIN_SHAPE_PX:.0f} px"
            )
        g = self.grid()
        cell = self.size / g
        reach = hi * self.size / 2 + self.shift
        room = cell / 2 - _MARGIN
        if reach > room:
            where = (
                f"the {self.size} px canvas"
                if g == 1
                else f"a cell of {cell:.0f} px ({kmax} shapes per image sit on a {g}x{g} grid)"
            )
            raise UserError(
                f"shapes up to {hi * self.size:.0f} px (scale max {hi} of {self.size} px) shifted by up to "
                f"{self.shift} px do not fit {where}: largest radius + shift is {reach:.0f} px, "
                f"room is {room:.0f} px; lower the scale, the shift or the shapes per image"
            )


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _check_int(name: str, value, lo: int, hi: int) -> None:
    if not _is_int(value) or not lo <= value <= hi:
        raise UserError(f"{name} must be an integer from {lo} to {hi}, got {value!r}")


def _check_number(name: str, value, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not lo <= value <= hi:
        raise UserError(f"{name} must be a number from {lo} to {hi}, got {value!r}")


def _check_range(name: str, value, lo, hi, integer: bool = False) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise UserError(f"{name} must be a MIN,MAX pair, got {value!r}")
    check = _check_int if integer else _check_number
    for v in value:
        check(name, v, lo, hi)
    if value[0] > value[1]:
        raise UserError(f"{name} minimum {value[0]} is above its maximum {value[1]}")
    return tuple(value)


def _fmt_bg(bg: Background) -> str:
    r, g, b = bg.color
    return str(r) if r == g == b else f"{r},{g},{b} (gray {bg.gray})"


def _default() -> ShapeDatasetParams:
    """100 circles + 100 triangles per domain for training, 40 + 40 for test, centred, no noise."""
    return ShapeDatasetParams()


def _unseen() -> ShapeDatasetParams:
    """Test-only figures a default-trained model never saw; rectangles from square to 1:6."""
    others = tuple(s for s in SHAPES if s not in ("circle", "triangle"))
    return ShapeDatasetParams(shapes=others, aspect=(1.0, 6.0), train_per_class=0)


def _background_sweep() -> ShapeDatasetParams:
    """The default figures (same seed, same geometry) over background levels from 0 to 255."""
    return ShapeDatasetParams(background="sweep:0-255")


def _shifted() -> ShapeDatasetParams:
    """The default figures moved up to 48 px along each axis (the most that fits at scale 0.6)."""
    return ShapeDatasetParams(shift=48)


PRESETS: dict[str, Callable[[], ShapeDatasetParams]] = {
    "default": _default,
    "unseen": _unseen,
    "background-sweep": _background_sweep,
    "shifted": _shifted,
}


# ----------------------------------------------------------------------------------------------
# Geometry and drawing


@dataclass(frozen=True)
class ShapeGeometry:
    """One figure: centre (x, y) in pixels, size = diameter of its circumscribed circle, rotation in
    degrees counter-clockwise on screen, aspect for rectangles and ellipses (None otherwise), kind for
    triangles: None (equilateral) or "right" (right isosceles, hypotenuse = the circle's diameter; the
    axis-aligned ones are right triangles rotated by 45 + 90k degrees)."""

    shape: str
    center: tuple[float, float]
    size: float
    rotation: float
    aspect: float | None = None
    kind: str | None = None

    def to_dict(self) -> dict:
        out = {
            "shape": self.shape,
            "center": list(self.center),
            "size": self.size,
            "rotation": self.rotation,
            "aspect": self.aspect,
        }
        if self.kind is not None:  # absent for equilateral triangles, so older manifests read the same
            out["kind"] = self.kind
        return out

    @classmethod
    def from_dict(cls, d: dict) -> ShapeGeometry:
        return cls(d["shape"], tuple(d["center"]), d["size"], d["rotation"], d.get("aspect"), d.get("kind"))


_REGULAR = {"triangle": (3, 90.0), "square": (4, 45.0), "pentagon": (5, 90.0), "hexagon": (6, 0.0)}


def _outline(g: ShapeGeometry) -> np.ndarray:
    """Polygon vertices (N, 2) in image coordinates for every shape but circle and ellipse."""
    r = g.size / 2
    th = math.radians(g.rotation)
    c, s = math.cos(th), math.sin(th)
    if g.shape == "triangle" and g.kind == "right":
        local = np.array([[-r, 0.0], [r, 0.0], [0.0, r]])
        # cos and sin of 45 + 90k degrees differ in the last bit; equal magnitudes keep the legs of an
        # axis-aligned triangle exactly on one row and one column.
        if g.rotation % 90 == 45:
            c, s = math.copysign(math.sqrt(0.5), c), math.copysign(math.sqrt(0.5), s)
    elif g.shape in _REGULAR:
        n, start = _REGULAR[g.shape]
        ang = np.deg2rad(start + 360.0 / n * np.arange(n))
        local = np.stack([r * np.cos(ang), r * np.sin(ang)], axis=1)
    elif g.shape == "star":
        ang = np.deg2rad(90.0 + 36.0 * np.arange(10))
        radius = np.where(np.arange(10) % 2 == 0, r, 0.4 * r)
        local = np.stack([radius * np.cos(ang), radius * np.sin(ang)], axis=1)
    elif g.shape == "rectangle":
        a = g.aspect
        w, h = r * a / math.hypot(1, a), r / math.hypot(1, a)  # half sides; the diagonal is the size
        local = np.array([[w, h], [-w, h], [-w, -h], [w, -h]])
    elif g.shape == "cross":
        arm = r / math.sqrt(10 / 9)  # arm half-length; arms are a third as thick as the cross is wide
        t = arm / 3
        local = np.array(
            [[arm, t], [t, t], [t, arm], [-t, arm], [-t, t], [-arm, t],
             [-arm, -t], [-t, -t], [-t, -arm], [t, -arm], [t, -t], [arm, -t]]
        )
    else:
        raise ValueError(f"no outline for {g.shape!r}")
    x = local[:, 0] * c - local[:, 1] * s
    y = local[:, 0] * s + local[:, 1] * c
    # Local y points up; image rows grow downwards.
    return np.stack([g.center[0] + x, g.center[1] - y], axis=1)


def _draw(mask: np.ndarray, g: ShapeGeometry, antialias: bool) -> None:
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    center = (int(round(g.center[0] * _ONE)), int(round(g.center[1] * _ONE)))
    r = g.size / 2
    if g.shape == "circle":
        cv2.circle(mask, center, int(round(r * _ONE)), 255, -1, line, _SHIFT)
    elif g.shape == "ellipse":
        axes = (int(round(r * _ONE)), int(round(r / g.aspect * _ONE)))
        # OpenCV angles turn clockwise on screen; ours turn counter-clockwise.
        cv2.ellipse(mask, center, axes, -g.rotation, 0, 360, 255, -1, line, _SHIFT)
    else:
        pts = np.round(_outline(g) * _ONE).astype(np.int32)
        cv2.fillPoly(mask, [pts], 255, line, _SHIFT)


def render_coverage(shapes: Sequence[ShapeGeometry | dict], size: int, antialias: bool = True) -> np.ndarray:
    """Coverage of the figures on a size x size canvas: uint8, 255 inside, partial on anti-aliased edges."""
    mask = np.zeros((size, size), np.uint8)
    for g in shapes:
        _draw(mask, g if isinstance(g, ShapeGeometry) else ShapeGeometry.from_dict(g), antialias)
    return mask


# ----------------------------------------------------------------------------------------------
# Scenes


@dataclass
class Scene:
    """One scene in both domains, with what the manifest records about it."""

    shape: str  # the class; every figure in the scene is of it
    rgb: np.ndarray  # H x W x 3 uint8, RGB order
    gray: np.ndarray  # H x W uint8
    figures: list[ShapeGeometry]
    background_rgb: object  # level, [r, g, b], or a dict for non-uniform backgrounds
    background_gray: object

    def image(self, domain: str, params: ShapeDatasetParams) -> np.ndarray:
        return self.rgb if domain == params.rgb_domain else self.gray


def _streams(params: ShapeDatasetParams, split: str, shape: str, index: int) -> dict[str, np.random.Generator]:
    seq = np.random.SeedSequence([params.seed, SPLITS.index(split), SHAPES.index(shape), index])
    return {name: np.random.default_rng(child) for name, child in zip(_STREAMS, seq.spawn(len(_STREAMS)))}


def _place(params: ShapeDatasetParams, shape: str, geo: np.random.Generator, pos: np.random.Generator):
    kmin, kmax = params.shapes_per_image
    g = params.grid()
    cell = params.size / g
    count = int(pos.integers(kmin, kmax + 1))
    cells = pos.permutation(g * g)[:count] if g > 1 else [0]
    lo, hi = params.scale
    aspects = {"rectangle": params.aspect, "ellipse": params.ellipse_aspect}
    triangle_kind = params.triangle_kind if shape == "triangle" else "equilateral"
    out = []
    for c in cells:
        # A fixed number of draws per figure keeps the streams aligned whatever the shape or settings.
        u_size, u_rot, u_aspect = geo.random(3)
        dx, dy = pos.uniform(-params.shift, params.shift, 2) if params.shift else (0.0, 0.0)
        row, col = divmod(int(c), g)
        # Pixel centres sit on integer coordinates, so the canvas centre is (size - 1) / 2.
        cx = (col + 0.5) * cell - 0.5 + dx
        cy = (row + 0.5) * cell - 0.5 + dy
        aspect = None
        if shape in aspects:
            a_lo, a_hi = aspects[shape]
            aspect = round(a_lo + (a_hi - a_lo) * u_aspect, 3)
        if triangle_kind == "axis-aligned":
            rotation = 45.0 + 90.0 * min(int(u_rot * 4), 3)  # legs along the axes, one of 4 orientations
        else:
            rotation = round(params.rotation * (2 * u_rot - 1), 2)
        # Rounded so that a mask redrawn from the manifest matches the image to the pixel.
        out.append(
            ShapeGeometry(
                shape,
                (round(cx, 2), round(cy, 2)),
                round((lo + (hi - lo) * u_size) * params.size, 2),
                rotation,
                aspect,
                None if triangle_kind == "equilateral" else "right",
            )
        )
    return out


def _background(params: ShapeDatasetParams, bg: Background, rng: np.random.Generator, index: int, n: int):
    """(gray-domain image, RGB-domain image, RGB description, gray description)."""
    size = params.size
    if bg.kind == "constant":
        gray = np.full((size, size), bg.gray, np.uint8)
        rgb = np.empty((size, size, 3), np.uint8)
        rgb[:] = bg.color
        plain = bg.color[0] == bg.color[1] == bg.color[2]
        return gray, rgb, (bg.gray if plain else list(bg.color)), bg.gray
    if bg.kind in ("random", "sweep"):
        level = _level(params, bg, rng, index, n)
        gray = np.full((size, size), level, np.uint8)
        return gray, None, level, level
    if bg.kind == "gradient":
        angle = float(rng.uniform(0, 360))
        t = math.radians(angle)
        axis = np.arange(size, dtype=np.float32)
        proj = math.cos(t) * axis[None, :] + math.sin(t) * axis[:, None]
        proj -= proj.min()
        proj *= (bg.high - bg.low) / max(float(proj.max()), 1e-6)
        gray = np.rint(proj + bg.low).astype(np.uint8)
        desc = {"kind": "gradient", "range": [bg.low, bg.high], "angle": round(angle, 2)}
        return gray, None, desc, desc
    # texture: a coarse random grid upsampled smoothly; clipped because cubic interpolation overshoots.
    coarse = rng.uniform(bg.low, bg.high, (5, 5)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    gray = np.clip(np.rint(smooth), bg.low, bg.high).astype(np.uint8)
    desc = {"kind": "texture", "range": [bg.low, bg.high]}
    return gray, None, desc, desc


def _level(params: ShapeDatasetParams, bg: Background, rng: np.random.Generator, index: int, n: int) -> int:
    """A per-image background level that never equals the shape gray level (the shape would vanish)."""
    avoid = params.gray_level if bg.low <= params.gray_level <= bg.high else None
    if bg.kind == "sweep":
        level = bg.low if n <= 1 else int(round(bg.low + (bg.high - bg.low) * index / (n - 1)))
        if level == avoid:
            level = level + 1 if level < bg.high else level - 1
        return level
    span = bg.high - bg.low + (0 if avoid is None else -1)
    level = bg.low + int(rng.integers(0, span + 1))
    return level + 1 if avoid is not None and level >= avoid else level


def _composite(background: np.ndarray, color, alpha: np.ndarray) -> np.ndarray:
    """background * (1 - a) + color * a with exact ends: a = 255 gives exactly `color`."""
    out = background.copy()
    # Only the figures' bounding box changes; blending the whole canvas took most of the render time.
    x, y, w, h = cv2.boundingRect(alpha)
    if w and h:
        a = alpha[y : y + h, x : x + w].astype(np.uint16)
        if background.ndim == 3:
            a = a[..., None]
        bg = background[y : y + h, x : x + w].astype(np.uint16)
        # 255 * 255 + 127 fits in uint16.
        out[y : y + h, x : x + w] = (bg * (255 - a) + np.asarray(color, np.uint16) * a + 127) // 255
    return out


def _noisy(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal(img.shape, dtype=np.float32) * np.float32(sigma)
    return np.clip(np.rint(img + noise), 0, 255).astype(np.uint8)


def render_scene(params: ShapeDatasetParams, shape: str, index: int = 0, split: str = "train") -> Scene:
    """Draw scene `index` of class `shape` in `split`: exactly the images generate_dataset writes for it.

    Fast enough for a live preview (about a millisecond at 256 px); validates the parameters first.
    """
    params.validate()
    if shape not in params.shapes:
        raise UserError(f"{shape!r} is not one of the dataset's shapes ({', '.join(params.shapes)})")
    if split not in SPLITS:
        raise UserError(f"split must be train or test, got {split!r}")
    rng = _streams(params, split, shape, index)
    figures = _place(params, shape, rng["geometry"], rng["placement"])
    alpha = render_coverage(figures, params.size, params.antialias)
    bg = parse_background(params.background)
    bg_gray, bg_rgb, desc_rgb, desc_gray = _background(params, bg, rng["background"], index, params.per_class(split))
    if bg_rgb is None:
        bg_rgb = cv2.cvtColor(bg_gray, cv2.COLOR_GRAY2RGB)
    rgb = _composite(bg_rgb, params.class_colors()[shape], alpha)
    gray = _composite(bg_gray, params.gray_level, alpha)
    if params.noise_sigma > 0:
        if params.rgb_domain in params.noise_domains:
            rgb = _noisy(rgb, params.noise_sigma, rng["noise_rgb"])
        if params.gray_domain in params.noise_domains:
            gray = _noisy(gray, params.noise_sigma, rng["noise_gray"])
    return Scene(shape, rgb, gray, figures, desc_rgb, desc_gray)


# ----------------------------------------------------------------------------------------------
# Datasets on disk


class GenerationCancelled(Exception):
    """Raised by generate_dataset when its progress callback returns False; nothing was written."""


ProgressCallback = Callable[[int, int], "bool | None"]


def generate_dataset(
    params: ShapeDatasetParams,
    out_dir: str | Path,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write OUT/{trainA,trainB,testA,testB}/<class>_<index>.png (.jpg for JPEG) and OUT/manifest.json;
    return OUT.

    The parameters and the target are checked before anything is written. Files go to a hidden
    temporary folder beside OUT that replaces OUT only once complete, so an error, an interrupt or a
    cancel leaves OUT as it was (with `overwrite`, the old dataset survives until the new one is done).
    `progress(done, total)` is called after every scene with file counts; returning False cancels
    (GenerationCancelled is raised); any exception it raises also aborts cleanly.
    """
    params.validate()
    out = Path(out_dir)
    _recover_interrupted_replace(out)
    _check_target(out, overwrite)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(out.parent)  # partial datasets of killed runs
        tmp = temporary_folder(out)
    except OSError as exc:
        raise UserError(f"cannot create the dataset folder {out}: {exc.strerror or exc}") from None
    try:
        rows = _write_images(params, tmp, progress)
        _write_manifest(params, rows, tmp / MANIFEST_NAME)
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a folder")
    if not out.is_dir():
        return
    try:
        entries = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise UserError(f"cannot read the folder {out}: {exc.strerror or exc}") from None
    if not entries:
        return
    if not overwrite:
        raise UserError(f"{out} is not empty: choose a new folder or overwrite (--overwrite) to replace it")
    # --overwrite deletes the folder: only a dataset this program generated, holding nothing else.
    if MANIFEST_NAME not in entries:
        raise UserError(f"{out} was not made by generate-dataset (no {MANIFEST_NAME}); refusing to replace it "
                        "even with overwrite: choose a new or empty folder")
    foreign = sorted(set(_files_under(out)) - _generated_files(out))
    if foreign:
        raise UserError(
            f"{out} holds files that are not part of the generated dataset ({', '.join(foreign[:5])}"
            f"{', ...' if len(foreign) > 5 else ''}); refusing to replace it even with overwrite: move them "
            "out first or choose another folder"
        )


def _files_under(root: Path) -> list[str]:
    try:
        return [p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir()]
    except OSError as exc:
        raise UserError(f"cannot read the folder {root}: {exc.strerror or exc}") from None


def _generated_files(root: Path) -> set[str]:
    manifest = load_manifest(root)
    rows = manifest["images"] if isinstance(manifest["images"], list) else []
    return {MANIFEST_NAME} | {r["file"] for r in rows if isinstance(r, dict) and isinstance(r.get("file"), str)}


def _recover_interrupted_replace(out: Path) -> None:
    """A kill between the two renames of _move_into_place leaves OUT missing and its old copy hidden."""
    if out.exists():
        return
    olds = sorted(out.parent.glob(f".{out.name}.old-*")) if out.parent.is_dir() else []
    if olds:
        os.rename(olds[-1], out)


def _move_into_place(tmp: Path, out: Path) -> None:
    if not out.exists():
        os.rename(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"  # not a leftover name: recovered if stranded
    os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        os.rename(old, out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_images(params: ShapeDatasetParams, root: Path, progress: ProgressCallback | None) -> list[dict]:
    for split in SPLITS:
        for domain in DOMAINS:
            (root / f"{split}{domain}").mkdir()
    colors = params.class_colors()
    width = max(4, len(str(max(params.train_per_class, params.test_per_class) - 1)))
    total, done, rows = params.image_count(), 0, []
    for split in SPLITS:
        for shape in params.shapes:
            for index in range(params.per_class(split)):
                scene = render_scene(params, shape, index, split)
                stem = f"{shape}_{index:0{width}d}"
                for domain in DOMAINS:
                    img = scene.image(domain, params)
                    path = root / f"{split}{domain}" / f"{stem}{params.suffix}"
                    # Encode + write rather than cv2.imwrite, which fails on non-ASCII paths on Windows.
                    try:
                        path.write_bytes(encode_scene_image(img, params))
                    except OSError as exc:
                        raise UserError(f"could not write {path}: {exc.strerror or exc}") from None
                    rows.append(_row(params, scene, split, domain, stem, colors[shape]))
                done += 2
                if progress is not None and progress(done, total) is False:
                    raise GenerationCancelled("dataset generation cancelled")
    return rows


def encode_scene_image(img: np.ndarray, params: ShapeDatasetParams) -> bytes:
    """A scene image (RGB or gray uint8) as the file bytes generate_dataset writes: PNG or JPEG."""
    return encode_image(img, params.image_format, params.jpeg_quality)


def _row(params: ShapeDatasetParams, scene: Scene, split: str, domain: str, stem: str, color) -> dict:
    is_rgb = domain == params.rgb_domain
    first = scene.figures[0]
    noisy = params.noise_sigma > 0 and domain in params.noise_domains
    return {
        "file": f"{split}{domain}/{stem}{params.suffix}",
        "stem": stem,
        "split": split,
        "domain": domain,
        "kind": "rgb" if is_rgb else "gray",
        "shape": scene.shape,
        "color": list(color) if is_rgb else [params.gray_level] * 3,
        "gray_level": params.gray_level,
        "background": scene.background_rgb if is_rgb else scene.background_gray,
        "noise_sigma": params.noise_sigma if noisy else 0.0,
        "center": list(first.center),
        "size": first.size,
        "rotation": first.rotation,
        "aspect": first.aspect,
        "shapes": [g.to_dict() for g in scene.figures],
    }


def _write_manifest(params: ShapeDatasetParams, rows: list[dict], path: Path) -> None:
    head = {
        "format": "cyclegan-workbench shapes manifest",
        "version": 1,
        "params": params.to_dict(),
        "class_colors": {k: list(v) for k, v in params.class_colors().items()},
        "domains": {"rgb": params.rgb_domain, "gray": params.gray_domain},
    }
    # One parameter and one image per line: readable, diffable, and much faster than an indented dump.
    lines = []
    for key, value in head.items():
        if key == "params":
            text = "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items()) + "\n }"
        else:
            text = json.dumps(value)
        lines.append(f" {json.dumps(key)}: {text}")
    images = ' "images": [\n' + ",\n".join("  " + json.dumps(r) for r in rows) + "\n ]"
    path.write_text("{\n" + ",\n".join([*lines, images]) + "\n}\n", encoding="utf-8")


def load_manifest(path_or_dataset: str | Path) -> dict:
    """The manifest of a generated dataset, given its folder or the manifest.json itself."""
    path = Path(path_or_dataset)
    if path.is_dir():
        path = path / MANIFEST_NAME
    if not path.is_file():
        raise UserError(f"no manifest at {path}: give a dataset folder made by generate-dataset or its manifest.json")
    manifest = read_json(path, "a shapes manifest")
    missing = [k for k in ("params", "class_colors", "images") if not isinstance(manifest, dict) or k not in manifest]
    if missing:
        raise UserError(f"{path} is not a shapes manifest (missing {', '.join(missing)})")
    return manifest


def dataset_root(path_or_dataset: str | Path) -> Path:
    """The folder that manifest paths are relative to."""
    path = Path(path_or_dataset)
    return path if path.is_dir() else path.parent


__all__ = [
    "SHAPES", "DEFAULT_COLORS", "PRESETS", "TRIANGLE_KINDS", "IMAGE_FORMATS", "Background", "parse_background",
    "ShapeDatasetParams", "ShapeGeometry", "Scene", "render_coverage", "render_scene", "generate_dataset",
    "GenerationCancelled", "encode_scene_image", "load_manifest", "dataset_root",
]
