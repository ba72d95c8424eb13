"""The CycleGAN: G_A (A->B), G_B (B->A), D_A (judges B), D_B (judges A), their losses and one update.

Update order and loss names follow the reference implementation: generators first with both
discriminators frozen, then D_A and D_B on fakes drawn from image pools of past generator outputs.
"""
from __future__ import annotations

import logging
import random

import torch
from torch import nn
from torch.autograd.graph import increment_version

from cyclegan_workbench.models.config import RunConfig
from cyclegan_workbench.models.networks import build_discriminator, build_generator

log = logging.getLogger(__name__)

LOSS_NAMES = ("D_A", "G_A", "cycle_A", "idt_A", "D_B", "G_B", "cycle_B", "idt_B", "shape_A", "shape_B")
# Terms of the generator objective that are off unless their weight is set (plots hide them while zero).
OPTIONAL_LOSSES = (("idt_A", "idt_B"), ("shape_A", "shape_B"))


def _background(images: torch.Tensor) -> torch.Tensor:
    """Each image's background level per channel: the median of its border pixels, shape (N, C, 1, 1)."""
    border = torch.cat([images[..., 0, :], images[..., -1, :], images[..., :, 0], images[..., :, -1]], dim=-1)
    return border.median(dim=-1).values[..., None, None]


class GANLoss(nn.Module):
    """LSGAN (mean squared error to 1/0) or vanilla (BCE with logits) against a constant target."""

    def __init__(self, gan_mode: str = "lsgan"):
        super().__init__()
        if gan_mode == "lsgan":
            self.loss = nn.MSELoss()
        elif gan_mode == "vanilla":
            self.loss = nn.BCEWithLogitsLoss()
        else:
            raise ValueError(f"unknown gan mode {gan_mode!r}")

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.full_like(prediction, 1.0 if target_is_real else 0.0)
        return self.loss(prediction, target)


class ImagePool:
    """History of generated images: the discriminator sees older fakes too, which damps oscillation."""

    def __init__(self, size: int, seed: int = 0):
        self.size = size
        self.images: list[torch.Tensor] = []
        self.rng = random.Random(seed)

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif self.rng.random() > 0.5:
                i = self.rng.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        version, internal, gauss = self.rng.getstate()
        return {"images": [im.cpu() for im in self.images], "rng": [version, list(internal), gauss]}

    def load_state_dict(self, state: dict, device, image_shape: tuple[int, ...]) -> None:
        """Restore a saved pool of (1, *image_shape) fakes; ValueError when it cannot be this pool's."""
        images = list(state["images"])
        if len(images) > self.size or any(not isinstance(im, torch.Tensor) or tuple(im.shape) != (1, *image_shape)
                                          or not torch.isfinite(im).all() for im in images):
            raise ValueError(f"the image pool must hold at most {self.size} finite images of shape {image_shape}")
        self.images = [im.to(device) for im in images]
        version, internal, gauss = state["rng"]
        self.rng.setstate((version, tuple(internal), gauss))


def step_and_mark(optimizer: torch.optim.Optimizer) -> None:
    """`optimizer.step()`, then bump the version counter of every parameter it updated.

    Fused optimizers (torch's fused CPU Adam, for one) write parameters without bumping their version
    counters, and whatever caches on those counters (the live views' probes, prepacked kernels) would
    keep showing the first weights. Marking the parameters here makes every optimizer, ours or a
    user's, announce its writes the same way.
    """
    optimizer.step()
    for group in optimizer.param_groups:
        for p in group["params"]:
            increment_version(p)


def _weighted_mean(errors: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    return errors.mean() if weights is None else (errors * weights).mean()


def _as_floats(loss_D_A: torch.Tensor, loss_D_B: torch.Tensor, g_losses: dict) -> dict[str, float]:
    """The losses of LOSS_NAMES as floats, read off the device in one transfer."""
    named = {**g_losses, "D_A": loss_D_A, "D_B": loss_D_B}
    values = torch.stack([named[k] for k in LOSS_NAMES]).detach()
    return dict(zip(LOSS_NAMES, values.cpu().tolist()))


def _set_requires_grad(nets, flag: bool) -> None:
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)


class CycleGAN(nn.Module):
    """Holds the four networks, the pools and the optimizers; `optimize(real_A, real_B)` is one step."""

    def __init__(self, cfg: RunConfig, device: torch.device | str = "cpu"):
        super().__init__()
        self.cfg = cfg
        n, t = cfg.network, cfg.training
        self.device = torch.device(device)
        self.G_A = build_generator(n, n.input_nc, n.output_nc)
        self.G_B = build_generator(n, n.output_nc, n.input_nc)
        self.D_A = build_discriminator(n, n.output_nc)
        self.D_B = build_discriminator(n, n.input_nc)
        self.to(self.device)
        self.criterion_gan = GANLoss(t.gan_mode)
        self.criterion_cycle = nn.L1Loss()
        self.lambda_identity = t.lambda_identity
        if self.lambda_identity > 0 and n.input_nc != n.output_nc:
            log.info("identity loss turned off: domain A has %d channel(s) and domain B %d, so a "
                     "generator cannot take an image of its own output domain", n.input_nc, n.output_nc)
            self.lambda_identity = 0.0
        self.pool_A = ImagePool(t.pool_size, seed=t.seed * 2 + 1)  # fakes of domain A, for D_B
        self.pool_B = ImagePool(t.pool_size, seed=t.seed * 2 + 2)  # fakes of domain B, for D_A
        # Instance norm and no norm treat every sample on its own, so calls on the same network
        # can share one batch; batch norm cannot (its statistics would mix the images).
        self._batch_calls = n.norm != "batch"
        # Std of the cycle noise added to a translation into each domain; set_contrasts scales it.
        self.noise_sigma = {"A": t.cycle_noise, "B": t.cycle_noise}
        self.contrast = {"A": 1.0, "B": 1.0}
        fused = self.device.type in ("cpu", "cuda")
        lr_d = t.lr * t.lr_D_scale
        self.optimizer_G = torch.optim.Adam(list(self.G_A.parameters()) + list(self.G_B.parameters()),
                                            lr=t.lr, betas=(t.beta1, 0.999), fused=fused)
        self.optimizer_D = torch.optim.Adam(list(self.D_A.parameters()) + list(self.D_B.parameters()),
                                            lr=lr_d, betas=(t.beta1, 0.999), fused=fused)
        self.schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, self._lr_factor)
                           for opt in (self.optimizer_G, self.optimizer_D)]
        # Data-parallel training (models.distributed) puts DistributedDataParallel wrappers of the two halves of
        # a step here ("G", "D") and draws the cycle noise for the whole global batch; one process calls
        # generator_objective and discriminator_objective itself.
        self.parallel_steps: dict[str, nn.Module] = {}
        self.noise_like = torch.randn_like

    def set_contrasts(self, contrasts: dict[str, float]) -> None:
        """Scale the cycle noise to each domain's contrast (data.unaligned.contrast).

        The noise must drown whatever a generator hides in low-amplitude patterns but not the figures
        themselves: an absolute std that suits gray 128 on black (contrast 1.0) covers gray 40 figures
        (contrast 0.31) completely, and the other generator can then learn nothing from their shape.
        """
        t = self.cfg.training
        self.noise_sigma = {d: t.cycle_noise * float(contrasts[d]) for d in ("A", "B")}
        self.contrast = {d: float(contrasts[d]) for d in ("A", "B")}

    def _lr_factor(self, epoch: int) -> float:
        """Constant for n_epochs, then linear decay to zero over n_epochs_decay (epoch counted from 0)."""
        t = self.cfg.training
        return 1.0 - max(0, epoch + 1 - t.n_epochs) / float(t.n_epochs_decay + 1)

    # ----------------------------------------------------------------------------------------------
    def translate(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict[str, torch.Tensor]:
        """The four generator passes of a cycle: fake_B, rec_A, fake_A, rec_B."""
        fake_B = self.G_A(real_A)
        if self._batch_calls:
            k = fake_B.shape[0]
            out = self.G_B(torch.cat([self._perturb(fake_B, "B"), real_B], 0))
            rec_A, fake_A = out[:k], out[k:]
        else:
            rec_A = self.G_B(self._perturb(fake_B, "B"))
            fake_A = self.G_B(real_B)
        rec_B = self.G_A(self._perturb(fake_A, "A"))
        return {"fake_B": fake_B, "rec_A": rec_A, "fake_A": fake_A, "rec_B": rec_B}

    def _perturb(self, fake: torch.Tensor, domain: str) -> torch.Tensor:
        sigma, jitter = self.noise_sigma[domain], self.cfg.training.cycle_gain_jitter
        share = self.cfg.training.cycle_encoder_weight
        if share < 1:
            # Same values; only `share` of the cycle loss's gradient reaches the generator that made `fake`.
            fake = share * fake + (1 - share) * fake.detach() if share > 0 else fake.detach()
        if not self.training:
            return fake
        if jitter:
            # A random contrast per image: a colour hidden in the translation's level (red circles a little
            # darker than green triangles) no longer tells the classes apart; only the shape still does.
            mean = fake.mean(dim=(2, 3), keepdim=True)
            gain = torch.exp(jitter * self.noise_like(mean[:, :1]))
            fake = mean + gain * (fake - mean)
        return fake + sigma * self.noise_like(fake) if sigma else fake

    def _discriminate_pair(self, net: nn.Module, real: torch.Tensor, fake: torch.Tensor):
        if self._batch_calls:
            out = net(torch.cat([real, fake], 0))
            return out[: real.shape[0]], out[real.shape[0]:]
        return net(real), net(fake)

    def _discriminator_loss(self, net, real, fake) -> torch.Tensor:
        # The reals the fakes are compared with keep the margin too: matching exactly black or full colour
        # would drive the generators' output layer into saturation as surely as an L1 target there.
        pred_real, pred_fake = self._discriminate_pair(net, self._cycle_target(real), fake.detach())
        return 0.5 * (self.criterion_gan(pred_real, True) + self.criterion_gan(pred_fake, False))

    def _cycle_target(self, real: torch.Tensor) -> torch.Tensor:
        """The real image, kept `cycle_margin` inside the generator's tanh range (as a cycle target, and as the
        real image a discriminator compares fakes with).

        A tanh never reaches -1 or 1, so an L1 target at exactly black or full colour (most pixels of a
        toy image) pulls the last layer's pre-activations towards infinity for as long as training
        runs; channels driven deep into saturation then barely learn (a colour that is never painted).
        A discriminator shown exact blacks pushes the fakes the same way (measured on three classes: G_B's
        figures at pre-activations of -6 to -29, black, for 40 epochs).
        """
        m = self.cfg.training.cycle_margin
        return real.clamp(-1 + m, 1 - m) if m else real

    def _cycle_loss(self, rec: torch.Tensor, real: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
        """The mean absolute (l1) or squared (l2, `cycle_loss`) error of a reconstruction against its real image,
        weighted by `weights` (see `_pixel_weights`)."""
        error = rec - self._cycle_target(real)
        return _weighted_mean(error.square() if self.cfg.training.cycle_loss == "l2" else error.abs(), weights)

    def _pixel_weights(self, real: torch.Tensor, domain: str) -> torch.Tensor | None:
        """Per-pixel weights of the losses on `real` (an image of `domain`): with `cycle_balance` b, its figure and
        its background pixels weigh (1 - b) + b x half of the mean each, however small the figures; None when
        b is 0 (a plain mean, the paper's).

        Small figures cover a few % of the image, so in a plain mean the pixels that carry the class colour
        hardly count, and a colour the generator does not paint yet gets almost no gradient.
        """
        b = self.cfg.training.cycle_balance
        if not b:
            return None
        figure = (self._silhouette(real, domain) > 0.5).float()  # stands out by half the domain's contrast
        share = figure.mean(dim=(2, 3), keepdim=True).clamp(0.01, 0.99)
        balanced = figure * (0.5 / share) + (1 - figure) * (0.5 / (1 - share))
        return (1 - b) + b * balanced

    def _silhouette(self, images: torch.Tensor, domain: str, background: torch.Tensor | None = None) -> torch.Tensor:
        """How far each pixel stands out from the background (by default the image's own), in units of the
        domain's contrast."""
        background = _background(images) if background is None else background
        deviation = (images - background).square().mean(dim=1, keepdim=True)
        return (deviation + 1e-6).sqrt() / max(self.contrast[domain], 1e-3)

    def _shape_loss(self, fake, fake_domain, real, real_domain, fake_domain_reals, weights) -> torch.Tensor:
        """Where and how much the translation `fake` stands out must be where and how much its input `real` does.

        The translation is measured against its domain's background (the median border of that domain's real
        images in the batch, within the margin), not its own: measured against itself, a translation with a
        light background and dark figures (a negative) would satisfy the loss too, and the loss would then
        push its figures ever darker, deep into the tanh's saturation (seen on three classes).
        """
        # Both measured within the margin, where the generators aim.
        background = _background(self._cycle_target(fake_domain_reals)).median(dim=0, keepdim=True).values
        errors = (self._silhouette(fake, fake_domain, background)
                  - self._silhouette(self._cycle_target(real), real_domain).detach()).abs()
        return _weighted_mean(errors, weights)

    def generator_losses(self, real_A, real_B, visuals) -> dict[str, torch.Tensor]:
        t = self.cfg.training
        zero = real_A.new_zeros(())
        weights = {"A": self._pixel_weights(real_A, "A"), "B": self._pixel_weights(real_B, "B")}
        losses = {
            "G_A": self.criterion_gan(self.D_A(visuals["fake_B"]), True),
            "G_B": self.criterion_gan(self.D_B(visuals["fake_A"]), True),
            "cycle_A": self._cycle_loss(visuals["rec_A"], real_A, weights["A"]) * t.lambda_A,
            "cycle_B": self._cycle_loss(visuals["rec_B"], real_B, weights["B"]) * t.lambda_B,
            "idt_A": zero,
            "idt_B": zero,
            "shape_A": zero,
            "shape_B": zero,
        }
        if t.lambda_shape > 0:
            losses["shape_A"] = (self._shape_loss(visuals["fake_B"], "B", real_A, "A", real_B, weights["A"])
                                 * t.lambda_shape)
            losses["shape_B"] = (self._shape_loss(visuals["fake_A"], "A", real_B, "B", real_A, weights["B"])
                                 * t.lambda_shape)
        if self.lambda_identity > 0:
            losses["idt_A"] = (self.criterion_cycle(self.G_A(real_B), self._cycle_target(real_B))
                               * t.lambda_B * self.lambda_identity)
            losses["idt_B"] = (self.criterion_cycle(self.G_B(real_A), self._cycle_target(real_A))
                               * t.lambda_A * self.lambda_identity)
        return losses

    def generator_objective(self, real_A: torch.Tensor, real_B: torch.Tensor):
        """The generators' half of a step: the four translations and the generator losses."""
        visuals = self.translate(real_A, real_B)
        return visuals, self.generator_losses(real_A, real_B, visuals)

    def discriminator_objective(self, real_A: torch.Tensor, real_B: torch.Tensor, visuals: dict[str, torch.Tensor]):
        """The discriminators' half: D_A and D_B on real images and on fakes drawn from the image pools."""
        loss_D_A = self._discriminator_loss(self.D_A, real_B, self.pool_B.query(visuals["fake_B"]))
        loss_D_B = self._discriminator_loss(self.D_B, real_A, self.pool_A.query(visuals["fake_A"]))
        return loss_D_A, loss_D_B

    def optimize(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict[str, float]:
        """One CycleGAN update; returns the eight losses as floats."""
        real_A = real_A.to(self.device, non_blocking=True)
        real_B = real_B.to(self.device, non_blocking=True)

        _set_requires_grad((self.D_A, self.D_B), False)
        self.optimizer_G.zero_grad(set_to_none=True)
        visuals, g_losses = self.parallel_steps.get("G", self.generator_objective)(real_A, real_B)
        sum(g_losses.values()).backward()
        step_and_mark(self.optimizer_G)

        _set_requires_grad((self.D_A, self.D_B), True)
        self.optimizer_D.zero_grad(set_to_none=True)
        loss_D_A, loss_D_B = self.parallel_steps.get("D", self.discriminator_objective)(real_A, real_B, visuals)
        (loss_D_A + loss_D_B).backward()
        step_and_mark(self.optimizer_D)

        self.last_visuals = {k: v.detach() for k, v in visuals.items()}
        return _as_floats(loss_D_A, loss_D_B, g_losses)

    @torch.no_grad()
    def test_losses(self, real_A: torch.Tensor, real_B: torch.Tensor) -> dict[str, float]:
        """Losses on held-out images without any update (discriminators judge real vs direct fakes)."""
        real_A, real_B = real_A.to(self.device), real_B.to(self.device)
        visuals = self.translate(real_A, real_B)
        self.last_test_visuals = visuals
        g = self.generator_losses(real_A, real_B, visuals)
        d_a = self._discriminator_loss(self.D_A, real_B, visuals["fake_B"])
        d_b = self._discriminator_loss(self.D_B, real_A, visuals["fake_A"])
        return _as_floats(d_a, d_b, g)

    def step_schedulers(self) -> None:
        for s in self.schedulers:
            s.step()

    @property
    def learning_rate(self) -> float:
        return self.optimizer_G.param_groups[0]["lr"]

    def networks(self) -> dict[str, nn.Module]:
        return {"G_A": self.G_A, "G_B": self.G_B, "D_A": self.D_A, "D_B": self.D_B}
