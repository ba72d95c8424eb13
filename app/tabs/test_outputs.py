"""The Test tab's right column: input, output before and after the edit, the selected map, the difference
with its colour bar, the reconstruction through the other generator, and the numbers of the edit."""
from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from cyclegan_workbench.app.widgets.color_bar import ColorBar
from cyclegan_workbench.app.widgets.image_viewer import ImagePanel

PANELS = (("input", "Input"), ("before", "Before"), ("after", "After the edit"),
          ("map", "Selected map"), ("difference", "|after − before|"), ("reconstruction", "Reconstruction"))


class OutputPanels(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.panels = {key: ImagePanel(title, placeholder="click a map" if key == "map" else "")
                       for key, title in PANELS}
        grid = QGridLayout()
        grid.setSpacing(4)
        for i, (key, _) in enumerate(PANELS):
            grid.addWidget(self.panels[key], i // 3, i % 3)
        self.difference_bar = ColorBar()
        grid.addWidget(self.difference_bar, 2, 1)  # under the difference panel
        self.numbers = QLabel("")
        self.numbers.setWordWrap(True)
        self.numbers.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.edits_label = QLabel("")
        self.edits_label.setStyleSheet("color: #555;")
        v = QVBoxLayout(self)
        v.setContentsMargins(0, 0, 0, 0)
        v.addLayout(grid, 1)
        v.addWidget(self.numbers)
        v.addWidget(self.edits_label)

    def show_view(self, view) -> None:
        """An EditView (visualization.inspection): images, numbers and the difference's colour bar."""
        for key in ("input", "before", "after", "difference"):
            self.panels[key].set_image(getattr(view, key))
        recon = self.panels["reconstruction"]
        recon.set_image(view.reconstruction)
        recon.set_title("Reconstruction" if view.reconstruction is not None else "No reconstruction")
        recon.setToolTip("The edited output through the other generator" if view.reconstruction is not None
                         else "Only one generator is open, so there is no cycle")
        self.numbers.setText(view.numbers())
        self.difference_bar.set_range("magma", 0.0, max(view.max_change, 1e-6))

    def show_map(self, image, title: str) -> None:
        self.panels["map"].set_image(image)
        self.panels["map"].set_title(title)

    def show_edits(self, which: str, edited: list[int], descriptions: list[str]) -> None:
        shown = ", ".join(map(str, edited[:8])) + (", …" if len(edited) > 8 else "")
        self.edits_label.setText(f"Edited layers of {which}: {shown or 'none'}")
        self.edits_label.setToolTip("\n".join(descriptions) or "no edits: the output is the model's own")

    def show_nothing(self, message: str) -> None:
        for panel in self.panels.values():
            panel.set_image(None)
        self.numbers.setText(message)
