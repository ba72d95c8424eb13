"""One slower end-to-end check that training really learns: a small model turns coloured shapes gray."""
from __future__ import annotations

import numpy as np
import torch

from cyclegan_workbench.data.images import to_image
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import ShapeDatasetParams, generate_dataset
from cyclegan_workbench.data.unaligned import load_domain
from cyclegan_workbench.models.evaluation import evaluate_losses
from cyclegan_workbench.models.training import Trainer
from tests.conftest import tiny_config


def test_a_small_cyclegan_learns_the_gray_level_and_the_cycle(tmp_path):
    data = generate_dataset(ShapeDatasetParams(size=32, train_per_class=16, test_per_class=4, seed=5), tmp_path / "d")
    # 14 epochs: after 8, G_A still coded red and green as two gray levels (95 and 61), a stage every run
    # passes through; by 14 both sit near the gray domain's level.
    cfg = tiny_config(data, n_epochs=10, n_epochs_decay=4, val_images=8, cycle_noise=0.2, batch_size=2, lr=1e-3)
    cfg.network.ngf = cfg.network.ndf = 8
    trainer = Trainer(cfg, tmp_path / "run")
    untrained = evaluate_losses(trainer.model, trainer._val_batches)
    list(trainer.run())
    trained = trainer.history[-1]["validation"]
    assert trained["Cycle_A"] < 0.5 * untrained["Cycle_A"]
    assert trained["SSIM_B"] > untrained["SSIM_B"] + 0.2

    rgb = load_domain(data / "testA", 3, 32)
    gray = ScoringSet.from_dataset(data, 32)  # the same scenes, with their figures' interiors
    interiors = dict(zip(gray.names, gray.masks))
    with torch.no_grad():
        fakes = trainer.model.G_A.eval()(rgb.images.float() / 127.5 - 1)
    inside, outside = [], []
    for fake, path in zip(fakes, rgb.paths):
        mask = interiors[path.stem]
        out = to_image(fake).astype(float)
        inside.append(out[mask].mean())
        outside.append(out[~mask].mean())
    # Red and green shapes alike come out near the gray domain's one level (128), on its black background.
    assert abs(np.mean(inside) - 128) < 40 and np.std(inside) < 20
    assert np.mean(outside) < 30


def test_the_default_preset_learns_the_colours_on_a_gray_level_it_was_not_tuned_on(tmp_path):
    """The slow end-to-end check (1-2 minutes): the `toy` preset, untouched, on the default dataset with
    its figures at gray 82 instead of 128, colourizes the test shapes far above chance (50 %)."""
    from cyclegan_workbench.models.config import DEFAULT_PRESET, preset_config

    data = generate_dataset(ShapeDatasetParams(gray_level=82), tmp_path / "gray82")
    cfg = preset_config(DEFAULT_PRESET)
    cfg.dataroot = str(data)
    trainer = Trainer(cfg, tmp_path / "run")
    accuracy = []
    for report in trainer.run():
        summary = report.epoch_summary
        if summary is not None:
            accuracy.append(summary.accuracy)
            if summary.accuracy >= 0.9 or summary.epoch >= 70:
                trainer.request_stop()
    print(f"accuracy per epoch: {accuracy}")
    assert max(accuracy) >= 0.9, f"no colourization after {len(accuracy)} epochs: {accuracy}"
