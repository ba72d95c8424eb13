"""Numbers checked against independent computations: one CycleGAN.optimize step against the same step
written out from the paper's equations, and SSIM against scikit-image.

The independent version below shares nothing with models/cyclegan.py but the initial weights: its own
loss formulas (LSGAN squared errors, L1 cycle and identity terms with their weights, the discriminators'
halved real/fake loss), its own update order (generators against the discriminators as they were, then
the discriminators on the generators' pre-update fakes) and Adam's first step written out
(p - lr * g / (|g| + eps): with bias correction, step 1 is that for any beta).
"""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from cyclegan_workbench.models.cyclegan import LOSS_NAMES, CycleGAN
from tests.conftest import tiny_config

LR, LR_D_SCALE, LAMBDA_A, LAMBDA_B, LAMBDA_IDT, MARGIN, EPS = 3e-4, 2.0, 10.0, 7.0, 0.5, 0.05, 1e-8


def independent_step(nets: dict[str, torch.nn.Module], A: torch.Tensor, B: torch.Tensor):
    """Losses, generator gradients and discriminator gradients of one step, from the equations."""
    G_A, G_B, D_A, D_B = (nets[k] for k in ("G_A", "G_B", "D_A", "D_B"))
    target_A, target_B = A.clamp(-1 + MARGIN, 1 - MARGIN), B.clamp(-1 + MARGIN, 1 - MARGIN)
    fake_B, fake_A = G_A(A), G_B(B)
    rec_A, rec_B = G_B(fake_B), G_A(fake_A)
    losses = {
        "G_A": ((D_A(fake_B) - 1) ** 2).mean(),
        "G_B": ((D_B(fake_A) - 1) ** 2).mean(),
        "cycle_A": LAMBDA_A * (rec_A - target_A).abs().mean(),
        "cycle_B": LAMBDA_B * (rec_B - target_B).abs().mean(),
        "idt_A": LAMBDA_B * LAMBDA_IDT * (G_A(B) - target_B).abs().mean(),
        "idt_B": LAMBDA_A * LAMBDA_IDT * (G_B(A) - target_A).abs().mean(),
        "shape_A": torch.zeros(()),  # off in the paper (tests/test_robust_learning.py checks the shape losses)
        "shape_B": torch.zeros(()),
    }
    g_params = list(G_A.parameters()) + list(G_B.parameters())
    g_grads = torch.autograd.grad(sum(losses.values()), g_params)
    d_params = list(D_A.parameters()) + list(D_B.parameters())
    # The discriminators see the reals within the margin, as the cycle losses aim.
    losses["D_A"] = 0.5 * (((D_A(target_B) - 1) ** 2).mean() + (D_A(fake_B.detach()) ** 2).mean())
    losses["D_B"] = 0.5 * (((D_B(target_A) - 1) ** 2).mean() + (D_B(fake_A.detach()) ** 2).mean())
    d_grads = torch.autograd.grad(losses["D_A"] + losses["D_B"], d_params)
    return {k: float(v.detach()) for k, v in losses.items()}, g_grads, d_grads


@pytest.fixture
def model():
    cfg = tiny_config("/unused", lr=LR, lr_D_scale=LR_D_SCALE, lambda_A=LAMBDA_A, lambda_B=LAMBDA_B,
                      lambda_identity=LAMBDA_IDT, cycle_noise=0.0, cycle_margin=MARGIN, pool_size=4,
                      lambda_shape=0.0, cycle_balance=0.0, cycle_encoder_weight=1.0, cycle_loss="l1")
    cfg.network.input_nc = cfg.network.output_nc = 3
    torch.manual_seed(0)
    return CycleGAN(cfg)


def test_one_step_matches_the_paper_written_out(model):
    g = torch.Generator().manual_seed(1)
    A, B = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1, torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    before = {k: copy.deepcopy(v) for k, v in model.networks().items()}
    expected, g_grads, d_grads = independent_step(before, A, B)

    got = model.optimize(A, B)
    assert set(got) == set(LOSS_NAMES)
    for name in LOSS_NAMES:
        assert got[name] == pytest.approx(expected[name], rel=1e-5, abs=1e-6), name

    def assert_adam_first_step(nets, grads, lr):
        params0 = [p for k in nets for p in before[k].parameters()]
        params1 = [p for k in nets for p in model.networks()[k].parameters()]
        compared = 0
        for p0, p1, grad in zip(params0, params1, grads, strict=True):
            step = lr * grad / (grad.abs() + EPS)
            # Where the true gradient is zero (a conv bias before instance norm, which removes any
            # constant), both computations hold rounding noise that Adam scales up to +-lr: only that
            # bound holds there.
            defined = grad.abs() > 1e-4  # the noise stays below 1e-5
            p0, p1 = p0.detach(), p1.detach()
            torch.testing.assert_close(p1[defined], (p0 - step)[defined], rtol=1e-5, atol=1e-7)
            assert ((p1 - p0)[~defined].abs() <= lr * 1.0001).all()
            compared += int(defined.sum())
        assert compared > 100

    assert_adam_first_step(("G_A", "G_B"), g_grads, LR)
    assert_adam_first_step(("D_A", "D_B"), d_grads, LR * LR_D_SCALE)


def test_the_losses_are_not_all_zero_so_the_comparison_means_something(model):
    A = torch.rand(1, 3, 32, 32) * 2 - 1
    losses, _, _ = independent_step(model.networks(), A, A.flip(2))
    assert all(v > 1e-4 for k, v in losses.items() if not k.startswith("shape")), losses
    assert F.l1_loss(model.G_A(A), A) > 0.01


@pytest.mark.parametrize("channels", [1, 3])
def test_ssim_agrees_with_scikit_image(channels):
    """Our batched SSIM against scikit-image's structural_similarity with the paper's settings (Gaussian
    window sigma 1.5, population covariance, data range 1)."""
    from skimage.metrics import structural_similarity

    from cyclegan_workbench.models.evaluation import ssim

    g = torch.Generator().manual_seed(channels)
    x = torch.rand(3, channels, 40, 48, generator=g) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    y[1] = x[1]  # identical images: SSIM 1
    ours = ssim(x, y)
    for i in range(3):
        a, b = ((t[i].permute(1, 2, 0).double().numpy() + 1) / 2 for t in (x, y))
        theirs = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, channel_axis=2)
        assert float(ours[i]) == pytest.approx(theirs, abs=1e-5), i
    assert float(ours[1]) == pytest.approx(1.0, abs=1e-6) and float(ours[0]) < 0.9
