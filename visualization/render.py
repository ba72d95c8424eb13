"""Feature maps -> uint8 RGB images: a tiled grid of a layer's maps, one map at full size; colormaps.

Every image is an H x W x 3 C-contiguous uint8 array, ready for QImage(data, w, h, 3 * w,
Format_RGB888) (keep the array alive as long as the QImage). Normalisation and the colour lookup are
vectorised (a 256 x 3 lookup table indexed by the quantised maps), so a 64-map 64x64 grid takes about
a millisecond.

Public API
----------
COLORMAPS: tuple of names (matplotlib's where installed, "gray" and "jet" always)
colormap_lut(name) -> np.ndarray (256, 3) uint8
grid_shape(channels) -> (rows, cols)
tile_grid(response, colormap="viridis", normalize="map", sort_by_energy=False, columns=None, gap=1,
          scale=1, sample=0, value_range=None, gap_color=(48, 48, 48)) -> Grid
    response: (C, H, W) or (N, C, H, W) tensor / array; normalize: "map" (each map to its own range)
    or "layer" (one range for the layer); value_range=(lo, hi) overrides both.
Grid: image, tiles (list of Tile: channel, x, y, width, height, in image pixels), rows, cols, order
    .channel_at(x, y) -> int | None    which filter a click at image pixel (x, y) lands on
    .tile_of(channel) -> Tile
render_map(response, channel, colormap="viridis", scale=1, sample=0, value_range=None) -> image
image_rgb(tensor) -> image           a generator input/output ((1|3) x H x W in [-1, 1]) as RGB uint8
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import as_strided

from cyclegan_workbench.data.errors import UserError

# matplotlib's colormaps (a declared dependency; only its colormap tables are used, never a backend).
COLORMAPS = ("viridis", "jet", "gray", "magma", "inferno", "plasma", "cividis", "hot", "coolwarm", "RdBu_r",
             "twilight")
NORMALIZATIONS = ("map", "layer")


@functools.cache
def colormap_lut(name: str) -> np.ndarray:
    """The colormap as 256 RGB entries (uint8), index 0 for the lowest value."""
    if name not in COLORMAPS:
        raise UserError(f"unknown colormap {name!r}; choose one of {', '.join(COLORMAPS)}")
    import matplotlib

    rgb = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    lut = np.ascontiguousarray(np.round(rgb * 255).astype(np.uint8))
    lut.setflags(write=False)
    return lut


def grid_shape(channels: int, columns: int | None = None) -> tuple[int, int]:
    """(rows, cols) of a near-square grid holding `channels` tiles (or `columns` wide)."""
    if channels < 1:
        raise UserError("nothing to tile: the layer has no channels")
    cols = columns if columns else math.ceil(math.sqrt(channels))
    cols = max(1, min(cols, channels))
    return math.ceil(channels / cols), cols


@dataclass(frozen=True)
class Tile:
    channel: int
    x: int
    y: int
    width: int
    height: int


@dataclass
class Grid:
    image: np.ndarray
    tiles: list[Tile]
    rows: int
    cols: int
    order: list[int]  # channel shown in each tile, in reading order

    def channel_at(self, x: float, y: float) -> int | None:
        """The filter under image pixel (x, y), or None on a gap or outside the grid."""
        if not self.tiles:
            return None
        first = self.tiles[0]
        step_x = self.tiles[1].x - first.x if self.cols > 1 else first.width
        step_y = self.tiles[self.cols].y - first.y if self.rows > 1 else first.height
        col, row = int((x - first.x) // step_x), int((y - first.y) // step_y)
        if not (0 <= col < self.cols and 0 <= row < self.rows):
            return None
        k = row * self.cols + col
        if k >= len(self.tiles):
            return None
        t = self.tiles[k]
        return t.channel if t.x <= x < t.x + t.width and t.y <= y < t.y + t.height else None

    def tile_of(self, channel: int) -> Tile:
        for t in self.tiles:
            if t.channel == channel:
                return t
        raise UserError(f"channel {channel} is not in this grid")


def _maps(response, sample: int) -> torch.Tensor:
    t = torch.as_tensor(response) if not isinstance(response, torch.Tensor) else response
    t = t.detach()
    if t.dim() == 4:
        if not 0 <= sample < t.shape[0]:
            raise UserError(f"sample {sample} is not in this batch of {t.shape[0]}")
        t = t[sample]
    if t.dim() != 3:
        raise UserError(f"a layer response is C x H x W (or N x C x H x W), got shape {tuple(t.shape)}")
    return t.float().cpu()


def _quantise(maps: torch.Tensor, normalize: str, value_range) -> np.ndarray:
    """C x H x W floats -> uint8 lookup indices."""
    if value_range is not None:
        lo = torch.tensor(float(value_range[0]))
        hi = torch.tensor(float(value_range[1]))
    elif normalize == "map":
        lo = maps.amin(dim=(1, 2), keepdim=True)
        hi = maps.amax(dim=(1, 2), keepdim=True)
    elif normalize == "layer":
        lo, hi = maps.min(), maps.max()
    else:
        raise UserError(f"unknown normalisation {normalize!r}; choose one of {', '.join(NORMALIZATIONS)}")
    span = hi - lo
    # A constant map has no range; show it at the bottom of the colormap instead of dividing by zero.
    scale = torch.where(span > 0, 255.0 / span.clamp_min(1e-30), torch.zeros_like(span))
    # One fused pass: (x - lo) * scale, rounded half up by the +0.5 before truncation to uint8.
    q = torch.addcmul(0.5 - lo * scale, maps, scale).clamp_(0, 255)
    return q.to(torch.uint8).contiguous().numpy()


def tile_grid(response, colormap: str = "viridis", normalize: str = "map", sort_by_energy: bool = False,
              columns: int | None = None, gap: int = 1, scale: int = 1, sample: int = 0, value_range=None,
              gap_color=(48, 48, 48)) -> Grid:
    maps = _maps(response, sample)
    c, h, w = maps.shape
    scale, gap = int(scale), int(gap)
    if scale < 1 or gap < 0:
        raise UserError("scale must be at least 1 and gap at least 0")
    lut = colormap_lut(colormap)
    order = list(range(c))
    if sort_by_energy:
        energy = maps.square().mean(dim=(1, 2))
        order = sorted(order, key=lambda k: (-float(energy[k]), k))
        maps = maps[order]
    index = _quantise(maps, normalize, value_range)
    if scale > 1:
        index = index.repeat(scale, axis=1).repeat(scale, axis=2)
    th, tw = h * scale, w * scale
    rows, cols = grid_shape(c, columns)
    canvas = np.empty((rows * (th + gap) + gap, cols * (tw + gap) + gap, 3), np.uint8)
    # Broadcasting one whole row is a memcpy per row; broadcasting a 3-vector is ten times slower.
    row = np.empty((canvas.shape[1], 3), np.uint8)
    row[:] = np.asarray(gap_color, np.uint8)
    canvas[:] = row
    # The tiles, as a (rows, th, cols, tw, 3) view into the canvas: one vectorised copy places them all.
    s0, s1, s2 = canvas.strides
    inner = canvas[gap:, gap:]
    full_rows = c // cols
    if full_rows:
        view = as_strided(inner, shape=(full_rows, th, cols, tw, 3),
                          strides=((th + gap) * s0, s0, (tw + gap) * s1, s1, s2))
        block = np.take(lut, index[:full_rows * cols], axis=0).reshape(full_rows, cols, th, tw, 3)
        view[...] = block.transpose(0, 2, 1, 3, 4)
    for k in range(full_rows * cols, c):  # the last, partly filled row
        r, col = divmod(k, cols)
        y, x = gap + r * (th + gap), gap + col * (tw + gap)
        canvas[y:y + th, x:x + tw] = np.take(lut, index[k], axis=0)
    tiles = []
    for k, channel in enumerate(order):
        r, col = divmod(k, cols)
        tiles.append(Tile(channel, gap + col * (tw + gap), gap + r * (th + gap), tw, th))
    return Grid(canvas, tiles, rows, cols, order)


def render_map(response, channel: int, colormap: str = "viridis", scale: int = 1, sample: int = 0,
               value_range=None) -> np.ndarray:
    """One feature map, normalised to its own range (or `value_range`), as an RGB image."""
    maps = _maps(response, sample)
    if not 0 <= channel < maps.shape[0]:
        raise UserError(f"channel {channel} does not exist: the layer has channels 0-{maps.shape[0] - 1}")
    index = _quantise(maps[channel:channel + 1], "map", value_range)[0]
    if scale > 1:
        index = index.repeat(scale, axis=0).repeat(scale, axis=1)
    return np.ascontiguousarray(np.take(colormap_lut(colormap), index, axis=0))


def image_rgb(tensor) -> np.ndarray:
    """A (1|3) x H x W tensor in [-1, 1] (or a batch of one) as an H x W x 3 uint8 image."""
    t = _maps(tensor, 0)
    if t.shape[0] not in (1, 3):
        raise UserError(f"an image has 1 or 3 channels, got {t.shape[0]}")
    u8 = t.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    if u8.shape[0] == 1:
        u8 = u8.expand(3, -1, -1)
    return np.ascontiguousarray(u8.permute(1, 2, 0).numpy())
