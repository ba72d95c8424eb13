"""The Test tab's sketch input: the view of a drawing is computed in a ViewWorker, one job at a time and on
the latest drawing only (a stroke changes it many times a second), and an empty canvas shows nothing."""
from __future__ import annotations

from PyQt5.QtCore import QObject, pyqtSignal

from cyclegan_workbench.app.dialogs import show_warning
from cyclegan_workbench.app.tabs.view_worker import ViewWorker

EMPTY_SKETCH_TEXT = "Draw a figure on the sketch canvas"


class SketchViews(QObject):
    """`current()` gives the open model and the view key (generator, layer, display options) a job is for.
    `computed(key, view, grid)` when a drawing's view is ready, still of the open model and of a drawing;
    `idle()` once no job runs or waits."""

    computed = pyqtSignal(object, object, object)
    idle = pyqtSignal()

    def __init__(self, parent, canvas, outputs, current):
        super().__init__(parent)
        self._canvas, self._outputs, self._current = canvas, outputs, current
        self.worker: ViewWorker | None = None
        self._pending = None  # the latest drawing not yet sent to a worker
        self.showing_empty = False  # the tab must not draw over the empty sketch's message

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def take(self, image, name: str) -> bool:
        """Whether the input `image` named `name` was the sketch, now shown (or being computed) by this."""
        self.showing_empty = name == "sketch" and self._canvas.is_empty()
        if self.showing_empty:
            # A generator given nothing paints something (a blob of one class's colour): show nothing instead.
            self._outputs.show_nothing(EMPTY_SKETCH_TEXT)
            return True
        if name != "sketch":
            return False
        self._pending = image
        self._next()
        return True

    def drop_pending(self) -> None:
        self._pending = None

    def _next(self) -> None:
        if self.worker is not None or self._pending is None:
            return
        model, key = self._current()
        if model is None:
            return
        image, self._pending = self._pending, None
        self.worker = ViewWorker(model, key, image, *key[1:])
        self.worker.signals.failed.connect(lambda message: show_warning(self.parent(), "Cannot use this sketch",
                                                                        message))
        self.worker.signals.finished.connect(self._on_finished)
        self.worker.start()

    def _on_finished(self, result) -> None:
        model = self.worker.model
        self.worker = None
        if result is not None and model is self._current()[0] and not self.showing_empty:
            self._outputs.panels["input"].setToolTip("Input: sketch")
            self.computed.emit(*result)
        self._next()
        if self.worker is None:
            self.idle.emit()
