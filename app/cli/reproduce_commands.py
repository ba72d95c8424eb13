"""`reproduce`: the one-command reproduction of the toy colourization experiments (no Qt).

Prints one line per pipeline stage, a progress bar while a stage runs, and after each training a line with the
model's seconds per iteration. Values are checked by the pipeline rather than by argparse, so a bad value is a
UserError naming it (exit 2, no usage dump). `--workers N` trains each group's models in N processes; run by
torchrun, every rank trains its share and rank 0 writes the report (visualization.parallel_training).
"""
from __future__ import annotations

import sys
import time

from cyclegan_workbench.app.cli.progress import ProgressBar
from cyclegan_workbench.data.errors import UserError

_STEPS = 100  # a stage's progress bar counts percent


def register(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="reproduce the toy colourization experiments: datasets, training, report",
        description="Generate the toy datasets, train the models, run the seven experiments (architecture "
        "comparison, bottleneck nullification, first skip isolated, unseen figures, background gray level, "
        "shifted figures, filter ranking) and write REPORT_DIR/report.md, report.html, results.json and the "
        "figures. Rerunning the same command resumes: finished stages are skipped, an interrupted training "
        "continues where it stopped.")
    p.add_argument("--out", required=True, metavar="REPORT_DIR", help="folder for the datasets, runs and report")
    p.add_argument("--budget", default="quick", metavar="quick|standard|full|tiny",
                   help="quick (default): about 15 minutes on a 2-core CPU, with smaller budgets listed in the "
                   "report; standard: Table I answered on a 2-core CPU in about an hour (the six architecture "
                   "variants scaled to 64 px, three seeds each, trained until they converge; use --workers 2); "
                   "full: the original settings (hours to days on a CPU, resumable); tiny: a smoke test "
                   "of the pipeline whose numbers mean nothing")
    p.add_argument("--device", default="cpu", metavar="cpu|cuda", help="where to train (default cpu)")
    p.add_argument("--seed", default="0", metavar="N", help="seed of the datasets and the trainings (default 0)")
    p.add_argument("--workers", default="1", metavar="N",
                   help="train up to N models at once in worker processes (default 1); with --device cuda worker k "
                   "uses GPU k mod the GPU count, on a CPU the workers share the cores. Under torchrun each rank "
                   "trains its share of the models instead and rank 0 writes the report")
    p.set_defaults(run=run_reproduce)


class _ConsoleListener:
    """Stage lines on stderr; while a stage runs, a progress bar on a terminal, else a line every `interval` s
    (a log file would otherwise fill with carriage-return redraws)."""

    def __init__(self, stream=None, interval: float = 15.0, bars: bool = True):
        self.stream = stream if stream is not None else sys.stderr
        # torchrun's ranks share one terminal: only rank 0 draws bars, the others write occasional lines.
        self.tty = bars and bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.bar: ProgressBar | None = None
        self._drawn = False
        self._last_line = 0.0

    def stage_started(self, index: int, total: int, name: str, title: str) -> None:
        self._end_bar()
        self.stream.write(f"[{index}/{total}] {title}\n")
        self.stream.flush()
        self.bar = ProgressBar(_STEPS, "  ", stream=self.stream, unit="%") if self.tty else None
        self._last_line = time.monotonic()

    def stage_progress(self, fraction: float, message: str) -> None:
        fraction = max(0.0, min(fraction, 1.0))
        if self.bar is not None:
            self.bar.update(int(round(fraction * _STEPS)), message[:80])
            self._drawn = True
        elif not self.tty and time.monotonic() - self._last_line >= self.interval:
            self._last_line = time.monotonic()
            self.stream.write(f"  {fraction:4.0%}  {message}\n")
            self.stream.flush()

    def stage_finished(self, name: str, seconds: float, reused: bool) -> None:
        self._end_bar()
        note = f"done in an earlier run ({seconds:.1f} s), reused" if reused else f"{seconds:.1f} s"
        self.stream.write(f"  {name}: {note}\n")
        self.stream.flush()

    def notice(self, text: str) -> None:
        self._end_bar()
        self.stream.write(text + "\n")
        self.stream.flush()

    def _end_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self._drawn = None, False


def _seed(text: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UserError(f"--seed must be a whole number, got {text!r}") from None
    if value < 0:
        raise UserError(f"--seed must be at least 0, got {value}")
    return value


def _workers(text: str) -> int:
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise UserError(f"--workers must be a whole number, got {text!r}") from None
    if value < 1:
        raise UserError(f"--workers must be at least 1, got {value}")
    return value


def run_reproduce(args) -> int:
    from cyclegan_workbench.models import distributed
    from cyclegan_workbench.visualization.reproduce import Reproduction

    world = distributed.from_environment()
    pipeline = Reproduction(args.out, budget=args.budget, device=args.device, seed=_seed(args.seed),
                            listener=_ConsoleListener(bars=world.is_main), workers=_workers(args.workers))
    try:
        results = pipeline.run()
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished stages and training states are saved in {args.out}; rerun the same "
              "command to resume", file=sys.stderr)
        return 130
    if results is None:
        print(f"rank {world.rank}: trained its share of the models; rank 0 writes the report", file=sys.stderr)
        return 0
    print(f"report: {results['paths']['markdown']} (also report.html); every number: {results['paths']['json']}")
    print(f"wall time {results['wall_seconds']:.0f} s")
    return 0
