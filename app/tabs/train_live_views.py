"""The Train tab's live views: the probe pair's six images (real, translated, reconstructed, both ways), the
responses of a layer the user picks, and the loss curves below them. The images arrive ready-made from the
training worker (visualization.live_views); these widgets only show them and say which layer to compute."""
from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QSplitter, QVBoxLayout, QWidget

from cyclegan_workbench.app.widgets.image_viewer import ImagePanel
from cyclegan_workbench.app.widgets.loss_plot import LossPlot

VIEWS = (("real_A", "real A"), ("fake_B", "fake B = G_A(A)"), ("rec_A", "reconstructed A"),
         ("real_B", "real B"), ("fake_A", "fake A = G_B(B)"), ("rec_B", "reconstructed B"))


class LiveResponse(QWidget):
    """A generator and one of its layers (`which`, `layer`), and the grid of that layer's feature maps (`view`).
    `layer_chosen(generator, layer index)` whenever the choice changes."""

    layer_chosen = pyqtSignal(str, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.layers: dict[str, list[str]] = {}  # layer labels per generator, from the training worker
        self.which = QComboBox()
        self.which.addItem("G_A (A→B)", "G_A")
        self.which.addItem("G_B (B→A)", "G_B")
        self.layer = QComboBox()
        self.layer.setMinimumContentsLength(6)
        self.layer.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.view = ImagePanel("Responses", placeholder="Feature maps of the chosen layer for the probe image "
                                                        "appear while training")
        row = QHBoxLayout()
        row.addWidget(self.which)
        row.addWidget(self.layer, 1)
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(row)
        v.addWidget(self.view, 1)
        self.which.currentIndexChanged.connect(lambda _: self._fill_layers())
        self.layer.currentIndexChanged.connect(lambda _: self.layer_chosen.emit(*self.chosen()))

    def chosen(self) -> tuple[str, int]:
        return self.which.currentData(), max(self.layer.currentIndex(), 0)

    def set_layers(self, layers: dict[str, list[str]]) -> None:
        self.layers = layers
        self._fill_layers()

    def show_response(self, image, label: str) -> None:
        self.view.set_image(image)
        self.view.set_title(label or "Responses")

    def _fill_layers(self) -> None:
        """The chosen generator's layers, keeping the position in the list (often the same depth)."""
        labels = self.layers.get(self.which.currentData(), [])
        current = self.layer.currentIndex()
        self.layer.blockSignals(True)
        self.layer.clear()
        self.layer.addItems(labels)
        self.layer.setCurrentIndex(min(max(current, 0), len(labels) - 1))
        self.layer.blockSignals(False)
        self.layer_chosen.emit(*self.chosen())


class LiveViews(QSplitter):
    """The six image panels (`views`) beside the `response` panel, above the `loss_plot`. `visuals_drawn`
    counts the live updates shown so far."""

    def __init__(self, parent=None):
        super().__init__(Qt.Vertical, parent)
        self.visuals_drawn = 0
        self.views: dict[str, ImagePanel] = {key: ImagePanel(title) for key, title in VIEWS}
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, (key, _) in enumerate(VIEWS):
            grid.addWidget(self.views[key], i // 3, i % 3)
        images = QWidget()
        images.setLayout(grid)
        self.response = LiveResponse()
        top = QSplitter(Qt.Horizontal)
        top.addWidget(images)
        top.addWidget(self.response)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        self.loss_plot = LossPlot()
        self.addWidget(top)
        self.addWidget(self.loss_plot)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)

    def start_run(self, info) -> None:
        """An app.workers.TrainingStarted: the run's loss history so far, and its layers to choose from."""
        if info.history:
            self.loss_plot.load_history(info.history, info.iterations_per_epoch)
        else:
            self.loss_plot.clear_data()
        self.response.set_layers(info.layers)

    def show_visuals(self, visuals) -> None:
        """A visualization.live_views.LiveVisuals."""
        for key, panel in self.views.items():
            panel.set_image(visuals.images.get(key))
        self.response.show_response(visuals.response, visuals.response_label)
        self.visuals_drawn += 1
