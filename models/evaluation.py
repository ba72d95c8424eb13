"""Held-out measures of a CycleGAN: test-set losses, SSIM of the cycle reconstructions, colourization accuracy
(ColourizationProbe: data.scoring's score of the gray -> RGB generator's outputs)."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import to_image
from cyclegan_workbench.data.labels import probe_set
from cyclegan_workbench.data.scoring import ScoreResult, score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet

TABLE_COLUMNS = ("D_A", "D_B", "G_A", "G_B", "Cycle_A", "Cycle_B", "Total")


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return torch.outer(g, g)


def ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) per image of two [-1, 1] batches."""
    x, y = (x.float() + 1) / 2, (y.float() + 1) / 2
    c = x.shape[1]
    size = min(11, x.shape[-1], x.shape[-2])
    window = _gaussian_window(size).to(x.device).expand(c, 1, size, size)

    def blur(t):
        return F.conv2d(t, window, groups=c)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x ** 2
    var_y = blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return s.flatten(1).mean(1)


@torch.no_grad()
def evaluate_losses(model, batches) -> dict[str, float]:
    """Mean test losses over (A, B) batches: the researchers' table (D_A ... Total) plus SSIM_A/SSIM_B.

    Total is the paper's generator objective: G_A + G_B + Cycle_A + Cycle_B (+ identity terms when enabled); the
    shape terms of the default preset are reported apart (shape_A, shape_B), so Totals stay comparable with
    the paper's.
    """
    sums: dict[str, float] = {}
    count = 0
    was_training = model.training
    model.eval()
    try:
        for real_A, real_B in batches:
            real_A, real_B = real_A.to(model.device), real_B.to(model.device)
            n = real_A.shape[0]
            losses = model.test_losses(real_A, real_B)
            visuals = model.last_test_visuals
            losses["SSIM_A"] = float(ssim(visuals["rec_A"], real_A).mean())
            losses["SSIM_B"] = float(ssim(visuals["rec_B"], real_B).mean())
            for k, v in losses.items():
                sums[k] = sums.get(k, 0.0) + v * n
            count += n
    finally:
        model.train(was_training)
    if not count:
        raise UserError("the test split has no images to evaluate")
    mean = {k: v / count for k, v in sums.items()}
    table = {"D_A": mean["D_A"], "D_B": mean["D_B"], "G_A": mean["G_A"], "G_B": mean["G_B"],
             "Cycle_A": mean["cycle_A"], "Cycle_B": mean["cycle_B"]}
    table["Total"] = table["G_A"] + table["G_B"] + table["Cycle_A"] + table["Cycle_B"] + mean["idt_A"] + mean["idt_B"]
    table.update(idt_A=mean["idt_A"], idt_B=mean["idt_B"], shape_A=mean["shape_A"], shape_B=mean["shape_B"],
                 SSIM_A=mean["SSIM_A"], SSIM_B=mean["SSIM_B"])
    return table


@torch.no_grad()
def generator_outputs(generator, images: torch.Tensor, device="cpu", batch_size: int = 32) -> list:
    """H x W x 3 uint8 outputs of `generator` for `images` (N, C, H, W) in [-1, 1], run in eval mode in
    batches (its train/eval state is restored after)."""
    was_training = generator.training
    generator.eval()
    outputs = []
    try:
        for start in range(0, len(images), batch_size):
            outputs.extend(to_image(o) for o in generator(images[start:start + batch_size].to(device)))
    finally:
        generator.train(was_training)
    return outputs


class ColourizationProbe:
    """A run's held-out colourization score: the ScoringSet of its dataset's test split, and the gray -> RGB
    generator run over it. Built once per run (images decoded once); `accuracy(generator)` is cheap enough
    to call every epoch."""

    def __init__(self, scoring: ScoringSet):
        self.scoring = scoring

    @property
    def gray_domain(self) -> str:
        return self.scoring.gray_domain

    @property
    def classes(self) -> list[str]:
        return self.scoring.classes

    @property
    def note(self) -> str:
        """What the user should know about the score (images it leaves out)."""
        return self.scoring.note

    @classmethod
    def create(cls, dataroot: str | Path, size: int, split: str = "test", limit: int | None = None):
        """The probe of a generated dataset (its manifest) or, for any other dataset, of its class sub-folders
        or file-name prefixes (data.labels); else a sentence saying why there is none."""
        root = Path(dataroot)
        if not (root / "manifest.json").is_file():
            found = probe_set(root, size, split, limit)
            return found if isinstance(found, str) else cls(found)
        try:
            return cls(ScoringSet.from_dataset(root, size, split, limit))
        except UserError as exc:  # the accuracy is optional: the training reports a broken split on its own
            return f"no accuracy: {exc}"

    def accuracy(self, generator, device="cpu", batch_size: int = 32) -> ScoreResult:
        """The ScoreResult of `generator` (the gray->RGB one) on the probe images."""
        return score_outputs(generator_outputs(generator, self.scoring.images, device, batch_size), self.scoring)
