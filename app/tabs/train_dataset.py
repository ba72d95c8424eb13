"""The Train tab's dataset box: the dataset folder, what it holds (images per domain and split, or why it
cannot be trained on), the button back to the built-in toy dataset, and that dataset's generation on first
use (in a DatasetWorker)."""
from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout

from cyclegan_workbench.app import locations
from cyclegan_workbench.app.dialogs import show_error
from cyclegan_workbench.app.widgets.forms import PathEdit
from cyclegan_workbench.app.workers import DatasetWorker
from cyclegan_workbench.data.errors import UserError

BUILT_IN_TEXT = ("Built-in toy dataset (red circles and green triangles vs gray shapes); generated here when you "
                 "start training.")


def dataset_summary(folder: str | Path) -> str:
    """Image counts per domain and split; UserError when the folder cannot be trained on."""
    from cyclegan_workbench.data.unaligned import domain_folder, list_images

    counts = []
    for split in ("train", "test"):
        for domain in ("A", "B"):
            try:
                path = domain_folder(folder, split, domain)
            except UserError:
                if split == "train":
                    raise
                continue
            n = len(list_images(path))
            if split == "train" and n == 0:
                raise UserError(f"{path} holds no images")
            counts.append(f"{path.name} {n}")
    return " · ".join(counts)


def is_default_dataset(path: str) -> bool:
    return bool(path) and Path(path) == locations.default_dataset_dir()


def needs_generating(path: str) -> bool:
    """The built-in dataset before its first use: it is generated when training starts."""
    return is_default_dataset(path) and not (Path(path) / "trainA").is_dir()


class DatasetBox(QGroupBox):
    """`folder` (a PathEdit: its `path_changed` says the dataset changed), `info` and `default_button`.
    While the built-in dataset is generated: `generation_progressed(done, total)`, then
    `generation_finished(ok)` (False after a failure, which the box reports, or a cancel)."""

    generation_progressed = pyqtSignal(int, int)
    generation_finished = pyqtSignal(bool)

    def __init__(self, parent=None):
        super().__init__("Dataset", parent)
        self.worker: DatasetWorker | None = None
        self.folder = PathEdit("Dataset folder (trainA, trainB, testA, testB)")
        self.folder.path_changed.connect(lambda _: self.refresh())
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.default_button = QPushButton("Built-in dataset")
        self.default_button.setToolTip("The default toy dataset, generated on first use")
        self.default_button.clicked.connect(lambda: self.folder.set_text(str(locations.default_dataset_dir())))
        v = QVBoxLayout(self)
        v.addWidget(self.folder)
        v.addWidget(self.info)
        v.addWidget(self.default_button, 0, Qt.AlignLeft)

    def text(self) -> str:
        return self.folder.text()

    def refresh(self) -> None:
        """Say what the folder holds, or why it cannot be trained on (in red)."""
        path = self.text()
        if needs_generating(path):
            text, error = BUILT_IN_TEXT, False
        else:
            try:
                text, error = (dataset_summary(path) if path else "Choose a dataset folder"), False
            except UserError as exc:
                text, error = str(exc), True
        self.info.setText(text)
        self.info.setStyleSheet("color: #b00020;" if error else "")

    def set_editable(self, on: bool) -> None:
        for w in (self.folder, self.default_button):
            w.setEnabled(on)

    # --- the built-in dataset --------------------------------------------------------------------
    @property
    def generating(self) -> bool:
        return self.worker is not None

    def generate_built_in(self) -> int:
        """Start writing the built-in dataset into the folder field's path; the number of images it will have."""
        from cyclegan_workbench.data.shapes import PRESETS as DATASET_PRESETS

        params = DATASET_PRESETS["default"]()
        self.worker = DatasetWorker(params, Path(self.text()))
        s = self.worker.signals
        s.progressed.connect(lambda done_total: self.generation_progressed.emit(*done_total))
        s.failed.connect(lambda message: show_error(self, "Could not generate the built-in dataset", message))
        s.finished.connect(self._on_finished)
        self.worker.start()
        return params.image_count()

    def abort(self) -> None:
        if self.worker is not None:
            self.worker.abort()

    def _on_finished(self, path) -> None:
        self.worker = None
        self.refresh()
        self.generation_finished.emit(path is not None)
