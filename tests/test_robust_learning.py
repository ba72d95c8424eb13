"""What the defaults rely on to learn on any toy dataset: contrast-scaled cycle noise, and plain words when
a run has not learned the colourization (every shape one colour) for many epochs."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from cyclegan_workbench.app.main import main
from cyclegan_workbench.data.scoring import ScoreResult
from cyclegan_workbench.data.shapes import ShapeDatasetParams, generate_dataset
from cyclegan_workbench.data.unaligned import contrast
from cyclegan_workbench.models.collapse import CollapseWatch
from cyclegan_workbench.models.cyclegan import CycleGAN
from tests.conftest import tiny_config
from tests.test_training_cli import TINY


def images_with(level: int, background: int = 0, noise: float = 0.0, radius: int = 10, n: int = 6) -> torch.Tensor:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    out = []
    for _ in range(n):
        image = np.full((64, 64), float(background))
        image[(yy - 32) ** 2 + (xx - 32) ** 2 <= radius ** 2] = level
        image += rng.normal(0, noise, image.shape)
        out.append(np.clip(np.rint(image), 0, 255))
    return torch.from_numpy(np.stack(out)[:, None].astype(np.uint8))


@pytest.mark.parametrize("level, background, expected", [(128, 0, 1.0), (40, 0, 0.31), (82, 200, 0.93), (200, 0, 1.57)])
def test_contrast_is_the_figure_background_difference(level, background, expected):
    assert contrast(images_with(level, background)) == pytest.approx(expected, abs=0.01)


def test_contrast_barely_moves_with_pixel_noise_and_keeps_small_figures():
    assert contrast(images_with(82, noise=10.0)) == pytest.approx(82 / 127.5, abs=0.1)
    assert contrast(images_with(128, radius=3)) == pytest.approx(1.0, abs=0.05)
    red = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    red[:, 0, 8:24, 8:24] = 255
    assert contrast(red) == pytest.approx(2 / 3 ** 0.5, abs=0.01)  # per channel: root mean square


def test_the_cycle_noise_of_each_domain_is_a_share_of_its_contrast():
    cfg = tiny_config("", cycle_noise=0.5)
    cfg.network.input_nc, cfg.network.output_nc = 3, 1
    model = CycleGAN(cfg)
    model.set_contrasts({"A": 1.2, "B": 0.3})
    assert model.noise_sigma == pytest.approx({"A": 0.6, "B": 0.15})
    fake = torch.zeros(64, 1, 32, 32)
    assert model._perturb(fake, "B").std().item() == pytest.approx(0.15, rel=0.05)
    model.eval()
    assert torch.equal(model._perturb(fake, "B"), fake)  # never at evaluation


def score(confusion: dict[str, dict[str, int]]) -> ScoreResult:
    n = sum(sum(row.values()) for row in confusion.values())
    correct = sum(row.get(k, 0) for k, row in confusion.items())
    return ScoreResult(correct / n, {}, confusion, n, [])


ONE_COLOUR = {"circle": {"circle": 10}, "triangle": {"circle": 10}}
LEARNED = {"circle": {"circle": 10}, "triangle": {"triangle": 9, "circle": 1}}


def test_a_collapse_is_reported_after_patience_then_every_repeat_and_forgotten_once_learned():
    watch = CollapseWatch(patience=3, repeat=2)
    said = [watch.update(score(ONE_COLOUR)) for _ in range(7)]
    assert [s is not None for s in said] == [False, False, True, False, True, False, True]
    assert said[2].epochs == 3 and said[2].colour == "circle" and said[2].chance == 0.5
    assert "'circle'" in said[2].message and "accuracy 50%" in said[2].message
    assert watch.update(score(LEARNED)) is None and watch.streak == 0
    restored = CollapseWatch(patience=3, repeat=2)
    restored.load_state_dict({"streak": 2})
    assert restored.update(score(ONE_COLOUR)) is not None  # resumes count on


def test_near_chance_without_one_colour_counts_as_collapse():
    mixed = {"circle": {"circle": 5, "triangle": 5}, "triangle": {"circle": 5, "triangle": 5}}
    watch = CollapseWatch(patience=1)
    said = watch.update(score(mixed))
    assert said is not None and said.colour is None and "no better than chance" in said.message


def test_the_command_line_says_when_a_run_paints_every_shape_one_colour(toy_dataset, tmp_path, capsys):
    # A learning rate too small to learn anything in 10 epochs: the generator stays where it started.
    args = ["train", str(toy_dataset), "--out", str(tmp_path / "run"), "--epochs", "10", "--epochs-decay", "0",
            "--lr", "1e-9", "--cycle-noise", "0.3", "--cycle-margin", "0.1", *TINY]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "cycle noise std" in err and "0.3 of the contrast" in err
    assert "warning: no colourization yet: for 10 epochs" in err
    from cyclegan_workbench.models import checkpoints

    saved = checkpoints.load_config(tmp_path / "run").training
    assert (saved.cycle_noise, saved.cycle_margin) == (0.3, 0.1)


def test_a_dataset_without_manifest_gets_accuracy_from_class_names(toy_dataset, tmp_path, capsys):
    plain = tmp_path / "plain"
    shutil.copytree(toy_dataset, plain)
    (plain / "manifest.json").unlink()  # file names keep their class prefix: circle_0001.png
    assert main(["train", str(plain), "--out", str(tmp_path / "run"), "--epochs", "1", "--epochs-decay", "0",
                 *TINY]) == 0
    err = capsys.readouterr().err
    assert "colourization accuracy" in err and "no accuracy" not in err and "left out" not in err

    (plain / "testB" / "circle_0000.png").rename(plain / "testB" / "0000.png")  # one name without a class
    assert main(["train", str(plain), "--out", str(tmp_path / "run1"), "--epochs", "1", "--epochs-decay", "0",
                 *TINY]) == 0
    assert "1 name none and are left out" in capsys.readouterr().err

    for domain in ("trainA", "trainB", "testA", "testB"):
        for i, path in enumerate(sorted((plain / domain).iterdir())):
            path.rename(path.with_name(f"{i:04d}{path.suffix}"))
    assert main(["train", str(plain), "--out", str(tmp_path / "run2"), "--epochs", "1", "--epochs-decay", "0",
                 *TINY]) == 0
    err = capsys.readouterr().err
    assert "no accuracy:" in err and "colourization accuracy" not in err


def test_a_non_default_gray_level_dataset_is_generated_with_its_contrast(tmp_path):
    data = generate_dataset(ShapeDatasetParams(size=32, gray_level=82, train_per_class=4, test_per_class=2),
                            tmp_path / "d")
    from cyclegan_workbench.data.unaligned import UnalignedDataset

    assert UnalignedDataset(data, load_size=32, crop_size=32).contrasts()["B"] == pytest.approx(82 / 127.5, abs=0.02)


def test_the_cycle_loss_aims_a_margin_inside_the_tanh_range():
    cfg = tiny_config("", cycle_margin=0.05)
    cfg.network.input_nc, cfg.network.output_nc = 3, 1
    model = CycleGAN(cfg)
    real = torch.tensor([-1.0, -0.5, 0.0, 1.0]).view(1, 1, 2, 2)
    assert model._cycle_target(real).flatten().tolist() == pytest.approx([-0.95, -0.5, 0.0, 0.95])
    # Black asked of a saturated output: without the margin every step pushes the pre-activation further
    # towards -infinity; with it, an output beyond the target is pulled back out of saturation.
    black = -torch.ones(1, 1, 2, 2)
    for margin, descent_direction in ((0.0, -1.0), (0.05, 1.0)):
        model.cfg.training.cycle_margin = margin
        pre = torch.full((1, 1, 2, 2), -2.5, requires_grad=True)
        torch.nn.functional.l1_loss(torch.tanh(pre), model._cycle_target(black)).backward()
        assert torch.all(torch.sign(-pre.grad) == descent_direction)


def test_the_default_preset_relies_on_settings_a_user_can_see():
    from cyclegan_workbench.models.config import DEFAULT_PRESET, preset_config

    t = preset_config(DEFAULT_PRESET).training
    assert t.cycle_noise > 0 and t.cycle_margin > 0
