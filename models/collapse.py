"""Notices a run whose gray->RGB generator keeps painting every shape one colour, and says so plainly.

CycleGAN has a shortcut on toy data: a generator can hide the colour in its gray output and read it back,
so the cycle loss falls while the colourization learns nothing (every shape one colour, accuracy at
chance). Runs often leave that state suddenly, so one bad epoch means nothing; `CollapseWatch` speaks up
after `patience` epochs in a row, then again every `repeat` epochs while it lasts.
"""
from __future__ import annotations

from dataclasses import dataclass

ONE_COLOUR_SHARE = 0.9  # an epoch is "one colour" when a single predicted class takes this share
NEAR_CHANCE = 0.1  # ...or "at chance" when accuracy is within this of 1 / classes


@dataclass
class Collapse:
    epochs: int  # consecutive collapsed epochs so far
    colour: str | None  # the class whose colour nearly every shape got, if one did
    accuracy: float
    chance: float

    @property
    def message(self) -> str:
        what = (f"painted nearly every gray shape the colour of '{self.colour}'" if self.colour
                else "coloured the shapes no better than chance")
        return (f"no colourization yet: for {self.epochs} epochs the gray->RGB generator {what} (accuracy "
                f"{self.accuracy:.0%}, chance {self.chance:.0%}). Runs often switch suddenly; if it lasts, try "
                "another seed, the default preset's defences where they were changed (--shape-weight 10, "
                "--cycle-balance 1, --cycle-encoder-weight 0), more cycle noise (--cycle-noise), a lower learning "
                "rate, or larger figures.")


class CollapseWatch:
    def __init__(self, patience: int = 10, repeat: int = 10):
        self.patience, self.repeat = patience, repeat
        self.streak = 0

    def update(self, score) -> Collapse | None:
        """Feed one epoch's data.scoring.ScoreResult; a Collapse when it is time to tell the user."""
        classes = list(score.confusion)
        if not classes or not score.n:
            return None
        chance = 1.0 / len(classes)
        predicted: dict[str, int] = {}
        for row in score.confusion.values():
            for label, count in row.items():
                predicted[label] = predicted.get(label, 0) + count
        top, top_count = max(predicted.items(), key=lambda kv: kv[1])
        one_colour = top_count >= ONE_COLOUR_SHARE * score.n
        if not (one_colour or score.accuracy <= chance + NEAR_CHANCE):
            self.streak = 0
            return None
        self.streak += 1
        if self.streak < self.patience or (self.streak - self.patience) % self.repeat:
            return None
        return Collapse(self.streak, top if one_colour else None, score.accuracy, chance)

    def state_dict(self) -> dict:
        return {"streak": self.streak}

    def load_state_dict(self, state: dict) -> None:
        self.streak = int(state.get("streak", 0))
