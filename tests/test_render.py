"""Rendering: grid shapes, tile geometry and click mapping, normalisation, energy sort, colormaps."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization.render import (
    COLORMAPS,
    colormap_lut,
    grid_shape,
    image_rgb,
    render_map,
    tile_grid,
)


def maps(c=5, h=6, w=7, seed=0):
    return torch.randn(c, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("channels, expected", [(1, (1, 1)), (3, (2, 2)), (64, (8, 8)), (65, (8, 9)), (512, (23, 23))])
def test_grid_shape_is_near_square(channels, expected):
    assert grid_shape(channels) == expected


def test_grid_image_layout_and_every_tile_equals_its_map_rendered_alone():
    m = maps()
    grid = tile_grid(m, colormap="jet", gap=2, scale=3)
    rows, cols = grid.rows, grid.cols
    assert (rows, cols) == (2, 3)
    assert grid.image.shape == (2 + rows * (18 + 2), 2 + cols * (21 + 2), 3)
    assert grid.image.dtype == np.uint8 and grid.image.flags["C_CONTIGUOUS"]
    assert [t.channel for t in grid.tiles] == [0, 1, 2, 3, 4] == grid.order
    for t in grid.tiles:
        tile = grid.image[t.y:t.y + t.height, t.x:t.x + t.width]
        assert np.array_equal(tile, render_map(m, t.channel, colormap="jet", scale=3))
    empty = grid.image[2 + 20:2 + 20 + 18, 2 + 2 * 23:2 + 2 * 23 + 21]  # the sixth slot has no map
    assert (empty == 48).all()


def test_clicks_map_to_filters_and_gaps_to_none():
    grid = tile_grid(maps(c=10, h=4, w=4), gap=1, scale=2)
    for t in grid.tiles:
        assert grid.channel_at(t.x, t.y) == t.channel
        assert grid.channel_at(t.x + t.width - 0.5, t.y + t.height - 0.5) == t.channel
    first = grid.tiles[0]
    assert grid.channel_at(first.x - 1, first.y) is None  # the border
    assert grid.channel_at(first.x + first.width, first.y) is None  # the gap between tiles
    assert grid.channel_at(grid.image.shape[1] - 2, grid.image.shape[0] - 2) is None  # an empty slot
    assert grid.tile_of(7) == grid.tiles[7]


def test_per_map_normalisation_spans_the_colormap_and_per_layer_keeps_relative_scale():
    m = torch.zeros(2, 4, 4)
    m[0, 0, 0], m[0, 3, 3] = -1.0, 1.0
    m[1, 0, 0], m[1, 3, 3] = -0.5, 0.5
    lut = colormap_lut("gray")
    per_map = tile_grid(m, colormap="gray", normalize="map", gap=0)
    per_layer = tile_grid(m, colormap="gray", normalize="layer", gap=0)
    second = per_map.tiles[1]
    assert tuple(per_map.image[second.y + 3, second.x + 3]) == tuple(lut[255])
    assert tuple(per_map.image[second.y, second.x]) == tuple(lut[0])
    assert tuple(per_layer.image[second.y + 3, second.x + 3]) == tuple(lut[191])  # 0.75 of the layer's range
    assert tuple(per_layer.image[second.y, second.x]) == tuple(lut[64])
    fixed = tile_grid(m, colormap="gray", value_range=(0, 1), gap=0)
    assert tuple(fixed.image[0, 0]) == tuple(lut[0]) and tuple(fixed.image[3, 3]) == tuple(lut[255])


def test_constant_and_nullified_maps_render_at_the_bottom_of_the_colormap():
    m = maps(c=3)
    m[1] = 0.0
    m[2] = 5.0
    grid = tile_grid(m, colormap="viridis", gap=0)
    lut = colormap_lut("viridis")
    for k in (1, 2):
        t = grid.tiles[k]
        assert (grid.image[t.y:t.y + t.height, t.x:t.x + t.width] == lut[0]).all()


def test_sort_by_energy_puts_the_strongest_maps_first():
    m = maps(c=6)
    m[4] *= 10
    m[2] *= 5
    m[0] *= 0
    grid = tile_grid(m, sort_by_energy=True)
    energy = m.square().mean(dim=(1, 2))
    assert grid.order[:2] == [4, 2] and grid.order[-1] == 0
    assert grid.order == sorted(range(6), key=lambda k: -float(energy[k]))
    t = grid.tiles[0]
    assert grid.channel_at(t.x, t.y) == 4


def test_colormaps_and_input_shapes():
    for name in COLORMAPS:
        lut = colormap_lut(name)
        assert lut.shape == (256, 3) and lut.dtype == np.uint8
    assert {"viridis", "jet", "gray"} <= set(COLORMAPS)
    assert np.array_equal(colormap_lut("gray")[:, 0], np.arange(256))
    assert tuple(colormap_lut("jet")[0]) != tuple(colormap_lut("jet")[255])
    with pytest.raises(UserError, match="unknown colormap"):
        colormap_lut("rainbowish")
    batch = maps(c=4).unsqueeze(0).repeat(2, 1, 1, 1)
    batch[1] *= -1
    assert not np.array_equal(tile_grid(batch, sample=0).image, tile_grid(batch, sample=1).image)
    assert np.array_equal(tile_grid(batch).image, tile_grid(batch[0].numpy()).image)
    with pytest.raises(UserError, match="C x H x W"):
        tile_grid(torch.zeros(4, 4))
    with pytest.raises(UserError, match="unknown normalisation"):
        tile_grid(maps(), normalize="global")


def test_image_rgb_maps_minus_one_to_black_and_one_to_white():
    gray = torch.tensor([[[-1.0, 1.0], [0.0, 2.0]]])
    img = image_rgb(gray)
    assert img.shape == (2, 2, 3) and img.flags["C_CONTIGUOUS"]
    assert img[0, 0].tolist() == [0, 0, 0] and img[0, 1].tolist() == [255, 255, 255]
    assert img[1, 0].tolist() == [128, 128, 128] and img[1, 1].tolist() == [255, 255, 255]
    rgb = torch.zeros(1, 3, 2, 2)
    rgb[0, 0] = 1.0
    assert image_rgb(rgb)[0, 0].tolist() == [255, 128, 128]
