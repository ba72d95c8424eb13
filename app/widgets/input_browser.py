"""Where a Test-tab input comes from: dataset thumbnails, a file (button or drag and drop), a sketch."""
from __future__ import annotations

from pathlib import Path

import cv2
from PyQt5.QtCore import QSize, Qt, pyqtSignal
from PyQt5.QtGui import QIcon
from PyQt5.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cyclegan_workbench.app.dialogs import show_warning
from cyclegan_workbench.app.widgets.image_viewer import array_to_pixmap
from cyclegan_workbench.app.widgets.sketch_canvas import SketchPanel
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import IMAGE_EXTENSIONS, read_image

THUMB = 56
MAX_THUMBNAILS = 240
IMAGE_FILTER = "Images (" + " ".join(f"*{e}" for e in IMAGE_EXTENSIONS) + ");;All files (*)"


def dropped_image_path(mime) -> Path | None:
    """The first local image file of a drag-and-drop payload."""
    for url in mime.urls() if mime.hasUrls() else []:
        path = Path(url.toLocalFile())
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file():
            return path
    return None


class InputBrowser(QWidget):
    """Signals `image_chosen(array, name)` with an H x W (gray) or H x W x 3 uint8 array."""

    image_chosen = pyqtSignal(object, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.thumbnails = QListWidget()
        self.thumbnails.setViewMode(QListWidget.IconMode)
        self.thumbnails.setIconSize(QSize(THUMB, THUMB))
        self.thumbnails.setGridSize(QSize(THUMB + 10, THUMB + 10))
        self.thumbnails.setResizeMode(QListWidget.Adjust)
        self.thumbnails.setMovement(QListWidget.Static)
        self.thumbnails.setUniformItemSizes(True)
        self.thumbnails.currentItemChanged.connect(self._on_thumbnail)
        self.source_label = QLabel()
        self.source_label.setMinimumWidth(1)
        self.source_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Or drop an image file anywhere on the Test tab")
        self.open_button.clicked.connect(self._on_open)
        images = QWidget()
        iv = QVBoxLayout(images)
        iv.setContentsMargins(2, 2, 2, 2)
        iv.addWidget(self.source_label)
        iv.addWidget(self.thumbnails, 1)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addStretch(1)
        iv.addLayout(row)
        self.sketch = SketchPanel()
        self.sketch.canvas.sketch_changed.connect(lambda img: self.image_chosen.emit(img, "sketch"))
        self.tabs = QTabWidget()
        self.tabs.addTab(images, "Images")
        self.tabs.addTab(self.sketch, "Sketch")
        self.tabs.currentChanged.connect(self._on_tab_changed)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

    def set_sources(self, paths: list[Path], description: str) -> None:
        """Show thumbnails of `paths` (the first MAX_THUMBNAILS)."""
        self.thumbnails.blockSignals(True)
        self.thumbnails.clear()
        for path in paths[:MAX_THUMBNAILS]:
            try:
                image = read_image(path)
            except UserError:
                continue
            thumb = cv2.resize(image, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
            item = QListWidgetItem(QIcon(array_to_pixmap(thumb)), "")
            item.setData(Qt.UserRole, str(path))
            item.setToolTip(path.name)
            self.thumbnails.addItem(item)
        self.thumbnails.blockSignals(False)
        shown = self.thumbnails.count()
        short = description if len(description) <= 28 else "…" + description[-27:]
        self.source_label.setText(f"{short} ({shown} image{'s' if shown != 1 else ''})")
        self.source_label.setToolTip(description)

    def select_first(self) -> None:
        """Choose the first thumbnail (emitted even when the list already had it as its current item)."""
        if self.thumbnails.count():
            self.thumbnails.blockSignals(True)
            self.thumbnails.setCurrentRow(0)
            self.thumbnails.blockSignals(False)
            self._on_thumbnail(self.thumbnails.item(0))

    def open_path(self, path: str | Path) -> bool:
        try:
            image = read_image(Path(path))
        except UserError as exc:
            show_warning(self, "Cannot open the image", str(exc))
            return False
        self.image_chosen.emit(image, Path(path).name)
        return True

    def _on_thumbnail(self, item, _previous=None) -> None:
        if item is not None:
            self.open_path(item.data(Qt.UserRole))

    def _on_open(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an input image", "", IMAGE_FILTER)
        if path:
            self.open_path(path)

    def _on_tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.sketch:
            self.image_chosen.emit(self.sketch.canvas.image.copy(), "sketch")
        elif self.thumbnails.currentItem() is not None:
            self._on_thumbnail(self.thumbnails.currentItem())

    def set_sketch_size(self, size: int) -> None:
        self.sketch.canvas.set_size(size)

