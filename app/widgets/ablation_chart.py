"""The ablation scan as a ranked bar chart: one bar per filter (largest effect first); click selects it."""
from __future__ import annotations

import seaborn as sns
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QSizePolicy

MAX_BARS = 12


class AblationChart(FigureCanvasQTAgg):
    """`bar_clicked(filter_index)` when a bar is clicked."""

    bar_clicked = pyqtSignal(int)

    def __init__(self, parent=None):
        with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.7):
            self.figure = Figure(figsize=(4, 2.4), dpi=100, layout="constrained")  # drawn only after a scan
            super().__init__(self.figure)
            self.ax = self.figure.add_subplot()
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumHeight(120)
        self._filters: list[int] = []
        self._bars = []
        self.mpl_connect("pick_event", self._on_pick)
        self.show_ranking([], [], "")

    def show_ranking(self, filters: list[int], effects: list[float], title: str, selected: int | None = None) -> None:
        """Bars for the first MAX_BARS filters of a ranking (already sorted, largest effect first)."""
        self._filters = list(filters[:MAX_BARS])
        values = list(effects[:MAX_BARS])
        self.stale, self._stale_note, self._bars = False, None, []
        with sns.axes_style("whitegrid"), sns.plotting_context("notebook", font_scale=0.7):
            self.ax.clear()
            if not self._filters:
                self.ax.text(0.5, 0.5, "Scan a layer to rank its filters\nby their effect on the output",
                             ha="center", va="center", transform=self.ax.transAxes, color="0.4")
                self.ax.set_axis_off()
            else:
                self.ax.set_axis_on()
                palette = sns.color_palette("crest_r", len(values))
                colors = [(0.95, 0.6, 0.1) if f == selected else c for f, c in zip(self._filters, palette)]
                positions = list(range(len(values)))
                self._bars = list(self.ax.bar(positions, values, color=colors, picker=True))
                labels = [str(f) for f in self._filters]
                self.ax.set_xticks(positions, labels, rotation=90 if max(map(len, labels)) > 2 else 0)
                self.ax.set_xlabel("filter (strongest first)")
                self.ax.set_ylabel("mean |Δ output|")
                self.ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
                self.ax.set_title(title, fontsize="medium")
        self.draw_idle()

    def set_stale(self, stale: bool) -> None:
        """Grey the ranking out, with a note, once the input, masks or layer differ from the scan's."""
        if not self._bars or stale == self.stale:
            return
        self.stale = stale
        for bar in self._bars:
            bar.set_alpha(0.3 if stale else 1.0)
        if self._stale_note is not None:
            self._stale_note.remove()
            self._stale_note = None
        if stale:
            self._stale_note = self.ax.text(0.98, 0.96, "stale: scan again", ha="right", va="top",
                                            transform=self.ax.transAxes, color="#b00020", fontsize="small",
                                            bbox={"facecolor": "white", "edgecolor": "#b00020", "pad": 2})
        self.setToolTip("The input, the masks or the layer changed since this scan: its ranking describes the "
                        "state it was made in" if stale else "")
        self.draw_idle()

    def _on_pick(self, event) -> None:
        if event.artist in self._bars:
            self.bar_clicked.emit(self._filters[self._bars.index(event.artist)])

    def click_bar(self, rank: int) -> None:
        """Select the bar of the given rank (what a mouse click on it does)."""
        self.bar_clicked.emit(self._filters[rank])
