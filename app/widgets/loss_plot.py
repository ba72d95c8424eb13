"""Live loss curves: shows the matplotlib images the training worker renders (visualization.plots).

While a run trains, the worker draws the curves between two steps at the widget's pixel size and the
widget only paints the newest image. When nothing trains (a stopped run, a resize, an export) the
widget renders its own copy of the data in the GUI thread, which is then free.
"""
from __future__ import annotations

import numpy as np
from PyQt5.QtCore import QRect, QTimer, pyqtSignal
from PyQt5.QtGui import QColor, QPainter
from PyQt5.QtWidgets import QSizePolicy, QWidget

from cyclegan_workbench.app.widgets.image_viewer import array_to_qimage
from cyclegan_workbench.visualization.plots import LossFigure, LossHistory


class LossPlot(QWidget):
    """Train losses per step (solid) and validation losses per epoch (dashed, markers).

    Set `live = True` while a worker supplies the images (`show_image`); otherwise the widget redraws
    itself (at most every `redraw_ms`) when its data or size changed. `rendered()` after each new image.
    """

    rendered = pyqtSignal()

    def __init__(self, parent=None, redraw_ms: int = 500):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(240, 160)
        self.history = LossHistory()
        self.live = False
        self._figure: LossFigure | None = None  # built on first local render
        self._image = None
        self._drawn_key: tuple | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(redraw_ms)
        self._timer.timeout.connect(self._on_redraw_due)
        self._timer.start()

    # --- data ------------------------------------------------------------------------------------
    def clear_data(self) -> None:
        self.history = LossHistory()

    def add_report(self, report) -> None:
        self.history.add_report(report)

    def load_history(self, history: list[dict], steps_per_epoch: int) -> None:
        self.history = LossHistory.from_epochs(history, steps_per_epoch)

    # --- images ----------------------------------------------------------------------------------
    def pixel_size(self) -> tuple[int, int]:
        """The size, in device pixels, an image should have to be painted unscaled."""
        ratio = self.devicePixelRatioF()
        return max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio))

    def show_image(self, rgba: np.ndarray, key: tuple | None = None) -> None:
        self._image = array_to_qimage(rgba)
        self._image.setDevicePixelRatio(self.devicePixelRatioF())
        self._drawn_key = key
        self.update()
        self.rendered.emit()

    def redraw_now(self) -> None:
        """Render in the GUI thread (only when no run trains)."""
        if self._figure is None:
            self._figure = LossFigure()
        key = (self.history.version, self.pixel_size())
        self.show_image(self._figure.render(self.history, *key[1]), key)

    def _on_redraw_due(self) -> None:
        if not self.live and self.isVisible() and self._drawn_key != (self.history.version, self.pixel_size()):
            self.redraw_now()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(234, 234, 242))
        if self._image is not None:
            painter.setRenderHint(QPainter.SmoothPixmapTransform, True)
            painter.drawImage(QRect(0, 0, self.width(), self.height()), self._image)
