"""The arrangement of the Test tab: its panels in three columns of splitters (inputs and layers; the feature
maps and the one-click edits; the outputs and the ablation scan), and the text shown while no model is open."""
from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

NO_MODEL_TEXT = ("<h3>No model open</h3><p>Open a run folder (<b>File ▸ Open run…</b>, Ctrl+O) or a generator "
                 "<code>.pth</code> (ours or the reference implementation's, Ctrl+Shift+O), or train one in the "
                 "Train tab and press <b>Open in Test tab</b>.</p><p>The bundled default model is installed with "
                 "the package in <code>resources/default_model/</code>; it is not present here.</p>")


def three_columns(inputs, layers, response, edits, outputs, scan) -> QSplitter:
    left = QSplitter(Qt.Vertical)
    left.addWidget(inputs)
    left.addWidget(layers)
    left.setSizes([290, 430])
    middle = QWidget()
    mv = QVBoxLayout(middle)
    mv.setContentsMargins(0, 0, 0, 0)
    mv.addWidget(response, 1)
    mv.addWidget(edits)
    right = QSplitter(Qt.Vertical)
    right.addWidget(outputs)
    right.addWidget(scan)
    right.setSizes([470, 270])
    split = QSplitter(Qt.Horizontal)
    for w in (left, middle, right):
        split.addWidget(w)
    split.setStretchFactor(1, 5)  # the feature maps get the most of a wider window, then the outputs
    split.setStretchFactor(2, 4)
    split.setSizes([390, 470, 420])
    return split


def no_model_placeholder() -> QLabel:
    label = QLabel(NO_MODEL_TEXT)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignCenter)
    label.setMargin(40)
    return label
