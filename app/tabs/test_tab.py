"""Test tab: open a run or a .pth, pick an input, edit the gains of any layer, see the effect at once.

The computing is visualization/'s (parser, masks, incremental probe, render, ablation) through
app.tabs.test_model.InspectedModel; this tab shows its images and turns clicks into mask edits. Edits
are applied in the GUI thread (the incremental forward of the edited layer's descendants takes
milliseconds) and coalesced, so a burst of edits draws once. The ablation scan runs in a worker.
"""
from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QUndoStack,
    QVBoxLayout,
    QWidget,
)

from cyclegan_workbench.app import locations
from cyclegan_workbench.app.dialogs import show_error, show_warning
from cyclegan_workbench.app.tabs.compare_view import CompareDialog
from cyclegan_workbench.app.tabs.mask_history import MaskEdit
from cyclegan_workbench.app.tabs.test_model import InspectedModel
from cyclegan_workbench.app.tabs.view_worker import ViewWorker
from cyclegan_workbench.app.widgets.ablation_chart import AblationChart
from cyclegan_workbench.app.widgets.color_bar import ColorBar
from cyclegan_workbench.app.widgets.image_viewer import ImagePanel
from cyclegan_workbench.app.widgets.input_browser import (
    InputBrowser,
    dropped_image_path,
)
from cyclegan_workbench.app.widgets.layer_list import LayerList
from cyclegan_workbench.app.widgets.response_grid import ResponseGrid
from cyclegan_workbench.app.workers import AblationWorker
from cyclegan_workbench.data.errors import UserError

MODES = (("toggle", "Click: nullify / restore"), ("select", "Click: select"),
         ("rect", "Drag: rectangle region"), ("paint", "Drag: paint region"))
MASK_FILTER = "Mask sets (*.json);;All files (*)"
NO_MODEL_TEXT = ("<h3>No model open</h3><p>Open a run folder (<b>File ▸ Open run…</b>, Ctrl+O) or a generator "
                 "<code>.pth</code> (ours or the reference implementation's, Ctrl+Shift+O), or train one in the "
                 "Train tab and press <b>Open in Test tab</b>.</p><p>The bundled default model is installed with "
                 "the package in <code>resources/default_model/</code>; it is not present here.</p>")


class TestTab(QWidget):
    """Signals: `model_opened(path)` (a model the user chose: for the recent list), `model_changed()` (any
    model now loaded, the bundled default too), `status_changed(text)`, `idle()` when a background job ends."""

    __test__ = False  # not a pytest test class, whatever its name

    model_opened = pyqtSignal(str)
    model_changed = pyqtSignal()
    status_changed = pyqtSignal(str)
    idle = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.model: InspectedModel | None = None
        self.layer = 0
        self.filter: int | None = None  # the selected feature map (channel)
        self._grid = None
        self._ablation: AblationWorker | None = None
        self.undo_stack = QUndoStack(self)  # mask edits of the open model (Ctrl+Z / Ctrl+Shift+Z)
        self._scan_key: tuple | None = None  # _scan_state() of the ranking the chart shows
        self._view_worker: ViewWorker | None = None
        self._sketch_pending = None  # the latest sketch not yet sent to the view worker
        self._showing_empty_sketch = False
        self._refresh_timer = QTimer(self, singleShot=True, interval=0)
        self._refresh_timer.timeout.connect(self.refresh)
        self._build()
        self._set_enabled(False)

    # --- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.open_run_button = QPushButton("Open run…")
        self.open_pth_button = QPushButton("Open .pth…")
        self.open_run_button.clicked.connect(self._on_open_run)
        self.open_pth_button.clicked.connect(self._on_open_pth)
        self.generator = QComboBox()
        self.generator.addItem("G_A: A → B", "G_A")
        self.generator.addItem("G_B: B → A", "G_B")
        self.generator.setToolTip("Which generator to look inside; each keeps its own masks")
        self.generator.currentIndexChanged.connect(self._on_generator_changed)
        self.model_label = QLabel("No model")
        # A long description is elided by the window width, not allowed to widen the window (full text in
        # the tooltip).
        self.model_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.size_box = QSpinBox()
        self.size_box.setRange(8, 4096)
        self.size_box.setSuffix(" px")
        self.size_box.setKeyboardTracking(False)  # reparse once the user has typed the whole number
        self.size_box.setToolTip("Input size the generators are parsed at: the size they were trained at, "
                                 "read from the run (or the reference's train_opt.txt, or the architecture). "
                                 "Change it to see a generator on larger or smaller images; a U-Net needs a "
                                 "multiple of 2 to the power of its downsamplings.")
        self.size_box.valueChanged.connect(self._on_size_changed)
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip("Two layers side by side, or the same layer of another model (another "
                                       "epoch, another run), on the current input")
        self.compare_button.clicked.connect(self.open_compare)
        self.compare: CompareDialog | None = None
        top = QHBoxLayout()
        for w in (self.open_run_button, self.open_pth_button, QLabel("Generator"), self.generator,
                  QLabel("Size"), self.size_box, self.compare_button):
            top.addWidget(w)
        top.addWidget(self.model_label, 1)

        self.inputs = InputBrowser()
        self.inputs.image_chosen.connect(self._on_image_chosen)
        self.layers = LayerList()
        self.layers.layer_selected.connect(self._on_layer_selected)
        left = QSplitter(Qt.Vertical)
        left.addWidget(self.inputs)
        left.addWidget(self.layers)
        left.setSizes([290, 430])

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(self._response_column())
        split.addWidget(self._output_column())
        split.setStretchFactor(1, 5)
        split.setStretchFactor(2, 4)
        split.setSizes([390, 470, 420])

        self.placeholder = QLabel(NO_MODEL_TEXT)
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setMargin(40)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(split)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        self.panels_widget = split

    def _response_column(self) -> QWidget:
        self.layer_title = QLabel("")
        self.layer_title.setWordWrap(True)
        self.mode = QComboBox()
        self.mode.setToolTip("What a click or a drag on the feature maps does")
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.mode.currentIndexChanged.connect(lambda _: self.grid.set_mode(self.mode.currentData()))
        self.colormap = QComboBox()
        from cyclegan_workbench.visualization.render import COLORMAPS

        self.colormap.addItems(COLORMAPS)
        self.normalize = QComboBox()
        self.normalize.addItem("per map", "map")
        self.normalize.addItem("per layer", "layer")
        self.sort = QCheckBox("Sort")
        self.sort.setToolTip("Sort the maps by activation energy, strongest first")
        self.colormap.setToolTip("Colormap of the feature maps")
        self.normalize.setToolTip("Normalise each map to its own range, or the whole layer to one range")
        for w in (self.colormap, self.normalize):
            w.currentIndexChanged.connect(self._schedule_refresh)
        self.sort.toggled.connect(self._schedule_refresh)
        for combo, chars in ((self.colormap, 5), (self.normalize, 5)):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(chars)
        self.grid = ResponseGrid()
        self.grid.tile_clicked.connect(self._on_tile_clicked)
        self.grid.region_drawn.connect(self._on_region_drawn)
        self.grid.hovered.connect(self._on_grid_hovered)
        self.grid_bar = ColorBar()
        self.hover_label = QLabel("Point at a map to read its values")
        self.hover_label.setStyleSheet("color: #555;")
        self.hover_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)

        self.gain = QDoubleSpinBox()
        self.gain.setRange(0.0, 3.0)
        self.gain.setDecimals(2)
        self.gain.setSingleStep(0.1)
        self.gain.setValue(0.0)
        self.gain.setToolTip("0 nullifies, 0..1 suppresses, above 1 amplifies")
        self.apply_map = QPushButton("Set map")
        self.apply_layer = QPushButton("Set layer")
        self.apply_map.setToolTip("Set the selected feature map's gain")
        self.apply_layer.setToolTip("Set every gain of the layer")
        self.region_all = QCheckBox("All maps")
        self.region_all.setToolTip("A drawn region applies to every map of the layer, not only the one drawn on "
                                   "(it takes the gain on the left)")
        self.apply_map.clicked.connect(self._on_apply_map)
        self.apply_layer.clicked.connect(self._on_apply_layer)

        # The mode box gets a row of its own, so its longest text is never cut on a narrow screen.
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.mode, 1)
        view_row = QHBoxLayout()
        view_row.addWidget(self.colormap)
        view_row.addWidget(self.normalize)
        view_row.addWidget(self.sort)
        view_row.addStretch(1)
        gain_row = QHBoxLayout()
        gain_row.addWidget(QLabel("Gain"))
        gain_row.addWidget(self.gain)
        gain_row.addWidget(self.apply_map)
        gain_row.addWidget(self.apply_layer)
        gain_row.addWidget(self.region_all)
        gain_row.addStretch(1)

        col = QWidget()
        v = QVBoxLayout(col)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.layer_title)
        v.addLayout(mode_row)
        v.addLayout(view_row)
        v.addWidget(self.grid, 1)
        v.addWidget(self.grid_bar)
        v.addWidget(self.hover_label)
        v.addLayout(gain_row)
        v.addWidget(self._actions_box())
        return col

    def _actions_box(self) -> QGroupBox:
        box = QGroupBox("One-click edits")
        self.bottleneck_button = QPushButton("Nullify bottleneck")
        self.reset_layer_button = QPushButton("Reset layer")
        self.reset_all_button = QPushButton("Reset all")
        self.bottleneck_button.setToolTip("Set every gain of the bottleneck (the innermost layer) to 0: only the "
                                          "skip connections carry the input (Ctrl+B)")
        self.reset_layer_button.setToolTip("Gains of the selected layer back to 1")
        self.reset_all_button.setToolTip("Every gain of this generator back to 1 (Ctrl+Backspace; Ctrl+Z undoes)")
        self.skip_level = QSpinBox()
        self.skip_level.setToolTip("Skip connection level (1 = full resolution)")
        self.isolate_button = QPushButton("Isolate skip")
        self.isolate_button.setToolTip("Zero the contracting path and the bottleneck below this level: only the "
                                       "top skip connections carry the input")
        self.encoder_gain = QDoubleSpinBox()
        self.decoder_gain = QDoubleSpinBox()
        for box_, tip in ((self.encoder_gain, "Gain of the encoder copy at the concatenation"),
                          (self.decoder_gain, "Gain of the decoder path at the concatenation")):
            box_.setRange(0.0, 3.0)
            box_.setDecimals(2)
            box_.setSingleStep(0.1)
            box_.setValue(0.0 if box_ is self.encoder_gain else 1.0)
            box_.setToolTip(tip)
        self.gate_button = QPushButton("Gate skip")
        self.gate_button.setToolTip("Scale the two branches of this skip connection's concatenation by the "
                                    "gains below")
        self.bottleneck_button.clicked.connect(self.nullify_bottleneck)
        self.reset_layer_button.clicked.connect(self.reset_layer)
        self.reset_all_button.clicked.connect(self.reset_all)
        self.isolate_button.clicked.connect(self._on_isolate)
        self.gate_button.clicked.connect(self._on_gate)
        rows = ((self.bottleneck_button, self.reset_layer_button, self.reset_all_button),
                (QLabel("Skip level"), self.skip_level, self.isolate_button, self.gate_button),
                (QLabel("Gate: encoder ×"), self.encoder_gain, QLabel("decoder ×"), self.decoder_gain))
        v = QVBoxLayout(box)
        for row in rows:
            h = QHBoxLayout()
            for w in row:
                h.addWidget(w)
            h.addStretch(1)
            v.addLayout(h)
        return box

    def _output_column(self) -> QWidget:
        self.panels = {key: ImagePanel(title, placeholder="click a map" if key == "map" else "") for key, title in (
            ("input", "Input"), ("before", "Before"), ("after", "After the edit"),
            ("map", "Selected map"), ("difference", "|after − before|"), ("reconstruction", "Reconstruction"))}
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, key in enumerate(("input", "before", "after", "map", "difference", "reconstruction")):
            grid.addWidget(self.panels[key], i // 3, i % 3)
        self.difference_bar = ColorBar()
        grid.addWidget(self.difference_bar, 2, 1)  # under the difference panel
        self.numbers = QLabel("")
        self.numbers.setWordWrap(True)
        self.numbers.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.edits_label = QLabel("")
        self.edits_label.setStyleSheet("color: #555;")

        self.scan_button = QPushButton("Scan layer")
        self.scan_button.setToolTip("Nullify each filter of the selected layer in turn and rank them by the change "
                                    "of the output")
        self.scan_accuracy = QCheckBox("Accuracy")
        self.scan_accuracy.setToolTip("Also measure the colourization accuracy on the run's gray test images "
                                      "(needs a generated dataset and the gray → RGB generator)")
        self.scan_cancel = QPushButton("Cancel")
        self.scan_cancel.setEnabled(False)  # only while a scan runs
        self.scan_cancel.setToolTip("Stop the scan; the filters scanned so far are shown")
        self.scan_progress = QProgressBar()
        self.scan_progress.setRange(0, 1)
        self.scan_progress.setValue(0)
        self.scan_progress.setFormat("no scan yet")
        self.scan_button.clicked.connect(self.scan_layer)
        self.scan_cancel.clicked.connect(self._on_scan_cancel)
        self.chart = AblationChart()
        self.chart.bar_clicked.connect(self._on_bar_clicked)
        scan_row = QHBoxLayout()
        for w in (self.scan_button, self.scan_accuracy, self.scan_cancel):
            scan_row.addWidget(w)
        scan_row.addStretch(1)
        box = QGroupBox("Ablation scan")
        bv = QVBoxLayout(box)
        bv.addLayout(scan_row)
        bv.addWidget(self.scan_progress)  # a line of its own: its text stays readable in a narrow column
        bv.addWidget(self.chart, 1)

        col = QSplitter(Qt.Vertical)
        panels = QWidget()
        pv = QVBoxLayout(panels)
        pv.setContentsMargins(0, 0, 0, 0)
        pv.addLayout(grid, 1)
        pv.addWidget(self.numbers)
        pv.addWidget(self.edits_label)
        col.addWidget(panels)
        col.addWidget(box)
        col.setSizes([470, 270])
        return col

    def _set_enabled(self, on: bool) -> None:
        self.stack.setCurrentIndex(1 if on else 0)
        self.generator.setEnabled(on)
        self.size_box.setEnabled(on)
        self.compare_button.setEnabled(on)

    def export_widget(self) -> QWidget:
        return self.panels_widget if self.model is not None else self

    # --- opening ---------------------------------------------------------------------------------
    def open_default(self) -> bool:
        """The bundled default model on its first sample image; a message when it is not installed."""
        if not locations.has_default_model():
            self.status_changed.emit("No bundled default model: open a run or a .pth in the Test tab")
            return False
        return self.open_model(str(locations.DEFAULT_MODEL_DIR), remember=False)

    def open_model(self, path: str, remember: bool = True, size: int | None = None) -> bool:
        try:
            model = InspectedModel.open(path, size)
        except UserError as exc:
            show_warning(self, "Cannot open the model", str(exc))
            return False
        if self.compare is not None:  # it compares with the model being replaced
            self.compare.close()
        self.model = model
        self.undo_stack.clear()  # the history belongs to the masks of the model it edited
        self.size_box.blockSignals(True)
        self.size_box.setSingleStep(model.size_step)
        self.size_box.setValue(model.size)
        self.size_box.blockSignals(False)
        for i in range(self.generator.count()):
            self.generator.model().item(i).setEnabled(self.generator.itemData(i) in model.graphs)
        self.model_label.setText(model.description)
        self.model_label.setToolTip(str(model.source))
        self._set_enabled(True)
        self.generator.blockSignals(True)
        self.generator.setCurrentIndex(self.generator.findData(
            "G_B" if "G_A" not in model.graphs else self._preferred_generator(model)))
        self.generator.blockSignals(False)
        self._on_generator_changed()
        self.model_changed.emit()
        if remember:
            self.model_opened.emit(str(path))
        self.status_changed.emit(f"Opened {path}")
        return True

    @staticmethod
    def _preferred_generator(model: InspectedModel) -> str:
        """The colourizing direction (gray -> RGB) when there is one: the toy task's interesting side."""
        for which, graph in model.graphs.items():
            if graph.input_shape[0] == 1 and graph.output_shape[0] == 3:
                return which
        return "G_A"

    @property
    def which(self) -> str:
        return self.generator.currentData()

    def _on_generator_changed(self, *_) -> None:
        if self.model is None or self.which not in self.model.graphs:
            return
        graph = self.model.graphs[self.which]
        self.layers.set_graph(graph)
        levels = graph.skip_levels
        self.skip_level.setRange(min(levels, default=0), max(levels, default=0))
        for w in (self.skip_level, self.isolate_button, self.gate_button, self.encoder_gain, self.decoder_gain):
            w.setEnabled(bool(levels))
        files, description = self.model.input_sources(self.which)
        self.inputs.set_sources(files, description)
        self.inputs.set_sketch_size(graph.input_shape[1])
        self.layer, self.filter = graph.bottleneck, None
        self.layers.select_layer(self.layer)
        if not self.model.has_input(self.which):
            if files:
                self.inputs.select_first()
            else:
                self.inputs.tabs.setCurrentWidget(self.inputs.sketch)
                self._on_image_chosen(self.inputs.sketch.canvas.image.copy(), "sketch")
        self.scan_accuracy.setEnabled(bool(self.model.dataroot) and graph.input_shape[0] == 1
                                      and graph.output_shape[0] == 3)
        self.chart.show_ranking([], [], "")
        self._scan_key = None
        self.refresh()

    def open_compare(self) -> CompareDialog | None:
        if self.model is None or not self.model.has_input(self.which):
            return None
        if self.compare is not None:
            self.compare.close()
        dialog = self.compare = CompareDialog(self)
        dialog.finished.connect(lambda _: self._forget_compare(dialog))
        dialog.start()
        dialog.show()
        return dialog

    def _forget_compare(self, dialog) -> None:
        if self.compare is dialog:
            self.compare = None

    def _on_size_changed(self, size: int) -> None:
        if self.model is None or size == self.model.size:
            return
        previous = self.model
        if not self.open_model(str(previous.source), remember=False, size=size):
            self.size_box.blockSignals(True)
            self.size_box.setValue(previous.size)
            self.size_box.blockSignals(False)

    def _on_open_run(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", str(locations.runs_dir()))
        if path:
            self.open_model(path)

    def _on_open_pth(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a generator checkpoint", "",
                                              "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.open_model(path)

    # --- input -----------------------------------------------------------------------------------
    def _on_image_chosen(self, image, name: str) -> None:
        if self.model is None:
            return
        self._showing_empty_sketch = name == "sketch" and self.inputs.sketch.canvas.is_empty()
        if self._showing_empty_sketch:
            # A generator given nothing paints something (a blob of one class's colour): show nothing instead.
            for key in ("input", "before", "after", "difference", "reconstruction", "map"):
                self.panels[key].set_image(None)
            self.numbers.setText("Draw a figure on the sketch canvas")
            return
        if name == "sketch":
            self._sketch_pending = image
            self._next_sketch_view()
            return
        try:
            self.model.set_input(self.which, image)
        except UserError as exc:
            show_warning(self, "Cannot use this image", str(exc))
            return
        self.panels["input"].setToolTip(f"Input: {name}")
        self._schedule_refresh()

    def dragEnterEvent(self, event) -> None:
        if dropped_image_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = dropped_image_path(event.mimeData())
        if path is not None and self.model is not None:
            self.inputs.open_path(path)
            event.acceptProposedAction()

    # --- layer and maps --------------------------------------------------------------------------
    def _on_layer_selected(self, index: int) -> None:
        if index != self.layer:
            self.layer, self.filter = index, None
            self._schedule_refresh()

    def _on_tile_clicked(self, tile: int) -> None:
        channel = self._grid.tiles[tile].channel
        self.filter = channel
        if self.grid.mode == "toggle":
            gains = self.model.masks[self.which].filter_gains(self.layer)
            off = gains[channel] != 0
            self._edit(lambda m: m.set_filter(self.layer, channel, 0.0 if off else 1.0),
                       f"{'nullify' if off else 'restore'} map {channel} of layer {self.layer}")
        else:
            self._schedule_refresh()

    def _on_region_drawn(self, tile: int, region) -> None:
        channel = self._grid.tiles[tile].channel
        self.filter = channel
        target = None if self.region_all.isChecked() else channel
        what = "every map" if target is None else f"map {target}"
        self._edit(lambda m: m.set_region(self.layer, region, self.gain.value(), filter=target),
                   f"region of {what} of layer {self.layer} × {self.gain.value():g}")

    def _on_apply_map(self) -> None:
        if self.filter is None:
            show_warning(self, "No map selected", "Click a feature map in the grid first.")
            return
        self._edit(lambda m: m.set_filter(self.layer, self.filter, self.gain.value()),
                   f"map {self.filter} of layer {self.layer} × {self.gain.value():g}")

    def _on_apply_layer(self) -> None:
        self._edit(lambda m: m.scale_layer(self.layer, self.gain.value()),
                   f"layer {self.layer} × {self.gain.value():g}")

    def _on_grid_hovered(self, tile: int, row: int, col: int) -> None:
        if tile < 0 or self.model is None or self._grid is None or tile >= len(self._grid.tiles):
            self.hover_label.setText("Point at a map to read its values")
            return
        channel = self._grid.tiles[tile].channel
        value = self.model.activation(self.which, self.layer, channel, row, col)
        gain = float(self.model.masks[self.which].gain(self.layer)[channel, row, col])
        self.hover_label.setText(f"map {channel} · x {col}, y {row} · activation {value:.4g}"
                                 + ("" if gain == 1 else f" (after gain × {gain:g})"))

    def _show_color_bars(self, view) -> None:
        m, which, layer = self.model, self.which, self.layer
        colormap = self.colormap.currentText()
        if self.normalize.currentData() == "layer":
            self.grid_bar.set_range(colormap, *m.value_range(which, layer), "whole layer")
        elif self.filter is not None:
            self.grid_bar.set_range(colormap, *m.value_range(which, layer, self.filter), f"map {self.filter}")
        else:
            self.grid_bar.set_range(colormap, None, None, "each map from its own min to its max")
        self.difference_bar.set_range("magma", 0.0, max(view.max_change, 1e-6))

    def _on_bar_clicked(self, channel: int) -> None:
        self.filter = channel
        self.refresh()

    # --- one-click edits (also in the Masks menu) ------------------------------------------------
    def nullify_bottleneck(self) -> None:
        self._edit(lambda m: m.nullify_bottleneck(), "nullify the bottleneck")

    def reset_layer(self) -> None:
        self._edit(lambda m: m.reset_layer(self.layer), f"reset layer {self.layer}")

    def reset_all(self) -> None:
        self._edit(lambda m: m.reset(), "reset all")

    def _on_isolate(self) -> None:
        self._edit(lambda m: m.isolate_skip(self.skip_level.value()), f"isolate skip {self.skip_level.value()}")

    def _on_gate(self) -> None:
        self._edit(lambda m: m.gate_skip(self.skip_level.value(), encoder=self.encoder_gain.value(),
                                         decoder=self.decoder_gain.value()), f"gate skip {self.skip_level.value()}")

    def _edit(self, change, text: str) -> None:
        """Apply `change(masks)` to the current generator's masks, as one step of the undo history."""
        if self.model is None:
            return
        which = self.which
        try:
            with self.model.lock:  # a sketch's view may be computing in a worker
                masks = self.model.masks[which]
                before = masks.copy()
                change(masks)
                after = masks.copy()
        except UserError as exc:
            show_warning(self, "Cannot apply this edit", str(exc))
            return
        if after.version != before.version:
            self.undo_stack.push(MaskEdit(self._restore_masks, which, before, after, f"{text} ({which})"))
        self._schedule_refresh()

    def _restore_masks(self, which: str, snapshot) -> None:
        if self.model is None:
            return
        with self.model.lock:
            self.model.masks[which].restore(snapshot)
        if which != self.which:  # show what the undo or redo changed
            self.generator.setCurrentIndex(self.generator.findData(which))
        self._schedule_refresh()

    # --- mask sets -------------------------------------------------------------------------------
    def save_masks(self, path: str) -> None:
        self.model.masks[self.which].save(path)
        self.status_changed.emit(f"Saved the {self.which} mask set to {path}")

    def load_masks(self, path: str) -> None:
        from cyclegan_workbench.visualization.masks import MaskSet

        loaded = MaskSet.load(path, self.model.graphs[self.which])
        self._edit(lambda m: m.restore(loaded), f"load {Path(path).name}")
        self.status_changed.emit(f"Loaded {path} onto {self.which}")
        self.refresh()

    def save_masks_dialog(self) -> None:
        if self.model is None:
            show_warning(self, "No model", "Open a model in the Test tab first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, f"Save the {self.which} mask set", "masks.json", MASK_FILTER)
        if path:
            try:
                self.save_masks(path)
            except UserError as exc:
                show_error(self, "Cannot save the mask set", str(exc))

    def load_masks_dialog(self) -> None:
        if self.model is None:
            show_warning(self, "No model", "Open a model in the Test tab first.")
            return
        path, _ = QFileDialog.getOpenFileName(self, f"Load a mask set onto {self.which}", "", MASK_FILTER)
        if path:
            try:
                self.load_masks(path)
            except UserError as exc:
                show_error(self, "Cannot load the mask set", str(exc))

    # --- ablation --------------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self._ablation is not None or self._view_worker is not None

    def scan_layer(self) -> None:
        if self.model is None or self._ablation is not None or not self.model.has_input(self.which):
            return
        m = self.model
        dataset = m.dataroot if self.scan_accuracy.isChecked() and self.scan_accuracy.isEnabled() else ""
        self._ablation = AblationWorker(m.nets[self.which], m.size, self.layer, m.probes[self.which].input,
                                        m.masks[self.which], scoring_dataset=dataset)
        self._ablation.signals.progressed.connect(self._on_scan_progressed)
        self._ablation.signals.failed.connect(lambda msg: show_error(self, "Ablation scan failed", msg))
        self._ablation.signals.finished.connect(self._on_scan_finished)
        self._scan_context = (self.which, self.layer)
        self._scan_key = self._scan_state()
        self.scan_progress.setRange(0, m.graphs[self.which].layers[self.layer].channels)
        self.scan_progress.setValue(0)
        self.scan_progress.setFormat("%v / %m filters")
        self.scan_button.setEnabled(False)
        self.scan_cancel.setEnabled(True)
        self._ablation.start()

    def _scan_state(self) -> tuple | None:
        """What a scan's ranking depends on: generator, layer, input and masks."""
        m = self.model
        if m is None or not m.has_input(self.which):
            return None
        return (self.which, self.layer, m.inputs[self.which].tobytes(), m.masks[self.which].content_key())

    def _on_scan_cancel(self) -> None:
        if self._ablation is not None:
            self._ablation.abort()

    def _on_scan_progressed(self, done_total) -> None:
        self.scan_progress.setValue(done_total[0])

    def _on_scan_finished(self, result) -> None:
        self._ablation = None
        self.scan_button.setEnabled(True)
        self.scan_cancel.setEnabled(False)
        self.ablation_result = result
        if result is not None:
            done = len(result.effects)
            self.scan_progress.setFormat(f"{done} filters scanned" + ("" if result.complete else " (cancelled)"))
        else:
            self.scan_progress.setFormat("scan failed")
        if result is not None and self._scan_context == (self.which, self.layer):
            title = f"layer {result.layer.index}: {result.layer.stage}" + ("" if result.complete else " (partial)")
            self.chart.show_ranking([e.filter for e in result.effects], [e.output_change for e in result.effects],
                                    title, selected=self.filter)
            self.status_changed.emit(f"Scanned {len(result.effects)} filters in {result.seconds:.2f} s")
        self.idle.emit()

    def shutdown(self) -> None:
        if self._ablation is not None:
            self._ablation.abort()
        self._sketch_pending = None

    # --- sketches: views computed off the GUI thread, on the latest drawing only -------------------
    def _next_sketch_view(self) -> None:
        if self._view_worker is not None or self._sketch_pending is None or self.model is None:
            return
        image, self._sketch_pending = self._sketch_pending, None
        self._view_worker = ViewWorker(self.model, self._view_key(), image, *self._view_key()[1:])
        self._view_worker.signals.failed.connect(lambda message: show_warning(self, "Cannot use this sketch",
                                                                              message))
        self._view_worker.signals.finished.connect(self._on_sketch_view)
        self._view_worker.start()

    def _on_sketch_view(self, result) -> None:
        model = self._view_worker.model
        self._view_worker = None
        if result is not None and model is self.model and not self._showing_empty_sketch:
            key, view, grid = result
            self.panels["input"].setToolTip("Input: sketch")
            if key == self._view_key():
                self._show(view, grid)
            else:  # the layer or display changed meanwhile
                self._schedule_refresh()
        self._next_sketch_view()
        if self._view_worker is None:
            self.idle.emit()

    # --- drawing ---------------------------------------------------------------------------------
    def _schedule_refresh(self, *_) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _view_key(self) -> tuple:
        """What a computed view depends on besides the input and masks."""
        return (self.which, self.layer, self.colormap.currentText(), self.normalize.currentData(),
                self.sort.isChecked())

    def refresh(self) -> None:
        """Show the current edit: outputs, numbers, the selected layer's grid and marks."""
        m = self.model
        if m is None or not m.has_input(self.which) or self._showing_empty_sketch:
            return
        which, layer, colormap, normalize, sort = self._view_key()
        try:
            view, grid = m.compute(which, layer, colormap, normalize, sort)
        except UserError as exc:
            show_warning(self, "Cannot compute the view", str(exc))
            return
        self._show(view, grid)

    def _show(self, view, grid) -> None:
        m, which, layer = self.model, self.which, self.layer
        if self._scan_key is not None:
            self.chart.set_stale(self._scan_state() != self._scan_key)
        graph = m.graphs[which]
        self._grid = grid
        for key in ("input", "before", "after", "difference"):
            self.panels[key].set_image(getattr(view, key))
        self.panels["reconstruction"].set_image(view.reconstruction)
        self.panels["reconstruction"].set_title("Reconstruction" if view.reconstruction is not None
                                                else "No reconstruction")
        self.panels["reconstruction"].setToolTip("The edited output through the other generator" if
                                                 view.reconstruction is not None else
                                                 "Only one generator is open, so there is no cycle")
        self.numbers.setText(view.numbers())
        self._show_color_bars(view)
        if self.compare is not None:
            self.compare.update_view()
        edits = m.masks[which].describe()
        edited = m.masks[which].edited_layers()
        shown = ", ".join(map(str, edited[:8])) + (", …" if len(edited) > 8 else "")
        self.edits_label.setText(f"Edited layers of {which}: {shown or 'none'}")
        self.edits_label.setToolTip("\n".join(edits) or "no edits: the output is the model's own")
        l = graph.layers[layer]
        self.layer_title.setText(f"<b>Layer {l.index}</b> {l.label}" + (" — bottleneck" if l.is_bottleneck else ""))
        tiles = [(t.x, t.y, t.width, t.height) for t in self._grid.tiles]
        self.grid.set_grid(self._grid.image, tiles, l.shape[1:])
        channel_to_tile = {t.channel: k for k, t in enumerate(self._grid.tiles)}
        marks = {channel_to_tile[c]: g for c, g in m.marks(which, layer).items()}
        self.grid.set_marks(marks, channel_to_tile.get(self.filter))
        self.layers.set_edited(set(m.masks[which].edited_layers()))
        if self.filter is not None:
            self.panels["map"].set_image(m.feature_map(which, layer, self.filter, self.colormap.currentText()))
            self.panels["map"].set_title(f"Map {self.filter}, layer {layer}")
        else:
            self.panels["map"].set_image(None)
            self.panels["map"].set_title("Selected map")
