"""What a new user of the workbench notices (pytest-qt, offscreen): reference models at their trained size,
settings that say what they do, undo of mask edits, fluid sketching, a window that fits the screen."""
from __future__ import annotations

from pathlib import Path

import torch
from PyQt5.QtCore import Qt

from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.networks import UnetGenerator
from tests.conftest import reference_run


def make_test_tab(qtbot):
    from cyclegan_workbench.app.tabs.test_tab import TestTab

    tab = TestTab()
    qtbot.addWidget(tab)
    tab.resize(1280, 760)
    tab.show()
    return tab


def test_reference_checkpoints_open_at_their_trained_size_which_the_user_can_change(qtbot, tmp_path,
                                                                                    workbench_home):
    tab = make_test_tab(qtbot)
    unet_128 = reference_run(tmp_path / "ref128", num_downs=7)  # a unet_128 without train_opt.txt
    assert tab.open_model(str(unet_128))
    assert tab.model.size == 128 and tab.top_bar.size_box.value() == 128 and "128 px" in tab.top_bar.model_label.text()
    qtbot.waitUntil(lambda: tab.outputs.panels["after"].viewer.has_image(), timeout=5000)
    assert tab.outputs.panels["after"].viewer.image().shape[:2] == (128, 128)

    # The single .pth of a run whose train_opt.txt says 256.
    opts = ("----------------- Options ---------------\n"
            "                crop_size: 256                           \n"
            "                     netG: unet_128                      \t[default: resnet_9blocks]\n")
    trained_256 = reference_run(tmp_path / "ref256", num_downs=7, train_opt=opts)
    assert tab.open_model(str(trained_256 / "latest_net_G_B.pth"))
    assert tab.model.size == 256 and set(tab.model.graphs) == {"G_A", "G_B"}

    # The user picks another size: the model is parsed again and the output follows.
    tab.top_bar.size_box.setValue(384)
    assert tab.model.size == 384 and tab.model.graphs[tab.which].input_shape[1:] == (384, 384)
    qtbot.waitUntil(lambda: tab.outputs.panels["after"].viewer.image().shape[:2] == (384, 384), timeout=5000)
    assert tab.top_bar.size_box.singleStep() == 128  # a U-Net with 7 downsamplings takes multiples of 128


def test_a_size_the_generator_cannot_take_is_refused_and_the_model_stays(qtbot, tmp_path, workbench_home,
                                                                         monkeypatch):
    from cyclegan_workbench.app.tabs import test_tab as module

    warnings = []
    monkeypatch.setattr(module, "show_warning", lambda parent, title, text: warnings.append(text))
    tab = make_test_tab(qtbot)
    assert tab.open_model(str(reference_run(tmp_path / "ref", num_downs=7)))
    tab.top_bar.size_box.setValue(200)
    assert warnings and "divisible by 128" in warnings[0]
    assert tab.model.size == 128 and tab.top_bar.size_box.value() == 128


def test_start_after_use_in_train_tab_trains_a_new_run_and_keeps_the_old_one(qtbot, window, tiny_run, tmp_path):
    """The run folder field still names the last run: Start must not refuse, nor touch that run."""
    import shutil

    from tests.test_gui_train import set_tiny

    old_run = tmp_path / "old-run"
    shutil.copytree(tiny_run, old_run)
    before = {p.name: p.read_bytes() for p in old_run.iterdir()}
    tab = window.train_tab
    tab.set_run_dir(str(old_run))
    window.dataset_tab.size.setValue(32)
    window.dataset_tab.train_count.setValue(4)
    new_data = tmp_path / "new-data"
    window.dataset_tab.output.set_text(str(new_data))
    with qtbot.waitSignal(window.dataset_tab.idle, timeout=30000):
        window.dataset_tab.generate_button.click()
    qtbot.mouseClick(window.dataset_tab.use_button, Qt.LeftButton)
    assert window.tabs.currentWidget() is tab and tab.dataset.text() == str(new_data)

    set_tiny(tab, new_data, epochs=1, decay=0)
    with qtbot.waitSignal(tab.idle, timeout=60000):
        qtbot.mouseClick(tab.controls.start_button, Qt.LeftButton)
    new_run = Path(tab.run_dir.text())
    assert new_run != old_run and "Training complete" in tab.controls.progress_label.text()
    assert checkpoints.load_config(new_run).dataroot == str(new_data)
    assert {p.name: p.read_bytes() for p in old_run.iterdir()} == before


def test_the_bundled_model_can_be_reopened_after_another_model(qtbot, window, tiny_run):
    from cyclegan_workbench.app import locations

    window.open_run(str(tiny_run))
    assert window.test_tab.model.source == tiny_run
    (entry,) = [a for a in window.recent_menu.actions() if a.text() == "Default model (bundled)"]
    entry.trigger()
    assert window.test_tab.model.source == locations.DEFAULT_MODEL_DIR
    assert window.tabs.currentWidget() is window.test_tab
    window.open_run(str(tiny_run))
    window.default_model_action.trigger()
    assert window.test_tab.model.source == locations.DEFAULT_MODEL_DIR


def test_settings_say_what_they_are(qtbot, window):
    from cyclegan_workbench.app.tabs.train_controls import format_duration

    form = window.train_tab.form
    assert form.preset.currentText() == "toy" and form.lambda_identity.value() == 0.0
    assert form.preset.itemText(form.preset.currentIndex()) == "toy"
    form.lr.setValue(0.001)
    assert form.preset.itemText(form.preset.currentIndex()) == "toy (edited)"
    assert form.preset.currentText() == "toy"  # the name the configuration uses
    form.load_preset("toy")
    assert form.preset.itemText(form.preset.currentIndex()) == "toy"

    data = window.dataset_tab
    assert data.preset.itemText(data.preset.currentIndex()) == "default"
    data.gray_level.setValue(82)
    assert data.preset.itemText(data.preset.currentIndex()) == "default (edited)"
    assert data.noise.suffix() == " levels"

    assert format_duration(982) == "16 min 22 s" and format_duration(45) == "45 s"
    assert format_duration(7500) == "2 h 05 min"


def test_the_loss_legend_lists_identity_and_shape_losses_only_when_they_are_on():
    from cyclegan_workbench.visualization.plots import LossFigure, LossHistory

    def legend(identity: float, shape: float | None = None) -> list[str]:
        history = LossHistory()
        for step in range(1, 4):
            losses = {"D_A": 0.3, "G_A": 0.5, "cycle_A": 2.0, "idt_A": identity,
                      "D_B": 0.3, "G_B": 0.5, "cycle_B": 2.0, "idt_B": identity}
            if shape is not None:  # runs of older versions had no shape losses at all
                losses.update(shape_A=shape, shape_B=shape)
            history.add_step(step, losses)
        figure = LossFigure()
        figure.render(history, 600, 300)
        return [t.get_text() for t in figure.axes[0].get_legend().get_texts()]

    assert "idt_A" not in legend(0.0) and "cycle_A" in legend(0.0) and "shape_A" not in legend(0.0)
    assert "idt_A" in legend(0.4)
    assert "shape_A" in legend(0.0, shape=1.5) and "shape_B" in legend(0.0, shape=1.5)
    assert "shape_A" not in legend(0.0, shape=0.0)


def test_a_fast_stroke_is_drawn_whole_and_the_model_runs_off_the_gui_thread_on_the_latest_drawing(
        qtbot, tiny_run, workbench_home, monkeypatch):
    import math
    import threading
    import time

    import numpy as np
    from PyQt5.QtCore import QPoint

    from cyclegan_workbench.visualization.inspection import InspectedModel
    from tests.test_gui_test_tab import drag_to

    calls = []
    real_compute = InspectedModel.compute

    def slow_compute(self, *args, image=None, **kwargs):
        calls.append((threading.current_thread() is threading.main_thread(), None if image is None else image.copy()))
        if image is not None:
            time.sleep(0.2)  # a large model
        return real_compute(self, *args, image=image, **kwargs)

    monkeypatch.setattr(InspectedModel, "compute", slow_compute)
    tab = make_test_tab(qtbot)
    assert tab.open_model(str(tiny_run))
    tab.inputs.tabs.setCurrentWidget(tab.inputs.sketch)
    canvas = tab.inputs.sketch.canvas
    canvas.resize(320, 320)
    target = canvas._target()
    centre, radius = target.center(), target.width() // 3
    points = [QPoint(centre.x() + int(radius * math.cos(a)), centre.y() + int(radius * math.sin(a)))
              for a in np.linspace(0, 2 * math.pi, 40)]
    calls.clear()
    qtbot.mousePress(canvas, Qt.LeftButton, pos=points[0])
    for p in points[1:]:
        drag_to(canvas, p)
        x, y = canvas._to_image(p)
        assert canvas.image[y, x] == canvas.level  # drawn at once, before any model run
    qtbot.mouseRelease(canvas, Qt.LeftButton, pos=points[-1])
    qtbot.waitUntil(lambda: not tab.busy, timeout=10000)

    sketch_runs = [c for c in calls if c[1] is not None]
    assert sketch_runs and not any(on_gui for on_gui, _ in sketch_runs)
    assert len(sketch_runs) <= 3  # throttled: not one model run per mouse move
    np.testing.assert_array_equal(sketch_runs[-1][1], canvas.image)  # the finished circle was computed
    np.testing.assert_array_equal(tab.model.inputs[tab.which], canvas.image)
    # A ring: the stroke followed the circle instead of cutting across it.
    ring = canvas.image == canvas.level
    cy, cx = canvas._to_image(centre)[::-1]
    assert not ring[cy, cx] and ring.sum() > 2 * math.pi * radius * canvas.image.shape[0] / target.width()


def test_double_click_fits_the_grid_and_leaves_the_map_as_it_was(qtbot, tiny_run, workbench_home):
    from tests.test_gui_test_tab import after

    tab = make_test_tab(qtbot)
    assert tab.open_model(str(tiny_run))
    qtbot.waitUntil(lambda: tab.outputs.panels["after"].viewer.has_image(), timeout=5000)
    unedited = after(tab)
    grid = tab.response.grid
    grid.zoom_by(3.0)
    assert not grid._fit
    pos = grid.mapFromScene(grid.tile_center(1))
    # What a window system sends for a double-click (QTest's mouseDClick sends the third event only).
    viewport = grid.viewport()
    qtbot.mousePress(viewport, Qt.LeftButton, pos=pos)
    qtbot.mouseRelease(viewport, Qt.LeftButton, pos=pos)
    qtbot.mouseDClick(viewport, Qt.LeftButton, pos=pos)
    qtbot.mouseRelease(viewport, Qt.LeftButton, pos=pos)
    assert grid._fit
    assert not tab.model.masks[tab.which].edited_layers()
    qtbot.waitUntil(lambda: (after(tab) == unedited).all(), timeout=3000)


def test_mask_edits_undo_and_redo_with_the_keyboard(qtbot, window, tiny_run):
    from tests.test_gui_test_tab import after, click_tile

    window.open_run(str(tiny_run))
    tab = window.test_tab
    qtbot.waitUntil(lambda: tab.outputs.panels["after"].viewer.has_image(), timeout=5000)
    unedited = after(tab)
    click_tile(qtbot, tab, 0)  # nullify map 0 of the bottleneck
    qtbot.waitUntil(lambda: (after(tab) != unedited).any(), timeout=3000)
    one_edit = after(tab)
    tab.nullify_bottleneck()
    qtbot.waitUntil(lambda: (after(tab) != one_edit).any(), timeout=3000)
    assert tab.undo_stack.count() == 2 and "nullify the bottleneck" in tab.undo_stack.undoText()

    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    qtbot.waitUntil(lambda: (after(tab) == one_edit).all(), timeout=3000)
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    qtbot.waitUntil(lambda: (after(tab) == unedited).all(), timeout=3000)
    assert not tab.model.masks[tab.which].edited_layers() and not window.undo_action.isEnabled()
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    qtbot.waitUntil(lambda: (after(tab) == one_edit).all(), timeout=3000)
    # A new edit after an undo drops the undone step, as in every editor.
    tab.reset_all()
    assert tab.undo_stack.count() == 2 and not window.redo_action.isEnabled()
    # Opening another model starts a new history.
    window.open_run(str(tiny_run))
    assert tab.undo_stack.count() == 0


def test_the_ablation_scan_says_how_far_it_is_and_marks_its_chart_stale(qtbot, tiny_run, workbench_home):
    from tests.test_gui_test_tab import click_tile

    tab = make_test_tab(qtbot)
    assert tab.open_model(str(tiny_run))
    qtbot.waitUntil(lambda: tab.outputs.panels["after"].viewer.has_image(), timeout=5000)
    assert not tab.scan.cancel.isEnabled() and tab.scan.progress.text() == "no scan yet"
    channels = tab.model.graphs[tab.which].layers[tab.layer].channels
    with qtbot.waitSignal(tab.idle, timeout=20000):
        tab.scan.button.click()
        assert tab.scan.cancel.isEnabled() and "filters" in tab.scan.progress.text()
    assert not tab.scan.cancel.isEnabled()
    assert tab.scan.progress.text() == f"{channels} filters scanned"
    assert tab.scan.chart._bars and not tab.scan.chart.stale
    click_tile(qtbot, tab, 0)  # an edit after the scan: its ranking no longer describes what is shown
    qtbot.waitUntil(lambda: tab.scan.chart.stale, timeout=3000)
    assert all(bar.get_alpha() == 0.3 for bar in tab.scan.chart._bars)
    assert "stale" in tab.scan.chart._stale_note.get_text() and "changed" in tab.scan.chart.toolTip()
    tab.undo_stack.undo()  # back to the scanned state
    qtbot.waitUntil(lambda: not tab.scan.chart.stale, timeout=3000)


def test_maps_read_as_numbers_hover_readout_and_colour_bars(qtbot, tiny_run, workbench_home):
    from PyQt5.QtCore import QPointF
    from PyQt5.QtGui import QMouseEvent
    from PyQt5.QtWidgets import QApplication

    from tests.test_gui_test_tab import click_tile

    tab = make_test_tab(qtbot)
    assert tab.open_model(str(tiny_run))
    qtbot.waitUntil(lambda: tab.outputs.panels["after"].viewer.has_image(), timeout=5000)
    grid = tab.response.grid
    tile = 2
    x, y, w, h = grid.tiles[tile]
    channel = tab.response.channels[tile]
    response = tab.model.probes[tab.which].response(tab.layer)[0, channel]
    rows, cols = response.shape
    # The cursor over the last pixel of map `channel`: its value is shown.
    pos = grid.mapFromScene(x + w * (cols - 0.5) / cols, y + h * (rows - 0.5) / rows)
    # A move with no button held, as the window system sends it (QTest's mouseMove does not, offscreen).
    QApplication.sendEvent(grid.viewport(), QMouseEvent(QMouseEvent.MouseMove, QPointF(pos), Qt.NoButton,
                                                        Qt.NoButton, Qt.NoModifier))
    qtbot.waitUntil(lambda: tab.response.hover_label.text().startswith(f"map {channel} · x {cols - 1}, y {rows - 1}"),
                    timeout=3000)
    assert f"{float(response[rows - 1, cols - 1]):.4g}" in tab.response.hover_label.text()

    assert tab.response.grid_bar.text() == "each map from its own min to its max"
    tab.response.mode.setCurrentIndex(tab.response.mode.findData("select"))
    click_tile(qtbot, tab, tile)
    lo, hi = float(response.min()), float(response.max())
    qtbot.waitUntil(lambda: tab.response.grid_bar.text() == f"{lo:.3g} … {hi:.3g} map {channel}", timeout=3000)
    tab.response.normalize.setCurrentIndex(tab.response.normalize.findData("layer"))
    layer = tab.model.probes[tab.which].response(tab.layer)[0]
    expected = f"{float(layer.min()):.3g} … {float(layer.max()):.3g} whole layer"
    qtbot.waitUntil(lambda: tab.response.grid_bar.text() == expected,
                    timeout=3000)
    assert tab.outputs.difference_bar.text().startswith("0 … ")


def test_a_single_panel_exports_at_full_resolution_and_to_the_clipboard(qtbot, tmp_path):
    import numpy as np
    from PyQt5.QtWidgets import QApplication

    from cyclegan_workbench.app.widgets.image_viewer import ImagePanel
    from cyclegan_workbench.data.images import read_image

    panel = ImagePanel("after")
    qtbot.addWidget(panel)
    panel.resize(120, 120)  # shown far smaller than the image
    panel.show()
    image = np.zeros((256, 256, 3), np.uint8)
    image[64:192, 64:192, 0] = 255  # a red square
    panel.set_image(image)
    panel.viewer.save_image(str(tmp_path / "after.png"))
    np.testing.assert_array_equal(read_image(tmp_path / "after.png"), image)
    panel.viewer.copy_image()
    copied = QApplication.clipboard().image()
    assert (copied.width(), copied.height()) == (256, 256)
    assert copied.pixelColor(128, 128).red() == 255 and copied.pixelColor(128, 128).green() == 0


def test_compare_two_layers_and_the_same_layer_of_another_epoch(qtbot, tiny_run, workbench_home, tmp_path):
    import numpy as np

    tab = make_test_tab(qtbot)
    assert tab.open_model(str(tiny_run))
    qtbot.waitUntil(lambda: tab.outputs.panels["after"].viewer.has_image(), timeout=5000)
    dialog = tab.open_compare()
    qtbot.addWidget(dialog)
    graph = tab.model.graphs[tab.which]
    left, right = dialog.left, dialog.right
    assert left.layer.currentData() == tab.layer and right.layer.currentData() == tab.layer - 1
    expected = {side: tab.model.grid(tab.which, side.layer.currentData()).image.shape for side in (left, right)}
    for side in (left, right):
        assert side.panel.viewer.image().shape == expected[side]
    assert left.panel.viewer.image().shape != right.panel.viewer.image().shape  # two different layers

    # The same layer of another model: an untrained copy of this generator, on the same input.


    torch.manual_seed(5)
    other = tmp_path / "latest_net_G_B.pth"
    torch.save(UnetGenerator(1, 3, 3, 4, "instance").state_dict(), other)
    right.layer.setCurrentIndex(left.layer.currentIndex())
    assert dialog.open_model(right, str(other))
    assert right.layer.currentData() == left.layer.currentData() and "latest_net_G_B.pth" in right.source.text()
    a, b = left.panel.viewer.image(), right.panel.viewer.image()
    assert a.shape == b.shape and not np.array_equal(a, b)
    np.testing.assert_array_equal(right.model.inputs[right.which], tab.model.inputs[tab.which])
    assert len(graph.layers) == left.layer.count()

    # A new input in the Test tab reaches both sides.
    before = a.copy()
    tab.inputs.tabs.setCurrentWidget(tab.inputs.thumbnails)
    tab.inputs.thumbnails.setCurrentRow(3)
    qtbot.waitUntil(lambda: not np.array_equal(left.panel.viewer.image(), before), timeout=3000)


def test_log_axis_ticks_are_short_plain_numbers():
    from cyclegan_workbench.visualization.plots import LossFigure, LossHistory

    history = LossHistory()
    for step in range(1, 30):
        history.add_step(step, {"D_A": 0.25, "G_A": 0.3 + 0.01 * step, "cycle_A": 0.4 + 0.02 * step, "idt_A": 0,
                                "D_B": 0.25, "G_B": 0.35, "cycle_B": 0.6, "idt_B": 0})
    figure = LossFigure()
    figure.render(history, 600, 300)
    ax = figure.axes[0]
    low, high = ax.get_ylim()
    labels = [t.get_text() for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high and t.get_text()]
    assert labels and all(len(label) <= 4 and "times" not in label and "^" not in label for label in labels)
