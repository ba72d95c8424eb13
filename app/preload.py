"""Loads, in the main thread and before Qt is up, every library a background job would load lazily.

torch loads parts of itself on first use: the first optimizer imports torch._dynamo, which imports
triton (and its own LLVM) where the CUDA build is installed. Done for the first time in a worker thread
after Qt's xcb platform has loaded Mesa and Mesa's LLVM, that import crashed the process (segfault on
Start, torch 2.14.1 with triton 3.8, under a real X server). `preload_worker_libraries()` runs a tiny
version of each background job once, so that every shared library those jobs need is mapped before
the first window exists and no worker thread ever loads one.
"""
from __future__ import annotations

import torch


def preload_worker_libraries() -> None:
    """One tiny training step, live view and loss plot, run here and thrown away (about 1 s, once)."""
    from cyclegan_workbench.models.config import preset_config
    from cyclegan_workbench.models.cyclegan import LOSS_NAMES, CycleGAN
    from cyclegan_workbench.visualization.parser import parse_generator
    from cyclegan_workbench.visualization.plots import LossFigure, LossHistory
    from cyclegan_workbench.visualization.probe import Probe
    from cyclegan_workbench.visualization.render import tile_grid

    cfg = preset_config("toy")
    n, t = cfg.network, cfg.training
    n.num_downs, n.ngf, n.ndf, n.input_nc, n.output_nc = 3, 2, 2, 1, 3
    t.load_size = t.crop_size = 32
    t.batch_size, t.pool_size, t.device = 1, 1, "cpu"
    threads = torch.get_num_threads()
    try:
        model = CycleGAN(cfg)  # the optimizers: torch._dynamo, and triton where it is installed
        real_A, real_B = torch.zeros(1, 1, 32, 32), torch.zeros(1, 3, 32, 32)
        model.optimize(real_A, real_B)
        model.test_losses(real_A, real_B)
        model.step_schedulers()
        probe = Probe(parse_generator(model.G_A, 32, 1))
        probe.set_input(real_A)
        tile_grid(probe.response(0), colormap="viridis", normalize="map")
        history = LossHistory()
        history.add_step(1, dict.fromkeys(LOSS_NAMES, 1.0))
        LossFigure().render(history, 160, 120)
    finally:
        torch.set_num_threads(threads)
