"""Unaligned two-domain datasets: DATAROOT/{trainA,trainB,testA,testB} (or A/B), decoded once, kept in memory.

The toy datasets are a few hundred small images, so decoding every file once and keeping the resized
uint8 arrays costs a few MB and removes all I/O from the training loop.
"""
from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import IMAGE_EXTENSIONS, read_image, resize

log = logging.getLogger(__name__)



def list_images(folder: Path) -> list[Path]:
    """Image files under `folder`, recursively, in a stable order; UserError when it cannot be read."""
    folder = Path(folder)
    if folder.is_dir() and not os.access(folder, os.R_OK | os.X_OK):
        raise UserError(f"cannot read the folder {folder}: permission denied")
    try:
        return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    except OSError as exc:  # a symlink loop, a folder that vanished or became unreadable while listed
        raise UserError(f"cannot list the images under {folder}: {exc.strerror or exc}") from None


def domain_folder(dataroot: str | Path, split: str, domain: str) -> Path:
    """DATAROOT/<split><domain> (reference layout) or DATAROOT/<domain> when the dataset has no splits."""
    root = Path(dataroot)
    if not root.is_dir():
        try:
            root.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UserError(f"the dataset path {root} is a symbolic link that points to itself") from None
        raise UserError(f"dataset folder not found: {root}")
    for candidate in (root / f"{split}{domain}", root / domain):
        if candidate.is_dir():
            return candidate
    raise UserError(f"dataset {root} has no {split}{domain}/ (or {domain}/) folder")


def detect_channels(folder: Path) -> int:
    """1 when the domain's images are gray (single-channel files, or colour files whose channels are all
    equal), 3 when any is in colour; UserError when single-channel and colour files are mixed, since
    one of the two kinds would silently be converted."""
    files = list_images(folder)
    if not files:
        raise UserError(f"no images in {folder}")
    gray, colour = [], []
    for path in files:
        try:
            image = read_image(path)
        except UserError:
            continue  # counted and reported when the domain is loaded
        if image.ndim == 2:
            gray.append(path.name)
        elif not (np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2])):
            colour.append(path.name)
    if gray and colour:
        raise UserError(f"{folder} mixes {len(gray)} gray image(s) (e.g. {gray[0]}) with {len(colour)} colour "
                        f"image(s) (e.g. {colour[0]}): a domain holds one kind; convert them, or choose the "
                        "channel count (--input-nc / --output-nc) to convert them all")
    return 3 if colour else 1


@dataclass
class DomainImages:
    """One domain of one split, decoded and resized: an (N, C, H, W) uint8 tensor plus file names."""

    folder: Path
    channels: int
    images: torch.Tensor
    paths: list[Path]
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


def load_domain(folder: Path, channels: int, load_size: int, min_size: int = 0) -> DomainImages:
    """Decode every image of `folder` once; corrupt files are skipped with a warning and counted."""
    files = list_images(folder)
    if not files:
        raise UserError(f"no images (png/jpg/jpeg/bmp/tif/ppm) in {folder}")
    arrays, kept, skipped = [], [], []
    for path in files:
        try:
            image = read_image(path, channels)
        except UserError as exc:
            skipped.append(str(exc))
            continue
        if min_size and min(image.shape[:2]) < min_size:
            raise UserError(f"{path} is {image.shape[1]}x{image.shape[0]} pixels, smaller than the "
                            f"{min_size}-pixel training size; use a smaller --size or larger images")
        image = resize(image, load_size)
        arrays.append(image if image.ndim == 3 else image[:, :, None])
        kept.append(path)
    for message in skipped:
        log.warning("skipped: %s", message)
    if not arrays:
        raise UserError(f"none of the {len(files)} images in {folder} could be read")
    stacked = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return DomainImages(folder, channels, stacked, kept, skipped)


def contrast(images: torch.Tensor) -> float:
    """A domain's typical contrast in [-1, 1] units: the median over images of their value range.

    Each image is smoothed with a 3x3 box first, so that pixel noise and JPEG ringing barely widen the
    range while a figure a few pixels wide keeps its level. The ranges of the channels are combined as
    their root mean square: per channel, that is the figure/background difference a Gaussian noise of
    the same std per channel is measured against. Gray 128 figures on black give 1.0, gray 40 on black
    0.31, a pure red figure on black 2 / sqrt(3) = 1.15.
    """
    x = torch.nn.functional.avg_pool2d(images.float(), 3, stride=1)
    spread = (x.amax(dim=(2, 3)) - x.amin(dim=(2, 3))).square().mean(dim=1).sqrt()
    return float(spread.median()) / 127.5


class UnalignedDataset:
    """Batches of (A, B) for CycleGAN: every A once per epoch in shuffled order, each paired with a random B.

    All randomness of a batch (order, pairing, crop, flip) derives from (seed, epoch, batch index), so
    a run stopped mid-epoch resumes on exactly the batches it would have seen.
    """

    def __init__(self, dataroot: str | Path, split: str = "train", channels_A: int | None = None,
                 channels_B: int | None = None, load_size: int = 128, crop_size: int = 128,
                 flip: bool = False, seed: int = 0):
        self.dataroot = Path(dataroot)
        folder_A = domain_folder(dataroot, split, "A")
        folder_B = domain_folder(dataroot, split, "B")
        channels_A = channels_A or detect_channels(folder_A)
        channels_B = channels_B or detect_channels(folder_B)
        self.A = load_domain(folder_A, channels_A, load_size, min_size=crop_size)
        self.B = load_domain(folder_B, channels_B, load_size, min_size=crop_size)
        self.load_size, self.crop_size, self.flip, self.seed = load_size, crop_size, flip, seed
        self.split = split

    @property
    def skipped(self) -> list[str]:
        return self.A.skipped + self.B.skipped

    def contrasts(self) -> dict[str, float]:
        """Each domain's contrast (see `contrast`), measured on its training images."""
        return {"A": contrast(self.A.images), "B": contrast(self.B.images)}

    def __len__(self) -> int:
        return max(len(self.A), len(self.B))

    def batches_per_epoch(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)

    def _generator(self, *key: int) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(hash((self.seed,) + key) & 0x7FFF_FFFF_FFFF_FFFF)
        return g

    def epoch_order(self, epoch: int) -> torch.Tensor:
        """Indices into A for one epoch (A repeats cyclically when B is the larger domain)."""
        g = self._generator(epoch, -1)
        return torch.randperm(len(self), generator=g) % len(self.A)

    def batch(self, epoch: int, index: int, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch `index` of `epoch` as float tensors in [-1, 1]."""
        order = self.epoch_order(epoch)[index * batch_size:(index + 1) * batch_size]
        g = self._generator(epoch, index)
        b_index = torch.randint(len(self.B), (len(order),), generator=g)
        return self._augment(self.A.images[order], g), self._augment(self.B.images[b_index], g)

    def _augment(self, images: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        out = images
        if self.crop_size < self.load_size:
            room = self.load_size - self.crop_size
            x, y = (int(v) for v in torch.randint(room + 1, (2,), generator=g))
            out = out[:, :, y:y + self.crop_size, x:x + self.crop_size]
        if self.flip and bool(torch.rand((), generator=g) < 0.5):
            out = out.flip(3)
        return out.float().div(127.5).sub(1.0)

    def epoch(self, epoch: int, batch_size: int, start: int = 0):
        """Yields (batch index, A, B) for one epoch, starting at batch `start`."""
        for i in range(start, self.batches_per_epoch(batch_size)):
            yield (i, *self.batch(epoch, i, batch_size))


def paired_test_batches(dataroot, channels_A, channels_B, size: int, batch_size: int = 16, split="test",
                        limit: int | None = None):
    """Deterministic (A, B) batches over a held-out split, A[i] with B[i mod len(B)], no augmentation."""
    A = load_domain(domain_folder(dataroot, split, "A"), channels_A, size)
    B = load_domain(domain_folder(dataroot, split, "B"), channels_B, size)
    n = max(len(A), len(B)) if limit is None else min(limit, max(len(A), len(B)))
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        yield (A.images[idx % len(A)].float().div(127.5).sub(1.0),
               B.images[idx % len(B)].float().div(127.5).sub(1.0))
