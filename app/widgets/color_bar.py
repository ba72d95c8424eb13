"""A colour bar: the colormap from low to high with the values at both ends, so a colour reads as a number."""
from __future__ import annotations

import numpy as np
from PyQt5.QtCore import QRect, Qt
from PyQt5.QtGui import QColor, QPainter
from PyQt5.QtWidgets import QSizePolicy, QWidget

from cyclegan_workbench.app.widgets.image_viewer import array_to_qimage
from cyclegan_workbench.visualization.render import colormap_lut


class ColorBar(QWidget):
    """`set_range(colormap, low, high, caption)`; low/high None shows the caption alone (ranges vary)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.colormap, self.low, self.high, self.caption = "viridis", None, None, ""
        self._strip = None
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
        self.setFixedHeight(self.fontMetrics().height() + 12)

    def set_range(self, colormap: str, low: float | None, high: float | None, caption: str = "") -> None:
        if colormap != self.colormap or self._strip is None:
            lut = colormap_lut(colormap)  # 256 x 3
            self._strip = np.ascontiguousarray(np.repeat(lut[None], 2, axis=0))
        self.colormap, self.low, self.high, self.caption = colormap, low, high, caption
        self.setToolTip(f"{caption}: {colormap} from {low:.4g} to {high:.4g}" if low is not None else caption)
        self.update()

    def text(self) -> str:
        """What the bar says, for tests and screen readers."""
        if self.low is None:
            return self.caption
        return f"{self.low:.3g} … {self.high:.3g} {self.caption}".strip()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        fm = self.fontMetrics()
        low = "" if self.low is None else f"{self.low:.3g}"
        high = "" if self.high is None else f"{self.high:.3g}"
        left, right = fm.horizontalAdvance(low) + 6, fm.horizontalAdvance(high) + 6
        bar = QRect(left, 2, max(self.width() - left - right, 10), self.height() - 4)
        if self._strip is not None:
            painter.drawImage(bar, array_to_qimage(self._strip))
        painter.setPen(QColor(90, 90, 90))
        painter.drawRect(bar.adjusted(0, 0, -1, -1))
        painter.drawText(QRect(0, 0, left - 3, self.height()), Qt.AlignRight | Qt.AlignVCenter, low)
        painter.drawText(QRect(bar.right() + 4, 0, right, self.height()), Qt.AlignLeft | Qt.AlignVCenter, high)
        if self.caption:
            painter.setPen(QColor(255, 255, 255))
            painter.drawText(bar, Qt.AlignCenter, self.caption)
