"""Widgets on their own (pytest-qt, offscreen): image viewer, response grid, loss plot, sketch canvas."""
from __future__ import annotations

import gc

import numpy as np
import pytest
from PyQt5.QtCore import QPoint, QPointF, Qt


def wheel(widget, pos: QPoint, steps: int) -> None:
    from PyQt5.QtCore import QPoint as P
    from PyQt5.QtGui import QWheelEvent
    from PyQt5.QtWidgets import QApplication

    event = QWheelEvent(QPointF(pos), QPointF(widget.mapToGlobal(pos)), P(0, 0), P(0, 120 * steps),
                        Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def test_qimages_share_the_array_and_keep_it_alive():
    from cyclegan_workbench.app.widgets.image_viewer import array_to_qimage

    image = array_to_qimage(np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)[:, ::-1])  # not contiguous
    gc.collect()
    assert (image.width(), image.height()) == (7, 5)
    assert image.pixelColor(0, 0).getRgb()[:3] == (18, 19, 20)  # the reversed first row
    assert image._array.flags["C_CONTIGUOUS"]
    gray = array_to_qimage(np.full((3, 4), 77, np.uint8))
    assert gray.pixelColor(3, 2).red() == 77
    with pytest.raises(TypeError):
        array_to_qimage(np.zeros((4, 4), np.float32))


def test_the_viewer_fits_zooms_around_the_cursor_and_switches_to_nearest_pixels(qtbot):
    from cyclegan_workbench.app.widgets.image_viewer import ImageViewer

    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    viewer.resize(400, 400)
    viewer.show()
    image = np.zeros((200, 200, 3), np.uint8)
    image[:, 100:] = 255
    viewer.set_image(image)
    assert viewer.zoom == pytest.approx(viewer.viewport().width() / 200, rel=0.05)  # fitted
    viewer.set_image(np.zeros((2000, 2000), np.uint8))
    assert viewer.zoom < 1 and viewer.smooth_sampling  # shrunk: smoothed
    viewer.set_image(image)
    cursor = QPoint(100, 120)
    under = viewer.mapToScene(cursor)
    wheel(viewer.viewport(), cursor, 3)
    assert viewer.zoom > 2.5 and not viewer.smooth_sampling  # magnified: crisp pixels
    after = viewer.mapToScene(cursor)
    assert abs(after.x() - under.x()) < 1.5 and abs(after.y() - under.y()) < 1.5  # zoomed around the cursor
    qtbot.keyClick(viewer, Qt.Key_F)
    assert viewer.zoom == pytest.approx(viewer.viewport().width() / 200, rel=0.05)


def test_the_viewer_reports_clicks_in_image_pixels(qtbot):
    from cyclegan_workbench.app.widgets.image_viewer import ImageViewer

    viewer = ImageViewer()
    qtbot.addWidget(viewer)
    viewer.resize(300, 300)
    viewer.show()
    viewer.set_image(np.zeros((10, 20), np.uint8))
    target = viewer.mapFromScene(QPointF(15.5, 4.5))
    with qtbot.waitSignal(viewer.pixel_clicked) as clicked:
        qtbot.mouseClick(viewer.viewport(), Qt.LeftButton, pos=target)
    x, y = clicked.args
    assert int(x) == 15 and int(y) == 4


def test_the_response_grid_maps_tiles_and_regions_to_feature_map_pixels(qtbot):
    import torch

    from cyclegan_workbench.app.widgets.response_grid import ResponseGrid
    from cyclegan_workbench.visualization.render import tile_grid

    grid = tile_grid(torch.rand(6, 8, 8), scale=4, gap=1)
    widget = ResponseGrid()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    tiles = [(t.x, t.y, t.width, t.height) for t in grid.tiles]
    widget.set_grid(grid.image, tiles, (8, 8))
    for k, t in enumerate(grid.tiles):
        assert widget.tile_at(t.x + 3, t.y + 3) == k
    assert widget.tile_at(0, 0) is None  # the gap
    x, y, w, h = tiles[4]
    region = widget.rect_region(4, QPointF(x + 0.5, y + 0.5), QPointF(x + w / 2 - 0.5, y + h / 2 - 0.5))
    assert region.shape == (8, 8) and region[:4, :4].all() and region.sum() == 16
    widget.set_marks({1: 0.0, 2: 1.5, 3: None}, selected=1)
    assert len(widget._marks) == 6 and widget._selection is not None


def test_loss_history_maps_validation_names_and_the_figure_renders(qtbot):
    from cyclegan_workbench.app.widgets.loss_plot import LossPlot
    from cyclegan_workbench.models.cyclegan import LOSS_NAMES
    from cyclegan_workbench.visualization.plots import LossFigure, LossHistory, binned

    history = LossHistory()
    for step in range(1, 501):
        history.add_step(step, {k: 1.0 / step for k in LOSS_NAMES})
    history.add_validation(500, {"D_A": 0.2, "Cycle_A": 0.3, "Total": 2.0})
    assert history.val_values["cycle_A"] == [0.3] and history.val_values["D_A"] == [0.2]
    x, y = binned(np.arange(500.0), np.arange(500.0), 200)
    assert len(x) == 167 and x[0] == 1.0 and x[-1] == 498.5  # bins of 3 steps, then the last 2
    np.testing.assert_array_equal(x, y)
    figure = LossFigure()
    image = figure.render(history, 480, 240)
    assert image.shape == (240, 480, 4) and image.dtype == np.uint8 and image[..., :3].std() > 10
    for ax in figure.axes:  # the curves are in view: the axes follow the data
        assert ax.get_xlim()[0] <= 1 and ax.get_xlim()[1] >= 500
        y = np.concatenate([line.get_ydata() for line in ax.get_lines() if len(line.get_ydata())])
        assert ax.get_ylim()[0] <= np.nanmin(y) and ax.get_ylim()[1] >= np.nanmax(y) > 0.5

    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(480, 240)
    plot.show()
    plot.history = history
    with qtbot.waitSignal(plot.rendered, timeout=5000):
        pass  # not live: it redraws itself once its data changed
    assert plot._image is not None


def test_the_sketch_canvas_paints_erases_and_changes_background(qtbot):
    from cyclegan_workbench.app.widgets.sketch_canvas import SketchCanvas

    canvas = SketchCanvas(32)
    qtbot.addWidget(canvas)
    canvas.resize(320, 320)
    canvas.show()
    canvas.level, canvas.brush = 200, 2
    with qtbot.waitSignal(canvas.sketch_changed) as changed:
        qtbot.mousePress(canvas, Qt.LeftButton, pos=QPoint(160, 160))
    assert changed.args[0][16, 16] == 200
    canvas.eraser = True
    canvas.stroke((16, 16), (16, 16))
    assert canvas.image[16, 16] == 0
    canvas.eraser = False
    canvas.stroke((5, 5), (10, 5))
    canvas.set_background(40)
    assert canvas.image[0, 0] == 40 and canvas.image[5, 7] == 200
