"""The desktop window. Minimal until the GUI issue lands: it says what the command line can do."""
from __future__ import annotations

import sys


def launch(argv: list[str] | None = None) -> int:
    from PyQt5.QtWidgets import QApplication, QLabel, QMainWindow

    app = QApplication.instance() or QApplication(argv or sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("CycleGAN Workbench")
    label = QLabel(
        "<h2>CycleGAN Workbench</h2>"
        "<p>The Train, Test and Dataset tabs are being built. Every job already runs headless:</p>"
        "<pre>cyclegan-workbench generate-dataset shapes\n"
        "cyclegan-workbench train shapes --out runs/toy\n"
        "cyclegan-workbench evaluate runs/toy\n"
        "cyclegan-workbench translate runs/toy shapes/testB --direction BtoA --out colourized</pre>")
    label.setMargin(24)
    window.setCentralWidget(label)
    window.resize(720, 360)
    window.show()
    return app.exec_()
