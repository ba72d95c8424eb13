"""The results window of one experiment run from the Experiments menu, and its "Save report…".

Shows what visualization.experiments returned (title, question, setting, numbers, reading) and the
figures the worker already drew to PNG, in the project's zoomable image panels. The numbers are
nested dicts and lists; `flatten` turns them into (measurement, value) rows a person can read. The
saved report is the same content as Markdown (rendered by visualization.report's block renderer) +
the figures as PNG + the numbers as JSON; file names carry the experiment's key, so several
experiments can be saved into one folder.
"""
from __future__ import annotations

import math
from pathlib import Path

from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
)

from cyclegan_workbench.app.dialogs import show_error
from cyclegan_workbench.app.widgets.image_viewer import ImagePanel

MAX_ITEMS = 12  # list entries shown per list of records (a bottleneck scan has hundreds); the JSON has all
MAX_INLINE = 32  # numbers shown in one cell for a list of plain values
NAME_COLUMN_WIDTH = 360  # pixels; the table starts 560 wide
_LABEL_KEYS = ("aspect", "shape", "filter", "layer", "level", "name", "label")  # what names a record, shortest first


def format_value(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(value) if not math.isfinite(value) else f"{value:.4g}"
    return str(value)


def _record_key(item) -> str | None:
    """The field that names a record of a list (its row would only repeat the label)."""
    if isinstance(item, dict):
        for key in _LABEL_KEYS:
            if key in item and not isinstance(item[key], (dict, list, tuple)):
                return key
    return None


def flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    """(measurement, value) rows: nested keys joined with " › ", records of a list labelled by their
    aspect/shape/label/filter, lists of plain values in one cell."""
    if isinstance(value, dict):
        rows = []
        for key, item in value.items():
            rows += flatten(item, f"{prefix} › {key}" if prefix else str(key))
        return rows or [(prefix, "—")]
    if isinstance(value, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in value):
            cells = [format_value(v) for v in value[:MAX_INLINE]]
            more = f", … ({len(value) - MAX_INLINE} more)" if len(value) > MAX_INLINE else ""
            return [(prefix, ", ".join(cells) + more if cells else "—")]
        rows = []
        for i, item in enumerate(value[:MAX_ITEMS]):
            key = _record_key(item)
            if key is None:
                rows += flatten(item, f"{prefix} [{i}]")
            else:
                rest = {k: v for k, v in item.items() if k != key}
                rows += flatten(rest, f"{prefix} [{key} {format_value(item[key])}]")
        if len(value) > MAX_ITEMS:
            rows.append((f"{prefix} …", f"{len(value) - MAX_ITEMS} more entries (all in the saved JSON)"))
        return rows
    return [(prefix, format_value(value))]


def setting_text(setting: dict) -> str:
    return "; ".join(f"{name}: {value}" for name, value in flatten(setting))


class ExperimentDialog(QDialog):
    """Non-modal; deletes itself when closed. `outcome` is an app.workers.ExperimentOutcome."""

    def __init__(self, outcome, parent=None):
        super().__init__(parent)
        self.outcome = outcome
        r = outcome.result
        self.setObjectName("experiment_dialog")
        self.setWindowTitle(f"{r.title}: {outcome.generator} of {outcome.model}")
        self.setAttribute(Qt.WA_DeleteOnClose, True)
        self.setModal(False)

        self.header = QLabel(
            f"<h3>{_esc(r.title)}</h3><p><b>Question.</b> {_esc(r.question)}</p>"
            f"<p><b>Setting.</b> {_esc(outcome.generator)} of {_esc(outcome.model)}; inputs: {_esc(outcome.inputs)}; "
            f"{_esc(setting_text(r.setting))} ({r.seconds:.1f} s)</p>")
        self.reading = QLabel(f"<p><b>Reading.</b> {_esc(r.reading)}</p>")
        for label in (self.header, self.reading):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextSelectableByMouse)

        self.rows = flatten(r.numbers)
        self.table = QTableWidget(len(self.rows), 2)
        self.table.setHorizontalHeaderLabels(["measurement", "value"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        for row, (name, value) in enumerate(self.rows):
            for column, text in enumerate((name, value)):
                cell = QTableWidgetItem(text)
                cell.setToolTip(text)  # long names and values (labels, lists) are elided in the cell
                self.table.setItem(row, column, cell)
        # Both columns stay visible: names get at most 360 of the table's 560 pixels, the rest elides in
        # the middle (the start says which record, the end which number).
        self.table.setTextElideMode(Qt.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.resizeColumnToContents(0)
        self.table.setColumnWidth(0, min(self.table.columnWidth(0), NAME_COLUMN_WIDTH))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)

        self.figures = QTabWidget()
        self.panels: dict[str, ImagePanel] = {}
        for name, image in outcome.images.items():
            panel = ImagePanel(name.replace("_", " "))
            panel.set_image(image)
            self.panels[name] = panel
            self.figures.addTab(panel, name.replace("_", " "))

        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.table)
        split.addWidget(self.figures)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([560, 600])

        self.save_button = QPushButton("Save report…")
        self.save_button.setToolTip("Write the report as Markdown, the figures as PNG and every number as JSON into "
                                    "a folder")
        self.save_button.clicked.connect(self._on_save)
        buttons = QDialogButtonBox(QDialogButtonBox.Close)
        buttons.addButton(self.save_button, QDialogButtonBox.ActionRole)
        buttons.rejected.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(split, 1)
        layout.addWidget(self.reading)
        layout.addWidget(buttons)
        self.resize(1180, 780)

    def _on_save(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save the report into a folder")
        if not folder:
            return
        try:
            path = self.save_report(folder)
        except OSError as exc:
            show_error(self, "Cannot save the report", f"{exc.strerror or exc} ({exc.filename or folder})")
            return
        self.save_button.setToolTip(f"Saved {path}")

    def save_report(self, folder: str | Path) -> Path:
        """Write KEY.md, KEY.json and figures/NAME.png into `folder`; returns the Markdown file."""
        from cyclegan_workbench.data.files import atomic_write_bytes, atomic_write_text
        from cyclegan_workbench.visualization.report import (
            FIGURES_DIR,
            to_markdown,
            write_json,
        )

        o, r = self.outcome, self.outcome.result
        out = Path(folder)
        blocks = [("h1", r.title), ("p", r.question, "Question"),
                  ("p", f"{o.generator} of {o.model}; inputs: {o.inputs}; {setting_text(r.setting)}.", "Setting"),
                  ("p", "", "Numbers"), ("table", ["measurement", "value"], [list(row) for row in self.rows]),
                  ("p", r.reading, "Reading")]
        for name, png in o.pngs.items():
            relative = f"{FIGURES_DIR}/{name}.png"
            atomic_write_bytes(out / relative, png)
            blocks.append(("img", relative, f"{r.title}: {name.replace('_', ' ')}"))
        write_json(out / f"{r.key}.json", dict(r.to_dict(), model=o.model, generator=o.generator, inputs=o.inputs))
        path = out / f"{r.key}.md"
        atomic_write_text(path, to_markdown(blocks))
        return path


def _esc(text) -> str:
    import html

    return html.escape(str(text))
