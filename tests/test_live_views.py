"""Live views follow the weights: after any optimizer's step, a probe shows the new weights' output.

Fused optimizers (torch's fused CPU Adam) write parameters without bumping their version counters, which
once froze the Train tab's fake images and feature maps at their first frame while the model learned.
"""
from __future__ import annotations

import copy

import pytest
import torch

from cyclegan_workbench.models.cyclegan import CycleGAN
from cyclegan_workbench.visualization.parser import parse_generator
from cyclegan_workbench.visualization.probe import Probe
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
