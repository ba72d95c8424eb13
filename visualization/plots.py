"""Loss curves drawn by matplotlib on an Agg canvas (seaborn styling), to an RGBA array. No Qt.

The training worker renders them between two steps, like its other live views: drawing two axes of
curves takes matplotlib 35-70 ms of Python, and done in another thread at the same time as training it
would hold the GIL against the training loop's many small torch calls (each then waits for a switch
interval: a 50 ms step took 2 s) or, in the GUI thread, block the window.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import seaborn as sns
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from cyclegan_workbench.models.cyclegan import LOSS_NAMES, OPTIONAL_LOSSES

MAX_POINTS = 200
# models.evaluation names the cycle losses of its validation table with a capital C.
VALIDATION_NAMES = {"cycle_A": "Cycle_A", "cycle_B": "Cycle_B"}
PANELS = (("Generators", ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "shape_A", "shape_B")),  # log scale
          ("Discriminators", ("D_A", "D_B")))


def binned(steps: np.ndarray, values: np.ndarray, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Means of consecutive bins so that at most `max_points` points remain (thousands of anti-aliased
    points take matplotlib over 100 ms; GAN losses are noisy anyway)."""
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


@dataclass
class LossHistory:
    """Train losses per step and validation losses per epoch (at the step where the epoch ended)."""

    steps: list[int] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LOSS_NAMES})
    val_steps: list[int] = field(default_factory=list)
    val_values: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in LOSS_NAMES})
    version: int = 0  # bumped on every change

    def add_step(self, step: int, losses: dict[str, float]) -> None:
        self.steps.append(step)
        for k in LOSS_NAMES:
            self.values[k].append(float(losses.get(k, np.nan)))
        self.version += 1

    def add_validation(self, step: int, losses: dict[str, float]) -> None:
        """Validation losses (models.evaluation's table) of the epoch that ended at `step`."""
        self.val_steps.append(step)
        for k in LOSS_NAMES:
            self.val_values[k].append(float(losses.get(k, losses.get(VALIDATION_NAMES.get(k, k), np.nan))))
        self.version += 1

    def add_report(self, report) -> None:
        """A models.training.StepReport."""
        self.add_step(report.global_step, report.losses)
        summary = report.epoch_summary
        if summary is not None and summary.validation:
            self.add_validation(report.global_step, summary.validation)

    @classmethod
    def from_epochs(cls, history: list[dict], steps_per_epoch: int) -> LossHistory:
        """The per-epoch means a run keeps (Trainer.history), for a resumed run's earlier epochs."""
        out = cls()
        for h in history:
            step = h["epoch"] * steps_per_epoch
            out.add_step(step, h["train"])
            if h.get("validation"):
                out.add_validation(step, h["validation"])
        return out

    def arrays(self):
        return (np.asarray(self.steps, float), {k: np.asarray(v, float) for k, v in self.values.items()},
                np.asarray(self.val_steps, float), {k: np.asarray(v, float) for k, v in self.val_values.items()})


class LossFigure:
    """Two panels (generators, discriminators); `render(history, width, height)` -> H x W x 4 uint8.

    Renders are serialised by a lock, so one figure may be shared by threads.
    """

    def __init__(self, dpi: float = 100.0):
        self._lock = threading.Lock()
        palette = dict(zip(LOSS_NAMES, sns.color_palette("tab10", len(LOSS_NAMES))))
        self.lines, self.val_lines = {}, {}
        # Seaborn's style is read when artists are made, so the whole figure is built inside it.
        with sns.axes_style("darkgrid"), sns.plotting_context("notebook", font_scale=0.75):
            self.figure = Figure(figsize=(6, 3), dpi=dpi)
            self.canvas = FigureCanvasAgg(self.figure)
            self.axes = self.figure.subplots(1, len(PANELS))
            for ax, (title, names) in zip(self.axes, PANELS):
                ax.set_title(f"{title} (dashed: validation per epoch)")
                ax.set_xlabel("step")
                for name in names:
                    (self.lines[name],) = ax.plot([], [], lw=1.2, color=palette[name], label=name)
                    (self.val_lines[name],) = ax.plot([], [], ls="--", marker="o", ms=3, lw=1, color=palette[name])
                ax.legend(loc="upper right", fontsize="small", ncol=2 if len(names) > 3 else 1)
                ax.set_xlim(0, 10)
                ax.set_ylim(0.01 if title == "Generators" else 0, 1)
            # Cycle losses (lambda 10 x L1) and adversarial losses differ by an order of magnitude.
            self.axes[0].set_yscale("log")
            # 1-2-5 ticks written as plain numbers (0.2, 0.5, 1, 2): short enough for the fixed left margin,
            # where matplotlib's default minor labels (2x10^-1) lose digits.
            self.axes[0].yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
            self.axes[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            self.axes[0].yaxis.set_minor_formatter(NullFormatter())
            self._shown = {group: True for group in OPTIONAL_LOSSES}

    def _show_optional(self, values: dict[str, np.ndarray]) -> None:
        """Optional terms (identity, shape) are listed only while their weight is on: a zero line says nothing."""
        changed = False
        for group in OPTIONAL_LOSSES:
            on = any(bool(np.nansum(np.abs(values[name])) > 0) for name in group)
            if on != self._shown[group]:
                self._shown[group], changed = on, True
                for name in group:
                    self.lines[name].set_visible(on)
                    self.val_lines[name].set_visible(on)
        if not changed:
            return
        ax = self.axes[0]
        shown = [line for line in ax.get_lines() if line.get_visible() and not line.get_label().startswith("_")]
        with sns.axes_style("darkgrid"), sns.plotting_context("notebook", font_scale=0.75):
            ax.legend(handles=shown, loc="upper right", fontsize="small", ncol=2 if len(shown) > 3 else 1)

    def render(self, history: LossHistory, width: int, height: int) -> np.ndarray:
        steps, values, val_steps, val_values = history.arrays()
        with self._lock:
            width, height = max(int(width), 120), max(int(height), 80)
            dpi = self.figure.dpi
            self.figure.set_size_inches(width / dpi, height / dpi)
            # Fixed margins in pixels: a layout engine would double the drawing time.
            self.figure.subplots_adjust(left=44 / width, right=1 - 10 / width, bottom=40 / height,
                                        top=1 - 24 / height, wspace=60 * len(PANELS) / width)
            for name, line in self.lines.items():
                line.set_data(*binned(steps, values[name]))
                self.val_lines[name].set_data(val_steps, val_values[name])
            self._show_optional(values)
            if len(steps):
                for ax in self.axes:
                    ax.relim()
                    ax.autoscale(enable=True)  # the empty figure's fixed limits turned it off
            self.canvas.draw()
            return np.array(self.canvas.buffer_rgba(), copy=True)
