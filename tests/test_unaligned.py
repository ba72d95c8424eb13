"""The unaligned dataset loader: layouts, channels, value range, and every kind of bad input."""
from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.unaligned import UnalignedDataset, load_domain


def _write(folder, name, image):
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / name), image)


@pytest.fixture
def small_root(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        half_black_half_white = np.zeros((40, 40, 3), np.uint8)
        half_black_half_white[:, 20:] = 255
        half_black_half_white[:5, :5] = (0, 0, 255)  # a red corner, so the domain is colour
        _write(tmp_path / "trainA", f"a{i}.png", half_black_half_white)
        _write(tmp_path / "trainB" / "sub", f"b{i}.jpg", rng.integers(0, 256, (40, 40), dtype=np.uint8))
    return tmp_path


def test_reference_layout_loads_recursively_with_channels_and_range(small_root):
    ds = UnalignedDataset(small_root, load_size=32, crop_size=24, flip=True)
    assert (ds.A.channels, ds.B.channels) == (3, 1)
    assert len(ds.B) == 3  # found in trainB/sub
    a, b = ds.batch(0, 0, 2)
    assert a.shape == (2, 3, 24, 24) and b.shape == (2, 1, 24, 24)
    assert a.min() == -1 and a.max() == 1


def test_batches_are_reproducible_and_differ_between_epochs(small_root):
    ds = UnalignedDataset(small_root, load_size=32, crop_size=24, flip=True, seed=3)
    a1, b1 = ds.batch(0, 1, 2)
    a2, b2 = ds.batch(0, 1, 2)
    assert np.array_equal(a1, a2) and np.array_equal(b1, b2)
    orders = {tuple(ds.epoch_order(e).tolist()) for e in range(6)}
    assert len(orders) > 1


def test_plain_A_B_folders_are_accepted(tmp_path):
    _write(tmp_path / "A", "x.png", np.zeros((16, 16, 3), np.uint8))
    _write(tmp_path / "B", "y.png", np.full((16, 16), 128, np.uint8))
    ds = UnalignedDataset(tmp_path, load_size=16, crop_size=16)
    assert len(ds) == 1


def test_missing_folder_and_empty_domain_name_the_problem(tmp_path):
    with pytest.raises(UserError, match="not found"):
        UnalignedDataset(tmp_path / "none")
    (tmp_path / "trainA").mkdir()
    (tmp_path / "trainB").mkdir()
    with pytest.raises(UserError, match="no trainA|no images"):
        UnalignedDataset(tmp_path)
    _write(tmp_path / "trainA", "a.png", np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(UserError, match="trainB"):
        UnalignedDataset(tmp_path, load_size=16, crop_size=16)


def test_corrupt_files_are_skipped_with_a_warning_and_counted(small_root, caplog):
    (small_root / "trainA" / "broken.png").write_bytes(b"\x89PNG not really")
    (small_root / "trainA" / "notes.txt").write_text("not an image, ignored")
    with caplog.at_level(logging.WARNING):
        ds = UnalignedDataset(small_root, load_size=32, crop_size=32)
    assert len(ds.A) == 3 and len(ds.skipped) == 1
    assert "broken.png" in ds.skipped[0] and "broken.png" in caplog.text


def test_a_domain_of_only_corrupt_files_is_an_error(tmp_path):
    (tmp_path / "A").mkdir()
    (tmp_path / "A" / "x.png").write_bytes(b"garbage")
    with pytest.raises(UserError, match="none of the 1 images"):
        load_domain(tmp_path / "A", 3, 16)


def test_an_image_smaller_than_the_training_size_is_named(small_root):
    _write(small_root / "trainA", "tiny.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UserError, match="tiny.png is 8x8"):
        UnalignedDataset(small_root, load_size=32, crop_size=32)
