"""`train`, `evaluate` and `translate`: the headless CycleGAN jobs (no Qt)."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from cyclegan_workbench.app.cli.progress import ProgressBar
from cyclegan_workbench.data.errors import UserError

# Marks a folder `translate` created, so that translating again into it may replace its own PNGs.
TRANSLATION_MARKER = ".cyclegan-workbench-translations"


def register(sub) -> None:
    from cyclegan_workbench.models.config import CYCLE_LOSSES, DEFAULT_PRESET, PRESETS

    p = sub.add_parser("train", help="train a CycleGAN on a dataset folder",
                       description="Train a CycleGAN on DATAROOT/{trainA,trainB} (validation on testA/testB "
                       "when present). Per-epoch losses go to RUN_DIR/losses.csv.")
    p.add_argument("dataroot", nargs="?", default="", help="dataset folder (optional with --resume)")
    p.add_argument("--out", required=True, help="run directory for checkpoints and losses")
    p.add_argument("--preset", default=DEFAULT_PRESET, choices=sorted(PRESETS),
                   help=f"architecture and training preset (default {DEFAULT_PRESET})")
    p.add_argument("--ngf", type=int, help="generator filters in the first layer")
    p.add_argument("--ndf", type=int, help="discriminator filters in the first layer")
    p.add_argument("--num-downs", type=int, help="U-Net downsamplings (3..8)")
    p.add_argument("--norm", choices=["instance", "batch", "none"])
    p.add_argument("--input-nc", type=int, choices=[1, 3], help="channels of domain A (default: from the images)")
    p.add_argument("--output-nc", type=int, choices=[1, 3], help="channels of domain B (default: from the images)")
    p.add_argument("--size", type=int, help="training image size (images are resized to it)")
    p.add_argument("--epochs", type=int, help="epochs at the initial learning rate")
    p.add_argument("--epochs-decay", type=int, help="epochs of linear learning-rate decay")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="generator learning rate")
    p.add_argument("--lambda-cycle", type=float, help="weight of both cycle losses")
    p.add_argument("--lambda-identity", type=float, help="identity loss weight (relative to lambda-cycle)")
    p.add_argument("--gan-mode", choices=["lsgan", "vanilla"])
    p.add_argument("--cycle-loss", choices=CYCLE_LOSSES, help=_setting_help("cycle_loss"))
    for option, setting, metavar in (("--cycle-noise", "cycle_noise", "FRACTION"),
                                     ("--cycle-margin", "cycle_margin", "M"),
                                     ("--shape-weight", "lambda_shape", "W"),
                                     ("--cycle-balance", "cycle_balance", "B"),
                                     ("--cycle-encoder-weight", "cycle_encoder_weight", "W")):
        p.add_argument(option, type=float, metavar=metavar, dest=setting, help=_setting_help(setting))
    p.add_argument("--seed", type=int)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, help="CPU threads for torch (default: one per core)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out where it stopped")
    p.set_defaults(run=run_train)

    p = sub.add_parser("evaluate", help="test-set losses and cycle SSIM of a trained run",
                       description="Print the test-set losses D_A, D_B, G_A, G_B, Cycle_A, Cycle_B, Total "
                       "(the generator objective), the SSIM of both cycle reconstructions and, for toy "
                       "datasets, the colourization accuracy: per class, as a confusion table, and per class "
                       "by figure area (thirds, smallest first: a generator that colours by size rather than "
                       "by shape misses one end of a class).")
    p.add_argument("run_dir")
    p.add_argument("--dataroot", help="dataset to evaluate on (default: the run's own)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run_evaluate)

    p = sub.add_parser("translate", help="translate images with a trained generator",
                       description="Translate one image or every image of a folder; outputs keep the "
                       "input file names (as PNG).")
    p.add_argument("run_dir", help="run directory, or a single generator .pth (ours or the reference's)")
    p.add_argument("inputs", help="image file or folder")
    p.add_argument("--direction", choices=["AtoB", "BtoA"], default="AtoB")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--size", type=int, help="image size fed to the generator (default: the run's)")
    p.add_argument("--masks", metavar="MASKS.json", help="apply a mask set saved by the workbench")
    p.set_defaults(run=run_translate)


def _setting_help(setting: str) -> str:
    from cyclegan_workbench.models.config import DEFAULT_PRESET, SETTING_HELP, preset_config

    default = getattr(preset_config(DEFAULT_PRESET).training, setting)
    shown = default if isinstance(default, str) else f"{default:g}"
    return f"{SETTING_HELP[setting]} Default: the preset's ({shown} for {DEFAULT_PRESET})."


def _config_from_args(args):
    from cyclegan_workbench.data.files import resolved
    from cyclegan_workbench.models.config import preset_config

    cfg = preset_config(args.preset)
    cfg.dataroot = str(resolved(args.dataroot)) if args.dataroot else ""
    n, t = cfg.network, cfg.training
    for attr, value in (("ngf", args.ngf), ("ndf", args.ndf), ("num_downs", args.num_downs), ("norm", args.norm),
                        ("input_nc", args.input_nc), ("output_nc", args.output_nc)):
        if value is not None:
            setattr(n, attr, value)
    for attr, value in (("n_epochs", args.epochs), ("n_epochs_decay", args.epochs_decay),
                        ("batch_size", args.batch_size), ("lr", args.lr), ("lambda_identity", args.lambda_identity),
                        ("gan_mode", args.gan_mode), ("cycle_loss", args.cycle_loss), ("cycle_noise", args.cycle_noise),
                        ("cycle_margin", args.cycle_margin), ("lambda_shape", args.lambda_shape),
                        ("cycle_balance", args.cycle_balance), ("cycle_encoder_weight", args.cycle_encoder_weight),
                        ("seed", args.seed),
                        ("device", args.device),
                        ("num_threads", args.threads)):
        if value is not None:
            setattr(t, attr, value)
    if args.size is not None:
        t.load_size = t.crop_size = args.size
    if args.lambda_cycle is not None:
        t.lambda_A = t.lambda_B = args.lambda_cycle
    return cfg


def _enable_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)


def run_train(args) -> int:
    from cyclegan_workbench.models import distributed

    main_rank = distributed.from_environment().is_main
    if main_rank:
        _enable_logging()
    if not args.dataroot and not args.resume:
        raise UserError("give the dataset folder to train on")
    try:
        # Under torchrun rank 0 alone reports; the others' errors still reach the terminal (main prints them).
        with contextlib.nullcontext() if main_rank else _silenced():
            return _train(args)
    finally:
        distributed.shutdown()


@contextlib.contextmanager
def _silenced():
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), contextlib.redirect_stderr(devnull):
        yield


def _train(args) -> int:
    from cyclegan_workbench.models.training import Trainer

    trainer = Trainer(_config_from_args(args), args.out, resume=args.resume)
    if trainer.dataset.skipped:
        print(f"warning: skipped {len(trainer.dataset.skipped)} unreadable image(s)", file=sys.stderr)
    if trainer.finished:
        print(f"{args.out} has already finished its {trainer.cfg.training.total_epochs} epochs")
        return 0
    cfg = trainer.cfg
    print(f"training {cfg.preset}: {cfg.network.generator} ngf {cfg.network.ngf}, "
          f"{cfg.training.crop_size}px, {len(trainer.dataset.A)} A / {len(trainer.dataset.B)} B images, "
          f"{cfg.training.total_epochs} epochs, device {trainer.device}", file=sys.stderr)
    c, sigma = trainer.contrasts, trainer.model.noise_sigma
    print(f"contrast A {c['A']:.2f}, B {c['B']:.2f}: cycle noise std {sigma['A']:.2f} on fake A, {sigma['B']:.2f} "
          f"on fake B ({cfg.training.cycle_noise:g} of the contrast)", file=sys.stderr)
    if trainer.probe_note:
        print(trainer.probe_note, file=sys.stderr)
    bar = None
    with _stop_on_signals(trainer) as stopping:
        try:
            for report in trainer.run():
                if bar is None:
                    bar = ProgressBar(report.total_steps, "train", initial=report.global_step - 1, unit="step")
                _show_progress(bar, report)
        except KeyboardInterrupt:  # a second Ctrl-C: leave at once, keeping the last saved state
            print(f"\naborted: the last saved state is kept; continue with --resume --out {args.out}", file=sys.stderr)
            return 130
        finally:
            if bar is not None:
                bar.close()
    if stopping or not trainer.finished:
        # Without a signal of its own, a rank stopped because another one was asked to (torchrun).
        reason = stopping[0] if stopping else "stopped by another process"
        print(f"\n{reason}: state saved after the current step; continue with --resume --out {args.out}",
              file=sys.stderr)
        return 130 if reason == "interrupted" else 143
    print(f"done: checkpoints and losses.csv in {args.out}")
    return 0


def _show_progress(bar: ProgressBar, report) -> None:
    losses = " ".join(f"{k} {report.losses[k]:.3f}" for k in ("D_A", "G_A", "cycle_A", "D_B", "G_B", "cycle_B"))
    bar.update(report.global_step, f"ep {report.epoch}/{report.total_epochs} {losses}")
    if report.epoch_summary:
        s = report.epoch_summary
        parts = [f"epoch {s.epoch}: {s.seconds:.1f}s"]
        if s.validation:
            parts.append(f"val Total {s.validation['Total']:.3f}")
        if s.accuracy is not None:
            parts.append(f"colourization accuracy {s.accuracy:.1%}")
        bar.write(", ".join(parts))
        if s.warning:
            bar.write(f"warning: {s.warning}")


@contextlib.contextmanager
def _stop_on_signals(trainer):
    """Ctrl-C or SIGTERM ask the trainer to stop between two steps, so the saved state resumes exactly.

    The list it yields receives "interrupted" or "terminated" once a signal came. A second Ctrl-C raises
    KeyboardInterrupt at once (without saving: the state would be from the middle of a step).
    """
    received: list[str] = []

    def handler(signum, frame):
        if received and signum == signal.SIGINT:
            raise KeyboardInterrupt
        if not received:
            received.append("interrupted" if signum == signal.SIGINT else "terminated")
            sys.stderr.write("\nstopping after the current step (Ctrl-C again to abort without saving)\n")
        trainer.request_stop()

    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set from the main thread
        return
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_evaluate(args) -> int:
    from cyclegan_workbench.data.unaligned import paired_test_batches
    from cyclegan_workbench.models import checkpoints
    from cyclegan_workbench.models.cyclegan import CycleGAN
    from cyclegan_workbench.models.evaluation import (
        TABLE_COLUMNS,
        ColourizationProbe,
        evaluate_losses,
    )
    from cyclegan_workbench.models.runtime import resolve_device, tune_allocator

    tune_allocator()
    cfg = checkpoints.load_config(Path(args.run_dir))
    dataroot = args.dataroot or cfg.dataroot
    device = resolve_device(cfg.training.device)
    model = CycleGAN(cfg, device)
    for name, net in model.networks().items():
        path = Path(args.run_dir) / f"latest_net_{name}.pth"
        checkpoints.load_weights(net, checkpoints.load_state_dict_file(path), str(path))
    size = cfg.training.crop_size
    table = evaluate_losses(model, paired_test_batches(dataroot, cfg.network.input_nc, cfg.network.output_nc, size))
    probe = ColourizationProbe.create(dataroot, size)
    if isinstance(probe, str):
        print(probe, file=sys.stderr)
    else:
        score = probe.accuracy(model.G_B if probe.gray_domain == "B" else model.G_A, device)
        table.update(accuracy=score.accuracy, per_class=score.per_class, by_area=score.by_area)
    if args.json:
        print(json.dumps(table, indent=2))
        return 0
    print("  ".join(f"{k:>8}" for k in TABLE_COLUMNS))
    print("  ".join(f"{table[k]:8.4f}" for k in TABLE_COLUMNS))
    print(f"cycle SSIM: A {table['SSIM_A']:.4f}  B {table['SSIM_B']:.4f}")
    if "accuracy" in table:
        print(f"colourization accuracy: {table['accuracy']:.1%}")
        print(score.format_table(headline=False))
    return 0


def run_translate(args) -> int:
    import torch

    from cyclegan_workbench.data.files import claim_folder, remove_leftovers, resolved
    from cyclegan_workbench.data.images import read_image, resize, to_image, to_tensor, write_image
    from cyclegan_workbench.data.unaligned import list_images
    from cyclegan_workbench.models import checkpoints
    from cyclegan_workbench.models.config import check_input_size

    source = Path(args.run_dir)
    which = "G_A" if args.direction == "AtoB" else "G_B"
    net, net_cfg = checkpoints.load_generator(source, which)
    size = args.size
    if size is None:  # the size it was trained at: the run's, the reference's train_opt.txt, the architecture's
        folder = source if source.is_dir() else source.parent
        size = (checkpoints.load_config(folder).training.crop_size if (folder / checkpoints.CONFIG_FILE).is_file()
                else checkpoints.trained_size(folder, net_cfg))
    check_input_size(net_cfg, size)
    forward = net
    if args.masks:
        from cyclegan_workbench.visualization.probe import masked_generator

        forward = masked_generator(net, args.masks, size)
    inputs = Path(args.inputs)
    files = [inputs] if inputs.is_file() else list_images(inputs) if inputs.is_dir() else []
    if not files:
        raise UserError(f"no images found at {inputs}")
    out_dir = Path(args.out)
    targets = [out_dir / f"{path.stem}.png" for path in files]
    sources = {resolved(path) for path in files}
    if resolved(out_dir) == resolved(inputs if inputs.is_dir() else inputs.parent) or any(
            resolved(t) in sources for t in targets):
        raise UserError(f"the translations would overwrite the input images in {out_dir}: choose another --out")
    claim_folder(out_dir, TRANSLATION_MARKER, "translations")
    remove_leftovers(out_dir)
    bar = ProgressBar(len(files), "translate", unit="image")
    with torch.no_grad():
        for i, path in enumerate(files, 1):
            image = resize(read_image(path, net_cfg.input_nc), size)
            write_image(targets[i - 1], to_image(forward(to_tensor(image).unsqueeze(0))[0]))
            bar.update(i)
    bar.close()
    print(f"{len(files)} translation(s) written to {out_dir}")
    return 0
