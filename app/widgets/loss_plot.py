"""Live loss curves: a matplotlib canvas with seaborn styling, redrawn at most a few times a second.

Per-step losses are stored in full and drawn as bin means of at most `MAX_POINTS` points per curve
(drawing thousands of anti-aliased points takes over 100 ms; GAN losses are noisy anyway). Per-epoch
validation losses are drawn as markers at the step where the epoch ended.
"""
from __future__ import annotations

import numpy as np
import seaborn as sns
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QSizePolicy

from models.cyclegan import LOSS_NAMES

MAX_POINTS = 200
PANELS = (("Generators", ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")),
          ("Discriminators", ("D_A", "D_B")))


def binned(steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Means of consecutive bins so that at most `max_points` points remain."""
    n = len(values)
    if n <= max_points:
        return steps, values
    width = -(-n // max_points)
    usable = n - n % width
    head_x = steps[:usable].reshape(-1, width).mean(1)
    head_y = values[:usable].reshape(-1, width).mean(1)
    if usable == n:
        return head_x, head_y
    return np.append(head_x, steps[usable:].mean()), np.append(head_y, values[usable:].mean())


class LossPlot(FigureCanvasQTAgg):
    """Train losses per step (solid) and validation losses per epoch (dashed, markers)."""

    def __init__(self, parent=None, redraw_ms: int = 750):
        palette = dict(zip(LOSS_NAMES, sns.color_palette("tab10", len(LOSS_NAMES))))
        self._lines, self._val_lines = {}, {}
        # Seaborn's style is read when artists are made, so the whole figure is built inside it.
        with sns.axes_style("darkgrid"), sns.plotting_context("notebook", font_scale=0.75):
            self.figure = Figure(figsize=(6, 3), dpi=100, layout="constrained")
            super().__init__(self.figure)
            self.axes = self.figure.subplots(1, len(PANELS))
            for ax, (title, names) in zip(self.axes, PANELS):
                ax.set_title(title)
                ax.set_xlabel("step")
                for name in names:
                    (self._lines[name],) = ax.plot([], [], lw=1.2, color=palette[name], label=name)
                    (self._val_lines[name],) = ax.plot([], [], ls="--", marker="o", ms=3, lw=1,
                                                       color=palette[name])
                ax.legend(loc="upper right", fontsize="small", ncol=2 if len(names) > 3 else 1)
        self.setParent(parent)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(240, 160)
        self.clear_data()
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(redraw_ms)
        self._timer.timeout.connect(self._on_redraw_due)
        self._timer.start()

    def clear_data(self) -> None:
        self.steps: list[int] = []
        self.values: dict[str, list[float]] = {k: [] for k in LOSS_NAMES}
        self.val_steps: list[int] = []
        self.val_values: dict[str, list[float]] = {k: [] for k in LOSS_NAMES}
        self._dirty = True

    def add_step(self, step: int, losses: dict[str, float]) -> None:
        self.steps.append(step)
        for k in LOSS_NAMES:
            self.values[k].append(float(losses.get(k, np.nan)))
        self._dirty = True

    def add_validation(self, step: int, losses: dict[str, float]) -> None:
        self.val_steps.append(step)
        for k in LOSS_NAMES:
            self.val_values[k].append(float(losses.get(k, np.nan)))
        self._dirty = True

    def load_history(self, history: list[dict], steps_per_epoch: int) -> None:
        """Show the per-epoch means of a resumed run (its per-step losses were not kept)."""
        self.clear_data()
        for h in history:
            step = h["epoch"] * steps_per_epoch
            self.add_step(step, h["train"])
            if h.get("validation"):
                self.add_validation(step, h["validation"])

    def _on_redraw_due(self) -> None:
        if self._dirty and self.isVisible():
            self.redraw()

    def redraw(self) -> None:
        """Push the data into the lines and draw once (drawing happens only here)."""
        self._dirty = False
        steps = np.asarray(self.steps, float)
        val_steps = np.asarray(self.val_steps, float)
        for name, line in self._lines.items():
            line.set_data(*binned(steps, np.asarray(self.values[name], float)))
            self._val_lines[name].set_data(val_steps, np.asarray(self.val_values[name], float))
        for ax in self.axes:
            ax.relim()
            ax.autoscale_view()
        self.draw()
