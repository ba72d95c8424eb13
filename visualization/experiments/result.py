"""What every experiment returns (ExperimentResult), how it stops when asked (ExperimentCancelled) and how a
long loop reports progress and polls the caller's cancel check (ProgressTracker)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from matplotlib.figure import Figure

Progress = Callable[[float, str], None]
CancelCheck = Callable[[], bool]


class ExperimentCancelled(Exception):
    """The caller's cancel check returned True; nothing of the experiment is returned."""


@dataclass
class ExperimentResult:
    key: str
    title: str
    question: str
    setting: dict
    numbers: dict
    reading: str
    figures: dict[str, Figure] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"key": self.key, "title": self.title, "question": self.question, "setting": self.setting,
                "numbers": self.numbers, "reading": self.reading, "seconds": round(self.seconds, 3)}


class ProgressTracker:
    """Progress in work units; every advance also polls the cancel check."""

    def __init__(self, progress: Progress | None, cancelled: CancelCheck | None, total: float):
        self.progress, self.cancelled = progress, cancelled
        self.total, self.done = max(float(total), 1.0), 0.0

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise ExperimentCancelled("experiment cancelled")

    def advance(self, message: str, amount: float = 1.0) -> None:
        self.done += amount
        self.check()
        if self.progress is not None:
            self.progress(min(self.done / self.total, 1.0), message)
