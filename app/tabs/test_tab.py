"""Test tab: open a run or a .pth, pick an input, edit the gains of any layer, see the effect at once.

The computing is visualization/'s (parser, masks, incremental probe, render, ablation) through
visualization.inspection.InspectedModel. This tab coordinates widgets of one purpose each: test_top_bar
(open, generator, size), the input browser and layer list, test_response_panel, test_edit_tools,
test_outputs, test_scan_panel (in test_layout's columns), test_mask_editor (edits and their undo history)
and test_sketch_views (the sketch's views, computed in a worker). Edits are applied in the GUI thread
(the incremental forward of the edited layer's descendants takes milliseconds) and coalesced so that a
burst of edits draws once.
"""
from __future__ import annotations

from PyQt5.QtCore import QTimer, pyqtSignal
from PyQt5.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from cyclegan_workbench.app import locations
from cyclegan_workbench.app.dialogs import show_warning
from cyclegan_workbench.app.tabs.compare_view import CompareDialog
from cyclegan_workbench.app.tabs.test_edit_tools import EditTools
from cyclegan_workbench.app.tabs.test_layout import no_model_placeholder, three_columns
from cyclegan_workbench.app.tabs.test_mask_editor import MaskEditor
from cyclegan_workbench.app.tabs.test_outputs import OutputPanels
from cyclegan_workbench.app.tabs.test_response_panel import ResponsePanel
from cyclegan_workbench.app.tabs.test_scan_panel import ScanPanel
from cyclegan_workbench.app.tabs.test_sketch_views import SketchViews
from cyclegan_workbench.app.tabs.test_top_bar import TopBar
from cyclegan_workbench.app.widgets.input_browser import InputBrowser, dropped_image_path
from cyclegan_workbench.app.widgets.layer_list import LayerList
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization.inspection import InspectedModel


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
        self.compare: CompareDialog | None = None
        self._refresh_timer = QTimer(self, singleShot=True, interval=0)
        self._refresh_timer.timeout.connect(self.refresh)
        self._build()
        self._connect()
        self._set_enabled(False)

    def _build(self) -> None:
        self.top_bar, self.inputs, self.layers = TopBar(), InputBrowser(), LayerList()
        self.response, self.edits = ResponsePanel(), EditTools()
        self.outputs, self.scan = OutputPanels(), ScanPanel()
        self.mask_editor = MaskEditor(self)
        self.sketches = SketchViews(self, self.inputs.sketch.canvas, self.outputs,
                                    current=lambda: (self.model, self._view_key()))
        # The edit API by its old names: the window's menus and shortcuts, the scripts and the tests use them.
        ed = self.mask_editor
        self.undo_stack = ed.undo_stack
        self.nullify_bottleneck, self.reset_layer, self.reset_all = ed.nullify_bottleneck, ed.reset_layer, ed.reset_all
        self.save_masks, self.load_masks = ed.save_masks, ed.load_masks
        self.save_masks_dialog, self.load_masks_dialog = ed.save_masks_dialog, ed.load_masks_dialog
        self.panels_widget = three_columns(self.inputs, self.layers, self.response, self.edits, self.outputs,
                                           self.scan)
        self.placeholder = no_model_placeholder()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.placeholder)
        self.stack.addWidget(self.panels_widget)
        layout = QVBoxLayout(self)
        layout.addWidget(self.top_bar)
        layout.addWidget(self.stack, 1)

    def _connect(self) -> None:
        top, r, ed = self.top_bar, self.response, self.mask_editor
        top.open_requested.connect(self.open_model)
        top.generator.currentIndexChanged.connect(self._on_generator_changed)
        top.size_box.valueChanged.connect(self._on_size_changed)
        top.compare_button.clicked.connect(self.open_compare)
        self.inputs.image_chosen.connect(self._on_image_chosen)
        self.layers.layer_selected.connect(self._on_layer_selected)
        r.map_clicked.connect(self._on_map_clicked)
        r.map_region_drawn.connect(self._on_region_drawn)
        r.display_changed.connect(self._schedule_refresh)
        r.apply_map.connect(self._on_apply_map)
        r.apply_layer.connect(ed.scale_layer)
        ed.connect_tools(self.edits)
        ed.changed.connect(self._on_masks_changed)
        ed.loaded.connect(self.refresh)
        ed.status_changed.connect(self.status_changed)
        self.sketches.computed.connect(self._on_sketch_view)
        self.sketches.idle.connect(self.idle)
        self.scan.scan_requested.connect(self.scan_layer)
        self.scan.finished.connect(self._on_scan_finished)
        self.scan.bar_clicked.connect(self._on_bar_clicked)

    def _set_enabled(self, on: bool) -> None:
        self.stack.setCurrentIndex(1 if on else 0)
        self.top_bar.set_model_enabled(on)

    def export_widget(self) -> QWidget:
        return self.panels_widget if self.model is not None else self

    @property
    def which(self) -> str:
        return self.top_bar.which

    @property
    def busy(self) -> bool:
        return self.scan.busy or self.sketches.busy

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
        self.mask_editor.clear()
        self.top_bar.show_model(model)
        self._set_enabled(True)
        self.top_bar.select_generator("G_B" if "G_A" not in model.graphs else model.preferred_generator(),
                                      quietly=True)
        self._on_generator_changed()
        self.model_changed.emit()
        if remember:
            self.model_opened.emit(str(path))
        self.status_changed.emit(f"Opened {path}")
        return True

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
        self.scan.set_model(self.model, graph)
        self.refresh()

    def _on_size_changed(self, size: int) -> None:
        if self.model is None or size == self.model.size:
            return
        previous = self.model
        if not self.open_model(str(previous.source), remember=False, size=size):
            self.top_bar.restore_size(previous.size)

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
        if self.model is None or self.sketches.take(image, name):
            return
        try:
            self.model.set_input(self.which, image)
        except UserError as exc:
            show_warning(self, "Cannot use this image", str(exc))
            return
        self.outputs.panels["input"].setToolTip(f"Input: {name}")
        self._schedule_refresh()

    def _on_sketch_view(self, key: tuple, view, grid) -> None:
        if key == self._view_key():
            self._show(view, grid)
        else:  # the layer or display changed meanwhile
            self._schedule_refresh()

    def dragEnterEvent(self, event) -> None:
        if dropped_image_path(event.mimeData()) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        path = dropped_image_path(event.mimeData())
        if path is not None and self.model is not None:
            self.inputs.open_path(path)
            event.acceptProposedAction()

    # --- the feature maps: selection, and clicks turned into mask edits ----------------------------
    def _on_layer_selected(self, index: int) -> None:
        if index != self.layer:
            self.layer, self.filter = index, None
            self._schedule_refresh()

    def _on_map_clicked(self, channel: int) -> None:
        self.filter = channel
        if self.response.grid.mode == "toggle":
            self.mask_editor.toggle_filter(channel)
        else:
            self._schedule_refresh()

    def _on_region_drawn(self, channel: int, region) -> None:
        self.filter = channel
        target = None if self.response.region_all.isChecked() else channel
        self.mask_editor.set_region(region, self.response.gain.value(), target)

    def _on_apply_map(self, gain: float) -> None:
        if self.filter is None:
            show_warning(self, "No map selected", "Click a feature map in the grid first.")
            return
        self.mask_editor.set_filter(self.filter, gain)

    def _on_bar_clicked(self, channel: int) -> None:
        self.filter = channel
        self.refresh()

    def _on_masks_changed(self, which: str) -> None:
        if which != self.which:  # an undo or redo of the other generator's masks: show what it changed
            self.top_bar.select_generator(which)
        self._schedule_refresh()

    # --- ablation --------------------------------------------------------------------------------
    def scan_layer(self) -> None:
        self.scan.start(self.model, self.which, self.layer)

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
        self.sketches.drop_pending()

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
        if m is None or not m.has_input(self.which) or self.sketches.showing_empty:
            return
        try:
            view, grid = m.compute(*self._view_key())
        except UserError as exc:
            show_warning(self, "Cannot compute the view", str(exc))
            return
        self._show(view, grid)

    def _show(self, view, grid) -> None:
        m, which, layer = self.model, self.which, self.layer
        self.outputs.show_view(view)
        masks = m.masks[which]
        self.outputs.show_edits(which, masks.edited_layers(), masks.describe())
        self.response.show_layer(m, which, layer, grid, self.filter)
        self.layers.set_edited(set(masks.edited_layers()))
        if self.filter is not None:
            self.outputs.show_map(m.feature_map(which, layer, self.filter, self.response.colormap.currentText()),
                                  f"Map {self.filter}, layer {layer}")
        else:
            self.outputs.show_map(None, "Selected map")
        self.scan.mark_stale(m, which, layer)
        if self.compare is not None:
            self.compare.update_view()
