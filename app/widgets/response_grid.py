"""A layer's feature maps as one tiled image; click a map to select or toggle it, drag to mask a region.

The grid image and the tile rectangles come from visualization.render; this widget maps mouse
positions to tiles (and to feature-map pixels) and draws the marks of edited maps on top.

Modes: "toggle" (a click toggles the map; dragging pans), "select" (a click only selects), "rect"
(drag a rectangle on a map), "paint" (paint on a map with a round brush). Rectangles and strokes
become a boolean map of the feature map's size, emitted with `region_drawn(map, region)`.
"""
from __future__ import annotations

import numpy as np
from PyQt5.QtCore import QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QFont, QPen
from PyQt5.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsRectItem,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from cyclegan_workbench.app.widgets.image_viewer import ImageViewer

MODES = ("toggle", "select", "rect", "paint")


class ResponseGrid(ImageViewer):
    tile_clicked = pyqtSignal(int)
    region_drawn = pyqtSignal(int, object)  # map index, bool array (map height x map width)
    hovered = pyqtSignal(int, int, int)  # tile, row, column in map pixels under the cursor; tile -1: none

    def __init__(self, parent=None, placeholder: str = "Open a model to see its layer responses"):
        super().__init__(parent, placeholder=placeholder)
        self.tiles: list[tuple[float, float, float, float]] = []  # x, y, w, h in grid pixels
        self.map_shape: tuple[int, int] = (1, 1)
        self.mode = "toggle"
        self.brush = 0.15  # paint radius, as a fraction of the map side
        self._marks: list = []
        self._selection: QGraphicsRectItem | None = None
        self._draft: QGraphicsRectItem | None = None
        self._stroke: np.ndarray | None = None
        self._dots: list = []
        self._drag_tile: int | None = None
        self._drag_start: QPointF | None = None
        self.pixel_clicked.connect(self._on_pixel_clicked)
        self.viewport().setMouseTracking(True)  # hover readout without a button held
        self._hover: tuple[int, int, int] = (-1, 0, 0)

    # --- content ---------------------------------------------------------------------------------
    def set_grid(self, image: np.ndarray | None, tiles, map_shape: tuple[int, int]) -> None:
        self.tiles = [tuple(float(v) for v in t) for t in tiles]
        self.map_shape = (int(map_shape[0]), int(map_shape[1]))
        self.set_image(image)

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        self.setDragMode(QGraphicsView.ScrollHandDrag if mode in ("toggle", "select") else QGraphicsView.NoDrag)

    def tile_at(self, x: float, y: float) -> int | None:
        for i, (tx, ty, tw, th) in enumerate(self.tiles):
            if tx <= x < tx + tw and ty <= y < ty + th:
                return i
        return None

    def tile_center(self, index: int) -> QPointF:
        x, y, w, h = self.tiles[index]
        return QPointF(x + w / 2, y + h / 2)

    def set_marks(self, gains: dict[int, float], selected: int | None) -> None:
        """Outline edited maps (red: nullified, orange: suppressed, green: amplified, blue: spatial)."""
        scene = self.scene()
        for item in self._marks:
            scene.removeItem(item)
        self._marks = []
        font = QFont()
        font.setPixelSize(max(6, int(min((t[3] for t in self.tiles), default=12) / 4)))
        for index, gain in gains.items():
            if index >= len(self.tiles):
                continue
            x, y, w, h = self.tiles[index]
            if gain is None:
                color, text = QColor(60, 140, 255), "region"
            elif gain == 0:
                color, text = QColor(230, 40, 40), "0"
            elif gain < 1:
                color, text = QColor(255, 150, 0), f"{gain:.2g}"
            else:
                color, text = QColor(40, 200, 80), f"{gain:.2g}"
            rect = QGraphicsRectItem(QRectF(x, y, w, h))
            rect.setPen(QPen(color, 0))
            if gain == 0:
                rect.setBrush(QBrush(QColor(0, 0, 0, 150)))
            label = QGraphicsSimpleTextItem(text)
            label.setFont(font)
            label.setBrush(color)
            label.setPos(x + 1, y)
            for item in (rect, label):
                scene.addItem(item)
                self._marks.append(item)
        if self._selection is not None:
            scene.removeItem(self._selection)
            self._selection = None
        if selected is not None and selected < len(self.tiles):
            x, y, w, h = self.tiles[selected]
            # Drawn outside the tile with a fixed screen width (cosmetic pens), so it stays visible however
            # small the maps are; a dark halo keeps the yellow readable on bright maps.
            self._selection = QGraphicsRectItem(QRectF(x - 1, y - 1, w + 2, h + 2))
            halo = QGraphicsRectItem(QRectF(x - 1, y - 1, w + 2, h + 2), self._selection)
            for item, color, width in ((halo, QColor(0, 0, 0), 5), (self._selection, QColor(255, 220, 0), 3)):
                pen = QPen(color, width)
                pen.setCosmetic(True)
                item.setPen(pen)
            halo.setFlag(QGraphicsRectItem.ItemStacksBehindParent)
            scene.addItem(self._selection)

    # --- clicks ----------------------------------------------------------------------------------
    def mouseDoubleClickEvent(self, event) -> None:
        """Double-click fits the grid to the view. Its first click already toggled the map under the cursor
        (a click cannot wait to learn whether a second follows without making every click slow): toggle
        it back, so a double-click changes nothing but the zoom."""
        if self.mode == "toggle" and event.button() == Qt.LeftButton and self.tiles:
            p = self.mapToScene(event.pos())
            index = self.tile_at(p.x(), p.y())
            if index is not None:
                self.tile_clicked.emit(index)
        super().mouseDoubleClickEvent(event)

    def _on_pixel_clicked(self, x: float, y: float) -> None:
        if self.mode in ("toggle", "select"):
            index = self.tile_at(x, y)
            if index is not None:
                self.tile_clicked.emit(index)

    # --- regions ---------------------------------------------------------------------------------
    def _map_point(self, index: int, p: QPointF) -> tuple[float, float]:
        """Scene point -> (column, row) in feature-map pixels of tile `index`, clamped to the map."""
        x, y, w, h = self.tiles[index]
        mh, mw = self.map_shape
        col = min(max((p.x() - x) / w * mw, 0.0), mw - 1e-6)
        row = min(max((p.y() - y) / h * mh, 0.0), mh - 1e-6)
        return col, row

    def rect_region(self, index: int, a: QPointF, b: QPointF) -> np.ndarray:
        """Feature-map pixels whose centres lie inside the rectangle a-b (at least the pixel under a)."""
        (c0, r0), (c1, r1) = self._map_point(index, a), self._map_point(index, b)
        mh, mw = self.map_shape
        region = np.zeros((mh, mw), bool)
        lo_c, hi_c = sorted((c0, c1))
        lo_r, hi_r = sorted((r0, r1))
        region[int(lo_r):int(hi_r) + 1, int(lo_c):int(hi_c) + 1] = True
        return region

    def _paint(self, index: int, p: QPointF) -> None:
        mh, mw = self.map_shape
        col, row = self._map_point(index, p)
        radius = max(0.5, self.brush * max(mh, mw))
        rr, cc = np.ogrid[:mh, :mw]
        self._stroke |= (rr + 0.5 - row) ** 2 + (cc + 0.5 - col) ** 2 <= radius ** 2
        # Feedback while painting: a translucent dot per brush position, removed on release.
        r = radius * self.tiles[index][2] / mw
        dot = QGraphicsEllipseItem(QRectF(p.x() - r, p.y() - r, 2 * r, 2 * r))
        dot.setPen(QPen(Qt.NoPen))
        dot.setBrush(QBrush(QColor(60, 140, 255, 110)))
        self.scene().addItem(dot)
        self._dots.append(dot)

    def mousePressEvent(self, event) -> None:
        if self.mode in ("rect", "paint") and event.button() == Qt.LeftButton and self.tiles:
            p = self.mapToScene(event.pos())
            index = self.tile_at(p.x(), p.y())
            if index is not None:
                self._drag_tile, self._drag_start = index, p
                if self.mode == "paint":
                    self._stroke = np.zeros(self.map_shape, bool)
                    self._paint(index, p)
                    self._last_paint = p
                else:
                    self._draft = QGraphicsRectItem(QRectF(p, p))
                    pen = QPen(QColor(60, 140, 255), 0)
                    self._draft.setPen(pen)
                    self.scene().addItem(self._draft)
                event.accept()
                return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._drag_tile is not None:
            p = self.mapToScene(event.pos())
            if self.mode == "paint":
                # Fill the segment from the last brush position, so a fast stroke leaves no gaps.
                last = self._last_paint
                x, y, w, h = self.tiles[self._drag_tile]
                step = max(1.0, self.brush * w / 2)
                n = max(1, int(np.hypot(p.x() - last.x(), p.y() - last.y()) / step))
                for k in range(1, n + 1):
                    self._paint(self._drag_tile, last + (p - last) * (k / n))
                self._last_paint = p
            elif self._draft is not None:
                self._draft.setRect(QRectF(self._drag_start, p).normalized())
            event.accept()
            return
        self._update_hover(self.mapToScene(event.pos()))
        super().mouseMoveEvent(event)

    def _update_hover(self, p: QPointF) -> None:
        index = self.tile_at(p.x(), p.y()) if self.tiles else None
        hover = (-1, 0, 0)
        if index is not None:
            col, row = self._map_point(index, p)
            hover = (index, int(row), int(col))
        if hover != self._hover:
            self._hover = hover
            self.hovered.emit(*hover)

    def leaveEvent(self, event) -> None:
        if self._hover[0] != -1:
            self._hover = (-1, 0, 0)
            self.hovered.emit(-1, 0, 0)
        super().leaveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._drag_tile is not None and event.button() == Qt.LeftButton:
            index, p = self._drag_tile, self.mapToScene(event.pos())
            if self.mode == "paint":
                region = self._stroke
                for dot in self._dots:
                    self.scene().removeItem(dot)
                self._dots = []
            else:
                region = self.rect_region(index, self._drag_start, p)
                self.scene().removeItem(self._draft)
            self._drag_tile, self._draft, self._stroke = None, None, None
            self.region_drawn.emit(index, region)
            event.accept()
            return
        super().mouseReleaseEvent(event)
