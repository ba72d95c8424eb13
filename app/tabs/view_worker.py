"""The Test tab's view of a new input computed off the GUI thread (used for sketches, which change many
times a second): one job at a time, always on the latest input."""
from __future__ import annotations

from cyclegan_workbench.app.workers import Worker


class ViewWorker(Worker):
    """`finished((key, view, grid))`, or None after `failed(message)`; key says what was asked for."""

    job = "updating the view"

    def __init__(self, model, key: tuple, image, layer: int, colormap: str, normalize: str, sort: bool):
        super().__init__()
        self.model, self.key, self.image = model, key, image
        self.args = (layer, colormap, normalize, sort)

    def work(self):
        which = self.key[0]
        view, grid = self.model.compute(which, *self.args, image=self.image)
        return self.key, view, grid
