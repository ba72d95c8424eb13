"""The one scoring path: the interior rule (data.interior), the ScoringSet built from a manifest, from files
and from figures drawn in memory (the same scenes give the same set), and the probe built on it."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.interior import figure_interior, interior_at
from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import (
    ShapeDatasetParams,
    ShapeGeometry,
    generate_dataset,
    render_coverage,
    render_scene,
)
from cyclegan_workbench.models.evaluation import ColourizationProbe
from cyclegan_workbench.visualization.measurements import coverage_at

# Classes listed out of alphabetical order, so that file-name order and manifest order differ.
PARAMS = ShapeDatasetParams(shapes=("triangle", "circle"), size=64, train_per_class=1, test_per_class=3, seed=7)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return generate_dataset(PARAMS, tmp_path_factory.mktemp("scoring_set") / "ds")


def test_the_interior_is_the_fully_covered_pixels_and_shrinks_to_the_half_covered():
    circle = [ShapeGeometry("circle", (20.0, 20.0), 24.0, 0.0)]
    coverage = render_coverage(circle, 40)
    inside = figure_interior(figures=circle, canvas=40)
    assert np.array_equal(inside, coverage == 255) and 0 < inside.sum() < (coverage > 0).sum()
    # At another size: the pixels at least half covered by the interior, the experiments' pixel rule too.
    assert np.array_equal(figure_interior(16, figures=circle, canvas=40), coverage_at(inside, 16, 16))
    half = np.zeros((8, 8), bool)
    half[:, :3] = True  # at 4 x 4, column 0 full, column 1 half covered
    assert np.array_equal(interior_at(half, 4, 4), np.repeat([[True, True, False, False]], 4, axis=0))
    thin = [ShapeGeometry("rectangle", (20.0, 20.0), 30.0, 0.0, 60.0)]  # half a pixel wide: none fully covered
    assert np.array_equal(figure_interior(figures=thin, canvas=40), render_coverage(thin, 40) > 0)


def test_an_interior_found_in_gray_falls_back_to_contrast_and_is_searched_at_full_size():
    gray = np.full((64, 64), 10, np.uint8)
    gray[16:48, 20:44] = 200  # far from the stated level 128: only the contrast rule sees the figure
    expected = np.zeros((64, 64), bool)
    expected[16:48, 20:44] = True
    assert np.array_equal(figure_interior(gray=gray, gray_level=128), expected)
    assert np.array_equal(figure_interior(32, gray=gray, gray_level=128), interior_at(expected, 32, 32))


def test_a_manifest_a_file_list_and_figures_drawn_in_memory_give_the_same_set(dataset):
    from_manifest = ScoringSet.from_dataset(dataset, 32)
    drawn = ScoringSet.from_params(PARAMS, 32)
    by_name = {n: i for i, n in enumerate(drawn.names)}
    order = [by_name[n] for n in from_manifest.names]
    assert from_manifest.classes == [drawn.classes[i] for i in order]
    assert torch.equal(from_manifest.images, drawn.images[order])  # PNG is lossless
    assert all(np.array_equal(m, drawn.masks[i]) for m, i in zip(from_manifest.masks, order))
    assert from_manifest.class_colors == drawn.class_colors and from_manifest.gray_domain == "B"
    paths = [dataset / "testB" / f"{n}.png" for n in from_manifest.names]
    from_files = ScoringSet.from_files(dataset / "manifest.json", paths, 32)
    assert torch.equal(from_files.images, from_manifest.images) and from_files.names == from_manifest.names
    # Every mask is the interior rule applied to the scene's geometry.
    scene = render_scene(PARAMS, "triangle", 2, "test")
    assert np.array_equal(drawn.masks[by_name["triangle_0002"]], figure_interior(32, figures=scene.figures, canvas=64))
    assert np.array_equal(drawn.coverage(0), render_coverage(drawn.figures[0], 64))


def test_from_dataset_takes_files_in_name_order_or_the_stems_asked_for(dataset):
    first = ScoringSet.from_dataset(dataset, 32, limit=4)
    assert first.names == ["circle_0000", "circle_0001", "circle_0002", "triangle_0000"]
    stems = ["triangle_0001", "circle_0002"]
    picked = ScoringSet.from_dataset(dataset, None, stems=stems)
    assert picked.names == stems and picked.images.shape == (2, 1, 64, 64)
    with pytest.raises(UserError, match="no gray test image square_0000"):
        ScoringSet.from_dataset(dataset, 32, stems=["square_0000"])


def test_a_manifest_without_geometry_is_scored_with_interiors_found_in_the_gray_images(dataset, tmp_path):
    copy = shutil.copytree(dataset, tmp_path / "ds")
    manifest = json.loads((copy / "manifest.json").read_text())
    for row in manifest["images"]:
        del row["shapes"]
    (copy / "manifest.json").write_text(json.dumps(manifest))
    probe = ColourizationProbe.create(copy, 64)  # redrew masks from geometry unconditionally: a KeyError
    assert isinstance(probe, ColourizationProbe) and probe.scoring.figures is None
    exact = ScoringSet.from_dataset(dataset, 64)
    perfect = []
    for mask, cls in zip(exact.masks, exact.classes):
        out = np.zeros((64, 64, 3), np.uint8)
        out[cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0] = exact.class_colors[cls]
        perfect.append(out)
    assert score_outputs(perfect, probe.scoring).accuracy == 1.0


def test_score_outputs_needs_one_output_per_image(dataset):
    scoring = ScoringSet.from_dataset(dataset, 32)
    with pytest.raises(ValueError, match="5 outputs for 6 scored images"):
        score_outputs(torch.zeros(5, 3, 32, 32), scoring)
