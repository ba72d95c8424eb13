"""data.images: RGB order kept through every encode/decode, odd files normalised, bad bytes refused."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import decode_image, encode_image, read_image, resize, write_image

RED = np.zeros((8, 8, 3), np.uint8)
RED[..., 0] = 255


@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_red_stays_red_through_encode_and_decode(fmt):
    back = decode_image(encode_image(RED, fmt, 100), 3)
    assert back.shape == (8, 8, 3) and back[..., 0].min() > 240 and back[..., 1:].max() < 15


def test_files_with_alpha_or_16_bits_read_as_8_bit_rgb_or_gray(tmp_path):
    rgba = np.dstack([RED[..., ::-1], np.full((8, 8), 128, np.uint8)])  # BGRA on disk
    cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    assert np.array_equal(read_image(tmp_path / "alpha.png"), RED)
    cv2.imwrite(str(tmp_path / "deep.png"), np.full((4, 4), 65535, np.uint16))
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint8 and deep.shape == (4, 4) and (deep == 255).all()


def test_write_image_then_read_image_round_trips(tmp_path):
    write_image(tmp_path / "out.png", RED)
    assert np.array_equal(read_image(tmp_path / "out.png", 3), RED)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_bad_bytes_are_no_image():
    assert decode_image(b"") is None and decode_image(b"not an image at all") is None


def test_an_unreadable_file_names_itself(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(UserError, match="broken.png is not a readable image"):
        read_image(tmp_path / "broken.png")


def test_resize_keeps_a_thin_line_when_shrinking():
    line = np.zeros((64, 64), np.uint8)
    line[:, 31] = 255
    assert resize(line, 16).max() > 40  # area averaging keeps it; nearest neighbour could drop it
