"""The Train tab's control bar: Start, Pause, Resume and Stop, the progress bar, the line that says where a
run is (epoch, iteration, speed, time left, accuracy), and a notice of what the user should know about it."""
from __future__ import annotations

from PyQt5.QtWidgets import QGridLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QWidget


def format_duration(seconds: float) -> str:
    """A duration that cannot be read as a time of day: '45 s', '16 min 22 s', '2 h 05 min'."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m:02d} min"
    return f"{m} min {s:02d} s" if m else f"{s} s"


def report_line(r, paused: bool) -> str:
    """A models.training progress report in one line."""
    state = "paused · " if paused else ""
    acc = ""
    if r.epoch_summary is not None and r.epoch_summary.accuracy is not None:
        acc = f" · accuracy {r.epoch_summary.accuracy:.1%}"
    return (f"{state}epoch {r.epoch}/{r.total_epochs} · iteration {r.iteration}/{r.iterations_per_epoch}"
            f" · {r.seconds * 1000:.0f} ms/step · {format_duration(r.eta)} left{acc}")


def outcome_line(outcome) -> str:
    """An app.workers.TrainingOutcome in words (None: the run failed)."""
    if outcome is None:
        return "Training stopped with an error; the last checkpoint is kept"
    if outcome.completed:
        return f"Training complete: {outcome.epoch} epochs. Saved in {outcome.run_dir}"
    return (f"Stopped at epoch {outcome.epoch + 1}, iteration {outcome.iteration}; checkpoint saved in "
            f"{outcome.run_dir}. Resume continues it.")


class ControlBar(QWidget):
    """The buttons are the tab's to connect (the window's Train menu gives the same actions their
    shortcuts); the tab says which can be pressed with `set_actions`."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.start_button.setToolTip("Train a new run (Ctrl+Return)")
        self.pause_button.setToolTip("Pause after the current step (Ctrl+P)")
        self.resume_button.setToolTip("Continue a paused run, or the stopped run in the run folder (Ctrl+R)")
        self.stop_button.setToolTip("Stop after the current step and save a resumable checkpoint (Ctrl+.)")
        self.progress = QProgressBar()
        self.progress.setFormat("%p%")
        self.progress_label = QLabel()
        self.progress_label.setMinimumWidth(1)  # long status lines are clipped, never widen the window
        self.progress_label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        # Why there is no accuracy, or that the run has painted every shape one colour for a while.
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("color: #a04000;")
        self.notice.setVisible(False)
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 0, 4, 0)
        for i, b in enumerate((self.start_button, self.pause_button, self.resume_button, self.stop_button)):
            grid.addWidget(b, 0, i)
        grid.addWidget(self.progress, 0, 4)
        grid.addWidget(self.progress_label, 1, 0, 1, 5)
        grid.addWidget(self.notice, 2, 0, 1, 5)
        grid.setColumnStretch(4, 1)
        self.show_idle()

    def set_actions(self, start: bool, pause: bool, resume: bool, stop: bool) -> None:
        for button, on in ((self.start_button, start), (self.pause_button, pause), (self.resume_button, resume),
                           (self.stop_button, stop)):
            button.setEnabled(on)

    def show_idle(self, text: str = "Not running") -> None:
        self.show_steps(0, 1)
        self.progress_label.setText(text)

    def show_busy(self, text: str) -> None:
        """A job whose length is not known yet (the bar moves to and fro)."""
        self.progress.setRange(0, 0)
        self.progress_label.setText(text)

    def show_steps(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def show_start(self, info) -> None:
        """An app.workers.TrainingStarted: the steps done and to do, the images, and what to know first."""
        per_epoch = info.iterations_per_epoch
        self.show_steps(info.start_epoch * per_epoch, info.cfg.training.total_epochs * per_epoch)
        self.progress_label.setText(f"{info.counts['A']} A / {info.counts['B']} B images, {per_epoch} iterations "
                                    "per epoch")
        self.show_notice(info.note)

    def show_report(self, report, paused: bool) -> None:
        self.show_steps(report.global_step, report.total_steps)
        self.progress_label.setText(report_line(report, paused))

    def show_end(self, text: str) -> None:
        """The last word on a job; a bar still waiting for its length stops moving."""
        self.progress_label.setText(text)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)

    def show_notice(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))
