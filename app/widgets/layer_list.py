"""The parsed generator's layers, in execution order, with skip connections and the bottleneck marked.

Each row: index, what connects there ("⇢2": the encoder layer copied across skip 2, "⇠2": the
concatenation receiving it, "+3": the addition of residual block 3), the readable label, and a dot
when the layer carries edited gains. The bottleneck row is bold on amber, skip rows are tinted blue.
`layer_selected(index)` when the selection changes.
"""
from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QFont
from PyQt5.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem

BOTTLENECK_COLOR = QColor(255, 236, 179)
SKIP_COLOR = QColor(210, 230, 255)


def connection_notes(graph) -> dict[int, list[str]]:
    """Per layer index, the skip/residual roles it plays (for the third column)."""
    notes: dict[int, list[str]] = {}
    for s in graph.skips:
        if s.encoder is not None:
            notes.setdefault(s.encoder, []).append(f"⇢{s.level}")
        notes.setdefault(s.concat, []).append(f"⇠{s.level}")
    for r in graph.residuals:
        notes.setdefault(r.add, []).append(f"+{r.block}")
    return notes


class LayerList(QTreeWidget):
    layer_selected = pyqtSignal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setColumnCount(4)
        self.setHeaderLabels(["#", "skip", "Layer", ""])
        self.headerItem().setToolTip(1, "⇢k: copied across skip connection k; ⇠k: receives skip k (concatenation); "
                                        "+k: addition of residual block k")
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeToContents)
        self.currentItemChanged.connect(self._on_current)

    def set_graph(self, graph) -> None:
        self.blockSignals(True)
        self.clear()
        notes = connection_notes(graph)
        bold = QFont()
        bold.setBold(True)
        for layer in graph.layers:
            # The stage is the first part of the label; the list shows "stage: op, C ch, HxW".
            note = " ".join(notes.get(layer.index, []))
            item = QTreeWidgetItem([str(layer.index), note, layer.label, ""])
            item.setData(0, Qt.UserRole, layer.index)
            item.setToolTip(2, f"{layer.label}\n{layer.name}")
            item.setTextAlignment(0, Qt.AlignRight | Qt.AlignVCenter)
            color = BOTTLENECK_COLOR if layer.is_bottleneck else SKIP_COLOR if note else None
            for col in range(4):
                if color is not None:
                    item.setBackground(col, QBrush(color))
                if layer.is_bottleneck:
                    item.setFont(col, bold)
            self.addTopLevelItem(item)
        self.blockSignals(False)

    def select_layer(self, index: int) -> None:
        item = self.topLevelItem(index)
        if item is not None:
            self.setCurrentItem(item)
            self.scrollToItem(item)

    def set_edited(self, edited: set[int]) -> None:
        """Mark the layers whose gains differ from 1."""
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            item.setText(3, "●" if i in edited else "")
            item.setForeground(3, QBrush(QColor(200, 40, 40)))
            item.setToolTip(3, "this layer has edited gains" if i in edited else "")

    def _on_current(self, item, _previous) -> None:
        if item is not None:
            self.layer_selected.emit(int(item.data(0, Qt.UserRole)))
