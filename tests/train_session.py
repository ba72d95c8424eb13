"""A user's training session, driven through the real entry point: `python tests/train_session.py DATASET OUT`.

Run by tests/test_gui_xcb.py under a real X server (Xvfb, QT_QPA_PLATFORM=xcb), and by hand to check the
app with another torch build. It starts `cyclegan-workbench` exactly as the console script does (same
start-up, same process), then, once the window is up, acts as a user: picks a tiny configuration, presses
Start, watches the live views, pauses, resumes, stops, and opens the run in the Test tab. What the window
showed (pixels grabbed from the panels) goes to OUT/session.json; the process exits 0 only when the app
itself returned normally. A crash (the segfault this guards against) shows as a non-zero exit and no JSON.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

UPDATES = 4  # live updates to watch before pausing
TIMEOUT = 120.0  # seconds for the whole session


def panel_pixels(panel) -> tuple[str, float]:
    """A hash of what the panel's viewer paints on screen, and its mean colour saturation."""
    import numpy as np
    from PyQt5.QtGui import QImage

    image = panel.viewer.grab().toImage().convertToFormat(QImage.Format_RGB888)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    rows = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine())
    rgb = rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3)
    saturation = float((rgb.max(-1).astype(int) - rgb.min(-1)).mean())
    return hashlib.sha1(rgb.tobytes()).hexdigest(), saturation


class Session:
    def __init__(self, window, dataset: str, out: Path):
        self.window, self.dataset, self.out = window, dataset, out
        self.tab = window.train_tab
        self.result: dict = {"frames": [], "steps_while_paused": None, "errors": []}
        self.started = time.monotonic()
        self.seen_drawn = 0
        self.reports: list = []

    def begin(self) -> None:
        from PyQt5.QtCore import QTimer

        tab = self.tab
        self.window.tabs.setCurrentWidget(tab)
        tab.set_dataset(self.dataset)
        f = tab.form
        f.epochs.setValue(200)
        f.epochs_decay.setValue(0)
        f.batch_size.setValue(2)
        f.image_size.setValue(32)
        f.ngf.setValue(4)
        f.depth.setValue(3)
        tab.run_box.rate.setValue(5.0)
        tab.set_run_dir(str(self.out / "run"))
        tab.controls.start_button.click()
        worker = tab._worker
        if worker is None:
            return self.finish("Start did not start a training worker")
        worker.signals.progressed.connect(self.reports.append)
        worker.signals.failed.connect(lambda m: self.result["errors"].append(m))
        self.timer = QTimer(interval=50)
        self.timer.timeout.connect(self.watch)
        self.timer.start()

    def watch(self) -> None:
        if time.monotonic() - self.started > TIMEOUT:
            return self.finish(f"timed out after {TIMEOUT:.0f} s")
        if self.tab.live.visuals_drawn > self.seen_drawn:
            self.seen_drawn = self.tab.live.visuals_drawn
            fake_b, _ = panel_pixels(self.tab.live.views["fake_B"])
            fake_a, sat_a = panel_pixels(self.tab.live.views["fake_A"])
            grid, _ = panel_pixels(self.tab.live.response.view)
            self.result["frames"].append({"fake_B": fake_b, "fake_A": fake_a, "response": grid,
                                          "fake_A_saturation": sat_a,
                                          "response_title": self.tab.live.response.view.title.text(),
                                          "step": self.reports[-1].global_step if self.reports else 0})
            if len(self.result["frames"]) == UPDATES:
                self.timer.stop()
                self.pause()

    def pause(self) -> None:
        from PyQt5.QtCore import QTimer

        self.tab.controls.pause_button.click()
        QTimer.singleShot(400, self.count_paused)  # the step in flight may still report

    def count_paused(self) -> None:
        from PyQt5.QtCore import QTimer

        n = len(self.reports)
        # a tab switch while paused, as a user looking around would do
        self.window.tabs.setCurrentWidget(self.window.dataset_tab)
        self.window.tabs.setCurrentWidget(self.tab)
        QTimer.singleShot(600, lambda: self.resume(n))

    def resume(self, n_before: int) -> None:
        from PyQt5.QtCore import QTimer

        self.result["steps_while_paused"] = len(self.reports) - n_before
        self.tab.controls.resume_button.click()
        self.after_resume = len(self.reports)
        QTimer.singleShot(100, self.wait_steps)

    def wait_steps(self) -> None:
        from PyQt5.QtCore import QTimer

        if len(self.reports) < self.after_resume + 3:
            if time.monotonic() - self.started > TIMEOUT:
                return self.finish("no step after Resume")
            QTimer.singleShot(100, self.wait_steps)
            return
        self.result["steps_after_resume"] = len(self.reports) - self.after_resume
        self.tab._worker.signals.finished.connect(self.stopped)
        self.tab.controls.stop_button.click()

    def stopped(self, outcome) -> None:
        from PyQt5.QtCore import QTimer

        self.result["stopped"] = outcome is not None and not outcome.completed
        QTimer.singleShot(0, self.open_in_test)

    def open_in_test(self) -> None:
        if not self.tab.run_box.open_test_button.isEnabled():
            return self.finish("Open in Test tab is disabled after Stop")
        self.tab.run_box.open_test_button.click()
        test = self.window.test_tab
        self.result["test_tab_current"] = self.window.tabs.currentWidget() is test
        self.result["test_tab_source"] = str(getattr(test.model, "source", ""))
        self.finish()

    def finish(self, error: str = "") -> None:
        from PyQt5.QtWidgets import QApplication

        if error:
            self.result["errors"].append(error)
        self.result["seconds"] = time.monotonic() - self.started
        (self.out / "session.json").write_text(json.dumps(self.result, indent=1))
        if self.tab._worker is not None:
            self.tab.stop()
        self.window.close()
        QApplication.instance().quit()


def main() -> int:
    dataset, out = sys.argv[1], Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    from PyQt5.QtCore import QTimer

    from cyclegan_workbench.app import main_window
    from cyclegan_workbench.app.main import main as entry_point

    show = main_window.MainWindow.show

    def show_then_drive(window):
        show(window)
        window._session = Session(window, dataset, out)
        QTimer.singleShot(300, window._session.begin)

    main_window.MainWindow.show = show_then_drive
    return entry_point([])


if __name__ == "__main__":
    sys.exit(main())
