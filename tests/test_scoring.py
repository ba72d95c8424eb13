"""The colourization score: perfect on ground truth, zero on swapped colours, masks, files, report."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import to_tensor
from cyclegan_workbench.data.interior import figure_interior, shape_mask_from_gray
from cyclegan_workbench.data.scoring import NO_SHAPE, classify_colour, score_directory, score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import (
    SHAPES,
    ShapeDatasetParams,
    generate_dataset,
    render_coverage,
    render_scene,
)

PARAMS = ShapeDatasetParams(
    shapes=("circle", "triangle", "star"), size=48, train_per_class=1, test_per_class=4, seed=3, background="40"
)
SWAPPED = {"circle": (0, 255, 0), "triangle": (255, 0, 0)}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return generate_dataset(PARAMS, tmp_path_factory.mktemp("score") / "ds")


@pytest.fixture(scope="module")
def swapped(tmp_path_factory) -> Path:
    """The same scenes (same seed) with the circle and triangle colours exchanged."""
    params = replace(PARAMS, colors=SWAPPED)
    return generate_dataset(params, tmp_path_factory.mktemp("swapped") / "ds")


def rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def gray(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def test_ground_truth_translations_score_one(dataset):
    result = score_directory(dataset, dataset / "testA")
    assert result.accuracy == 1.0 and result.n == 12 and result.missing == []
    assert result.per_class == {"circle": 1.0, "triangle": 1.0, "star": 1.0}
    assert result.confusion == {"circle": {"circle": 4}, "triangle": {"triangle": 4}, "star": {"star": 4}}


def test_swapped_class_colours_score_zero_on_the_swapped_classes(dataset, swapped, tmp_path):
    translations = tmp_path / "fake"
    shutil.copytree(swapped / "testA", translations)
    result = score_directory(dataset / "manifest.json", translations)
    assert result.per_class == {"circle": 0.0, "triangle": 0.0, "star": 1.0}
    assert result.confusion["circle"] == {"triangle": 4} and result.confusion["triangle"] == {"circle": 4}


def found_in_gray(grays: list[np.ndarray], classes: list[str]) -> ScoringSet:
    """A scoring set whose interiors are found in the gray images (no geometry)."""
    masks = [figure_interior(gray=g, gray_level=128) for g in grays]
    colors = {"circle": (255, 0, 0), "triangle": (0, 255, 0)}
    return ScoringSet(torch.stack([to_tensor(g) for g in grays]), masks, classes, colors)


def test_score_outputs_with_interiors_found_in_gray_one_then_zero(dataset, swapped):
    stems = [f"{s}_{i:04d}" for s in ("circle", "triangle") for i in range(4)]
    scoring = found_in_gray([gray(dataset / "testB" / f"{s}.png") for s in stems], [s.split("_")[0] for s in stems])
    truth = [rgb(dataset / "testA" / f"{s}.png") for s in stems]
    fakes = [rgb(swapped / "testA" / f"{s}.png") for s in stems]
    assert score_outputs(truth, scoring).accuracy == 1.0
    assert score_outputs(fakes, scoring).accuracy == 0.0
    # A batch of generator outputs in [-1, 1] scores the same as the uint8 images it stands for.
    batch = torch.stack([to_tensor(t) for t in truth])
    assert score_outputs(batch, scoring).to_dict() == score_outputs(truth, scoring).to_dict()


def test_masks_are_resized_to_larger_outputs(dataset):
    scoring = found_in_gray([gray(dataset / "testB" / "triangle_0000.png")], ["triangle"])
    big = [cv2.resize(rgb(dataset / "testA" / "triangle_0000.png"), (96, 96), interpolation=cv2.INTER_NEAREST)]
    result = score_outputs(big, scoring)
    assert result.accuracy == 1.0
    assert result.predictions[0]["mean_rgb"][1] > 200


def test_an_empty_mask_counts_as_wrong():
    out = np.zeros((8, 8, 3), np.uint8)
    scoring = ScoringSet(torch.zeros(1, 1, 8, 8), [np.zeros((8, 8), bool)], ["circle"], {"circle": (0, 0, 0)})
    result = score_outputs([out], scoring)
    assert result.accuracy == 0.0 and result.predictions[0]["predicted"] == NO_SHAPE
    assert NO_SHAPE in result.format_table()


def test_missing_translations_are_reported_and_the_rest_scored(dataset, tmp_path):
    translations = tmp_path / "fake"
    shutil.copytree(dataset / "testA", translations)
    (translations / "star_0002.png").unlink()
    result = score_directory(dataset, translations)
    assert result.n == 11 and result.missing == ["star_0002"]
    assert "missing translations: 1 (star_0002)" in result.format_table()


def test_reference_naming_and_jpeg_translations_match(dataset, tmp_path):
    translations = tmp_path / "fake"
    translations.mkdir()
    for path in (dataset / "testA").glob("*.png"):
        img = cv2.imread(str(path))
        cv2.imwrite(str(translations / f"{path.stem}_fake_A.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    (translations / "notes.txt").write_text("ignored")
    result = score_directory(dataset, translations)
    assert result.n == 12 and result.accuracy == 1.0


def test_folder_problems_are_user_errors(dataset, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        score_directory(dataset, tmp_path / "nowhere")
    (tmp_path / "other").mkdir()
    cv2.imwrite(str(tmp_path / "other" / "dog.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(UserError, match="none of the 12 testB images has a translation.*circle_0000.png"):
        score_directory(dataset, tmp_path / "other")
    with pytest.raises(UserError, match="no manifest"):
        score_directory(tmp_path / "other", dataset / "testA")


def test_report_table_and_json(dataset):
    result = score_directory(dataset, dataset / "testA")
    table = result.format_table()
    assert table.splitlines()[0] == "accuracy 1.000 (12/12)"
    assert "circle" in table and "confusion" in table
    data = json.loads(json.dumps(result.to_dict()))
    assert data["accuracy"] == 1.0 and data["n"] == 12 and len(data["predictions"]) == 12
    assert data["confusion"]["star"] == {"star": 4}


def test_classify_colour_picks_the_nearest():
    colors = {"circle": (255, 0, 0), "triangle": (0, 255, 0), "square": (0, 0, 255)}
    assert classify_colour((200, 90, 40), colors) == "circle"
    assert classify_colour([10, 140, 120], colors) == "triangle"
    assert classify_colour(np.array([60.0, 60.0, 130.0]), colors) == "square"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return (a & b).sum() / max((a | b).sum(), 1)


def test_mask_from_gray_tolerates_noise():
    params = ShapeDatasetParams(shapes=SHAPES, size=96, noise_sigma=10.0)
    scores = []
    for shape in SHAPES:
        scene = render_scene(params, shape, 0)
        truth = render_coverage(scene.figures, 96) >= 128
        scores.append(iou(shape_mask_from_gray(scene.gray, 128), truth))
    assert np.mean(scores) > 0.85 and min(scores) > 0.6


def test_mask_from_gray_separates_shapes_from_a_textured_background():
    params = ShapeDatasetParams(shapes=SHAPES, size=96, background="texture:0-255")
    scores, naive = [], []
    for i, shape in enumerate(SHAPES):
        scene = render_scene(params, shape, i)
        truth = render_coverage(scene.figures, 96) >= 128
        scores.append(iou(shape_mask_from_gray(scene.gray, 128), truth))
        naive.append(iou(shape_mask_from_gray(scene.gray, 128, clean=False), truth))
    assert np.mean(scores) > 0.7 and np.mean(scores) > np.mean(naive) + 0.2


def test_mask_from_gray_drops_a_band_running_off_the_border():
    img = np.zeros((40, 40), np.uint8)
    img[:, :6] = 128  # a background band at the shape level
    img[15:25, 18:30] = 128
    mask = shape_mask_from_gray(img, 128)
    expected = np.zeros_like(mask)
    expected[15:25, 18:30] = True
    assert np.array_equal(mask, expected)


def test_rows_without_geometry_fall_back_to_masks_from_the_gray_files(dataset, swapped, tmp_path):
    manifest = json.loads((dataset / "manifest.json").read_text())
    for row in manifest["images"]:
        del row["shapes"]
    shutil.copytree(dataset, tmp_path / "ds")
    (tmp_path / "ds" / "manifest.json").write_text(json.dumps(manifest))
    assert score_directory(tmp_path / "ds", dataset / "testA").accuracy == 1.0
    assert score_directory(tmp_path / "ds", swapped / "testA").per_class["circle"] == 0.0


def test_score_by_area_shows_a_generator_that_colours_by_size():
    # Six circles of growing size; the "generator" paints the two smallest in the triangle colour, as a
    # generator that colours by figure area rather than by shape does.
    colors = {"circle": (255, 0, 0), "triangle": (0, 255, 0)}
    masks, outputs = [], []
    for k, radius in enumerate((4, 5, 7, 9, 12, 14)):
        mask = np.zeros((32, 32), np.uint8)
        cv2.circle(mask, (16, 16), radius, 1, -1)
        out = np.zeros((32, 32, 3), np.uint8)
        out[mask > 0] = colors["triangle"] if k < 2 else colors["circle"]
        masks.append(mask > 0)
        outputs.append(out)
    scoring = ScoringSet(images=None, masks=masks, classes=["circle"] * 6, class_colors=colors)
    result = score_outputs(outputs, scoring)
    assert result.accuracy == pytest.approx(4 / 6)
    (small, middle, large) = result.by_area["circle"]
    assert small[2:] == (0, 2) and middle[2:] == (2, 2) and large[2:] == (2, 2)
    assert small[0] == masks[0].sum() and large[1] == masks[-1].sum() and small[1] < middle[0] <= middle[1] < large[0]
    table = result.format_table()
    assert "by figure area" in table and f"{small[0]}-{small[1]} px 0/2  {middle[0]}-{middle[1]} px 2/2" in table
    assert result.to_dict()["by_area"]["circle"][0] == list(small)
    # Fewer than 3 images of a class: no thirds to show.
    assert score_outputs(outputs[:2], replace(scoring, masks=masks[:2], classes=["circle"] * 2)).by_area == {}
