"""Shared fixtures: offscreen Qt, tiny generated datasets, small run configurations."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

from data.shapes import ShapeDatasetParams, generate_dataset  # noqa: E402
from models.config import RunConfig, preset_config  # noqa: E402

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory):
    """A tiny toy dataset: 32 px, red circles and green triangles (domain A) vs gray shapes (B)."""
    out = tmp_path_factory.mktemp("toy") / "shapes"
    params = ShapeDatasetParams(size=32, train_per_class=6, test_per_class=3, seed=1)
    return generate_dataset(params, out)


def tiny_config(dataroot, **training) -> RunConfig:
    """A U-Net of depth 3, ngf 4, 32 px: a training step takes milliseconds."""
    cfg = preset_config("toy")
    cfg.dataroot = str(dataroot)
    cfg.network.num_downs, cfg.network.ngf, cfg.network.ndf = 3, 4, 4
    t = cfg.training
    t.load_size = t.crop_size = 32
    t.batch_size, t.n_epochs, t.n_epochs_decay, t.pool_size, t.val_images = 4, 1, 1, 4, 8
    for k, v in training.items():
        setattr(t, k, v)
    return cfg
