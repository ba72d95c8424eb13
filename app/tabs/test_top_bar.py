"""The Test tab's top bar: the open buttons (and their file dialogs), the generator, the input size, the
Compare button and the open model's description."""
from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QSpinBox, QWidget

from cyclegan_workbench.app import locations


def set_quietly(widget, change) -> None:
    """Run `change()` on `widget` without its signals: the tab sets what the model says, the user did nothing."""
    widget.blockSignals(True)
    try:
        change()
    finally:
        widget.blockSignals(False)


class TopBar(QWidget):
    """`open_requested(path)` once the user chose a run folder or a .pth; the tab connects `generator`,
    `size_box` and `compare_button` itself."""

    open_requested = pyqtSignal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
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
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.open_run_button, self.open_pth_button, QLabel("Generator"), self.generator,
                  QLabel("Size"), self.size_box, self.compare_button):
            row.addWidget(w)
        row.addWidget(self.model_label, 1)
        self.open_run_button.clicked.connect(self._on_open_run)
        self.open_pth_button.clicked.connect(self._on_open_pth)

    @property
    def which(self) -> str:
        return self.generator.currentData()

    def set_model_enabled(self, on: bool) -> None:
        for w in (self.generator, self.size_box, self.compare_button):
            w.setEnabled(on)

    def show_model(self, model) -> None:
        """The size, generators and description of a newly opened InspectedModel, without signals."""
        set_quietly(self.size_box, lambda: (self.size_box.setSingleStep(model.size_step),
                                            self.size_box.setValue(model.size)))
        for i in range(self.generator.count()):
            self.generator.model().item(i).setEnabled(self.generator.itemData(i) in model.graphs)
        self.model_label.setText(model.description)
        self.model_label.setToolTip(str(model.source))

    def select_generator(self, which: str, quietly: bool = False) -> None:
        index = self.generator.findData(which)
        if quietly:
            set_quietly(self.generator, lambda: self.generator.setCurrentIndex(index))
        else:
            self.generator.setCurrentIndex(index)

    def restore_size(self, size: int) -> None:
        set_quietly(self.size_box, lambda: self.size_box.setValue(size))

    def _on_open_run(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a run folder", str(locations.runs_dir()))
        if path:
            self.open_requested.emit(path)

    def _on_open_pth(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a generator checkpoint", "",
                                              "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.open_requested.emit(path)
