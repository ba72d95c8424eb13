"""Test tab: open a run or a .pth, pick an input, edit the gains of any layer, see the effect at once.

The computing is visualization/'s (parser, masks, incremental probe, render, ablation) through
visualization.inspection.InspectedModel; this tab wires its widgets (test_response_panel, test_edit_tools,
test_outputs, test_scan_panel, the input browser and layer list) to it and turns clicks into mask edits.
Edits are applied in the GUI thread (the incremental forward of the edited layer's descendants takes
milliseconds), coalesced so that a burst of edits draws once, and kept as an undo history. Sketches and
the ablation scan are computed in workers.
"""
from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
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
from cyclegan_workbench.app.tabs.test_edit_tools import EditTools
from cyclegan_workbench.app.tabs.test_outputs import OutputPanels
from cyclegan_workbench.app.tabs.test_response_panel import ResponsePanel
from cyclegan_workbench.app.tabs.test_scan_panel import ScanPanel
from cyclegan_workbench.app.tabs.view_worker import ViewWorker
from cyclegan_workbench.app.widgets.input_browser import InputBrowser, dropped_image_path
from cyclegan_workbench.app.widgets.layer_list import LayerList
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization.inspection import InspectedModel

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
        self.undo_stack = QUndoStack(self)  # mask edits of the open model (Ctrl+Z / Ctrl+Shift+Z)
        self.compare: CompareDialog | None = None
        self._view_worker: ViewWorker | None = None
        self._sketch_pending = None  # the latest sketch not yet sent to the view worker
        self._showing_empty_sketch = False
        self._refresh_timer = QTimer(self, singleShot=True, interval=0)
        self._refresh_timer.timeout.connect(self.refresh)
        self._build()
        self._connect()
        self._set_enabled(False)

    # --- layout ----------------------------------------------------------------------------------
    def _build(self) -> None:
        self.inputs, self.layers = InputBrowser(), LayerList()
        self.response, self.edits = ResponsePanel(), EditTools()
        self.outputs, self.scan = OutputPanels(), ScanPanel()
        left = QSplitter(Qt.Vertical)
        left.addWidget(self.inputs)
        left.addWidget(self.layers)
        left.setSizes([290, 430])
        middle = QWidget()
        mv = QVBoxLayout(middle)
        mv.setContentsMargins(0, 0, 0, 0)
        mv.addWidget(self.response, 1)
        mv.addWidget(self.edits)
        right = QSplitter(Qt.Vertical)
        right.addWidget(self.outputs)
        right.addWidget(self.scan)
        right.setSizes([470, 270])
        split = QSplitter(Qt.Horizontal)
        for w in (left, middle, right):
            split.addWidget(w)
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
        layout.addLayout(self._top_bar())
        layout.addWidget(self.stack, 1)
        self.panels_widget = split

    def _top_bar(self) -> QHBoxLayout:
        self.open_run_button = QPushButton("Open run…")
        self.open_pth_button = QPushButton("Open .pth…")
        self.generator = QComboBox()
        self.generator.addItem("G_A: A → B", "G_A")
        self.generator.addItem("G_B: B → A", "G_B")
        self.generator.setToolTip("Which generator to look inside; each keeps its own masks")
        self.size_box = QSpinBox()
        self.size_box.setRange(8, 4096)
        self.size_box.setSuffix(" px")
        self.size_box.setKeyboardTracking(False)  # reparse once the user has typed the whole number
        self.size_box.setToolTip("Input size the generators are parsed at: the size they were trained at, "
                                 "read from the run (or the reference's train_opt.txt, or the architecture). "
                                 "Change it to see a generator on larger or smaller images; a U-Net needs a "
                                 "multiple of 2 to the power of its downsamplings.")
        self.compare_button = QPushButton("Compare…")
        self.compare_button.setToolTip("Two layers side by side, or the same layer of another model (another "
                                       "epoch, another run), on the current input")
        self.model_label = QLabel("No model")
        # A long description must not widen the window: it is cut, and whole in the tooltip.
        self.model_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        top = QHBoxLayout()
        for w in (self.open_run_button, self.open_pth_button, QLabel("Generator"), self.generator,
                  QLabel("Size"), self.size_box, self.compare_button):
            top.addWidget(w)
        top.addWidget(self.model_label, 1)
        return top

    def _connect(self) -> None:
        self.open_run_button.clicked.connect(self._on_open_run)
        self.open_pth_button.clicked.connect(self._on_open_pth)
        self.generator.currentIndexChanged.connect(self._on_generator_changed)
        self.size_box.valueChanged.connect(self._on_size_changed)
        self.compare_button.clicked.connect(self.open_compare)
        self.inputs.image_chosen.connect(self._on_image_chosen)
        self.layers.layer_selected.connect(self._on_layer_selected)
        r, e = self.response, self.edits
        r.grid.tile_clicked.connect(self._on_tile_clicked)
        r.grid.region_drawn.connect(self._on_region_drawn)
        r.grid.hovered.connect(self._on_grid_hovered)
        r.display_changed.connect(self._schedule_refresh)
        r.apply_map.connect(self._on_apply_map)
        r.apply_layer.connect(lambda gain: self._edit(lambda m: m.scale_layer(self.layer, gain),
                                                      f"layer {self.layer} × {gain:g}"))
        e.nullify_bottleneck.connect(self.nullify_bottleneck)
        e.reset_layer.connect(self.reset_layer)
        e.reset_all.connect(self.reset_all)
        e.isolate.connect(lambda level: self._edit(lambda m: m.isolate_skip(level), f"isolate skip {level}"))
        e.gate.connect(lambda level, enc, dec: self._edit(lambda m: m.gate_skip(level, encoder=enc, decoder=dec),
                                                          f"gate skip {level}"))
        self.scan.scan_requested.connect(self.scan_layer)
        self.scan.finished.connect(self._on_scan_finished)
        self.scan.bar_clicked.connect(self._on_bar_clicked)

    def _set_enabled(self, on: bool) -> None:
        self.stack.setCurrentIndex(1 if on else 0)
        for w in (self.generator, self.size_box, self.compare_button):
            w.setEnabled(on)

    def export_widget(self) -> QWidget:
        return self.panels_widget if self.model is not None else self

    @property
    def which(self) -> str:
        return self.generator.currentData()

    @property
    def busy(self) -> bool:
        return self.scan.busy or self._view_worker is not None

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
        self._set_quietly(self.size_box, lambda: (self.size_box.setSingleStep(model.size_step),
                                                  self.size_box.setValue(model.size)))
        for i in range(self.generator.count()):
            self.generator.model().item(i).setEnabled(self.generator.itemData(i) in model.graphs)
        self.model_label.setText(model.description)
        self.model_label.setToolTip(str(model.source))
        self._set_enabled(True)
        which = "G_B" if "G_A" not in model.graphs else model.preferred_generator()
        self._set_quietly(self.generator, lambda: self.generator.setCurrentIndex(self.generator.findData(which)))
        self._on_generator_changed()
        self.model_changed.emit()
        if remember:
            self.model_opened.emit(str(path))
        self.status_changed.emit(f"Opened {path}")
        return True

    @staticmethod
    def _set_quietly(widget, change) -> None:
        widget.blockSignals(True)
        try:
            change()
        finally:
            widget.blockSignals(False)

    def _on_generator_changed(self, *_) -> None:
        if self.model is None or self.which not in self.model.graphs:
            return
        graph = self.model.graphs[self.which]
        self.layers.set_graph(graph)
        self.edits.set_skip_levels(graph.skip_levels)
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
        self.scan.accuracy.setEnabled(bool(self.model.dataroot) and graph.input_shape[0] == 1
                                      and graph.output_shape[0] == 3)
        self.scan.clear()
        self.refresh()

    def _on_size_changed(self, size: int) -> None:
        if self.model is None or size == self.model.size:
            return
        previous = self.model
        if not self.open_model(str(previous.source), remember=False, size=size):
            self._set_quietly(self.size_box, lambda: self.size_box.setValue(previous.size))

    def _on_open_run(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", str(locations.runs_dir()))
        if path:
            self.open_model(path)

    def _on_open_pth(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a generator checkpoint", "",
                                              "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.open_model(path)

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

    # --- input -----------------------------------------------------------------------------------
    def _on_image_chosen(self, image, name: str) -> None:
        if self.model is None:
            return
        self._showing_empty_sketch = name == "sketch" and self.inputs.sketch.canvas.is_empty()
        if self._showing_empty_sketch:
            # A generator given nothing paints something (a blob of one class's colour): show nothing instead.
            self.outputs.show_nothing("Draw a figure on the sketch canvas")
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
        self.outputs.panels["input"].setToolTip(f"Input: {name}")
        self._schedule_refresh()

    def dragEnterEvent(self, event) -> None:
        if dropped_image_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = dropped_image_path(event.mimeData())
        if path is not None and self.model is not None:
            self.inputs.open_path(path)
            event.acceptProposedAction()

    # --- sketches: views computed off the GUI thread, on the latest drawing only -------------------
    def _next_sketch_view(self) -> None:
        if self._view_worker is not None or self._sketch_pending is None or self.model is None:
            return
        image, self._sketch_pending = self._sketch_pending, None
        key = self._view_key()
        self._view_worker = ViewWorker(self.model, key, image, *key[1:])
        self._view_worker.signals.failed.connect(lambda message: show_warning(self, "Cannot use this sketch",
                                                                              message))
        self._view_worker.signals.finished.connect(self._on_sketch_view)
        self._view_worker.start()

    def _on_sketch_view(self, result) -> None:
        model = self._view_worker.model
        self._view_worker = None
        if result is not None and model is self.model and not self._showing_empty_sketch:
            key, view, grid = result
            self.outputs.panels["input"].setToolTip("Input: sketch")
            if key == self._view_key():
                self._show(view, grid)
            else:  # the layer or display changed meanwhile
                self._schedule_refresh()
        self._next_sketch_view()
        if self._view_worker is None:
            self.idle.emit()

    # --- the feature maps ------------------------------------------------------------------------
    def _on_layer_selected(self, index: int) -> None:
        if index != self.layer:
            self.layer, self.filter = index, None
            self._schedule_refresh()

    def _on_tile_clicked(self, tile: int) -> None:
        channel = self._grid.tiles[tile].channel
        self.filter = channel
        if self.response.grid.mode == "toggle":
            off = self.model.masks[self.which].filter_gains(self.layer)[channel] != 0
            self._edit(lambda m: m.set_filter(self.layer, channel, 0.0 if off else 1.0),
                       f"{'nullify' if off else 'restore'} map {channel} of layer {self.layer}")
        else:
            self._schedule_refresh()

    def _on_region_drawn(self, tile: int, region) -> None:
        self.filter = channel = self._grid.tiles[tile].channel
        target = None if self.response.region_all.isChecked() else channel
        gain = self.response.gain.value()
        what = "every map" if target is None else f"map {target}"
        self._edit(lambda m: m.set_region(self.layer, region, gain, filter=target),
                   f"region of {what} of layer {self.layer} × {gain:g}")

    def _on_apply_map(self, gain: float) -> None:
        if self.filter is None:
            show_warning(self, "No map selected", "Click a feature map in the grid first.")
            return
        channel = self.filter
        self._edit(lambda m: m.set_filter(self.layer, channel, gain), f"map {channel} of layer {self.layer} × {gain:g}")

    def _on_grid_hovered(self, tile: int, row: int, col: int) -> None:
        if tile < 0 or self.model is None or self._grid is None or tile >= len(self._grid.tiles):
            self.response.show_hover(None)
            return
        channel = self._grid.tiles[tile].channel
        value = self.model.activation(self.which, self.layer, channel, row, col)
        gain = float(self.model.masks[self.which].gain(self.layer)[channel, row, col])
        self.response.show_hover(f"map {channel} · x {col}, y {row} · activation {value:.4g}"
                                 + ("" if gain == 1 else f" (after gain × {gain:g})"))

    def _on_bar_clicked(self, channel: int) -> None:
        self.filter = channel
        self.refresh()

    # --- mask edits, each one step of the undo history ---------------------------------------------
    def nullify_bottleneck(self) -> None:
        self._edit(lambda m: m.nullify_bottleneck(), "nullify the bottleneck")

    def reset_layer(self) -> None:
        self._edit(lambda m: m.reset_layer(self.layer), f"reset layer {self.layer}")

    def reset_all(self) -> None:
        self._edit(lambda m: m.reset(), "reset all")

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
        self._mask_file_dialog(save=True)

    def load_masks_dialog(self) -> None:
        self._mask_file_dialog(save=False)

    def _mask_file_dialog(self, save: bool) -> None:
        if self.model is None:
            show_warning(self, "No model", "Open a model in the Test tab first.")
            return
        if save:
            path, _ = QFileDialog.getSaveFileName(self, f"Save the {self.which} mask set", "masks.json", MASK_FILTER)
        else:
            path, _ = QFileDialog.getOpenFileName(self, f"Load a mask set onto {self.which}", "", MASK_FILTER)
        if path:
            try:
                self.save_masks(path) if save else self.load_masks(path)
            except UserError as exc:
                show_error(self, f"Cannot {'save' if save else 'load'} the mask set", str(exc))

    # --- ablation --------------------------------------------------------------------------------
    def scan_layer(self) -> None:
        m = self.model
        if m is None or self.scan.busy or not m.has_input(self.which):
            return
        dataset = m.dataroot if self.scan.accuracy.isChecked() and self.scan.accuracy.isEnabled() else ""
        self.scan.start((self.which, self.layer), self._scan_state(), m.nets[self.which], m.size, self.layer,
                        m.probes[self.which].input, m.masks[self.which], dataset,
                        m.graphs[self.which].layers[self.layer].channels)

    def _scan_state(self) -> tuple | None:
        """What a scan's ranking depends on: generator, layer, input and masks."""
        m = self.model
        if m is None or not m.has_input(self.which):
            return None
        return self.which, self.layer, m.inputs[self.which].tobytes(), m.masks[self.which].content_key()

    @property
    def ablation_result(self):
        return self.scan.result

    def _on_scan_finished(self, result) -> None:
        if result is not None and self.scan.context == (self.which, self.layer):
            self.scan.show_ranking(result, self.filter)
            self.status_changed.emit(f"Scanned {len(result.effects)} filters in {result.seconds:.2f} s")
        self.idle.emit()

    def shutdown(self) -> None:
        self.scan.abort()
        self._sketch_pending = None

    # --- drawing ---------------------------------------------------------------------------------
    def _schedule_refresh(self, *_) -> None:
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def _view_key(self) -> tuple:
        """What a computed view depends on besides the input and masks."""
        return (self.which, self.layer, *self.response.display_options())

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
        self._grid = grid
        self.outputs.show_view(view)
        masks = m.masks[which]
        self.outputs.show_edits(which, masks.edited_layers(), masks.describe())
        self.response.show_grid(m.graphs[which].layers[layer], grid, m.marks(which, layer), self.filter)
        self._show_range()
        self.layers.set_edited(set(masks.edited_layers()))
        if self.filter is not None:
            self.outputs.show_map(m.feature_map(which, layer, self.filter, self.response.colormap.currentText()),
                                  f"Map {self.filter}, layer {layer}")
        else:
            self.outputs.show_map(None, "Selected map")
        self.scan.mark_stale(self._scan_state())
        if self.compare is not None:
            self.compare.update_view()

    def _show_range(self) -> None:
        """The colour bar of the feature maps: the layer's range, the selected map's, or 'each its own'."""
        m, which, layer = self.model, self.which, self.layer
        if self.response.normalize.currentData() == "layer":
            self.response.show_range(*m.value_range(which, layer), "whole layer")
        elif self.filter is not None:
            self.response.show_range(*m.value_range(which, layer, self.filter), f"map {self.filter}")
        else:
            self.response.show_range(None, None, "each map from its own min to its max")
