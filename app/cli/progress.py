"""A dependency-free progress bar for long headless jobs (stderr, one line, rate-limited)."""
from __future__ import annotations

import sys
import time


class ProgressBar:
    """Draws `label [#####.....] n/total  extra  ETA` at most every `interval` seconds."""

    def __init__(self, total: int, label: str = "", width: int = 30, interval: float = 0.2, stream=None):
        self.total = max(int(total), 1)
        self.label = label
        self.width = width
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self._last_draw = 0.0
        self.n = 0

    def update(self, n: int, extra: str = "", force: bool = False) -> None:
        self.n = n
        now = time.perf_counter()
        if not force and now - self._last_draw < self.interval and n < self.total:
            return
        self._last_draw = now
        frac = min(n / self.total, 1.0)
        filled = int(round(frac * self.width))
        elapsed = now - self.start
        eta = elapsed / n * (self.total - n) if n else float("nan")
        eta_text = "--:--" if eta != eta else _clock(eta)
        line = f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {n}/{self.total} {extra} ETA {eta_text}"
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        self.update(self.n, force=True)
        self.stream.write(f"  ({_clock(time.perf_counter() - self.start)})\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
