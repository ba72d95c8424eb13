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
            "--lr", "1e-9", "--cycle-noise", "0.3", "--cycle-margin", "0.1", "--shape-weight", "3",
            "--cycle-balance", "0.5", "--cycle-encoder-weight", "0.2", "--cycle-loss", "l1", *TINY]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "cycle noise std" in err and "0.3 of the contrast" in err
    assert "warning: no colourization yet: for 10 epochs" in err
    from cyclegan_workbench.models import checkpoints

    saved = checkpoints.load_config(tmp_path / "run").training
    assert (saved.cycle_noise, saved.cycle_margin, saved.lambda_shape, saved.cycle_balance,
            saved.cycle_encoder_weight, saved.cycle_loss) == (0.3, 0.1, 3.0, 0.5, 0.2, "l1")


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
    assert t.cycle_noise > 0 and t.cycle_margin > 0 and t.lambda_shape > 0 and t.cycle_balance > 0
    assert t.cycle_loss == "l2"


def test_with_the_l2_cycle_loss_a_generator_that_cannot_tell_shapes_apart_mixes_the_colours():
    """One output colour for figures of three classes (what a generator paints before it tells shapes apart):
    under l1 painting them all blue costs no more than their mean colour (nothing pulls a generator off one
    colour); under l2 the mean costs half as much, so a single colour is not a resting place."""
    cfg = tiny_config("", cycle_margin=0.0)
    cfg.network.input_nc, cfg.network.output_nc = 1, 3
    model = CycleGAN(cfg)
    targets = torch.eye(3).view(3, 3, 1, 1) * 2 - 1  # a red, a green and a blue figure pixel

    def loss(kind, colour):
        model.cfg.training.cycle_loss = kind
        return model._cycle_loss(torch.tensor(colour).view(1, 3, 1, 1).expand(3, 3, 1, 1), targets, None).item()

    blue, mixed = [-1.0, -1.0, 1.0], [-1 / 3, -1 / 3, -1 / 3]
    assert loss("l1", blue) == pytest.approx(loss("l1", mixed))
    assert loss("l2", mixed) == pytest.approx(loss("l2", blue) / 2)


def figure_images(kind: str, colour=(255, 255, 255), background=0, channels=3, size=32) -> torch.Tensor:
    """One image in [-1, 1]: a disc or a triangle of `colour` centred on a constant background."""
    import cv2

    canvas = np.full((size, size, 3), background, np.uint8)
    if kind == "circle":
        cv2.circle(canvas, (16, 16), 8, colour, -1)
    else:
        cv2.fillPoly(canvas, [np.array([[16, 6], [6, 24], [26, 24]], np.int32)], colour)
    image = torch.from_numpy(canvas).permute(2, 0, 1).float()
    if channels == 1:
        image = image[:1]
    return image[None] / 127.5 - 1


def rgb_to_gray_model(**settings) -> CycleGAN:
    cfg = tiny_config("", **settings)
    cfg.network.input_nc, cfg.network.output_nc = 3, 1  # A: colour, B: gray, as toy datasets
    return CycleGAN(cfg)


def test_the_shape_loss_accepts_a_faithful_translation_and_refuses_a_redrawn_recoded_or_inverted_one():
    model = rgb_to_gray_model(lambda_shape=10.0)
    model.set_contrasts({"A": 2 / 3 ** 0.5, "B": 128 / 127.5})
    red_circle = figure_images("circle", (255, 0, 0))
    gray = {kind: figure_images(kind, (128,) * 3, channels=1) for kind in ("circle", "triangle")}
    grays = torch.cat(list(gray.values()))  # the gray domain's real images in the batch

    def loss(fake):  # the generators aim within the margin
        return model._shape_loss(model._cycle_target(fake), "B", red_circle, "A", grays, None).item()

    faithful = loss(gray["circle"])
    assert faithful < 0.005
    assert loss(gray["triangle"]) > 0.05  # the class swapped by redrawing the figure
    assert loss(figure_images("circle", (70,) * 3, channels=1)) > 0.05  # the class coded in the gray level
    assert loss(figure_images("circle", (0,) * 3, background=128, channels=1)) > 0.5  # a negative
    # The other direction, on a light background: a green triangle is faithful to a gray one, a circle is not.
    light_gray = figure_images("triangle", (82,) * 3, background=200, channels=1)
    green = figure_images("triangle", (0, 255, 0), background=200)
    model.set_contrasts({"A": contrast(as_uint8(green)), "B": contrast(as_uint8(light_gray))})
    faithful = model._shape_loss(model._cycle_target(green), "A", light_gray, "B", green, None).item()
    redrawn = model._shape_loss(figure_images("circle", (0, 255, 0), background=200), "A", light_gray, "B",
                                green, None).item()
    assert faithful < 0.02 and redrawn > 5 * faithful


def as_uint8(images: torch.Tensor) -> torch.Tensor:
    return ((images + 1) * 127.5).round().to(torch.uint8)


def test_the_losses_reach_the_objective_and_the_report_only_when_weighted():
    for weight in (0.0, 10.0):
        model = rgb_to_gray_model(lambda_shape=weight)
        real_A, real_B = figure_images("circle", (255, 0, 0)), figure_images("triangle", (128,) * 3, channels=1)
        losses = model.optimize(real_A, real_B)
        assert (losses["shape_A"] > 0) == (weight > 0) and (losses["shape_B"] > 0) == (weight > 0)


def test_the_figure_balance_makes_small_figures_count_half():
    model = rgb_to_gray_model(cycle_balance=1.0)
    real = figure_images("circle", (128,) * 3, channels=1)
    figure = model._silhouette(real, "B") > 0.5
    share = figure.float().mean().item()
    errors = figure.float()  # wrong on every figure pixel, right on the background
    assert (errors * model._pixel_weights(real, "B")).mean().item() == pytest.approx(0.5, abs=0.01)
    model.cfg.training.cycle_balance = 0.0
    assert model._pixel_weights(real, "B") is None  # a plain mean: the figure counts by its area
    assert errors.mean().item() == pytest.approx(share)


@pytest.mark.parametrize("share", [0.0, 0.1, 1.0])
def test_the_first_generator_gets_only_its_share_of_the_cycle_gradient(share):
    model = rgb_to_gray_model(cycle_encoder_weight=share, cycle_noise=0.0)
    fake = torch.linspace(-1, 1, 16).view(1, 1, 4, 4).requires_grad_()
    passed_on = model._perturb(fake, "B")  # what the generator translating back receives
    assert torch.allclose(passed_on, fake)
    if passed_on.requires_grad:  # with no share, nothing flows back at all
        (passed_on * fake.detach()).sum().backward()
    grad = fake.grad if fake.grad is not None else torch.zeros_like(fake)
    assert torch.allclose(grad, share * fake.detach())


def test_with_no_share_the_cycle_loss_does_not_train_the_first_generator():
    model = rgb_to_gray_model(cycle_encoder_weight=0.0)
    real_A, real_B = figure_images("circle", (255, 0, 0)), figure_images("triangle", (128,) * 3, channels=1)
    visuals = model.translate(real_A, real_B)
    # A -> B -> A: G_A translated first
    model._cycle_loss(visuals["rec_A"], real_A, model._pixel_weights(real_A, "A")).backward()
    assert all(p.grad is None or not p.grad.any() for p in model.G_A.parameters())
    assert any(p.grad is not None and p.grad.any() for p in model.G_B.parameters())
