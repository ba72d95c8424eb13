"""The Train tab's live views (visualization.live_views.LiveProbe), without Qt: the probe pair through both
generators, the chosen layer's responses, and views that follow the weights after any optimizer's step.

Fused optimizers (torch's fused CPU Adam) write parameters without bumping their version counters, which
once froze the Train tab's fake images and feature maps at their first frame while the model learned.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from cyclegan_workbench.data.images import to_image
from cyclegan_workbench.models.cyclegan import CycleGAN
from cyclegan_workbench.visualization.live_views import VIEW_KEYS, LiveProbe
from cyclegan_workbench.visualization.parser import parse_generator
from cyclegan_workbench.visualization.probe import Probe
from cyclegan_workbench.visualization.render import tile_grid
from tests.conftest import tiny_config


class DataWriter(torch.optim.Optimizer):
    """A user's own optimizer: plain gradient descent written through `.data`, bumping no version counter."""

    def __init__(self, params, lr=0.05):
        super().__init__(params, {"lr": lr})

    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.data.sub_(group["lr"] * p.grad.data)


OPTIMIZERS = {
    "fused Adam": lambda params: torch.optim.Adam(params, lr=1e-3, fused=True),
    "foreach Adam": lambda params: torch.optim.Adam(params, lr=1e-3, foreach=True),
    "SGD": lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9),
    "a user's own": DataWriter,
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_a_probe_shows_the_weights_of_every_optimizer_step(name):
    torch.manual_seed(0)
    cfg = tiny_config("")
    cfg.network.input_nc, cfg.network.output_nc = 3, 1
    model = CycleGAN(cfg)
    params = list(model.G_A.parameters()) + list(model.G_B.parameters())
    model.optimizer_G = OPTIMIZERS[name](params)
    real_A, real_B = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 1, 32, 32) * 2 - 1
    graph = parse_generator(model.G_B, 32, 1)  # prepacked kernels included (fast=True)
    probe = Probe(graph)
    probe.set_input(real_B[:1])
    deepest = graph.bottleneck
    first_output, first_response = probe.output(), probe.response(deepest)

    for _ in range(2):
        model.optimize(real_A, real_B)
        fresh = parse_generator(copy.deepcopy(model.G_B), 32, 1)
        shown, expected = probe.output(), fresh.run(real_B[:1])
        assert torch.allclose(shown, expected, atol=1e-5), f"{name}: the probe shows stale weights"
    assert not torch.allclose(probe.output(), first_output, atol=1e-4)
    assert not torch.allclose(probe.response(deepest), first_response, atol=1e-4)


def tiny_model() -> CycleGAN:
    """RGB A, gray B, as the toy shapes; a U-Net of depth 3, ngf 4."""
    torch.manual_seed(0)
    cfg = tiny_config("")
    cfg.network.input_nc, cfg.network.output_nc = 3, 1
    return CycleGAN(cfg)


def probe_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 (C, H, W) images, as UnalignedDataset keeps them."""
    g = torch.Generator().manual_seed(1)
    return (torch.randint(0, 256, (3, 32, 32), generator=g, dtype=torch.uint8),
            torch.randint(0, 256, (1, 32, 32), generator=g, dtype=torch.uint8))


def fresh_run(net, x: torch.Tensor) -> torch.Tensor:
    """`net` on `x` through a graph parsed independently of the live probe."""
    return parse_generator(copy.deepcopy(net), 32, x.shape[-3]).run(x)


def test_the_live_views_are_the_probe_pair_through_both_generators():
    model = tiny_model()
    real_A, real_B = probe_pair()
    live = LiveProbe(model.G_A, model.G_B, real_A, real_B)
    v = live.visuals(7, "G_B", 2)
    assert v.step == 7 and tuple(v.images) == VIEW_KEYS
    assert np.array_equal(v.images["real_A"], real_A.permute(1, 2, 0).numpy())
    assert np.array_equal(v.images["real_B"], real_B[0].numpy())
    x_A, x_B = real_A.float().div(127.5).sub(1)[None], real_B.float().div(127.5).sub(1)[None]
    fake_B, fake_A = fresh_run(model.G_A, x_A), fresh_run(model.G_B, x_B)
    expected = {"fake_B": fake_B, "rec_A": fresh_run(model.G_B, fake_B),
                "fake_A": fake_A, "rec_B": fresh_run(model.G_A, fake_A)}
    for key, tensor in expected.items():
        image = to_image(tensor[0])
        assert v.images[key].shape == image.shape and v.images[key].dtype == np.uint8
        assert np.abs(v.images[key].astype(int) - image).max() <= 1, key  # a rounding apart at most
    independent = Probe(parse_generator(copy.deepcopy(model.G_B), 32, 1))
    independent.set_input(x_B)
    assert torch.allclose(live.probes["G_B"].response(2), independent.response(2), atol=1e-5)
    grid = tile_grid(independent.response(2), colormap="viridis", normalize="map")
    assert v.response.shape == grid.image.shape and v.response.dtype == np.uint8
    assert v.response_label == f"G_B layer {live.graphs['G_B'].layers[2].label}"


def test_the_response_layer_is_clamped_and_labelled_as_the_panel_lists_it():
    model = tiny_model()
    live = LiveProbe(model.G_A, model.G_B, *probe_pair())
    labels = live.layer_labels()
    layers = live.graphs["G_A"].layers
    assert len(labels["G_A"]) == len(layers) and labels["G_A"][0] == f"0  {layers[0].label}"
    assert live.visuals(0, "G_A", 999).response_label == f"G_A layer {layers[-1].label}"
    assert live.visuals(0, "G_A", -3).response_label == f"G_A layer {layers[0].label}"


def test_the_live_views_follow_a_training_step():
    model = tiny_model()
    real_A, real_B = probe_pair()
    live = LiveProbe(model.G_A, model.G_B, real_A, real_B)
    before = live.visuals(0, "G_A", live.graphs["G_A"].bottleneck)
    model.optimize(real_A[None].float().div(127.5).sub(1), real_B[None].float().div(127.5).sub(1))
    after = live.visuals(1, "G_A", live.graphs["G_A"].bottleneck)
    assert np.array_equal(after.images["real_A"], before.images["real_A"])
    assert not np.array_equal(after.images["fake_B"], before.images["fake_B"])
    assert not np.array_equal(after.response, before.response)


def test_a_trainer_probes_its_first_training_image_of_each_domain(toy_dataset, tmp_path):
    from cyclegan_workbench.models.training import Trainer

    trainer = Trainer(tiny_config(toy_dataset), tmp_path / "run")
    live = LiveProbe.of_trainer(trainer)
    v = live.visuals(0, "G_B", 0)
    assert np.array_equal(v.images["real_A"], trainer.dataset.A.images[0].permute(1, 2, 0).numpy())
    assert np.array_equal(v.images["real_B"], trainer.dataset.B.images[0][0].numpy())
    assert live.graphs["G_A"].input_shape == (3, 32, 32) and live.graphs["G_B"].input_shape == (1, 32, 32)
