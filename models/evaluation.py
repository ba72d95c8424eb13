"""Held-out measures of a CycleGAN: test-set losses, SSIM of the cycle reconstructions, colourization accuracy."""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import to_image
from cyclegan_workbench.data.unaligned import domain_folder, load_domain

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

    Total is the generator objective: G_A + G_B + Cycle_A + Cycle_B (+ identity terms when enabled).
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
    table.update(idt_A=mean["idt_A"], idt_B=mean["idt_B"], SSIM_A=mean["SSIM_A"], SSIM_B=mean["SSIM_B"])
    return table


class ColourizationProbe:
    """Scores gray->RGB translations of a toy dataset's test split against its manifest.

    Built once per run (images decoded once); `accuracy(generator)` is cheap enough to call every epoch.
    `create` reads classes, colours and masks from a generated dataset's manifest or, for any other
    dataset, from class sub-folders or file-name prefixes (data.labels); it returns a sentence saying why
    when neither is there.
    """

    def __init__(self, gray_domain: str, images: torch.Tensor, raw_gray: list, classes: list[str],
                 class_colors: dict, gray_level: int, masks: list | None = None, note: str = ""):
        self.gray_domain = gray_domain
        self.images, self.raw_gray, self.classes = images, raw_gray, classes
        self.class_colors, self.gray_level, self.masks = class_colors, gray_level, masks
        self.note = note  # what the user should know about the score (images it leaves out)

    @classmethod
    def create(cls, dataroot: str | Path, size: int, split: str = "test", limit: int | None = None):
        from cyclegan_workbench.data.scoring import geometry_mask
        from cyclegan_workbench.data.shapes import ShapeDatasetParams, load_manifest

        root = Path(dataroot)
        if not (root / "manifest.json").is_file():
            from cyclegan_workbench.data.labels import probe_set

            found = probe_set(root, size, split, limit)
            if isinstance(found, str):
                return found
            note = ""
            if found.unlabelled:
                note = (f"the accuracy scores the {len(found.classes)} test images whose names give a class; "
                        f"{found.unlabelled} name none and are left out")
            return cls(found.gray_domain, found.images, found.raw_gray, found.classes, found.class_colors,
                       found.gray_level, found.masks, note)
        manifest = load_manifest(root)
        params = manifest.get("params", {})
        gray_domain = "B" if params.get("rgb_domain", "A") == "A" else "A"
        folder = domain_folder(root, split, gray_domain)
        rows = {Path(r["file"]).stem: r for r in manifest["images"]
                if r.get("domain") == gray_domain and r.get("split") == split}
        domain = load_domain(folder, 1, size)
        keep = [i for i, p in enumerate(domain.paths) if p.stem in rows]
        if limit:
            keep = keep[:limit]
        if not keep:
            return f"no accuracy: the manifest of {root} lists none of the images in {folder}"
        images = domain.images[keep].float().div(127.5).sub(1.0)
        raw = [domain.images[i, 0].numpy() for i in keep]
        classes = [rows[domain.paths[i].stem]["shape"] for i in keep]
        colors = {k: tuple(v) for k, v in manifest["class_colors"].items()}
        # Masks from the recorded geometry: exact at any training size, where masks found in small,
        # resized gray images lose thin or small shapes.
        geometry = ShapeDatasetParams.from_dict(params)
        masks = [geometry_mask(rows[domain.paths[i].stem], geometry, size) for i in keep]
        return cls(gray_domain, images, raw, classes, colors, int(params.get("gray_level", 128)), masks)

    @torch.no_grad()
    def accuracy(self, generator, device="cpu", batch_size: int = 32):
        """The ScoreResult of `generator` (the gray->RGB one) on the probe images."""
        from cyclegan_workbench.data.scoring import score_images

        was_training = generator.training
        generator.eval()
        outputs = []
        try:
            for start in range(0, len(self.images), batch_size):
                out = generator(self.images[start:start + batch_size].to(device))
                outputs.extend(to_image(o) for o in out)
        finally:
            generator.train(was_training)
        return score_images(self.raw_gray, outputs, self.classes, self.class_colors, gray_level=self.gray_level,
                            masks=self.masks)
