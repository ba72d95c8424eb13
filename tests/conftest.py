"""Shared fixtures: offscreen Qt, tiny generated datasets, small run configurations."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
import torch  # noqa: E402

from cyclegan_workbench.data.shapes import ShapeDatasetParams, generate_dataset  # noqa: E402
from cyclegan_workbench.models.config import RunConfig, preset_config  # noqa: E402

# The test networks are tiny (ngf 2-8, 32-64 px): a second thread buys nothing, and on a busy machine
# every oneDNN call would wait on a thread barrier. One thread keeps the suite fast and steady.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory):
    """A tiny toy dataset: 32 px, red circles and green triangles (domain A) vs gray shapes (B)."""
    out = tmp_path_factory.mktemp("toy") / "shapes"
    params = ShapeDatasetParams(size=32, train_per_class=6, test_per_class=3, seed=1)
    return generate_dataset(params, out)


def tiny_config(dataroot, **training) -> RunConfig:
    """A U-Net of depth 3, ngf 4, 32 px: a training step takes milliseconds."""
    cfg = preset_config("toy")
    cfg.dataroot = str(dataroot)
    cfg.network.num_downs, cfg.network.ngf, cfg.network.ndf = 3, 4, 4
    t = cfg.training
    t.load_size = t.crop_size = 32
    t.batch_size, t.n_epochs, t.n_epochs_decay, t.pool_size, t.val_images = 4, 1, 1, 4, 8
    for k, v in training.items():
        setattr(t, k, v)
    return cfg


def reference_run(folder, num_downs: int = 3, ngf: int = 4, train_opt: str | None = None):
    """A run folder as pytorch-CycleGAN-and-pix2pix writes it: latest_net_G_*.pth (G_A: RGB -> gray,
    G_B: gray -> RGB), optionally train_opt.txt, no config.json."""
    from cyclegan_workbench.models.networks import UnetGenerator

    folder.mkdir()
    torch.manual_seed(0)
    for which, (cin, cout) in {"G_A": (3, 1), "G_B": (1, 3)}.items():
        torch.save(UnetGenerator(cin, cout, num_downs, ngf, "instance").state_dict(),
                   folder / f"latest_net_{which}.pth")
    if train_opt is not None:
        (folder / "train_opt.txt").write_text(train_opt)
    return folder


# --- GUI tests (pytest-qt) -----------------------------------------------------------------------
# Qt warns (and qt_log_level_fail turns the warning into a failure) when XDG_RUNTIME_DIR is unset.
if not os.environ.get("XDG_RUNTIME_DIR"):
    import tempfile

    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="xdg-runtime-")  # created with mode 0700


def live_runnables(grace_ms: int = 3000) -> int:
    """QThreadPool runnables still running after `grace_ms` (0 when Qt was never imported)."""
    import sys

    qtcore = sys.modules.get("PyQt5.QtCore")
    if qtcore is None:
        return 0
    pool = qtcore.QThreadPool.globalInstance()
    pool.waitForDone(grace_ms)
    return pool.activeThreadCount()


@pytest.fixture(autouse=True)
def no_runnable_left_alive():
    """Fail a test that leaves a QThreadPool runnable running (after a short grace period)."""
    yield
    alive = live_runnables()
    if alive:
        import sys

        workers = sys.modules.get("cyclegan_workbench.app.workers")
        names = []
        for worker in workers.running_workers() if workers else []:
            names.append(type(worker).__name__)
            worker.abort()  # stop it so the following tests start clean
        live_runnables(60000)
        pytest.fail(f"{alive} QThreadPool runnable(s) left alive at teardown: {', '.join(names) or 'unknown'}")


@pytest.fixture
def workbench_home(tmp_path, monkeypatch):
    """The workbench's data folder (built-in dataset, runs) inside tmp_path."""
    home = tmp_path / "workbench-data"
    monkeypatch.setenv("CYCLEGAN_WORKBENCH_DATA", str(home))
    return home


@pytest.fixture
def settings(tmp_path):
    """A QSettings in tmp_path, so tests never read or write the user's settings."""
    from PyQt5.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)


@pytest.fixture(scope="session")
def tiny_run(toy_dataset, tmp_path_factory):
    """A run directory trained for one tiny epoch (config.json, latest_net_*.pth, training_state.pth)."""
    from cyclegan_workbench.models.training import Trainer

    run = tmp_path_factory.mktemp("runs") / "tiny"
    for _ in Trainer(tiny_config(toy_dataset, n_epochs=1, n_epochs_decay=0, val_images=0), run).run():
        pass
    return run


@pytest.fixture
def window(qtbot, settings, workbench_home):
    """The main window, shown; at teardown every job it started is stopped and waited for."""
    from cyclegan_workbench.app.main_window import MainWindow
    from cyclegan_workbench.app.workers import running_workers

    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    # pytest-qt may already have deleted the window when a test failed, so stop the workers
    # themselves rather than going through the window's tabs.
    for worker in running_workers():
        worker.abort()
    qtbot.waitUntil(lambda: not running_workers(), timeout=20000)
