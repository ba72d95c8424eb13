"""The Test tab's one-click edits: nullify the bottleneck, reset, isolate or gate a skip connection."""
from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QDoubleSpinBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout


class EditTools(QGroupBox):
    """Signals the edit asked for; the tab applies it to the masks (as one undo step)."""

    nullify_bottleneck = pyqtSignal()
    reset_layer = pyqtSignal()
    reset_all = pyqtSignal()
    isolate = pyqtSignal(int)  # skip level
    gate = pyqtSignal(int, float, float)  # skip level, encoder gain, decoder gain

    def __init__(self, parent=None):
        super().__init__("One-click edits", parent)
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
        self.gate_button = QPushButton("Gate skip")
        self.gate_button.setToolTip("Scale the two branches of this skip connection's concatenation by the "
                                    "gains below")
        self.encoder_gain, self.decoder_gain = QDoubleSpinBox(), QDoubleSpinBox()
        for box, value, tip in ((self.encoder_gain, 0.0, "Gain of the encoder copy at the concatenation"),
                                (self.decoder_gain, 1.0, "Gain of the decoder path at the concatenation")):
            box.setRange(0.0, 3.0)
            box.setDecimals(2)
            box.setSingleStep(0.1)
            box.setValue(value)
            box.setToolTip(tip)
        self.bottleneck_button.clicked.connect(self.nullify_bottleneck)
        self.reset_layer_button.clicked.connect(self.reset_layer)
        self.reset_all_button.clicked.connect(self.reset_all)
        self.isolate_button.clicked.connect(lambda: self.isolate.emit(self.skip_level.value()))
        self.gate_button.clicked.connect(lambda: self.gate.emit(self.skip_level.value(), self.encoder_gain.value(),
                                                                self.decoder_gain.value()))
        self._lay_out()

    def _lay_out(self) -> None:
        rows = ((self.bottleneck_button, self.reset_layer_button, self.reset_all_button),
                (QLabel("Skip level"), self.skip_level, self.isolate_button, self.gate_button),
                (QLabel("Gate: encoder ×"), self.encoder_gain, QLabel("decoder ×"), self.decoder_gain))
        v = QVBoxLayout(self)
        for row in rows:
            h = QHBoxLayout()
            for w in row:
                h.addWidget(w)
            h.addStretch(1)
            v.addLayout(h)

    def set_skip_levels(self, levels) -> None:
        """The skip levels of the generator shown; the skip tools are off when it has none (a ResNet)."""
        levels = list(levels)
        self.skip_level.setRange(min(levels, default=0), max(levels, default=0))
        for w in (self.skip_level, self.isolate_button, self.gate_button, self.encoder_gain, self.decoder_gain):
            w.setEnabled(bool(levels))
