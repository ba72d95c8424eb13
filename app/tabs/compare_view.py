"""Side by side: two layers of one generator, or the same layer of two models (two epochs of one run, two
runs), on the Test tab's current input. Each side is a model, a generator and a layer; the left side
starts as the Test tab's own model (with its masks), the right one as the same model at another layer."""
from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cyclegan_workbench.app.dialogs import show_warning
from cyclegan_workbench.app.widgets.image_viewer import ImagePanel
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization.inspection import InspectedModel


class CompareSide(QWidget):
    """One side: which model (the Test tab's, or one opened here), which layer, and its response grid."""

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.model: InspectedModel | None = None
        self.which = "G_A"
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.open_button = QPushButton("Other model…")
        self.open_button.setToolTip("A run folder or a generator .pth, e.g. an earlier epoch's "
                                    "<epoch>_net_G_B.pth of the same run")
        self.layer = QComboBox()
        self.layer.setToolTip("The layer whose feature maps are shown")
        self.panel = ImagePanel(title)
        row = QHBoxLayout()
        row.addWidget(self.layer, 1)
        row.addWidget(self.open_button)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.source)
        v.addLayout(row)
        v.addWidget(self.panel, 1)

    def set_model(self, model: InspectedModel, which: str, layer: int) -> None:
        self.model, self.which = model, which
        graph = model.graphs[which]
        self.source.setText(f"{model.description} · {which}")
        self.layer.blockSignals(True)
        self.layer.clear()
        for l in graph.layers:
            self.layer.addItem(f"{l.index}: {l.label}", l.index)
        self.layer.setCurrentIndex(min(max(layer, 0), len(graph.layers) - 1))
        self.layer.blockSignals(False)

    def show_grid(self, image, colormap: str, normalize: str) -> None:
        if self.model is None:
            return
        self.model.set_input(self.which, image)
        grid = self.model.grid(self.which, self.layer.currentData(), colormap, normalize)
        self.panel.set_image(grid.image)
        self.panel.set_title(f"{self.which} layer {self.layer.currentText()}")


class CompareDialog(QDialog):
    """Non-modal; follows the Test tab's input, colormap and normalisation when `update_view()` is called."""

    def __init__(self, tab, parent=None):
        super().__init__(parent or tab)
        self.tab = tab
        self.setWindowTitle("Compare layers or models")
        self.left, self.right = CompareSide("Left"), CompareSide("Right")
        note = QLabel("Both sides get the Test tab's current input; the left side also its masks.")
        note.setStyleSheet("color: #555;")
        sides = QHBoxLayout()
        sides.addWidget(self.left, 1)
        sides.addWidget(self.right, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(sides, 1)
        for side in (self.left, self.right):
            side.layer.currentIndexChanged.connect(lambda _: self.update_view())
            side.open_button.clicked.connect(lambda _=False, s=side: self._open_other(s))
        self.resize(900, 520)
        self.setAttribute(Qt.WA_DeleteOnClose)

    def start(self) -> None:
        """Left: the tab's layer; right: the layer below it (or above), of the same generator."""
        tab, model = self.tab, self.tab.model
        graph = model.graphs[tab.which]
        other = tab.layer - 1 if tab.layer > 0 else min(tab.layer + 1, len(graph.layers) - 1)
        self.left.set_model(model, tab.which, tab.layer)
        self.right.set_model(model, tab.which, other)
        self.update_view()

    def open_model(self, side: CompareSide, path: str) -> bool:
        """Show `path`'s generator (the same direction as the tab's) on `side`, at the tab's input size."""
        try:
            model = InspectedModel.open(path, self.tab.model.size)
            which = self.tab.which if self.tab.which in model.graphs else next(iter(model.graphs))
        except UserError as exc:
            show_warning(self, "Cannot open the model", str(exc))
            return False
        side.set_model(model, which, side.layer.currentIndex())
        self.update_view()
        return True

    def _open_other(self, side: CompareSide) -> None:
        start = str(Path(self.tab.model.source).parent) if self.tab.model else ""
        path, _ = QFileDialog.getOpenFileName(self, "A generator to compare with", start,
                                              "PyTorch weights (*.pth *.pt);;All files (*)")
        if path:
            self.open_model(side, path)

    def update_view(self) -> None:
        tab = self.tab
        if tab.model is None or not tab.model.has_input(tab.which):
            return
        image = tab.model.inputs[tab.which]
        colormap, normalize, _ = tab.response.display_options()
        for side in (self.left, self.right):
            try:
                side.show_grid(image, colormap, normalize)
            except UserError as exc:
                side.panel.set_image(None)
                side.panel.set_title(str(exc))
