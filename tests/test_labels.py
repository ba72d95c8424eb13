"""Scoring sets of datasets without a manifest: classes from folders or names, measured colours, gray level,
masks, the reasons for no accuracy, and the accuracy they give through ColourizationProbe."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from cyclegan_workbench.data.labels import class_of, probe_set
from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.models.evaluation import ColourizationProbe

RED, GREEN, BLUE = (220, 30, 30), (30, 190, 40), (40, 60, 210)
GRAY = 150
JPEG = [cv2.IMWRITE_JPEG_QUALITY, 75]


def figure_mask(shape: str, size: int, index: int) -> np.ndarray:
    """A filled circle, square or triangle, placed and sized a little differently per index."""
    mask = np.zeros((size, size), np.uint8)
    r = size // 4 + index % 3
    cx, cy = size // 2 + (index % 5) - 2, size // 2 - (index % 3) + 1
    if shape == "circle":
        cv2.circle(mask, (cx, cy), r, 1, -1)
    elif shape == "square":
        cv2.rectangle(mask, (cx - r, cy - r), (cx + r, cy + r), 1, -1)
    else:
        pts = np.array([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    assert cv2.imwrite(str(path), bgr, JPEG if path.suffix == ".jpg" else [])


def make_dataset(root: Path, classes: dict, *, size=48, n=4, layout="folder", ext=".png", gray_domain="B",
                 rgb_classes: dict | None = None, rgb_gray=False, splits=("train", "test"),
                 name=lambda cls, i: f"{cls}_{i:03d}") -> dict:
    """Write a two-domain dataset; `classes` maps class -> (figure shape, RGB colour). Returns drawn masks."""
    rgb_domain = "A" if gray_domain == "B" else "B"
    drawn = {}
    for split in splits:
        for domain, table in ((gray_domain, classes), (rgb_domain, rgb_classes or classes)):
            for cls, (shape, colour) in table.items():
                for i in range(n):
                    mask = figure_mask(shape, size, i)
                    stem = name(cls, i)
                    rel = Path(cls, f"{i:03d}{ext}") if layout == "folder" else Path(stem + ext)
                    path = root / f"{split}{domain}" / rel
                    if domain == gray_domain or rgb_gray:
                        image = np.full((size, size), 10, np.uint8)
                        image[mask] = GRAY
                        if split == "test" and domain == gray_domain:
                            drawn[path] = mask
                    else:
                        image = np.zeros((size, size, 3), np.uint8)
                        image[:] = (15, 15, 20)
                        image[mask] = colour
                    write(path, image)
    return drawn


TWO = {"circle": ("circle", RED), "triangle": ("triangle", GREEN)}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def assert_measured(s: ScoringSet, classes: dict, tol_colour=10, tol_gray=3):
    assert set(s.class_colors) == set(classes)
    for cls, (_, colour) in classes.items():
        assert np.abs(np.subtract(s.class_colors[cls], colour)).max() <= tol_colour, (cls, s.class_colors[cls])
        assert all(isinstance(v, int) for v in s.class_colors[cls])
    assert abs(s.gray_level - GRAY) <= tol_gray
    assert isinstance(s.gray_level, int)


def test_class_names_from_folders_and_prefixes(tmp_path):
    f = tmp_path / "testB"
    assert class_of(f / "circle" / "x.png", f) == "circle"
    assert class_of(f / "Circle" / "deeper" / "7.png", f) == "circle"
    assert class_of(f / "circle_0003.png", f) == "circle"
    assert class_of(f / "Circle-12.jpg", f) == "circle"
    assert class_of(f / "circle3.png", f) == "circle"
    assert class_of(f / "0003.png", f) is None
    assert class_of(f / "photo.png", f) is None
    assert class_of(f / "_x.png", f) is None


def test_subfolder_classes(tmp_path):
    drawn = make_dataset(tmp_path, TWO, layout="folder")
    s = probe_set(tmp_path, 48)
    assert isinstance(s, ScoringSet), s
    assert s.gray_domain == "B" and s.note == ""
    assert s.classes == ["circle"] * 4 + ["triangle"] * 4
    assert s.images.shape == (8, 1, 48, 48) and s.images.dtype == torch.float32
    assert float(s.images.min()) >= -1 and float(s.images.max()) <= 1
    assert_measured(s, TWO)
    for name, mask in zip(s.names, s.masks):
        assert mask.dtype == bool and mask.shape == (48, 48)
        assert iou(mask, drawn[tmp_path / "testB" / name]) > 0.8, name


def test_prefix_classes_in_jpeg_files_with_gray_domain_A_at_two_sizes(tmp_path):
    three = {**TWO, "blob": ("circle", BLUE)}
    drawn = make_dataset(tmp_path, three, layout="prefix", ext=".jpg", gray_domain="A", size=64,
                         name=lambda cls, i: [f"{cls}_{i:04d}", f"{cls.capitalize()}-{i}", f"{cls}{i}"][i % 3])
    for size in (64, 32):  # at the files' size, and shrunk like training does
        s = probe_set(tmp_path, size)
        assert isinstance(s, ScoringSet), s
        assert s.gray_domain == "A"
        assert sorted(set(s.classes)) == ["blob", "circle", "triangle"] and len(s.classes) == 12
        assert s.images.shape == (12, 1, size, size)
        assert_measured(s, three)
        for name, mask in zip(s.names, s.masks):
            assert mask.shape == (size, size)
            # The drawn figure at the probe size: the pixels at least half covered.
            figure = drawn[tmp_path / "testA" / name].astype(np.float32)
            shrunk = cv2.resize(figure, (size, size), interpolation=cv2.INTER_AREA) >= 0.5
            assert iou(mask, shrunk) > 0.8, (size, name)


def test_rgb_domain_falls_back_to_train_and_unlabelled_gray_images_are_left_out(tmp_path):
    make_dataset(tmp_path, TWO, layout="prefix")
    for path in (tmp_path / "testA").iterdir():
        path.unlink()
    (tmp_path / "testA").rmdir()
    write(tmp_path / "testB" / "0001.png", np.full((48, 48), 10, np.uint8))
    s = probe_set(tmp_path, 48)
    assert isinstance(s, ScoringSet), s
    assert len(s.classes) == 8 and "the 8 test images whose names give a class; 1 name none" in s.note
    assert_measured(s, TWO)


def test_limit_is_balanced_over_classes(tmp_path):
    make_dataset(tmp_path, TWO, n=6)
    s = probe_set(tmp_path, 48, limit=4)
    assert s.classes == ["circle", "circle", "triangle", "triangle"]
    assert s.names == ["circle/000.png", "circle/001.png", "triangle/000.png", "triangle/001.png"]
    assert len(s.masks) == s.images.shape[0] == 4


@pytest.mark.parametrize("case, expected", [
    ("no classes", "name no classes; put each class in its own sub-folder (testB/circle/...)"),
    ("one class", "only one class (circle)"),
    ("missing in rgb", "testA has no images of triangle"),
    ("same colour", "nearly the same colour"),
    ("both gray", "both domains are gray"),
])
def test_reasons_for_no_accuracy(tmp_path, case, expected):
    if case == "no classes":
        make_dataset(tmp_path, TWO, layout="prefix", name=lambda cls, i: f"{cls[0]}{'x' * i}")
        for k, path in enumerate(sorted((tmp_path / "testB").iterdir())):  # bare numbers: no prefix left
            path.rename(path.with_name(f"{k:04d}.png"))
    elif case == "one class":
        make_dataset(tmp_path, {"circle": ("circle", RED)})
    elif case == "missing in rgb":
        make_dataset(tmp_path, TWO, rgb_classes={"circle": ("circle", RED), "square": ("triangle", BLUE)})
    elif case == "same colour":
        make_dataset(tmp_path, {"circle": ("circle", RED), "triangle": ("triangle", (200, 40, 35))})
    else:
        make_dataset(tmp_path, TWO, rgb_gray=True)
    reason = probe_set(tmp_path, 48)
    assert isinstance(reason, str)
    assert reason.startswith("no accuracy: ") and expected in reason, reason
    assert "\n" not in reason


def test_missing_dataset_is_a_reason_not_an_exception(tmp_path):
    reason = probe_set(tmp_path / "nowhere", 32)
    assert isinstance(reason, str) and reason.startswith("no accuracy: ")


def painted(s: ScoringSet, colour_of) -> list[np.ndarray]:
    """RGB outputs: each image's mask painted with colour_of(class), on black."""
    outs = []
    for mask, cls in zip(s.masks, s.classes):
        out = np.zeros((*mask.shape, 3), np.uint8)
        out[mask] = colour_of(cls)
        outs.append(out)
    return outs


class LookupGenerator(nn.Module):
    """Returns the stored output of whichever probe image it is given: a stand-in for a trained generator."""

    def __init__(self, images: torch.Tensor, outputs: list[np.ndarray]):
        super().__init__()
        self.images = images
        self.outputs = torch.stack([torch.from_numpy(o).permute(2, 0, 1).float() / 127.5 - 1 for o in outputs])

    def forward(self, x):
        index = (self.images[None] - x[:, None]).abs().flatten(2).sum(2).argmin(1)
        return self.outputs[index]


class RedGenerator(nn.Module):
    def forward(self, x):
        out = torch.full((x.shape[0], 3, *x.shape[2:]), -1.0)
        out[:, 0] = 1.0
        return out


def test_probe_scores_a_perfect_generator_1_and_all_red_the_red_fraction(tmp_path):
    three = {**TWO, "box": ("square", BLUE)}
    make_dataset(tmp_path, three, n=3)
    # An extra red-class image: the red fraction is then 4 / 10, not a third.
    extra = np.where(figure_mask("circle", 48, 4), GRAY, 10).astype(np.uint8)
    write(tmp_path / "testB" / "circle" / "extra.png", extra)
    s = probe_set(tmp_path, 48)
    assert isinstance(s, ScoringSet), s
    probe = ColourizationProbe(s)

    perfect = painted(s, lambda cls: s.class_colors[cls])
    assert score_outputs(perfect, s).accuracy == 1.0
    assert probe.accuracy(LookupGenerator(s.images, perfect), batch_size=4).accuracy == 1.0

    red_fraction = s.classes.count("circle") / len(s.classes)
    assert red_fraction == pytest.approx(0.4)
    assert probe.accuracy(RedGenerator()).accuracy == pytest.approx(red_fraction)
    all_red = painted(s, lambda cls: (255, 0, 0))
    assert score_outputs(all_red, s).accuracy == pytest.approx(red_fraction)
