"""The Train tab's run box: the run folder (where checkpoints go, and what Resume continues), how often the
live views refresh, and the way to the Test tab once the run has weights."""
from __future__ import annotations

import time
from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QDoubleSpinBox, QFormLayout, QGroupBox, QPushButton, QVBoxLayout

from cyclegan_workbench.app import locations
from cyclegan_workbench.app.widgets.forms import PathEdit
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.config import RunConfig


def new_run_dir(preset: str) -> Path:
    """A folder that does not exist yet in the workbench's runs, named after the preset and the time."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = locations.runs_dir() / f"{preset}-{stamp}"
    k = 1
    while path.exists():
        k += 1
        path = locations.runs_dir() / f"{preset}-{stamp}-{k}"
    return path


class RunBox(QGroupBox):
    """`folder` (a PathEdit), `rate` (live views per second at most) and `open_test_button`; the tab connects
    their signals."""

    def __init__(self, parent=None):
        super().__init__("Run", parent)
        self.folder = PathEdit("Run folder (checkpoints and losses)")
        self.folder.edit.setPlaceholderText("new folder in the workbench's runs")
        self.folder.setToolTip("Where checkpoints go. Empty: a new folder. A stopped run here: Resume continues it.")
        self.open_test_button = QPushButton("Open in Test tab")
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.1, 20.0)
        self.rate.setSingleStep(0.5)
        self.rate.setValue(2.0)
        self.rate.setSuffix(" / s")
        self.rate.setToolTip("How often the live views (images, responses, loss curves) refresh at most")
        rate_row = QFormLayout()
        rate_row.addRow("Live views at most", self.rate)
        v = QVBoxLayout(self)
        v.addWidget(self.folder)
        v.addLayout(rate_row)
        v.addWidget(self.open_test_button, 0, Qt.AlignLeft)

    def intervals(self) -> tuple[float, float]:
        """Seconds between live visuals, and between loss-curve images (a matplotlib draw in the training
        thread: at most twice a second)."""
        seconds = 1.0 / self.rate.value()
        return seconds, max(seconds, 0.5)

    def path(self) -> Path | None:
        return Path(self.folder.text()) if self.folder.text() else None

    def start_dir(self, preset: str) -> tuple[Path, Path | None]:
        """Where a new run goes: the field's folder, or a new one when it is empty or holds a saved run (kept
        for Resume, never overwritten; the second value then names it)."""
        run_dir = self.path() or new_run_dir(preset)
        if (run_dir / checkpoints.STATE_FILE).exists():
            return new_run_dir(preset), run_dir
        return run_dir, None

    def resumable(self) -> bool:
        run_dir = self.path()
        return (run_dir is not None and (run_dir / checkpoints.STATE_FILE).is_file()
                and (run_dir / checkpoints.CONFIG_FILE).is_file())

    def has_weights(self) -> bool:
        run_dir = self.path()
        return run_dir is not None and (run_dir / "latest_net_G_A.pth").is_file()

    def saved_run(self) -> tuple[Path, RunConfig]:
        """The stopped run in the folder and its configuration; UserError when there is nothing to resume."""
        run_dir = Path(self.folder.text())
        saved = checkpoints.load_config(run_dir)
        if not (run_dir / checkpoints.STATE_FILE).is_file():
            raise UserError(f"nothing to resume in {run_dir}: no {checkpoints.STATE_FILE}")
        return run_dir, saved
