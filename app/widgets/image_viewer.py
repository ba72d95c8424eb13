"""The image panel used everywhere: a QGraphicsView with wheel zoom around the cursor, drag to pan,
fit to view (double-click or F), and nearest-neighbour pixels once zoomed in.

Images arrive as numpy uint8 arrays (H x W gray or H x W x 3 RGB); `array_to_qimage` wraps them
without a copy and keeps the array alive for as long as the QImage lives.
"""
from __future__ import annotations

import numpy as np
from PyQt5.QtCore import QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QColor, QImage, QPainter, QPixmap
from PyQt5.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QMenu,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cyclegan_workbench.data.errors import UserError

_FORMATS = {1: QImage.Format_Grayscale8, 3: QImage.Format_RGB888, 4: QImage.Format_RGBA8888}
MIN_ZOOM, MAX_ZOOM = 0.05, 64.0


def array_to_qimage(array: np.ndarray) -> QImage:
    """A QImage over a C-contiguous uint8 array (H x W, H x W x 1/3/4); the array rides along with it."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    channels = 1 if array.ndim == 2 else array.shape[2]
    if array.ndim not in (2, 3) or channels not in _FORMATS:
        raise ValueError(f"expected an H x W or H x W x 3 image, got shape {array.shape}")
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    image = QImage(array.data, w, h, array.strides[0], _FORMATS[channels])
    image._array = array  # QImage does not own the buffer: keep it alive with the image
    return image


def array_to_pixmap(array: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(array_to_qimage(array))


class ImageViewer(QGraphicsView):
    """Shows one image. Signals: `pixel_clicked(x, y)` in image coordinates on a click without a drag."""

    pixel_clicked = pyqtSignal(float, float)

    def __init__(self, parent: QWidget | None = None, placeholder: str = ""):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self._item = QGraphicsPixmapItem()
        self.scene().addItem(self._item)
        self._array: np.ndarray | None = None
        self._fit = True
        self._press: QPointF | None = None
        self.placeholder = placeholder
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setFrameShape(QFrame.NoFrame)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.NoAnchor)  # zoom_by keeps its own anchor
        self.setResizeAnchor(QGraphicsView.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setMinimumSize(64, 64)
        self.setFocusPolicy(Qt.StrongFocus)

    # --- content ---------------------------------------------------------------------------------
    def set_image(self, array: np.ndarray | None) -> None:
        """Show `array` (uint8); the view keeps its zoom and position when the size is unchanged."""
        old_shape = None if self._array is None else self._array.shape[:2]
        self._array = None if array is None else np.ascontiguousarray(array)
        if self._array is None:
            self._item.setPixmap(QPixmap())
            self.viewport().update()
            return
        self._item.setPixmap(array_to_pixmap(self._array))
        h, w = self._array.shape[:2]
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        if self._fit or old_shape != (h, w):
            self.fit()

    def image(self) -> np.ndarray | None:
        return self._array

    # --- export ----------------------------------------------------------------------------------
    def save_image(self, path: str) -> None:
        """The image at its own resolution (not a screen grab), as PNG or JPEG by the file's suffix."""
        from cyclegan_workbench.data.images import write_image

        if self._array is None:
            raise UserError("there is no image in this panel to save")
        write_image(path, self._array)

    def copy_image(self) -> None:
        """The image at its own resolution on the clipboard."""
        if self._array is not None:
            QApplication.clipboard().setImage(array_to_qimage(self._array).copy())

    def contextMenuEvent(self, event) -> None:
        menu = QMenu(self)
        save = menu.addAction("Save image at full resolution…", self._save_dialog)
        copy = menu.addAction("Copy image", self.copy_image)
        menu.addSeparator()
        menu.addAction("Fit (F, double-click)", self.fit)
        for action in (save, copy):
            action.setEnabled(self._array is not None)
        menu.exec_(event.globalPos())

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the image", "image.png", "PNG (*.png);;JPEG (*.jpg)")
        if path:
            try:
                self.save_image(path)
            except UserError as exc:
                from cyclegan_workbench.app.dialogs import show_warning

                show_warning(self, "Cannot save the image", str(exc))

    def has_image(self) -> bool:
        return self._array is not None

    # --- zoom ------------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        """Scale the image to fill the view (aspect kept); later resizes keep it fitted."""
        self._fit = True
        if self._array is not None:
            self.fitInView(self._item, Qt.KeepAspectRatio)
            self._update_sampling()

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Scale by `factor`, keeping the image point under `anchor` (viewport pixels; default the centre)."""
        factor = max(MIN_ZOOM / self.zoom, min(MAX_ZOOM / self.zoom, factor))
        anchor = self.viewport().rect().center() if anchor is None else anchor
        fixed = self.mapToScene(anchor)
        self._fit = False
        self.scale(factor, factor)
        moved = self.mapFromScene(fixed) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())
        self._update_sampling()

    def _update_sampling(self) -> None:
        # Magnified pixels stay crisp squares; shrunken images are smoothed instead of aliased.
        smooth = self.zoom < 1.0
        self._item.setTransformationMode(Qt.SmoothTransformation if smooth else Qt.FastTransformation)
        self.setRenderHint(QPainter.SmoothPixmapTransform, smooth)

    @property
    def smooth_sampling(self) -> bool:
        return self._item.transformationMode() == Qt.SmoothTransformation

    # --- events ----------------------------------------------------------------------------------
    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(1.25 ** steps, event.pos())
        event.accept()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.fit()

    def mouseDoubleClickEvent(self, event) -> None:
        self._press = None  # the release that follows is not a click of its own
        self.fit()
        event.accept()

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key_F:
            self.fit()
        elif key in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom_by(1.25)
        elif key == Qt.Key_Minus:
            self.zoom_by(0.8)
        elif key == Qt.Key_1:
            self.resetTransform()
            self._fit = False
            self._update_sampling()
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.LeftButton:
            self._press = QPointF(event.pos())
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.LeftButton and self._press is not None and self._array is not None:
            if (QPointF(event.pos()) - self._press).manhattanLength() <= 4:
                p = self.mapToScene(event.pos())
                h, w = self._array.shape[:2]
                if 0 <= p.x() < w and 0 <= p.y() < h:
                    self.pixel_clicked.emit(p.x(), p.y())
        self._press = None

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self._array is None and self.placeholder:
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.viewport().rect().adjusted(8, 8, -8, -8), Qt.AlignCenter | Qt.TextWordWrap,
                             self.placeholder)
            painter.restore()


class ImagePanel(QWidget):
    """An ImageViewer under a caption ("fake B", "difference", ...)."""

    def __init__(self, title: str, parent: QWidget | None = None, viewer: ImageViewer | None = None,
                 placeholder: str = ""):
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignCenter)
        # Long titles are clipped rather than widening the panel (and with it the window).
        self.title.setMinimumWidth(1)
        self.title.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.viewer = viewer or ImageViewer(placeholder=placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.viewer, 1)

    def set_image(self, array: np.ndarray | None) -> None:
        self.viewer.set_image(array)

    def set_title(self, text: str) -> None:
        self.title.setText(text)
