"""Draw a gray input image by hand (to try figures the model never saw): brush, eraser, levels."""
from __future__ import annotations

import cv2
import numpy as np
from PyQt5.QtCore import QPoint, QRect, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor, QPainter
from PyQt5.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cyclegan_workbench.app.widgets.image_viewer import array_to_qimage


class SketchCanvas(QWidget):
    """A square uint8 gray image painted with the mouse.

    Strokes are drawn at once; `sketch_changed(image)` follows at most every `interval_ms` while drawing
    (the latest drawing only) and once more when the button is released, so whatever listens (a model
    run) never slows the stroke down.
    """

    sketch_changed = pyqtSignal(object)

    def __init__(self, size: int = 64, parent=None, interval_ms: int = 100):
        super().__init__(parent)
        self._emit_timer = QTimer(self, singleShot=True, interval=interval_ms)
        self._emit_timer.timeout.connect(self._emit)
        self.brush = 4  # radius in image pixels
        self.level = 128  # gray level of the brush
        self.background = 0
        self.eraser = False
        self._last: tuple[int, int] | None = None
        self.image = np.zeros((size, size), np.uint8)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setCursor(Qt.CrossCursor)

    def set_size(self, size: int) -> None:
        if size != self.image.shape[0]:
            self.image = cv2.resize(self.image, (size, size), interpolation=cv2.INTER_NEAREST)
            self.update()

    def clear(self) -> None:
        self.image[:] = self.background
        self.update()
        self.sketch_changed.emit(self.image.copy())

    def set_background(self, level: int) -> None:
        """Repaint the background: pixels at the old background level take the new one."""
        self.image[self.image == self.background] = level
        self.background = level
        self.update()
        self.sketch_changed.emit(self.image.copy())

    # --- geometry --------------------------------------------------------------------------------
    def _target(self) -> QRect:
        side = min(self.width(), self.height())
        return QRect((self.width() - side) // 2, (self.height() - side) // 2, side, side)

    def _to_image(self, pos: QPoint) -> tuple[int, int]:
        t = self._target()
        n = self.image.shape[0]
        return (int((pos.x() - t.x()) * n / max(t.width(), 1)), int((pos.y() - t.y()) * n / max(t.height(), 1)))

    # --- drawing ---------------------------------------------------------------------------------
    def stroke(self, start: tuple[int, int], end: tuple[int, int]) -> None:
        """Paint a line of the brush between two image points (also what the mouse does)."""
        color = self.background if self.eraser else self.level
        cv2.line(self.image, start, end, int(color), thickness=max(1, 2 * self.brush), lineType=cv2.LINE_8)
        cv2.circle(self.image, end, self.brush, int(color), -1, lineType=cv2.LINE_8)
        self.update()
        if not self._emit_timer.isActive():
            self._emit_timer.start()

    def _emit(self) -> None:
        self._emit_timer.stop()
        self.sketch_changed.emit(self.image.copy())

    def is_empty(self) -> bool:
        """Nothing drawn: every pixel at the background level."""
        return bool((self.image == self.background).all())

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self._last = self._to_image(event.pos())
            self.stroke(self._last, self._last)

    def mouseMoveEvent(self, event) -> None:
        if self._last is not None and event.buttons() & Qt.LeftButton:
            point = self._to_image(event.pos())
            self.stroke(self._last, point)
            self._last = point

    def mouseReleaseEvent(self, event) -> None:
        self._last = None
        if self._emit_timer.isActive():
            self._emit()  # the finished stroke, without waiting

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 40))
        painter.setRenderHint(QPainter.SmoothPixmapTransform, False)  # crisp pixels
        painter.drawImage(self._target(), array_to_qimage(self.image))
        painter.setPen(QColor(120, 120, 120))
        painter.drawRect(self._target().adjusted(0, 0, -1, -1))


class SketchPanel(QWidget):
    """The canvas with its tools: brush size, gray level, background level, eraser, clear."""

    def __init__(self, size: int = 64, parent=None):
        super().__init__(parent)
        self.canvas = SketchCanvas(size)
        self.brush = QSpinBox()
        self.brush.setRange(1, 64)
        self.brush.setValue(self.canvas.brush)
        self.brush.setToolTip("Brush radius in image pixels")
        self.level = QSpinBox()
        self.level.setRange(0, 255)
        self.level.setValue(self.canvas.level)
        self.level.setToolTip("Gray level the brush paints")
        self.background = QSpinBox()
        self.background.setRange(0, 255)
        self.background.setValue(self.canvas.background)
        self.background.setToolTip("Background level (repaints the current background)")
        self.eraser = QCheckBox("Eraser")
        self.clear_button = QPushButton("Clear")
        self.brush.valueChanged.connect(lambda v: setattr(self.canvas, "brush", v))
        self.level.valueChanged.connect(lambda v: setattr(self.canvas, "level", v))
        self.background.valueChanged.connect(self.canvas.set_background)
        self.eraser.toggled.connect(lambda on: setattr(self.canvas, "eraser", on))
        self.clear_button.clicked.connect(self.canvas.clear)
        form = QFormLayout()
        form.addRow("Brush", self.brush)
        form.addRow("Gray level", self.level)
        form.addRow("Background", self.background)
        row = QHBoxLayout()
        row.addWidget(self.eraser)
        row.addWidget(self.clear_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas, 1)
        layout.addLayout(form)
        layout.addLayout(row)
