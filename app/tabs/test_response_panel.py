"""The Test tab's middle column: one layer's feature maps with their display options, colour bar, hover
readout and the gain row that edits the selected map or the whole layer."""
from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cyclegan_workbench.app.widgets.color_bar import ColorBar
from cyclegan_workbench.app.widgets.response_grid import ResponseGrid

MODES = (("toggle", "Click: nullify / restore"), ("select", "Click: select"),
         ("rect", "Drag: rectangle region"), ("paint", "Drag: paint region"))
HOVER_HINT = "Point at a map to read its values"


class ResponsePanel(QWidget):
    """`display_changed()` when the colormap, normalisation or sorting changes; `apply_map(gain)` and
    `apply_layer(gain)` from the gain row. What the mouse did on the grid, by feature map (channel) rather
    than by tile (the grid may be sorted): `map_clicked(channel)` and `map_region_drawn(channel, region)`.
    The hover readout is the panel's own: the value under the cursor of the layer it shows."""

    display_changed = pyqtSignal()
    apply_map = pyqtSignal(float)
    apply_layer = pyqtSignal(float)
    map_clicked = pyqtSignal(int)
    map_region_drawn = pyqtSignal(int, object)  # channel, bool array (map height x map width)

    def __init__(self, parent=None):
        from cyclegan_workbench.visualization.render import COLORMAPS

        super().__init__(parent)
        self.layer_title = QLabel("")
        self.layer_title.setWordWrap(True)
        self.mode = QComboBox()
        self.mode.setToolTip("What a click or a drag on the feature maps does")
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.colormap = QComboBox()
        self.colormap.addItems(COLORMAPS)
        self.colormap.setToolTip("Colormap of the feature maps")
        self.normalize = QComboBox()
        self.normalize.addItem("per map", "map")
        self.normalize.addItem("per layer", "layer")
        self.normalize.setToolTip("Normalise each map to its own range, or the whole layer to one range")
        self.sort = QCheckBox("Sort")
        self.sort.setToolTip("Sort the maps by activation energy, strongest first")
        for combo in (self.colormap, self.normalize):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(5)
            combo.currentIndexChanged.connect(lambda _: self.display_changed.emit())
        self.sort.toggled.connect(lambda _: self.display_changed.emit())
        self.grid = ResponseGrid()
        self.channels: list[int] = []  # the channel of each tile shown
        self._shown = None  # (model, generator, layer) of the grid shown, for the hover readout
        self.grid.tile_clicked.connect(lambda tile: self.map_clicked.emit(self.channels[tile]))
        self.grid.region_drawn.connect(lambda tile, region: self.map_region_drawn.emit(self.channels[tile], region))
        self.grid.hovered.connect(self._on_hovered)
        self.mode.currentIndexChanged.connect(lambda _: self.grid.set_mode(self.mode.currentData()))
        self.grid_bar = ColorBar()
        self.hover_label = QLabel(HOVER_HINT)
        self.hover_label.setStyleSheet("color: #555;")
        self.hover_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self._build_gain_row()
        self._lay_out()

    def _build_gain_row(self) -> None:
        self.gain = QDoubleSpinBox()
        self.gain.setRange(0.0, 3.0)
        self.gain.setDecimals(2)
        self.gain.setSingleStep(0.1)
        self.gain.setValue(0.0)
        self.gain.setToolTip("0 nullifies, 0..1 suppresses, above 1 amplifies")
        self.apply_map_button = QPushButton("Set map")
        self.apply_layer_button = QPushButton("Set layer")
        self.apply_map_button.setToolTip("Set the selected feature map's gain")
        self.apply_layer_button.setToolTip("Set every gain of the layer")
        self.region_all = QCheckBox("All maps")
        self.region_all.setToolTip("A drawn region applies to every map of the layer, not only the one drawn on "
                                   "(it takes the gain on the left)")
        self.apply_map_button.clicked.connect(lambda: self.apply_map.emit(self.gain.value()))
        self.apply_layer_button.clicked.connect(lambda: self.apply_layer.emit(self.gain.value()))

    def _lay_out(self) -> None:
        mode_row = QHBoxLayout()  # a row of its own, so the mode's longest text is never cut
        mode_row.addWidget(self.mode, 1)
        view_row = QHBoxLayout()
        for w in (self.colormap, self.normalize, self.sort):
            view_row.addWidget(w)
        view_row.addStretch(1)
        gain_row = QHBoxLayout()
        for w in (QLabel("Gain"), self.gain, self.apply_map_button, self.apply_layer_button, self.region_all):
            gain_row.addWidget(w)
        gain_row.addStretch(1)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.layer_title)
        v.addLayout(mode_row)
        v.addLayout(view_row)
        v.addWidget(self.grid, 1)
        v.addWidget(self.grid_bar)
        v.addWidget(self.hover_label)
        v.addLayout(gain_row)

    def display_options(self) -> tuple[str, str, bool]:
        """(colormap, normalisation, sort by energy) as the user set them."""
        return self.colormap.currentText(), self.normalize.currentData(), self.sort.isChecked()

    def show_grid(self, layer, grid, marks: dict[int, float | None], selected: int | None) -> None:
        """A render.Grid of `layer`, its edited maps outlined (marks by channel) and `selected` framed."""
        self.layer_title.setText(f"<b>Layer {layer.index}</b> {layer.label}"
                                 + (" — bottleneck" if layer.is_bottleneck else ""))
        tiles = [(t.x, t.y, t.width, t.height) for t in grid.tiles]
        self.channels = [t.channel for t in grid.tiles]
        self.grid.set_grid(grid.image, tiles, layer.shape[1:])
        tile_of = {t.channel: k for k, t in enumerate(grid.tiles)}
        self.grid.set_marks({tile_of[c]: g for c, g in marks.items()}, tile_of.get(selected))

    def show_layer(self, model, which: str, layer: int, grid, selected: int | None) -> None:
        """`show_grid` of an InspectedModel's layer, with the colour bar of its range."""
        self._shown = model, which, layer
        self.show_grid(model.graphs[which].layers[layer], grid, model.marks(which, layer), selected)
        if self.normalize.currentData() == "layer":
            self.show_range(*model.value_range(which, layer), "whole layer")
        elif selected is not None:
            self.show_range(*model.value_range(which, layer, selected), f"map {selected}")
        else:
            self.show_range(None, None, "each map from its own min to its max")

    def _on_hovered(self, tile: int, row: int, col: int) -> None:
        if self._shown is None or not 0 <= tile < len(self.channels):
            self.show_hover(None)
            return
        model, which, layer = self._shown
        channel = self.channels[tile]
        value = model.activation(which, layer, channel, row, col)
        gains = model.masks[which].tensor(layer)  # no copy; None: all ones
        gain = 1.0 if gains is None else float(gains[channel, row, col])
        self.show_hover(f"map {channel} · x {col}, y {row} · activation {value:.4g}"
                        + ("" if gain == 1 else f" (after gain × {gain:g})"))

    def show_range(self, low: float | None, high: float | None, what: str) -> None:
        self.grid_bar.set_range(self.colormap.currentText(), low, high, what)

    def show_hover(self, text: str | None) -> None:
        self.hover_label.setText(text or HOVER_HINT)
