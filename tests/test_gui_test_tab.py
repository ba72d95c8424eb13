"""Test tab (pytest-qt, offscreen): open a run, click a response tile, nullify the bottleneck, masks
to JSON and back, spatial regions, skip edits, the ablation scan, inputs from files and the sketch."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PyQt5.QtCore import QPoint, QPointF, Qt


@pytest.fixture
def test_tab(qtbot, tiny_run, workbench_home):
    from cyclegan_workbench.app.tabs.test_tab import TestTab

    tab = TestTab()
    qtbot.addWidget(tab)
    tab.resize(1280, 760)
    tab.show()
    assert tab.open_model(str(tiny_run))
    qtbot.waitUntil(lambda: tab.outputs.panels["after"].viewer.has_image(), timeout=5000)
    return tab


def click_tile(qtbot, tab, tile: int) -> None:
    """A real mouse click on the centre of a tile of the response grid."""
    grid = tab.response.grid
    pos = grid.mapFromScene(grid.tile_center(tile))
    qtbot.mouseClick(grid.viewport(), Qt.LeftButton, pos=pos)


def drag_to(widget, pos: QPoint) -> None:
    """A mouse move with the left button held (QTest's mouseMove moves the cursor, which the offscreen
    platform does not turn into a drag)."""
    from PyQt5.QtGui import QMouseEvent
    from PyQt5.QtWidgets import QApplication

    event = QMouseEvent(QMouseEvent.MouseMove, QPointF(pos), Qt.NoButton, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(widget, event)


def after(tab) -> np.ndarray:
    return tab.outputs.panels["after"].viewer.image().astype(int)


def test_opening_a_run_shows_layers_skips_bottleneck_and_an_unchanged_output(test_tab):
    tab, model = test_tab, test_tab.model
    graph = model.graphs[tab.which]
    # The toy data set's gray domain is B, so the colourizing generator G_B is shown first.
    assert tab.which == "G_B" and graph.input_shape[0] == 1
    assert tab.layers.topLevelItemCount() == len(graph.layers)
    assert tab.layer == graph.bottleneck and tab.layers.currentItem().font(2).bold()
    skip_cells = {tab.layers.topLevelItem(s.concat).text(1) for s in graph.skips}
    assert skip_cells == {f"⇠{s.level}" for s in graph.skips} and len(graph.skips) == 2
    panels = tab.outputs.panels
    np.testing.assert_array_equal(panels["before"].viewer.image(), panels["after"].viewer.image())
    assert tab.outputs.panels["reconstruction"].viewer.image().shape == (32, 32, 3)
    assert "mean 0.0000" in tab.outputs.numbers.text()
    assert tab.inputs.thumbnails.count() == 6  # testB of the toy dataset


def test_clicking_a_response_tile_nullifies_that_filter_and_changes_the_output(qtbot, test_tab):
    tab = test_tab
    tab.layers.select_layer(1)  # down 1: the first activation, 4 maps at 16x16
    qtbot.waitUntil(lambda: tab.layer == 1 and len(tab.response.channels) == 4, timeout=2000)
    before = after(tab)
    channel = tab.response.channels[2]
    click_tile(qtbot, tab, 2)
    qtbot.waitUntil(lambda: tab.model.masks["G_B"].edited_layers() == [1], timeout=2000)
    assert tab.model.masks["G_B"].filter_gains(1)[channel] == 0.0
    qtbot.waitUntil(lambda: np.abs(after(tab) - before).max() > 0, timeout=2000)
    assert tab.filter == channel and "1" in tab.outputs.edits_label.text()
    assert float(tab.outputs.numbers.text().split("mean ")[1].split(",")[0]) > 0
    # The response of the nullified filter is now zero everywhere; its tile is marked.
    response = tab.model.probes["G_B"].response(1)
    assert torch.count_nonzero(response[0, channel]) == 0
    assert tab.layers.topLevelItem(1).text(3) == "●"
    # A second click restores it: the output is the model's own again.
    click_tile(qtbot, tab, 2)
    qtbot.waitUntil(lambda: tab.model.masks["G_B"].is_identity(), timeout=2000)
    qtbot.waitUntil(lambda: np.array_equal(after(tab), before), timeout=2000)


def test_nullify_the_bottleneck_then_save_and_reload_the_mask_set(qtbot, test_tab, tmp_path):
    tab = test_tab
    before = after(tab)
    qtbot.mouseClick(tab.edits.bottleneck_button, Qt.LeftButton)
    masks = tab.model.masks["G_B"]
    bottleneck = tab.model.graphs["G_B"].bottleneck
    assert masks.edited_layers() == [bottleneck]
    assert torch.count_nonzero(masks.gain(bottleneck)) == 0
    qtbot.waitUntil(lambda: np.abs(after(tab) - before).max() > 0, timeout=2000)
    edited = after(tab)

    path = tmp_path / "bottleneck.json"
    tab.save_masks(str(path))
    saved = json.loads(path.read_text())
    assert [l["index"] for l in saved["layers"]] == [bottleneck]
    qtbot.mouseClick(tab.edits.reset_all_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: np.array_equal(after(tab), before), timeout=2000)
    tab.load_masks(str(path))
    assert tab.model.masks["G_B"].edited_layers() == [bottleneck]
    np.testing.assert_array_equal(after(tab), edited)


def test_a_mask_set_of_another_generator_is_refused_with_a_dialog(qtbot, test_tab, tmp_path, monkeypatch):
    from PyQt5.QtWidgets import QFileDialog, QMessageBox

    tab = test_tab
    tab.top_bar.generator.setCurrentIndex(tab.top_bar.generator.findData("G_A"))  # RGB -> gray: another graph
    tab.nullify_bottleneck()
    path = tmp_path / "g_a.json"
    tab.save_masks(str(path))
    tab.top_bar.generator.setCurrentIndex(tab.top_bar.generator.findData("G_B"))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    tab.load_masks_dialog()
    boxes = [b for b in tab.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and "different architecture" in boxes[0].text()
    assert tab.model.masks["G_B"].is_identity() and tab.model.masks["G_A"].edited_layers()
    boxes[0].close()


def test_a_dragged_rectangle_masks_a_region_of_one_map(qtbot, test_tab):
    tab = test_tab
    tab.layers.select_layer(1)
    qtbot.waitUntil(lambda: tab.layer == 1, timeout=2000)
    tab.response.mode.setCurrentIndex(tab.response.mode.findData("rect"))
    tab.response.gain.setValue(0.0)
    x, y, w, h = tab.response.grid.tiles[0]
    channel = tab.response.channels[0]
    grid = tab.response.grid
    start = grid.mapFromScene(QPointF(x + 1, y + 1))
    end = grid.mapFromScene(QPointF(x + w / 2 - 1, y + h / 2 - 1))  # the top-left quarter
    qtbot.mousePress(grid.viewport(), Qt.LeftButton, pos=start)
    drag_to(grid.viewport(), end)
    qtbot.mouseRelease(grid.viewport(), Qt.LeftButton, pos=end)
    gain = tab.model.masks["G_B"].gain(1)
    assert torch.count_nonzero(gain[channel] == 0) > 0
    assert bool((gain[channel, 12:, :] == 1).all()) and bool((gain[channel, :, 12:] == 1).all())
    other = [c for c in range(gain.shape[0]) if c != channel]
    assert bool((gain[other] == 1).all())


def test_isolating_skip_1_and_gating_a_skip_edit_the_expected_layers(qtbot, test_tab):
    tab = test_tab
    graph = tab.model.graphs["G_B"]
    tab.edits.skip_level.setValue(1)
    qtbot.mouseClick(tab.edits.isolate_button, Qt.LeftButton)
    zeroed = tab.model.masks["G_B"].edited_layers()
    assert zeroed and all(graph.layers[i].side == "down" and graph.layers[i].level > 1 for i in zeroed)
    tab.reset_all()
    tab.edits.skip_level.setValue(2)
    tab.edits.encoder_gain.setValue(0.0)
    tab.edits.decoder_gain.setValue(1.0)
    qtbot.mouseClick(tab.edits.gate_button, Qt.LeftButton)
    skip = graph.skip(2)
    assert tab.model.masks["G_B"].edited_layers() == [skip.concat]
    gains = tab.model.masks["G_B"].filter_gains(skip.concat)
    assert all(g == 0 for g in gains[slice(*skip.encoder_channels)])
    assert all(g == 1 for g in gains[slice(*skip.decoder_channels)])


def test_the_ablation_scan_runs_in_a_worker_and_a_bar_click_selects_the_filter(qtbot, test_tab):
    tab = test_tab
    channels = tab.model.graphs["G_B"].layers[tab.layer].channels
    with qtbot.waitSignal(tab.idle, timeout=20000):
        qtbot.mouseClick(tab.scan.button, Qt.LeftButton)
        assert tab.busy
    result = tab.ablation_result
    assert result is not None and result.complete and len(result.effects) == channels
    changes = [e.output_change for e in result.effects]
    assert changes == sorted(changes, reverse=True) and changes[0] > 0
    assert tab.scan.chart._filters == [e.filter for e in result.effects][:len(tab.scan.chart._filters)]
    tab.scan.chart.click_bar(0)
    assert tab.filter == result.effects[0].filter
    assert tab.outputs.panels["map"].viewer.has_image()


def test_inputs_from_a_file_a_drop_and_the_sketch_canvas(qtbot, test_tab, toy_dataset):
    from PyQt5.QtCore import QMimeData, QUrl
    from PyQt5.QtGui import QDragEnterEvent, QDropEvent

    tab = test_tab
    path = toy_dataset / "testB" / "triangle_0001.png"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    # Qt delivers drops only inside a real drag; the tab's handlers get the events it would send.
    def drag_accepted(data) -> bool:
        enter = QDragEnterEvent(QPoint(10, 10), Qt.CopyAction, data, Qt.LeftButton, Qt.NoModifier)
        enter.ignore()
        tab.dragEnterEvent(enter)
        return enter.isAccepted()

    text = QMimeData()
    text.setUrls([QUrl.fromLocalFile(str(toy_dataset / "manifest.json"))])
    assert drag_accepted(mime) and not drag_accepted(text)
    tab.dropEvent(QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))
    qtbot.waitUntil(lambda: tab.outputs.panels["input"].toolTip().endswith("triangle_0001.png"), timeout=2000)
    from cyclegan_workbench.data.images import read_image

    np.testing.assert_array_equal(tab.model.inputs["G_B"], read_image(path, 1))

    tab.inputs.tabs.setCurrentWidget(tab.inputs.sketch)
    canvas = tab.inputs.sketch.canvas
    # A blank sketch is not fed to the model (it would paint a blob of some colour): the panels say so.
    qtbot.waitUntil(lambda: not tab.outputs.panels["after"].viewer.has_image(), timeout=2000)
    assert "Draw a figure" in tab.outputs.numbers.text()
    target = canvas._target()
    centre = QPoint(target.center().x(), target.center().y())
    qtbot.mousePress(canvas, Qt.LeftButton, pos=centre)
    drag_to(canvas, centre + QPoint(20, 0))
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=centre + QPoint(20, 0))
    qtbot.waitUntil(lambda: tab.model.inputs["G_B"].max() == canvas.level, timeout=2000)
    assert tab.model.inputs["G_B"].shape == (32, 32)


def test_painting_on_a_map_masks_the_painted_cells_of_every_map_when_asked(qtbot, test_tab):
    tab = test_tab
    tab.layers.select_layer(1)
    qtbot.waitUntil(lambda: tab.layer == 1, timeout=2000)
    tab.response.mode.setCurrentIndex(tab.response.mode.findData("paint"))
    tab.response.region_all.setChecked(True)
    tab.response.gain.setValue(2.0)
    grid = tab.response.grid
    x, y, w, h = grid.tiles[1]
    start = grid.mapFromScene(QPointF(x + w * 0.2, y + h * 0.5))
    end = grid.mapFromScene(QPointF(x + w * 0.8, y + h * 0.5))
    qtbot.mousePress(grid.viewport(), Qt.LeftButton, pos=start)
    drag_to(grid.viewport(), end)
    assert grid._dots  # the stroke is shown while painting
    qtbot.mouseRelease(grid.viewport(), Qt.LeftButton, pos=end)
    assert not grid._dots
    gain = tab.model.masks["G_B"].gain(1)
    painted = gain[0] == 2.0
    assert painted[8, 4:12].all() and not painted[0].any()  # along the stroke, not the top row
    assert bool((gain == gain[0]).all())  # the same cells on every map


def test_a_single_pth_opens_with_its_sibling_and_layer_gains_apply(qtbot, test_tab, tiny_run):
    tab = test_tab
    assert tab.open_model(str(tiny_run / "latest_net_G_A.pth"))
    assert set(tab.model.graphs) == {"G_A", "G_B"}  # latest_net_G_B.pth beside it is the other generator
    assert tab.model.size == 32  # from the run's config.json next to the weights
    qtbot.waitUntil(lambda: tab.outputs.panels["reconstruction"].viewer.has_image(), timeout=5000)
    tab.layers.select_layer(2)
    qtbot.waitUntil(lambda: tab.layer == 2, timeout=2000)
    tab.response.gain.setValue(1.5)
    qtbot.mouseClick(tab.response.apply_layer_button, Qt.LeftButton)
    assert tab.model.masks[tab.which].filter_gains(2) == [1.5] * tab.model.graphs[tab.which].layers[2].channels
    tab.response.gain.setValue(0.25)
    click_tile(qtbot, tab, 0)  # toggles map 0 to 0 and selects it
    qtbot.mouseClick(tab.response.apply_map_button, Qt.LeftButton)  # then gives it the gain box's value
    assert tab.model.masks[tab.which].filter_gains(2)[tab.filter] == 0.25
    qtbot.mouseClick(tab.edits.reset_layer_button, Qt.LeftButton)
    assert tab.model.masks[tab.which].is_identity()
