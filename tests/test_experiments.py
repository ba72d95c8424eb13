"""The experiments' measurements on cases with known answers: hand-made arrays, and hand-made generators
that paint by a known rule (so nothing here depends on a network learning anything)."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import (
    ShapeDatasetParams,
    ShapeGeometry,
    render_coverage,
)
from cyclegan_workbench.models.evaluation import TABLE_COLUMNS
from cyclegan_workbench.visualization import experiments as ex
from cyclegan_workbench.visualization import measurements as ms
from cyclegan_workbench.visualization.experiments import architectures as architectures_module
from cyclegan_workbench.visualization.experiments.architectures import architecture_comparison
from cyclegan_workbench.visualization.experiments.background import background_sweep
from cyclegan_workbench.visualization.experiments.bottleneck import bottleneck_nullification
from cyclegan_workbench.visualization.experiments.filters import filter_ranking
from cyclegan_workbench.visualization.experiments.shift import shift_comparison
from cyclegan_workbench.visualization.experiments.skip import edge_interior_colour, skip_isolation
from cyclegan_workbench.visualization.experiments.unseen import unseen_figures
from cyclegan_workbench.visualization.parser import parse_generator

RED, GREEN = (255, 0, 0), (0, 255, 0)
COLOURS = {"circle": RED, "triangle": GREEN}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Hand-made networks this small gain nothing from a second thread, which on a busy machine only waits.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def scoring():
    """3 circles + 3 triangles, 32 px, hard edges (the painters below then see exactly the shape pixels)."""
    params = ShapeDatasetParams(size=32, train_per_class=0, test_per_class=3, antialias=False, seed=3)
    return ScoringSet.from_params(params, 32, COLOURS)


# --- hand-made generators ------------------------------------------------------------------------
def bottleneck_painter() -> nn.Module:
    """Paints shapes green through its bottleneck (the first conv); with the bottleneck zeroed the output
    is tanh(-10) = -1 everywhere: black."""
    net = nn.Sequential(nn.Conv2d(1, 2, 2, stride=2), nn.ReLU(), nn.ConvTranspose2d(2, 3, 2, stride=2), nn.Tanh())
    with torch.no_grad():
        net[0].weight.fill_(1.0)  # 2x2 sum: about 0 on a shape (gray 128), -4 on the black background
        net[0].bias.fill_(2.0)
        net[2].weight.zero_()
        net[2].weight[:, 1] = 10.0  # green from the bottleneck
        net[2].bias.fill_(-10.0)
    return net.eval()


class SkipNet(nn.Module):
    """A two-level U-Net made of constants: the deep path adds red, the skip path green. Intact: yellow
    everywhere; with only skip 1: green everywhere."""

    def __init__(self):
        super().__init__()
        self.down1, self.act1 = nn.Conv2d(1, 2, 2, stride=2), nn.ReLU()
        self.down2, self.act2 = nn.Conv2d(2, 2, 2, stride=2), nn.ReLU()
        self.up2 = nn.ConvTranspose2d(2, 2, 2, stride=2)
        self.up1, self.out = nn.ConvTranspose2d(4, 3, 2, stride=2), nn.Tanh()
        with torch.no_grad():
            for conv in (self.down1, self.down2):
                conv.weight.zero_()
                conv.bias.fill_(1.0)
            self.up2.weight.fill_(0.5)
            self.up2.bias.zero_()
            self.up1.weight.zero_()
            self.up1.weight[2:4, 0] = 5.0  # red from the deep path
            self.up1.weight[0:2, 1] = 5.0  # green from the skip
            self.up1.bias.copy_(torch.tensor([-5.0, -5.0, -10.0]))

    def forward(self, x):
        e1 = self.act1(self.down1(x))
        e2 = self.act2(self.down2(e1))
        return self.out(self.up1(torch.cat([e1, self.up2(e2)], 1)))


class RadialPainter(nn.Module):
    """Shape pixels within `radius` of the canvas centre red, the other shape pixels green, the rest black."""

    def __init__(self, size: int, radius: float):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.conv.bias.zero_()
        c = (size - 1) / 2
        yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
        self.register_buffer("near", ((((xx - c) ** 2 + (yy - c) ** 2).sqrt() < radius).float())[None, None])

    def forward(self, x):
        bright = (self.conv(x) > -0.5).float()
        red, green = bright * self.near, bright * (1 - self.near)
        return torch.cat([red, green, torch.zeros_like(red)], 1) * 2 - 1


class GlobalPainter(nn.Module):
    """Everything red when the image is bright on average (mean above mid-gray), else everything green."""

    def forward(self, x):
        red = (x.mean(dim=(2, 3), keepdim=True) > 0).float().expand_as(x)
        return torch.cat([red, 1 - red, torch.zeros_like(x)], 1) * 2 - 1


class HalfPainter(nn.Module):
    """The left half of every image red, the right half green."""

    def __init__(self, size: int):
        super().__init__()
        left = torch.zeros(1, 1, size, size)
        left[..., :size // 2] = 1
        self.register_buffer("left", left)

    def forward(self, x):
        left = self.left.expand_as(x)
        return torch.cat([left, 1 - left, torch.zeros_like(x)], 1) * 2 - 1


def planted_net() -> nn.Module:
    """Filter 2 of the first conv dominates the output."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 1), nn.Tanh())
    with torch.no_grad():
        net[0].weight.mul_(0.05)
        net[0].weight[2] = 1.0
        net[0].bias[2] = 3.0  # positive on shapes (about 0 in [-1, 1]), cut by the ReLU on the black background
        net[2].weight.mul_(0.05)
        net[2].weight[:, 2] = 1.0
    return net.eval()


# --- the paint rule and the regions ---------------------------------------------------------------
def test_paint_labels_follow_hue_and_chroma():
    pixels = np.array([[RED, GREEN, (0, 0, 255), (128, 20, 20), (128, 128, 128), (255, 255, 0), (255, 140, 0),
                        (100, 70, 70), (0, 0, 0)]], np.uint8)
    labels = ms.paint_labels(pixels, COLOURS)
    # dark red and orange (hue 33) are red; blue, gray, yellow (hue 60, between), pale (chroma 30), black are not
    assert labels.tolist() == [[0, 1, -1, 0, -1, -1, 0, -1, -1]]


def test_paint_fractions_count_the_region_only():
    image = np.zeros((4, 4, 3), np.uint8)
    image[:, :2] = RED
    image[:, 2] = GREEN
    region = np.zeros((4, 4), bool)
    region[:2, 1:] = True  # 2 red, 2 green, 2 black pixels
    f = ms.paint_fractions(image, region, COLOURS)
    assert f == {"circle": pytest.approx(1 / 3), "triangle": pytest.approx(1 / 3), "other": pytest.approx(1 / 3),
                 "pixels": 6}
    empty = ms.paint_fractions(image, np.zeros((4, 4), bool), COLOURS)
    assert empty == {"circle": None, "triangle": None, "other": None, "pixels": 0}


def test_edge_and_interior_of_a_square():
    mask = np.zeros((10, 10), bool)
    mask[2:8, 2:8] = True  # 6 x 6
    edge, interior = ms.edge_and_interior(mask, 1)
    assert (edge.sum(), interior.sum()) == (20, 16)
    assert not (edge & interior).any() and ((edge | interior) == mask).all()
    edge, interior = ms.edge_and_interior(mask, 2)
    assert (edge.sum(), interior.sum()) == (32, 4)
    assert interior[4:6, 4:6].all()


@pytest.mark.parametrize("aspect,rotation", [(1.0, 0.0), (3.0, 0.0), (3.0, 90.0), (4.0, 30.0), (2.0, -70.0)])
def test_rectangle_regions_take_a_quarter_each_and_the_centre_lies_inside(aspect, rotation):
    g = ShapeGeometry("rectangle", (127.5, 127.5), 200.0, rotation, aspect)
    shape = render_coverage([g], 256, antialias=False) > 0
    regions = ms.rectangle_regions(g, 256, 256)
    inside = shape.sum()
    # A wrong rotation convention would put much of a long rectangle's "centre" outside the shape.
    assert (regions["centre"] & shape).sum() / regions["centre"].sum() > 0.98
    for name in ("centre", "corners"):
        assert (regions[name] & shape).sum() / inside == pytest.approx(0.25, abs=0.02)
    assert (regions["sides"] & shape).sum() / inside == pytest.approx(0.5, abs=0.03)


def test_regions_map_output_pixels_to_the_canvas():
    g = ShapeGeometry("rectangle", (127.5, 127.5), 200.0, 0.0, 1.0)
    small = ms.rectangle_regions(g, 256, 64)
    big = ms.rectangle_regions(g, 256, 256)
    assert small["centre"].shape == (64, 64)
    # Each output pixel is the 4 x 4 block of canvas pixels around its centre.
    assert (small["centre"] == big["centre"][1::4, 1::4]).mean() > 0.97


def test_coverage_at_keeps_half_covered_pixels():
    coverage = np.zeros((8, 8), np.uint8)
    coverage[:, :3] = 255  # 3 of 8 columns: at 4 x 4, column 0 full, column 1 half covered
    out = ms.coverage_at(coverage, 4, 4)
    assert out[:, :2].all() and not out[:, 2:].any()


# --- experiment 2 ----------------------------------------------------------------------------------
def test_zeroed_bottleneck_gives_the_accuracy_of_an_all_black_output(scoring):
    net = bottleneck_painter()
    result = bottleneck_nullification(net, scoring)
    n = result.numbers
    assert n["bottleneck"]["index"] == 0
    black = [np.zeros((32, 32, 3), np.uint8)] * len(scoring.classes)
    expected = score_outputs(black, scoring)
    assert n["accuracy_nullified"] == expected.accuracy
    assert n["per_class_nullified"] == expected.per_class == {"circle": 1.0, "triangle": 0.0}  # ties go to red
    assert n["per_class_intact"] == {"circle": 0.0, "triangle": 1.0}  # the painter paints green
    with torch.no_grad():
        intact = net(scoring.images)
    assert n["mean_abs_output_change"] == pytest.approx(float((intact + 1).abs().mean()), abs=1e-6)
    assert "from 50.0% to 50.0%" in result.reading
    assert set(result.figures) == {"bottleneck"}
    assert ex.figure_png(result.figures["bottleneck"])[:4] == b"\x89PNG"


def test_an_experiment_stops_when_cancelled(scoring):
    calls = []
    with pytest.raises(ex.ExperimentCancelled):
        bottleneck_nullification(bottleneck_painter(), scoring, progress=lambda f, m: calls.append(f),
                                 cancelled=lambda: True)
    assert calls == []


def test_experiments_need_the_gray_to_rgb_generator():
    rgb_to_gray = nn.Sequential(nn.Conv2d(3, 1, 1), nn.Tanh())
    with pytest.raises(UserError, match="gray -> RGB"):
        ex.as_colourizer(parse_generator(rgb_to_gray, 16))


# --- experiment 3 ----------------------------------------------------------------------------------
def test_isolating_skip_1_removes_the_deep_path(scoring):
    net = SkipNet().eval()
    result = skip_isolation(net, scoring, level=1, edge_width=1)
    n = result.numbers
    assert n["zeroed_layers"] == [2]  # down2, the bottleneck: the only contracting layer below level 1
    for region in ("edge", "interior"):
        intact, isolated = n["intact"][region], n["isolated"][region]
        assert intact["other"] == 1.0 and intact["coloured"] == 0.0  # yellow: between red and green
        assert isolated["triangle"] == 1.0 and isolated["coloured"] == 1.0  # green only
        assert isolated["mean_chroma"] == 255.0
    # Own class colour: the share of pixels that belong to triangles, since everything is green.
    edges = [ms.edge_and_interior(ms.coverage_at(m, 32, 32), 1)[0].sum() for m in scoring.masks]
    triangle_share = sum(e for e, c in zip(edges, scoring.classes) if c == "triangle") / sum(edges)
    assert n["isolated"]["edge"]["true_colour"] == pytest.approx(triangle_share)
    assert n["accuracy_intact"] == 0.5 and n["accuracy_isolated"] == 0.5
    assert n["per_class_intact"] == {"circle": 1.0, "triangle": 0.0}  # yellow: the tie goes to the first class
    assert n["per_class_isolated"] == {"circle": 0.0, "triangle": 1.0}


def test_edge_and_interior_colour_on_hand_made_outputs(scoring):
    """Outputs painted red on a 1-pixel edge band and left gray inside: the measurement finds exactly that."""
    outputs = []
    for mask in scoring.masks:
        shape = ms.coverage_at(mask, 32, 32)
        edge, interior = ms.edge_and_interior(shape, 1)
        out = np.zeros((32, 32, 3), np.uint8)
        out[edge] = RED
        out[interior] = (128, 128, 128)
        outputs.append(out)
    stats = edge_interior_colour([outputs], scoring, edge_width=1)[0]
    assert stats["edge"]["circle"] == 1.0 and stats["edge"]["coloured"] == 1.0
    assert stats["interior"]["other"] == 1.0 and stats["interior"]["mean_chroma"] == 0.0
    circles = sum(ms.edge_and_interior(ms.coverage_at(m, 32, 32), 1)[0].sum()
                  for m, c in zip(scoring.masks, scoring.classes) if c == "circle")
    assert stats["edge"]["true_colour"] == pytest.approx(circles / stats["edge"]["pixels"])


# --- experiment 4 ----------------------------------------------------------------------------------
def test_unseen_squares_painted_red_in_the_centre_and_green_in_the_corners():
    # Axis-aligned squares of circumscribed diameter 32 at the centre of a 64 px canvas: half side 11.3, so
    # the centre region reaches 8 px from the centre (red within 8) and the corners start beyond it.
    base = ShapeDatasetParams(size=64, scale=(0.5, 0.5), rotation=0.0, antialias=False, seed=0)
    painter = RadialPainter(64, 8.0).eval()
    result = unseen_figures(painter, 64, base, COLOURS, aspects=(1.0, 6.0), per_aspect=2, shapes=["ellipse"],
                            per_shape=1)
    square = result.numbers["per_aspect"][0]
    assert square["aspect"] == 1.0 and square["figures"] == 2
    assert square["centre"]["circle"] == 1.0 and square["centre"]["pixels"] > 0
    assert square["corners"]["triangle"] == 1.0 and square["corners"]["pixels"] > 0
    assert square["shape_pixels"]["other"] == 0.0
    assert square["coloured_outside_per_shape_pixel"] == 0.0  # the painter keeps to the figure
    assert square["shape_pixels"]["circle"] + square["shape_pixels"]["triangle"] == pytest.approx(1.0)
    # The 1:6 rectangle is 5.3 px wide: entirely within 8 px of the centre across, its ends beyond.
    thin = result.numbers["per_aspect"][1]
    assert thin["centre"]["circle"] == 1.0 and thin["corners"]["triangle"] == 1.0
    assert [r["shape"] for r in result.numbers["per_shape"]] == ["ellipse"]
    assert set(result.figures) == {"unseen_fractions", "unseen_rectangles", "unseen_shapes"}


def test_colour_outside_the_figure_is_counted_per_figure_pixel():
    base = ShapeDatasetParams(size=32, antialias=False, seed=4)
    result = unseen_figures(HalfPainter(32), 32, base, COLOURS, aspects=(2.0,), per_aspect=3, shapes=[])
    figs = ScoringSet.from_params(replace(base, shapes=("rectangle",), aspect=(2.0, 2.0), test_per_class=3), 32)
    coverages = [figs.coverage(i) for i in range(len(figs))]
    inside = sum(int((c == 255).sum()) for c in coverages)
    outside = sum(int((c == 0).sum()) for c in coverages)
    assert result.numbers["per_aspect"][0]["coloured_outside_per_shape_pixel"] == pytest.approx(outside / inside)


def test_unseen_figures_all_red_for_a_painter_of_every_bright_pixel():
    base = ShapeDatasetParams(size=32, antialias=False, seed=1)
    painter = RadialPainter(32, 100.0).eval()  # every shape pixel is near
    result = unseen_figures(painter, 32, base, COLOURS, aspects=(1.0, 3.0), per_aspect=2, per_shape=1)
    for row in result.numbers["per_aspect"] + result.numbers["per_shape"]:
        assert row["shape_pixels"]["circle"] == 1.0
        assert row["figures_classified_as"] == {"circle": row["figures"]}
    # Shapes default to every shape but the trained classes and the rectangle.
    assert [r["shape"] for r in result.numbers["per_shape"]] == ["square", "ellipse", "pentagon", "hexagon", "star",
                                                                "cross"]


# --- experiment 5 ----------------------------------------------------------------------------------
def test_background_sweep_follows_a_painter_of_the_image_mean():
    base = ShapeDatasetParams(size=32, seed=2)
    result = background_sweep(GlobalPainter(), 32, base, COLOURS, levels=(0, 128, 255), per_class=2)
    n = result.numbers
    assert n["levels"] == [0, 255] and n["excluded_levels"] == [128]
    # Dark background: all green, so triangles are right; light background: all red, circles right.
    assert n["per_class"] == {"circle": [0.0, 1.0], "triangle": [1.0, 0.0]}
    assert n["accuracy"] == [0.5, 0.5]
    assert n["layer2"]["levels_shown"] == [0, 255]
    assert n["background_coloured"] == [1.0, 1.0]  # the whole image is painted either way


def test_background_sweep_counts_the_coloured_background():
    # The bright-pixel painter leaves a black background alone and paints a white one.
    result = background_sweep(RadialPainter(32, 100.0), 32, ShapeDatasetParams(size=32, seed=2), COLOURS,
                              levels=(0, 255), per_class=2)
    assert result.numbers["background_coloured"] == [0.0, 1.0]


def test_background_sweep_refuses_levels_out_of_range():
    with pytest.raises(UserError, match="between 0 and 255"):
        background_sweep(GlobalPainter(), 32, ShapeDatasetParams(size=32), COLOURS, levels=(0, 300))


# --- experiment 6 ----------------------------------------------------------------------------------
def test_shift_comparison_scores_every_model_on_every_set():
    images = torch.zeros(3, 1, 16, 16)
    left, right = np.zeros((16, 16), bool), np.zeros((16, 16), bool)
    left[4:12, 1:6], right[4:12, 10:15] = True, True
    classes = ["circle", "circle", "triangle"]
    sets = {"left": ScoringSet(images, [left] * 3, classes, COLOURS),
            "right": ScoringSet(images, [right] * 3, classes, COLOURS)}
    result = shift_comparison({"half": HalfPainter(16), "green": GlobalPainter()}, sets, samples=2)
    acc = result.numbers["accuracy"]
    assert acc["half"] == {"left": pytest.approx(2 / 3), "right": pytest.approx(1 / 3)}
    assert acc["green"] == {"left": pytest.approx(1 / 3), "right": pytest.approx(1 / 3)}  # mean 0 < 0: green
    assert "Model half: 66.7% on left figures, 33.3% on right figures." in result.reading


# --- experiment 7 ----------------------------------------------------------------------------------
def test_filter_ranking_puts_the_planted_filter_first(scoring):
    result = filter_ranking(planted_net(), scoring, top_k=2)
    layers = result.numbers["layers"]
    # The bottleneck is the last of the smallest maps that is not a bare activation: here the output tanh.
    assert [l["layer"] for l in layers] == [3, 0]
    first = layers[1]
    assert first["effects"][0]["filter"] == 2
    assert first["effects"][0]["output_change"] > 5 * first["effects"][1]["output_change"]
    assert 0 < first["top_share_of_output_change"] <= 1
    assert all(e["accuracy"] is not None for e in first["effects"])
    assert set(result.figures) == {"filters_0", "filters_1"}


def test_filter_ranking_stops_when_cancelled(scoring):
    with pytest.raises(ex.ExperimentCancelled):
        filter_ranking(planted_net(), scoring, cancelled=lambda: True)


# --- experiment 1 ----------------------------------------------------------------------------------
def test_loss_curve_means_and_truncation():
    curve = ex.LossCurve()
    for v in (1.0, 2.0, 3.0):
        curve.add_step({"G_A": v, "G_B": 0.5, "cycle_A": 2 * v, "cycle_B": 0.0, "idt_A": 0.0, "idt_B": 0.0, "D_A": 9.0})
    point = curve.add_point(3, 12, 0.5, 10.0, {"Total": 4.0}, 0.75)
    assert point["train"]["G_A"] == 2.0 and point["train"]["D_A"] == 9.0
    assert point["train"]["Total"] == pytest.approx(2.0 + 0.5 + 4.0)  # D losses are not in the Total
    assert curve.pending == 0
    curve.add_step({"G_A": 1.0})
    curve.add_point(6, 24, 1.0, 20.0, None, None)
    curve.add_step({"G_A": 1.0})
    curve.truncate(3)
    assert [p["step"] for p in curve.points] == [3] and curve.pending == 0


def _row(name, total, accuracy, val_totals):
    curve = [{"step": i, "images": i, "epoch": i, "seconds": i, "train": {"Total": 10.0 - i},
              "validation": {"Total": v}, "accuracy": accuracy} for i, v in enumerate(val_totals, 1)]
    return {"name": name, "label": name.upper(), "table": {"Total": total}, "accuracy": accuracy, "curve": curve}


def test_architecture_comparison_names_the_best_and_the_validation_rise():
    result = architecture_comparison([_row("a", 3.0, 0.9, [3.0, 2.0, 2.5]), _row("b", 2.0, 0.6, [2.0, 1.9])])
    n = result.numbers
    assert n["best_total"] == ["b"] and n["best_accuracy"] == ["a"]
    assert n["rows"][0]["curve_summary"]["val_total_rise"] == pytest.approx(0.5)
    assert "Lowest test Total: B (2.000)" in result.reading
    assert "Highest colourization accuracy: A (90.0%)" in result.reading
    assert "A +0.500" in result.reading and "B " not in result.reading.split("over-fitting")[-1]
    tie = architecture_comparison([_row("a", 1.0, 0.5, []), _row("b", 1.0, 0.5, [])])
    assert "all 2 models tie" in tie.reading and "too few" in tie.reading


def test_architecture_comparison_over_seeds_ranks_variants_by_mean_and_says_when_ranges_overlap():
    def seeded(variant, seed, total, accuracy):
        val_totals = [total, total - 0.1, total + (0.2 if seed else 0.0)]
        row = _row(f"{variant}_seed{seed}" if seed else variant, total, accuracy, val_totals)
        return dict(row, label=f"{variant.upper()}, seed {seed}", variant=variant, seed=seed,
                    table={c: total for c in TABLE_COLUMNS})

    apart = architecture_comparison([seeded("a", 0, 2.0, 0.9), seeded("a", 1, 2.2, 1.0),
                                     seeded("b", 0, 1.0, 0.5), seeded("b", 1, 1.4, 0.6)])
    n = apart.numbers
    assert n["ranking"] == ["b", "a"] and n["best_total"] == ["b"] and n["best_accuracy"] == ["a"]
    b = n["variants"][1]
    assert b["label"] == "B" and b["seeds"] == 2 and b["models"] == ["b", "b_seed1"]
    assert b["table"]["Total"] == pytest.approx({"mean": 1.2, "min": 1.0, "max": 1.4})
    assert "Lowest mean test Total over 2 seeds: B (1.200, range 1.000-1.400)" in apart.reading
    assert "the ranges do not overlap" in apart.reading
    assert "Highest mean colourization accuracy: A (95.0%); lowest: B (55.0%, range 50.0%-60.0%)" in apart.reading
    assert "A +0.200" in apart.reading  # mean rise of the validation Total over the seeds: (0.1 + 0.3) / 2
    close = architecture_comparison([seeded("a", 0, 1.0, 0.9), seeded("a", 1, 1.6, 0.9),
                                     seeded("b", 0, 1.2, 0.9), seeded("b", 1, 1.3, 0.9)])
    assert close.numbers["ranking"] == ["b", "a"] and "within the noise" in close.reading
    assert "Every variant has the same mean colourization accuracy (90.0%)" in close.reading
    tied = architecture_comparison([seeded("a", 0, 1.0, 1.0), seeded("a", 1, 1.1, 1.0), seeded("b", 0, 2.0, 1.0),
                                    seeded("b", 1, 2.1, 1.0), seeded("c", 0, 3.0, 0.5), seeded("c", 1, 3.1, 0.7)])
    assert "Highest mean colourization accuracy: A and B (100.0%); lowest: C (60.0%" in tied.reading
    assert tied.numbers["best_accuracy"] == ["a", "b"]
    head, *_ = architectures_module.number_tables(apart.numbers, {"budget": {}})
    assert head[2][0][0] == "B" and head[2][0][5:12] == ["1.200 (1.000-1.400)"] * 7


def test_measure_cyclegan_scores_the_gray_to_rgb_generator(scoring):
    from cyclegan_workbench.models.config import preset_config
    from cyclegan_workbench.models.cyclegan import CycleGAN

    cfg = preset_config("toy")
    cfg.network.num_downs, cfg.network.ngf, cfg.network.ndf = 3, 4, 4
    cfg.network.input_nc, cfg.network.output_nc = 3, 1  # A: RGB, B: gray, so G_B colourizes
    model = CycleGAN(cfg)
    black = nn.Conv2d(1, 3, 1)
    with torch.no_grad():
        black.weight.zero_()
        black.bias.fill_(-10.0)
    model.G_B = nn.Sequential(black, nn.Tanh())  # all black
    batches = [(torch.zeros(2, 3, 32, 32), torch.zeros(2, 1, 32, 32))]
    measured = ex.measure_cyclegan(model, batches, scoring)
    t = measured["table"]
    assert t["Total"] == pytest.approx(t["G_A"] + t["G_B"] + t["Cycle_A"] + t["Cycle_B"])
    assert measured["per_class"] == {"circle": 1.0, "triangle": 0.0}
    assert all(math.isfinite(v) for v in t.values())


def test_balanced_test_set_takes_the_same_number_of_each_class(toy_dataset):
    subset = ex.balanced_test_set(toy_dataset, 16, count=4)
    assert subset.classes == ["circle", "circle", "triangle", "triangle"]
    assert subset.names == ["circle_0000", "circle_0001", "triangle_0000", "triangle_0001"]
    assert tuple(subset.images.shape) == (4, 1, 16, 16)
    assert len(ex.balanced_test_set(toy_dataset, 16).classes) == 6  # all 3 + 3


def test_run_experiment_runs_each_menu_entry_on_one_loaded_generator(toy_dataset):
    from cyclegan_workbench.models.networks import UnetGenerator

    torch.manual_seed(0)
    graph = parse_generator(UnetGenerator(1, 3, 3, 4, "instance").eval(), 32)
    seen = []
    for key in [e.key for e in ex.loaded_model_experiments()]:
        result = ex.run_experiment(key, graph, toy_dataset, images=4, progress=lambda f, m: seen.append(f))
        assert result.key == key and result.reading and result.figures
        assert all(math.isfinite(v) for v in _leaves(result.numbers))
    assert seen and max(seen) == 1.0
    shift = ex.run_experiment("shift", graph, toy_dataset, images=4)
    assert list(shift.numbers["accuracy"]) == ["loaded"] and set(shift.numbers["images"]) == {"centred", "shifted"}
    with pytest.raises(UserError, match="unknown experiment"):
        ex.run_experiment("architectures", graph, toy_dataset)


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield value


def test_figure_text_is_readable(scoring):
    """Every text of the experiments' figures as shown and saved (titles, labels, ticks, legends, bar labels) is
    at least 9 pt."""
    from matplotlib.text import Text

    from cyclegan_workbench.visualization.experiments.figures import SMALL, figure_png

    base = ShapeDatasetParams(size=32, antialias=False, seed=1)
    results = [filter_ranking(planted_net(), scoring, top_k=2),
               unseen_figures(RadialPainter(32, 100.0).eval(), 32, base, COLOURS, aspects=(1.0, 3.0), per_aspect=1,
                              per_shape=1),
               background_sweep(GlobalPainter(), 32, ShapeDatasetParams(size=32, seed=2), COLOURS,
                                levels=(0, 255), per_class=1)]
    for result in results:
        for name, figure in result.figures.items():
            assert figure_png(figure).startswith(b"\x89PNG")  # what the results window and the report show
            small = {t.get_text() for t in figure.findobj(Text) if t.get_visible() and t.get_text()
                     and t.get_fontsize() < SMALL}
            assert not small, f"{name}: {sorted(small)[:5]}"
