"""The building blocks of the experiments' figures: plain matplotlib Figures on an Agg canvas (no pyplot,
no Qt; a GUI shows them in a FigureCanvasQTAgg or as PNG, the report saves them as PNG)."""
from __future__ import annotations

import io

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from cyclegan_workbench.visualization.render import image_rgb, tile_grid

# Point sizes of the figures' text: readable in the results window and in the report at 100 dpi.
SMALL, TEXT, HEADING = 9, 10, 11


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """A figure as PNG bytes (Agg), with no text smaller than SMALL (tick labels and legends included)."""
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    for text in fig.findobj(Text):
        if text.get_fontsize() < SMALL:
            text.set_fontsize(SMALL)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def show(ax, image: np.ndarray, title: str = "") -> None:
    ax.imshow(image, interpolation="nearest")
    ax.set_title(title, fontsize=TEXT)
    ax.set_axis_off()


def label_image(labels: np.ndarray, class_colors: dict, region: np.ndarray | None = None) -> np.ndarray:
    """Class-colour map of painted pixels: other = mid gray, outside the region = black."""
    palette = np.asarray([class_colors[c] for c in class_colors] + [[110, 110, 110]], np.uint8)
    image = palette[np.where(labels < 0, len(class_colors), labels)]
    if region is not None:
        image[~region] = 0
    return image


def grid_image(response: torch.Tensor, value_range=None) -> np.ndarray:
    """A layer's responses (C, H, W) as one viridis tile grid."""
    return tile_grid(response, colormap="viridis", normalize="layer", value_range=value_range).image


def examples_figure(graph, examples, layer, caption: str, value_range=None) -> Figure:
    """One column per (label, input tensor, output image): input, output and `layer`'s responses."""
    fig = new_figure(max(4.0, 1.6 * len(examples)), 5.2)
    axes = fig.subplots(3, len(examples), squeeze=False)
    for col, (label, x, out) in enumerate(examples):
        _, raw, _ = graph.run(x[None], None, keep=True)
        show(axes[0][col], image_rgb(x), label)
        show(axes[1][col], out if isinstance(out, np.ndarray) else image_rgb(out), "output")
        show(axes[2][col], grid_image(raw[layer.node][0].cpu(), value_range), caption)
    fig.suptitle(f"{caption}: layer {layer.index} ({layer.label})", fontsize=TEXT)
    return fig


def nan_for_none(x):
    """None (no pixels to measure) as NaN, which a plot leaves as a gap."""
    return float("nan") if x is None else x
