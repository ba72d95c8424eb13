"""The Test tab's ablation scan: nullify each filter of a layer in turn (in a worker), rank them by their
effect, and grey the ranking out once the input, masks or layer it was made for have changed."""
from __future__ import annotations

from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QCheckBox, QGroupBox, QHBoxLayout, QProgressBar, QPushButton, QVBoxLayout

from cyclegan_workbench.app.dialogs import show_error
from cyclegan_workbench.app.widgets.ablation_chart import AblationChart
from cyclegan_workbench.app.workers import AblationWorker


def scan_state(model, which: str, layer: int) -> tuple | None:
    """What a scan's ranking depends on: generator, layer, input and masks."""
    if model is None or not model.has_input(which):
        return None
    return which, layer, model.inputs[which].tobytes(), model.masks[which].content_key()


class ScanPanel(QGroupBox):
    """`scan_requested()` from the button (the tab calls `start`); `finished(result or None)`;
    `bar_clicked(filter)` from the chart."""

    scan_requested = pyqtSignal()
    finished = pyqtSignal(object)
    bar_clicked = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__("Ablation scan", parent)
        self.button = QPushButton("Scan layer")
        self.button.setToolTip("Nullify each filter of the selected layer in turn and rank them by the change "
                               "of the output")
        self.accuracy = QCheckBox("Accuracy")
        self.accuracy.setToolTip("Also measure the colourization accuracy on the run's gray test images "
                                 "(needs a generated dataset and the gray → RGB generator)")
        self.cancel = QPushButton("Cancel")
        self.cancel.setEnabled(False)  # only while a scan runs
        self.cancel.setToolTip("Stop the scan; the filters scanned so far are shown")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("no scan yet")
        self.chart = AblationChart()
        self.chart.bar_clicked.connect(self.bar_clicked)
        self.button.clicked.connect(self.scan_requested)
        self.cancel.clicked.connect(self.abort)
        row = QHBoxLayout()
        for w in (self.button, self.accuracy, self.cancel):
            row.addWidget(w)
        row.addStretch(1)
        v = QVBoxLayout(self)
        v.addLayout(row)
        v.addWidget(self.progress)  # a line of its own: its text stays readable in a narrow column
        v.addWidget(self.chart, 1)
        self.worker: AblationWorker | None = None
        self.result = None
        self.context = None  # (generator, layer) the running or shown scan is of
        self._state = None  # what the shown ranking depends on (see `mark_stale`)

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def set_model(self, model, graph) -> None:
        """A new model or generator: no ranking; accuracy only for a colourizer (gray → RGB) with a dataset."""
        self.accuracy.setEnabled(bool(model.dataroot) and graph.input_shape[0] == 1 and graph.output_shape[0] == 3)
        self.clear()

    def start(self, model, which: str, layer: int) -> None:
        """Scan `layer` of `model`'s generator `which` on its input with its masks; nothing while one runs."""
        if model is None or self.busy or not model.has_input(which):
            return
        dataset = model.dataroot if self.accuracy.isChecked() and self.accuracy.isEnabled() else ""
        self.worker = AblationWorker(model.nets[which], model.size, layer, model.probes[which].input,
                                     model.masks[which], scoring_dataset=dataset)
        self.worker.signals.progressed.connect(lambda done_total: self.progress.setValue(done_total[0]))
        self.worker.signals.failed.connect(lambda message: show_error(self, "Ablation scan failed", message))
        self.worker.signals.finished.connect(self._on_finished)
        self.context, self._state = (which, layer), scan_state(model, which, layer)
        self.progress.setRange(0, model.graphs[which].layers[layer].channels)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m filters")
        self.button.setEnabled(False)
        self.cancel.setEnabled(True)
        self.worker.start()

    def abort(self) -> None:
        if self.worker is not None:
            self.worker.abort()

    def _on_finished(self, result) -> None:
        self.worker = None
        self.button.setEnabled(True)
        self.cancel.setEnabled(False)
        self.result = result
        if result is None:
            self.progress.setFormat("scan failed")
        else:
            self.progress.setFormat(f"{len(result.effects)} filters scanned"
                                    + ("" if result.complete else " (cancelled)"))
        self.finished.emit(result)

    def show_ranking(self, result, selected: int | None) -> None:
        title = f"layer {result.layer.index}: {result.layer.stage}" + ("" if result.complete else " (partial)")
        self.chart.show_ranking([e.filter for e in result.effects], [e.output_change for e in result.effects],
                                title, selected=selected)

    def clear(self) -> None:
        self.chart.show_ranking([], [], "")
        self._state = None

    def mark_stale(self, model, which: str, layer: int) -> None:
        """Grey the ranking out when what is shown (generator, layer, input, masks) differs from the scan's."""
        if self._state is not None:
            self.chart.set_stale(scan_state(model, which, layer) != self._state)
