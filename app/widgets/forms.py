"""Small form widgets: a folder/file field with a Browse button, a min-max pair, a colour swatch."""
from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QWidget,
)


def spin_box(low, high, tip: str = "", decimals: int = 0, step: float = 1.0):
    """A QSpinBox (decimals 0) or QDoubleSpinBox with its range, step and tooltip set."""
    box = QSpinBox() if decimals == 0 else QDoubleSpinBox()
    if decimals:
        box.setDecimals(decimals)
    box.setRange(low, high)
    box.setSingleStep(step if decimals else int(step))
    box.setToolTip(tip)
    return box


def vertical_scroll(widget: QWidget, margin: int = 20) -> QScrollArea:
    """`widget` in a scroll area that scrolls vertically only and is never narrower than the widget."""
    scroll = QScrollArea()
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(widget.minimumSizeHint().width() + margin)
    return scroll


class PathEdit(QWidget):
    """A path field and a Browse button; `path_changed(str)` when editing ends or a path is picked."""

    path_changed = pyqtSignal(str)

    def __init__(self, caption: str, directory: bool = True, file_filter: str = "", parent=None):
        super().__init__(parent)
        self.caption, self.directory, self.file_filter = caption, directory, file_filter
        self.start_dir = ""
        self.edit = QLineEdit()
        self.edit.setClearButtonEnabled(True)
        self.edit.textChanged.connect(self.edit.setToolTip)  # the whole path, however narrow the field
        self.browse = QToolButton()
        self.browse.setText("Browse…")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.browse)
        self.browse.clicked.connect(self._on_browse)
        self.edit.editingFinished.connect(lambda: self.path_changed.emit(self.text()))

    def text(self) -> str:
        return self.edit.text().strip()

    def set_text(self, text: str, notify: bool = True) -> None:
        self.edit.setText(str(text))
        if notify:
            self.path_changed.emit(self.text())

    def _on_browse(self) -> None:
        start = self.text() or self.start_dir
        if self.directory:
            path = QFileDialog.getExistingDirectory(self, self.caption, start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, self.caption, start, self.file_filter)
        if path:
            self.set_text(path)


class RangeSpin(QWidget):
    """MIN and MAX spin boxes (integer or float); `changed` on any edit."""

    changed = pyqtSignal()

    def __init__(self, low: float, high: float, decimals: int = 0, step: float = 1.0, parent=None):
        super().__init__(parent)
        make = QSpinBox if decimals == 0 else QDoubleSpinBox
        self.min_box, self.max_box = make(), make()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for i, box in enumerate((self.min_box, self.max_box)):
            if decimals:
                box.setDecimals(decimals)
            box.setRange(low, high)
            box.setSingleStep(step if decimals else int(step))
            box.valueChanged.connect(self.changed)
            if i:
                layout.addWidget(QLabel("to"))
            layout.addWidget(box, 1)

    def value(self) -> tuple:
        return self.min_box.value(), self.max_box.value()

    def set_value(self, pair) -> None:
        for box, v in zip((self.min_box, self.max_box), pair):
            box.blockSignals(True)
            box.setValue(v)
            box.blockSignals(False)
        self.changed.emit()


class ColorButton(QPushButton):
    """A colour swatch that opens a colour dialog; `color_changed` after a pick."""

    color_changed = pyqtSignal()

    def __init__(self, rgb=(255, 0, 0), parent=None):
        super().__init__(parent)
        self.setFixedWidth(48)
        self.setToolTip("Colour of this shape in the RGB domain")
        self.clicked.connect(self._on_clicked)
        self.set_rgb(rgb)

    def rgb(self) -> tuple[int, int, int]:
        return self._rgb

    def set_rgb(self, rgb) -> None:
        self._rgb = tuple(int(c) for c in rgb)
        self.setStyleSheet(f"background-color: rgb{self._rgb}; border: 1px solid #555; min-height: 18px;")

    def _on_clicked(self) -> None:
        color = QColorDialog.getColor(QColor(*self._rgb), self, "Shape colour")
        if color.isValid():
            self.set_rgb((color.red(), color.green(), color.blue()))
            self.color_changed.emit()


class PresetBox(QComboBox):
    """A preset chooser that says when the form beside it no longer holds the preset: "toy (edited)".

    currentText() and setCurrentText() speak of the preset's name, whatever the item shows.
    """

    def __init__(self, names, parent=None):
        super().__init__(parent)
        for name in names:
            self.addItem(name, name)
        self.currentIndexChanged.connect(lambda _: self.set_edited(False))

    def currentText(self) -> str:  # noqa: N802 - Qt's name
        return self.currentData() or ""

    def setCurrentText(self, name: str) -> None:  # noqa: N802 - Qt's name
        index = self.findData(name)
        if index >= 0:
            self.setCurrentIndex(index)

    def set_edited(self, edited: bool) -> None:
        for i in range(self.count()):
            name = self.itemData(i)
            self.setItemText(i, f"{name} (edited)" if edited and i == self.currentIndex() else name)
