"""Command-line progress: a tqdm bar on stderr, driven by absolute positions (what our jobs report)."""
from __future__ import annotations

import sys

from tqdm import tqdm


class ProgressBar:
    """`update(n, extra)` moves the bar to `n` of `total` and shows `extra` after it; `close()` ends it."""

    def __init__(self, total: int, label: str = "", initial: int = 0, stream=None, unit: str = "it"):
        self._bar = tqdm(total=max(int(total), 1), desc=label, initial=initial, unit=unit,
                         file=stream if stream is not None else sys.stderr, mininterval=0.2, dynamic_ncols=True)

    @property
    def n(self) -> int:
        return self._bar.n

    def update(self, n: int, extra: str = "") -> None:
        if extra:
            self._bar.set_postfix_str(extra, refresh=False)
        self._bar.update(n - self._bar.n)

    def write(self, line: str) -> None:
        """A line above the bar (the bar is redrawn below it)."""
        self._bar.write(line, file=self._bar.fp)

    def close(self) -> None:
        self._bar.close()
