"""What the reproduction measures of a whole CycleGAN while and after it trains: test losses and accuracy
(measure_cyclegan), the accuracy of its gray -> RGB generator (cyclegan_accuracy) and the train/validation
loss curve of one run (LossCurve). The pipeline's training stages record them; the architecture comparison
reads them back."""
from __future__ import annotations

from collections.abc import Iterable

from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.models.evaluation import evaluate_losses, generator_outputs
from cyclegan_workbench.visualization.experiments.running import BATCH

TRAIN_TOTAL_KEYS = ("G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B")


def measure_cyclegan(model, test_batches, scoring: ScoringSet | None) -> dict:
    """Test-set losses (D_A, D_B, G_A, G_B, Cycle_A, Cycle_B, Total, SSIM) and colourization accuracy."""
    table = evaluate_losses(model, test_batches)
    result = {"table": table, "accuracy": None, "per_class": None}
    if scoring is not None:
        measured = cyclegan_accuracy(model, scoring)
        result.update(accuracy=measured.accuracy, per_class=measured.per_class)
    return result


def cyclegan_accuracy(model, scoring: ScoringSet):
    """The colourization ScoreResult of a CycleGAN's gray -> RGB generator on `scoring`."""
    colourizer = model.G_A if model.cfg.network.input_nc == 1 else model.G_B
    return score_outputs(generator_outputs(colourizer, scoring.images, model.device, BATCH), scoring)


class LossCurve:
    """Train and validation losses of one training run at chosen points.

    Train values at a point are the means over the iterations since the previous point; Total is the
    generator objective G_A + G_B + cycle_A + cycle_B + idt_A + idt_B, as in the test table.
    """

    def __init__(self, points: Iterable[dict] = ()):
        self.points: list[dict] = [dict(p) for p in points]
        self._sums: dict[str, float] = {}
        self._count = 0

    @property
    def pending(self) -> int:
        """Iterations accumulated since the last point."""
        return self._count

    def add_step(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self._sums[k] = self._sums.get(k, 0.0) + float(v)
        self._count += 1

    def add_point(self, step: int, images: int, epoch: float, seconds: float, validation: dict | None,
                  accuracy: float | None) -> dict:
        train = {k: v / self._count for k, v in self._sums.items()} if self._count else {}
        if train:
            train["Total"] = sum(train.get(k, 0.0) for k in TRAIN_TOTAL_KEYS)
        point = {"step": int(step), "images": int(images), "epoch": round(float(epoch), 4),
                 "seconds": round(float(seconds), 2), "train": train, "validation": validation,
                 "accuracy": accuracy}
        self.points.append(point)
        self._sums, self._count = {}, 0
        return point

    def truncate(self, step: int) -> None:
        """Forget points after `step` (a resumed run repeats them) and the pending iterations."""
        self.points = [p for p in self.points if p["step"] <= step]
        self._sums, self._count = {}, 0
