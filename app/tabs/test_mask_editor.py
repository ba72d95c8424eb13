"""The Test tab's mask editing: every edit of a generator's masks as one step of an undo history (cleared
when a model opens, see `clear`), the one-click and click-on-a-map edits, and mask sets saved to and
loaded from JSON files (with their file dialogs and error messages)."""
from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtWidgets import QFileDialog, QUndoStack

from cyclegan_workbench.app.dialogs import show_error, show_warning
from cyclegan_workbench.app.tabs.mask_history import MaskEdit
from cyclegan_workbench.data.errors import UserError

MASK_FILTER = "Mask sets (*.json);;All files (*)"


class MaskEditor(QObject):
    """Edits the masks of `tab.model`'s current generator (`tab.which`) at `tab.layer`; message boxes open
    over the tab. `changed(generator)` after any change of a generator's masks (an edit, an undo, a redo):
    the tab shows that generator and redraws; `loaded()` once a mask set was loaded; `status_changed(text)`."""

    changed = pyqtSignal(str)
    loaded = pyqtSignal()
    status_changed = pyqtSignal(str)

    def __init__(self, tab):
        super().__init__(tab)
        self.tab = tab
        self.undo_stack = QUndoStack(self)  # Ctrl+Z / Ctrl+Shift+Z through the window's Edit menu

    def clear(self) -> None:
        """Forget the history: it belongs to the masks of the model it edited."""
        self.undo_stack.clear()

    def edit(self, change, text: str) -> None:
        """Apply `change(masks)` to the current generator's masks, as one step of the undo history."""
        model, which = self.tab.model, self.tab.which
        if model is None:
            return
        try:
            with model.lock:  # a sketch's view may be computing in a worker
                masks = model.masks[which]
                before = masks.copy()
                change(masks)
                after = masks.copy()
        except UserError as exc:
            show_warning(self.tab, "Cannot apply this edit", str(exc))
            return
        if after.version != before.version:
            self.undo_stack.push(MaskEdit(self._restore, which, before, after, f"{text} ({which})"))
        self.changed.emit(which)

    def _restore(self, which: str, snapshot) -> None:
        model = self.tab.model
        if model is None:
            return
        with model.lock:
            model.masks[which].restore(snapshot)
        self.changed.emit(which)

    # --- the edits the tab's tools and clicks ask for ----------------------------------------------
    def connect_tools(self, tools) -> None:
        """Apply the edits a test_edit_tools.EditTools asks for."""
        tools.nullify_bottleneck.connect(self.nullify_bottleneck)
        tools.reset_layer.connect(self.reset_layer)
        tools.reset_all.connect(self.reset_all)
        tools.isolate.connect(self.isolate_skip)
        tools.gate.connect(self.gate_skip)

    def nullify_bottleneck(self) -> None:
        self.edit(lambda m: m.nullify_bottleneck(), "nullify the bottleneck")

    def reset_layer(self) -> None:
        layer = self.tab.layer
        self.edit(lambda m: m.reset_layer(layer), f"reset layer {layer}")

    def reset_all(self) -> None:
        self.edit(lambda m: m.reset(), "reset all")

    def scale_layer(self, gain: float) -> None:
        layer = self.tab.layer
        self.edit(lambda m: m.scale_layer(layer, gain), f"layer {layer} × {gain:g}")

    def isolate_skip(self, level: int) -> None:
        self.edit(lambda m: m.isolate_skip(level), f"isolate skip {level}")

    def gate_skip(self, level: int, encoder: float, decoder: float) -> None:
        self.edit(lambda m: m.gate_skip(level, encoder=encoder, decoder=decoder), f"gate skip {level}")

    def set_filter(self, channel: int, gain: float) -> None:
        layer = self.tab.layer
        self.edit(lambda m: m.set_filter(layer, channel, gain), f"map {channel} of layer {layer} × {gain:g}")

    def toggle_filter(self, channel: int) -> None:
        """Nullify map `channel` of the layer, or give it back its gain 1 if it is nullified."""
        layer = self.tab.layer
        off = self.tab.model.masks[self.tab.which].filter_gains(layer)[channel] != 0
        self.edit(lambda m: m.set_filter(layer, channel, 0.0 if off else 1.0),
                  f"{'nullify' if off else 'restore'} map {channel} of layer {layer}")

    def set_region(self, region, gain: float, channel: int | None) -> None:
        """`region` of map `channel` of the layer, of every map if `channel` is None, × `gain`."""
        layer = self.tab.layer
        what = "every map" if channel is None else f"map {channel}"
        self.edit(lambda m: m.set_region(layer, region, gain, filter=channel),
                  f"region of {what} of layer {layer} × {gain:g}")

    # --- mask sets as files ------------------------------------------------------------------------
    def save_masks(self, path: str) -> None:
        which = self.tab.which
        self.tab.model.masks[which].save(path)
        self.status_changed.emit(f"Saved the {which} mask set to {path}")

    def load_masks(self, path: str) -> None:
        from cyclegan_workbench.visualization.masks import MaskSet

        which = self.tab.which
        loaded = MaskSet.load(path, self.tab.model.graphs[which])
        self.edit(lambda m: m.restore(loaded), f"load {Path(path).name}")
        self.status_changed.emit(f"Loaded {path} onto {which}")
        self.loaded.emit()

    def save_masks_dialog(self) -> None:
        self._mask_file_dialog(save=True)

    def load_masks_dialog(self) -> None:
        self._mask_file_dialog(save=False)

    def _mask_file_dialog(self, save: bool) -> None:
        tab, which = self.tab, self.tab.which
        if tab.model is None:
            show_warning(tab, "No model", "Open a model in the Test tab first.")
            return
        if save:
            path, _ = QFileDialog.getSaveFileName(tab, f"Save the {which} mask set", "masks.json", MASK_FILTER)
        else:
            path, _ = QFileDialog.getOpenFileName(tab, f"Load a mask set onto {which}", "", MASK_FILTER)
        if path:
            try:
                self.save_masks(path) if save else self.load_masks(path)
            except UserError as exc:
                show_error(tab, f"Cannot {'save' if save else 'load'} the mask set", str(exc))
