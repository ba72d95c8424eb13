"""Where the workbench keeps things: the user's data folder, the built-in dataset, runs, bundled resources."""
from __future__ import annotations

import os
from pathlib import Path

from cyclegan_workbench.resources import RESOURCES_DIR

DEFAULT_DATASET_NAME = "default-shapes"
DEFAULT_MODEL_DIR = RESOURCES_DIR / "default_model"
SAMPLES_DIR = RESOURCES_DIR / "samples"
ICONS_DIR = RESOURCES_DIR / "icons"
# Tests and portable installs point this at another folder.
DATA_DIR_ENV = "CYCLEGAN_WORKBENCH_DATA"


def user_data_dir() -> Path:
    """The per-user data folder (QStandardPaths.AppDataLocation), or $CYCLEGAN_WORKBENCH_DATA."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    from PyQt5.QtCore import QStandardPaths

    location = QStandardPaths.writableLocation(QStandardPaths.AppDataLocation)
    return Path(location) if location else Path.home() / ".cyclegan-workbench"


def default_dataset_dir() -> Path:
    """The built-in toy dataset (data.shapes' default preset), generated there on first use."""
    return user_data_dir() / "datasets" / DEFAULT_DATASET_NAME


def runs_dir() -> Path:
    return user_data_dir() / "runs"


def has_default_model() -> bool:
    return all((DEFAULT_MODEL_DIR / name).is_file()
               for name in ("config.json", "latest_net_G_A.pth", "latest_net_G_B.pth"))


def sample_images() -> list[Path]:
    from cyclegan_workbench.data.unaligned import list_images

    return list_images(SAMPLES_DIR) if SAMPLES_DIR.is_dir() else []
