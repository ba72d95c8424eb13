"""No shared library is loaded for the first time in a worker thread once the app has started.

The first optimizer imports torch._dynamo, and with it triton's LLVM where the CUDA build of torch is
installed; loaded in a worker thread after Qt's xcb platform had loaded Mesa's LLVM, that crashed the
app on Start. app.preload runs a tiny version of each background job in the main thread first.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

TRAINING_JOB = r"""
import json, sys, threading
from pathlib import Path

def libraries():
    return {line.split()[-1] for line in Path("/proc/self/maps").read_text().splitlines()
            if ".so" in line.split()[-1]}

preload, dataset, run_dir = sys.argv[1] == "preload", sys.argv[2], sys.argv[3]
if preload:
    from cyclegan_workbench.app.preload import preload_worker_libraries
    preload_worker_libraries()
from cyclegan_workbench.visualization.live_views import LiveProbe
from cyclegan_workbench.models.training import Trainer
from tests.conftest import tiny_config
from cyclegan_workbench.visualization.plots import LossFigure, LossHistory

before = libraries()

def job():  # what TrainingWorker.work does in its pool thread
    trainer = Trainer(tiny_config(dataset, n_epochs=1, n_epochs_decay=0, val_images=4), run_dir)
    live, figure, history = LiveProbe.of_trainer(trainer), LossFigure(), LossHistory()
    for report in trainer.run():
        history.add_report(report)
        live.visuals(report.global_step, "G_B", 3)
        figure.render(history, 300, 200)

thread = threading.Thread(target=job)
thread.start()
thread.join()
print(json.dumps(sorted(libraries() - before)))
"""


def loaded_by_training_thread(mode: str, dataset, run_dir) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", TRAINING_JOB, mode, str(dataset), str(run_dir)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="reads the mapped libraries from Linux's /proc")
def test_after_the_preload_a_training_job_loads_no_library_in_its_thread(toy_dataset, tmp_path):
    assert loaded_by_training_thread("preload", toy_dataset, tmp_path / "run") == []
