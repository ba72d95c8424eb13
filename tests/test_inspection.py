"""InspectedModel (visualization.inspection) without Qt: opening runs and checkpoints at their trained size,
inputs converted to the generator's channels and size, the views and numbers of an edit, and the lock that
lets a worker thread compute while the GUI thread edits. This module imports no Qt."""
from __future__ import annotations

import shutil
import threading

import numpy as np
import pytest
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import as_channels, write_image
from cyclegan_workbench.visualization.inspection import BUNDLED_SAMPLES, EditView, InspectedModel
from tests.conftest import reference_run


@pytest.fixture
def model(tiny_run):
    return InspectedModel.open(tiny_run)


def gray_input(model, seed: int = 0) -> np.ndarray:
    """A random gray image at the G_B input size (the toy B domain is gray)."""
    _, h, w = model.graphs["G_B"].input_shape
    return np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)


# --- opening ---------------------------------------------------------------------------------------
def test_a_run_folder_opens_both_generators_at_the_trained_size(tiny_run, toy_dataset):
    model = InspectedModel.open(tiny_run)
    assert set(model.graphs) == set(model.masks) == set(model.probes) == {"G_A", "G_B"}
    assert model.size == 32 and model.dataroot == str(toy_dataset) and model.source == tiny_run
    assert model.description == "tiny: U-Net, 3 downsamplings, ngf 4, 32 px"
    assert model.graphs["G_A"].input_shape == (3, 32, 32) and model.graphs["G_B"].input_shape == (1, 32, 32)
    assert model.preferred_generator() == "G_B"  # gray -> RGB, the colourizer
    assert model.size_step == 8
    assert model.other("G_A") == "G_B" and model.other("G_B") == "G_A"


def test_a_size_overrides_the_trained_one_and_a_size_the_net_cannot_take_is_refused(tiny_run):
    assert InspectedModel.open(tiny_run, size=64).graphs["G_B"].input_shape == (1, 64, 64)
    with pytest.raises(UserError, match="divisible by 8"):
        InspectedModel.open(tiny_run, size=36)


def test_a_single_pth_opens_with_its_sibling_and_the_run_beside_it(tiny_run, toy_dataset):
    model = InspectedModel.open(tiny_run / "latest_net_G_B.pth")
    assert set(model.graphs) == {"G_A", "G_B"} and model.size == 32 and model.dataroot == str(toy_dataset)
    assert model.description.startswith("latest_net_G_B.pth: U-Net, 3 downsamplings")


def test_a_pth_without_sibling_has_one_generator_and_no_cycle(tiny_run, tmp_path):
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(tiny_run / "latest_net_G_B.pth", alone / "latest_net_G_B.pth")
    model = InspectedModel.open(alone / "latest_net_G_B.pth")
    assert set(model.graphs) == {"G_B"} and model.other("G_B") is None
    assert model.size == 8 and model.dataroot == ""  # no config.json nor train_opt.txt: what a depth 3 U-Net takes
    model.set_input("G_B", np.zeros((8, 8), np.uint8))
    view = model.view("G_B")
    assert view.reconstruction is None and view.cycle_loss is None and "Cycle" not in view.numbers()


def test_a_reference_run_folder_opens_at_the_size_of_its_train_opt_or_of_its_architecture(tmp_path):
    plain = InspectedModel.open(reference_run(tmp_path / "plain"))
    assert plain.size == 8 and set(plain.graphs) == {"G_A", "G_B"} and plain.description.startswith("plain: ")
    opts = "----------------- Options ---------------\n               crop_size: 32            \t[default: 256]\n"
    trained = InspectedModel.open(reference_run(tmp_path / "trained", train_opt=opts))
    assert trained.size == 32 and trained.graphs["G_B"].input_shape == (1, 32, 32)
    assert InspectedModel.open(tmp_path / "trained" / "latest_net_G_A.pth").size == 32


def test_what_cannot_be_opened_says_why(tmp_path):
    with pytest.raises(UserError, match="no run folder or checkpoint"):
        InspectedModel.open(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="neither a run folder"):
        InspectedModel.open(tmp_path / "empty")


# --- inputs ----------------------------------------------------------------------------------------
def test_as_channels_converts_gray_and_rgb_both_ways():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255
    gray = as_channels(rgb, 1)
    assert gray.shape == (4, 5) and int(gray[0, 0]) == 76  # ITU-R BT.601 luma of pure red
    assert as_channels(gray, 3).shape == (4, 5, 3) and (as_channels(gray, 3) == 76).all()
    assert as_channels(rgb, 3) is rgb and as_channels(gray, 1) is gray


def test_set_input_converts_to_the_generator_channels_and_size(model):
    colour = np.zeros((64, 64, 3), np.uint8)
    colour[:, :32] = (0, 255, 0)
    model.set_input("G_B", colour)  # a colour image for the gray -> RGB generator
    stored = model.inputs["G_B"]
    assert stored.shape == (32, 32) and stored.dtype == np.uint8 and stored.flags.c_contiguous
    assert int(stored[0, 0]) == 150 and int(stored[0, -1]) == 0  # luma of green; area-averaged halves
    small = np.arange(16 * 16, dtype=np.uint8).reshape(16, 16)
    model.set_input("G_A", small)  # a small gray image for the RGB -> gray generator: enlarged by nearest
    assert model.inputs["G_A"].shape == (32, 32, 3)
    assert set(np.unique(model.inputs["G_A"])) == set(np.unique(small))
    assert model.has_input("G_A") and model.has_input("G_B")
    expected = torch.from_numpy(model.inputs["G_B"]).float().div(127.5).sub(1)
    assert torch.allclose(model.probes["G_B"].input[0, 0], expected)


def test_input_sources_are_the_runs_test_images_else_the_samples(model, toy_dataset, tmp_path):
    files, where = model.input_sources("G_B")
    assert files and all(p.parent == toy_dataset / "testB" for p in files) and where == str(toy_dataset / "testB")
    model.dataroot = ""
    files, where = model.input_sources("G_B")
    assert where == "bundled samples" and files and all(p.parent == BUNDLED_SAMPLES / "B" for p in files)
    samples = tmp_path / "samples"
    write_image(samples / "A" / "a.png", np.zeros((8, 8, 3), np.uint8))
    write_image(samples / "b.png", np.zeros((8, 8), np.uint8))
    assert model.input_sources("G_A", samples) == ([samples / "A" / "a.png"], str(samples / "A"))
    # No folder of the domain: every image of the samples.
    assert model.input_sources("G_B", samples) == ([samples / "A" / "a.png", samples / "b.png"], str(samples))
    assert model.input_sources("G_B", tmp_path / "none") == ([], str(tmp_path / "none"))


# --- views and numbers -----------------------------------------------------------------------------
def test_compute_shows_no_change_without_edits_and_the_change_of_an_edit(model):
    layer = model.graphs["G_B"].bottleneck
    view, grid = model.compute("G_B", layer, "viridis", "map", False, image=gray_input(model))
    assert isinstance(view, EditView) and view.output_change == 0.0 and view.max_change == 0.0
    assert view.cycle_loss == pytest.approx(view.unedited_cycle_loss)
    assert view.input.shape == (32, 32, 3) and view.after.shape == view.before.shape == (32, 32, 3)
    assert view.reconstruction.shape == (32, 32, 3) and view.difference.shape == (32, 32, 3)
    assert np.array_equal(view.before, view.after)
    assert len(grid.tiles) == model.graphs["G_B"].layers[layer].shape[0] and grid.image.dtype == np.uint8

    model.masks["G_B"].scale_layer(layer, 0.0)
    edited = model.view("G_B")
    unedited_output = model.probes["G_B"].unedited_output()
    assert edited.max_change > 0 and edited.output_change > 0
    change = (model.probes["G_B"].output() - unedited_output).abs().mean(dim=1)
    assert edited.output_change == pytest.approx(float(change.mean()))
    assert np.array_equal(edited.before, view.before) and not np.array_equal(edited.after, view.after)
    assert edited.numbers().startswith(f"Output change: mean {edited.output_change:.4f}")
    assert "Cycle loss (L1)" in edited.numbers()


def test_grid_feature_map_value_range_and_activation_read_the_probe(model):
    model.set_input("G_B", gray_input(model, seed=1))
    layer = 1
    response = model.probes["G_B"].response(layer)[0]
    channels, h, w = response.shape
    assert model.value_range("G_B", layer) == (float(response.min()), float(response.max()))
    assert model.value_range("G_B", layer, 2) == (float(response[2].min()), float(response[2].max()))
    assert model.activation("G_B", layer, 2, h - 1, 0) == float(response[2, h - 1, 0])
    grid = model.grid("G_B", layer, normalize="layer", sort_by_energy=True)
    assert sorted(grid.order) == list(range(channels))
    assert grid.tiles[0].width == w * max(1, 32 // w)  # small maps magnified in whole pixels
    assert model.feature_map("G_B", layer, 2).shape[:2] == (h, w)


def test_marks_list_the_gain_of_each_edited_filter_or_none_for_a_region(model):
    layer = 1
    assert model.marks("G_B", layer) == {}
    model.masks["G_B"].set_filter(layer, 0, 0.0)
    model.masks["G_B"].set_filter(layer, 3, 2.5)
    model.masks["G_B"].set_region(layer, (0, 0, 4, 4), 0.0, filter=1)
    assert model.marks("G_B", layer) == {0: 0.0, 1: None, 3: 2.5}


# --- the lock --------------------------------------------------------------------------------------
class Watched:
    """Stands in for a probe and records, at every use, whether another thread could take the model's lock."""

    def __init__(self, probe, lock):
        self._probe, self._lock, self.free = probe, lock, []

    def _lock_is_free(self) -> bool:
        result = []

        def try_lock():
            got = self._lock.acquire(blocking=False)
            result.append(got)
            if got:
                self._lock.release()

        thread = threading.Thread(target=try_lock)
        thread.start()
        thread.join()
        return result[0]

    def __getattr__(self, name):
        self.free.append(self._lock_is_free())
        return getattr(self._probe, name)


def test_every_use_of_a_probe_holds_the_lock(model):
    watched = Watched(model.probes["G_B"], model.lock)
    model.probes["G_B"] = watched
    image, layer = gray_input(model), 1
    model.set_input("G_B", image)
    model.compute("G_B", layer, "viridis", "map", False, image=image)
    model.view("G_B")
    model.grid("G_B", layer)
    model.feature_map("G_B", layer, 0)
    model.value_range("G_B", layer)
    model.activation("G_B", layer, 0, 0, 0)
    assert len(watched.free) >= 7 and not any(watched.free)
    assert watched._lock_is_free()  # and released it after
    assert InspectedModel.set_input.__name__ == "set_input"  # the lock's wrapper keeps the name and docstring
    assert InspectedModel.set_input.__doc__.startswith("Any uint8 image")


def test_a_worker_computes_while_the_gui_thread_edits(model):
    """A view worker and the GUI thread share the probes: a compute waits for an edit under the lock."""
    model.set_input("G_B", gray_input(model))
    layer = model.graphs["G_B"].bottleneck
    editing, results = threading.Event(), []

    def worker():
        editing.wait()
        results.append(model.compute("G_B", layer, "viridis", "map", False, image=gray_input(model, seed=2)))

    thread = threading.Thread(target=worker)
    thread.start()
    with model.lock:  # an edit of the GUI thread: the worker's compute cannot interleave with it
        editing.set()
        model.masks["G_B"].scale_layer(layer, 0.0)
        model.masks["G_B"].scale_layer(layer, 1.0)
        assert not results
    thread.join()
    view, _ = results[0]
    assert view.output_change == 0.0  # it saw the masks as the edit left them, never the half-done state
