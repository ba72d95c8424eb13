"""Image files and arrays: the one place that decodes, encodes and converts images.

Arrays are uint8, HxW (gray) or HxWx3 in RGB order; OpenCV's BGR order never leaves this module.
Tensors are float CxHxW in [-1, 1], the networks' range. torch is imported only by the tensor
conversions, so that the dataset generator and its command stay free of it (they start in a blink).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.files import atomic_write_bytes

if TYPE_CHECKING:
    import torch

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm")
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 1]  # fast; toy images compress well at any level


def decode_image(data: bytes | np.ndarray, channels: int | None = None) -> np.ndarray | None:
    """Encoded bytes as an HxW or HxWx3 RGB uint8 array (None when they are no image).

    `channels` 1 or 3 converts; None keeps what the file holds (alpha dropped, 16 bits scaled to 8).
    """
    flags = cv2.IMREAD_UNCHANGED if channels is None else (
        cv2.IMREAD_GRAYSCALE if channels == 1 else cv2.IMREAD_COLOR)
    data = np.frombuffer(data, np.uint8) if isinstance(data, (bytes, bytearray)) else data
    try:
        image = cv2.imdecode(data, flags) if data.size else None
    except cv2.error:
        image = None
    if image is None:
        return None
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF: keep the 8 most significant bits
        image = (image / (np.iinfo(image.dtype).max / 255.0)).round().astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return image


def read_image(path: str | Path, channels: int | None = None) -> np.ndarray:
    """Decode an image file (see decode_image); UserError naming the file when it cannot be read.

    Read as bytes rather than with cv2.imread, which fails on non-ASCII paths on Windows.
    """
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from exc
    image = decode_image(data, channels)
    if image is None:
        raise UserError(f"{path} is not a readable image (corrupt or not an image file)")
    return image


def encode_image(image: np.ndarray, image_format: str = "png", jpeg_quality: int = 95) -> bytes:
    """An HxW or HxWx3 RGB uint8 array as PNG or JPEG file bytes."""
    data = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if image.ndim == 3 else image
    if image_format == "jpeg":
        ok, encoded = cv2.imencode(".jpg", data, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
    else:
        ok, encoded = cv2.imencode(".png", data, _PNG)
    if not ok:
        raise UserError(f"could not encode a {image.shape} image as {image_format}")
    return encoded.tobytes()


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an RGB or gray array as an image file (format from the suffix: .jpg/.jpeg or PNG), atomically."""
    fmt = "jpeg" if Path(path).suffix.lower() in (".jpg", ".jpeg") else "png"
    atomic_write_bytes(path, encode_image(image, fmt))


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Square `size` x `size`: area averaging when shrinking keeps thin shapes and their colour."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    interp = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_CUBIC
    return cv2.resize(image, (size, size), interpolation=interp)


def as_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """Gray <-> RGB so that an image fits a generator's input (1 or 3 channels); others are returned as they are."""
    if channels == 1 and image.ndim == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if channels == 3 and image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    return image


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """uint8 HxW or HxWx3 -> float CxHxW in [-1, 1]."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(image))
    t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
    return t.float().div_(127.5).sub_(1.0)


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """float CxHxW in [-1, 1] -> uint8 HxW (1 channel) or HxWx3."""
    import torch

    t = tensor.detach().float().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return t[0].numpy() if t.shape[0] == 1 else t.permute(1, 2, 0).contiguous().numpy()


