"""The reproduction pipeline behind `cyclegan-workbench reproduce`: datasets -> models -> experiments -> report.

A budget (quick, standard, full, or tiny for tests) says how large the datasets are, how the architecture models
are scaled, how many seeds each trains with and how long each model trains.
The pipeline generates the toy datasets, trains every model with the workbench's one training loop
(models.training.Trainer), runs every registered experiment (visualization.experiments.registry: each one's
stage is its module's run_in_pipeline over this pipeline, right after the models it needs are trained) and
writes the report (visualization.report). It is resumable: every finished stage leaves its results in
REPORT_DIR/stages/ and a rerun of the same command skips it; an interrupted training resumes from its last
saved state.

REPORT_DIR layout
    pipeline.json           budget and seed of this directory (a rerun with others is refused)
    datasets/<name>/        default, large (3x the training images), shifted
    runs/<model>/           Trainer run directories (an architecture model trained with the pipeline's seed + k,
                            k >= 1, is <model>_seed<seed>); the loss-curve points are a record in the training
                            state, saved with it (a run stopped by its time cap keeps its weights, not its
                            resumable state). Folders of older versions kept the points and the seconds
                            used in progress.json instead: a resume reads it when the state holds no curve.
    stages/<stage>.json     a finished stage's results and its wall time (experiments: exp<number>_<key>)
    figures/*.png  report.md  report.html  results.json

Threads: one torch thread per core the machine's other processes leave free at the start (see
thread_count); the report records the count.

Several processes (visualization.parallel_training): the models of a group (the default preset's, then the
architectures) do not depend on each other. With workers > 1 up to that many worker processes train a group's
models at once, each on its own GPU share or its share of the threads; run by torchrun (WORLD_SIZE > 1), each
rank trains its share of every group and rank 0 alone runs the experiments and writes the report. Either way
each model's stage file is the one a single process writes, plus a "worker" entry naming the process and its
device. After each training the listener's notice gets one line: the model, its iterations, its seconds of
training, its seconds per iteration and where it trained.

Time caps: a budget may stop a model after a number of wall-clock training seconds: the Trainer's own
time cap (curve evaluations, which are a Trainer callback, and saves excluded) stops it after the
iteration that reaches the cap; the Trainer saves its state and the model is evaluated as it is.

Public API
----------
Budget, BUDGETS ("quick", "standard", "full", "tiny"), budget_limits(budget) -> list[str]
ModelSpec, ARCHITECTURES, TOY_MODELS, architecture_specs(budget, seed) -> the architecture models of every seed
Listener (stage_started / stage_progress / stage_finished / notice; no-ops), PipelineCancelled
Reproduction(out_dir, budget="quick", device="cpu", seed=0, listener=None, cancelled=None, workers=1).run()
    -> dict (None on a torchrun rank other than 0)
    budget: a name from BUDGETS or a Budget. A Reproduction is also the PipelineContext the experiments'
    stages run over (colourizer, model_size, test_images, dataset_params, class_colors, trained_models,
    hooks: see experiments.descriptor)
reproduce(out_dir, **same) -> dict | None       the results (also in REPORT_DIR/results.json)
"""
from __future__ import annotations

import dataclasses
import datetime
import functools
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.files import read_json, remove_leftovers
from cyclegan_workbench.models.evaluation import evaluate_losses
from cyclegan_workbench.models.training import TrainerCallback
from cyclegan_workbench.visualization.experiments import (
    Experiment,
    ExperimentCancelled,
    LossCurve,
    balanced_stems,
    balanced_test_set,
    cyclegan_accuracy,
    experiments,
    measure_cyclegan,
    shifted_params,
)
from cyclegan_workbench.visualization.experiments.unseen import ASPECTS
from cyclegan_workbench.visualization.parallel_training import Ranks, Workers, where
from cyclegan_workbench.visualization.report import (
    write_figure,
    write_json,
    write_report,
)

FORMAT = "cyclegan-workbench reproduction"
PAPER_TEST_IMAGES = 160


# =================================================================================================
# Budgets and models


@dataclass(frozen=True)
class Budget:
    name: str
    description: str
    canvas: int = 256  # generated image size; models resize to their own input size
    train_per_class: int = 100
    large_train_per_class: int = 300
    test_per_class: int = 80
    arch_epochs: tuple[int, int] | None = None  # (n_epochs, n_epochs_decay); None: the preset's
    arch_epochs_batched: tuple[int, int] | None = None  # epochs of the batch-25 models; None: arch_epochs
    arch_seeds: int = 1  # each architecture model trains with the pipeline's seed, +1, ... (Table I's spread)
    # (preset, num_downs, ngf): the architecture models train on the default preset's settings and image size
    # with these U-Net depths and widths, the paper's ratios kept (empty: the paper's presets as they are).
    arch_scaled: tuple[tuple[str, int, int], ...] = ()
    arch_seconds: float | None = None  # wall-clock training cap per architecture model
    toy_epochs: tuple[int, int] | None = None
    toy_seconds: float | None = None
    curve_val_images: int = 160  # validation subset of the test split for the loss curves
    curve_points: int = 0  # extra curve points per time-capped model, evenly over its cap
    probe_images: int = 160  # gray test images for experiments 2, 3 and 7
    bg_levels: tuple[int, ...] = tuple(range(256))
    bg_per_class: int = 20
    aspects: tuple[float, ...] = ASPECTS
    per_aspect: int = 40
    per_unseen_shape: int = 20
    top_k: int = 8
    shrink: tuple[tuple[str, int], ...] = ()  # network overrides (and "size") for smoke tests

    @property
    def scaled_networks(self) -> dict[str, tuple[int, int]]:
        """arch_scaled as {preset: (num_downs, ngf)}."""
        return {preset: (downs, ngf) for preset, downs, ngf in self.arch_scaled}


BUDGETS: dict[str, Budget] = {
    "quick": Budget(
        "quick",
        "A smaller budget that runs the whole pipeline in about 15 minutes on an idle 2-core CPU. What it changes "
        "from the original settings is listed below; its numbers are not those of the original settings, and the "
        "architecture models in particular train for seconds instead of hours.",
        test_per_class=20, arch_seconds=30.0, toy_seconds=240.0, curve_val_images=8, curve_points=3,
        probe_images=40, bg_levels=tuple(range(0, 256, 16)) + (255,), bg_per_class=10, per_aspect=10,
        per_unseen_shape=6, top_k=6),
    "standard": Budget(
        "standard",
        "Table I on a laptop: the six architecture variants, each trained with three seeds until it converges, in "
        "about an hour on an idle 2-core CPU (then the other experiments on the default preset's models). The "
        "variants keep what each one varies (depth, width, batch size, dataset size) and scale what must scale to "
        "fit: 64 px images (the default preset's size), so the full U-Net has 6 downsamplings (a 1x1 bottleneck, "
        "as 7 at 128 px) and the shallow one 3; base width 16 (the mini U-Net 4); the default preset's training "
        "settings, because the paper's reach only 50 % on toy data in any budget a CPU allows; and epochs chosen "
        "so that every model converges. Everything it changes is listed below.",
        arch_epochs=(10, 10), arch_epochs_batched=(30, 20), arch_seeds=3,
        arch_scaled=(("unet_128", 6, 16), ("unet_shallow", 3, 16), ("unet_mini", 6, 4)),
        toy_seconds=200.0, curve_val_images=40, test_per_class=80, probe_images=40,
        bg_levels=tuple(range(0, 256, 16)) + (255,), bg_per_class=10, per_aspect=10, per_unseen_shape=6, top_k=6),
    "full": Budget(
        "full",
        "The original settings: 256 px images resized to 128 px (the default preset resizes to its own size), "
        "batch 1 (25 where the experiment says so), the paper's epochs for the architecture models and the "
        "default preset's own epochs for its models, a 160-image test set. Takes hours to days on a CPU; rerun "
        "the same command to resume."),
    "tiny": Budget(
        "tiny",
        "A smoke test of the pipeline (the test suite runs it): tiny networks, datasets and epochs. Its numbers "
        "say nothing about the architectures or the experiments.",
        canvas=32, train_per_class=4, large_train_per_class=6, test_per_class=2, arch_epochs=(1, 0),
        toy_epochs=(1, 0), curve_val_images=4, probe_images=4, bg_levels=(0, 200, 255), bg_per_class=1,
        aspects=(1.0, 6.0), per_aspect=2, per_unseen_shape=1, top_k=3,
        shrink=(("ngf", 4), ("ndf", 4), ("num_downs", 3), ("size", 32))),
}


def budget_limits(budget: Budget) -> list[str]:
    """How `budget` departs from the original settings, one sentence each, for the report."""
    full = BUDGETS["full"]
    out = []
    if budget.shrink:
        out.append("Every network shrunk for a smoke test (" + ", ".join(f"{k} {v}" for k, v in budget.shrink)
                   + "): the architectures are not the paper's.")
    if budget.canvas != full.canvas:
        out.append(f"Images drawn at {budget.canvas} px instead of {full.canvas} px.")
    if budget.arch_scaled:
        out.append("Architecture models scaled to the default preset's image size and trained with its settings: "
                   + "; ".join(f"{PRESET_NAMES[p]} {d} downsamplings, ngf {w}" for p, d, w in budget.arch_scaled)
                   + " (the paper's: 7, 3 and 7 downsamplings at 128 px, ngf 64, 64 and 4).")
    if budget.arch_seconds or budget.arch_epochs:
        out.append("Architecture models: " + _training_limit(budget.arch_epochs, budget.arch_seconds)
                   + (f" at batch 1, {_training_limit(budget.arch_epochs_batched, None)} at batch 25"
                      if budget.arch_epochs_batched else "")
                   + " instead of the paper's epochs (see the Models table).")
    if budget.arch_seeds > 1:
        out.append(f"Every architecture model trained with {budget.arch_seeds} seeds (the pipeline's seed and the "
                   f"next {budget.arch_seeds - 1}); experiment 1 gives each variant's mean and range over them.")
    if budget.toy_seconds or budget.toy_epochs:
        out.append("Default-preset models: " + _training_limit(budget.toy_epochs, budget.toy_seconds)
                   + " instead of the preset's epochs.")
    if budget.train_per_class != full.train_per_class or budget.large_train_per_class != full.large_train_per_class:
        out.append(f"Training sets of {budget.train_per_class} and {budget.large_train_per_class} images per class "
                   f"instead of {full.train_per_class} and {full.large_train_per_class}.")
    if budget.test_per_class != full.test_per_class:
        out.append(f"Test split of {2 * budget.test_per_class} images per domain instead of {PAPER_TEST_IMAGES}.")
    if budget.curve_val_images < 2 * budget.test_per_class:
        out.append(f"Validation curves on {budget.curve_val_images} test images"
                   + (f", {budget.curve_points} points per time-capped model plus one at every epoch end"
                      if budget.curve_points else "") + ".")
    if budget.probe_images != full.probe_images:
        out.append(f"Experiments 2, 3 and 7 on {budget.probe_images} test images.")
    if budget.bg_levels != full.bg_levels:
        levels = budget.bg_levels
        shown = ", ".join(map(str, levels)) if len(levels) <= 5 else \
            f"{', '.join(map(str, levels[:3]))}, ..., {levels[-1]}"
        out.append(f"Experiment 5 on the background levels {shown} ({len(levels)} levels) with "
                   f"{budget.bg_per_class} figure(s) per class each, instead of every level 0-255 with "
                   f"{full.bg_per_class}.")
    if (budget.per_aspect, budget.per_unseen_shape) != (full.per_aspect, full.per_unseen_shape):
        out.append(f"Experiment 4 on {budget.per_aspect} rectangle(s) per aspect ratio and {budget.per_unseen_shape} "
                   f"figure(s) per other shape, instead of {full.per_aspect} and {full.per_unseen_shape}.")
    return out


def _training_limit(epochs, seconds) -> str:
    parts = []
    if epochs:
        parts.append(f"{epochs[0]} + {epochs[1]} epochs")
    if seconds:
        parts.append(f"at most {seconds:g} s of training each (wall clock)")
    return ", ".join(parts)


@dataclass(frozen=True)
class ModelSpec:
    name: str
    label: str
    preset: str | None  # None: the default preset, read from models.config when the model is configured
    dataset: str  # "default", "large" or "shifted"
    batch_size: int | None = None  # None: the preset's
    role: str = "architecture"  # or "toy" (the default preset, the model of experiments 2-7)
    seed_offset: int = 0  # trains with the pipeline's seed + this
    variant: str = ""  # the model this one repeats with another seed ("": itself)

    @property
    def variant_name(self) -> str:
        return self.variant or self.name


ARCHITECTURES = (
    ModelSpec("unet_128", "U-Net 128 (7 downs, ngf 64)", "unet_128", "default", 1),
    ModelSpec("unet_shallow", "U-Net shallow (3 downs, ngf 64)", "unet_shallow", "default", 1),
    ModelSpec("unet_mini", "U-Net mini (7 downs, ngf 4)", "unet_mini", "default", 1),
    ModelSpec("unet_128_b25", "U-Net 128, batch 25", "unet_128", "default", 25),
    ModelSpec("unet_128_large", "U-Net 128, 3x data", "unet_128", "large", 1),
    ModelSpec("unet_128_large_b25", "U-Net 128, 3x data, batch 25", "unet_128", "large", 25),
)
TOY_MODELS = (
    ModelSpec("toy", "default preset, centred figures", None, "default", role="toy"),
    ModelSpec("toy_shifted", "default preset, shifted figures", None, "shifted", role="toy"),
)
PRESET_NAMES = {"unet_128": "U-Net 128", "unet_shallow": "U-Net shallow", "unet_mini": "U-Net mini"}
DATASET_PURPOSES = {"default": "training and testing", "large": "U-Net 128 on 3x data",
                    "shifted": "experiment 6"}


def architecture_specs(budget: Budget, seed: int) -> tuple[ModelSpec, ...]:
    """The architecture models of `budget`: ARCHITECTURES with the pipeline's `seed`, then each again for every
    further seed (named <model>_seed<seed>); labelled with the scaled architecture when the budget scales them."""
    specs = []
    scaled = budget.scaled_networks
    for offset in range(budget.arch_seeds):
        for spec in ARCHITECTURES:
            label = spec.label
            if spec.preset in scaled:
                downs, ngf = scaled[spec.preset]
                label = f"{PRESET_NAMES[spec.preset]} ({downs} downs, ngf {ngf})"
                if spec.dataset == "large":
                    label += ", 3x data"
                if (spec.batch_size or 1) > 1:
                    label += f", batch {spec.batch_size}"
            if budget.arch_seeds > 1:
                label += f", seed {seed + offset}"
            name = f"{spec.name}_seed{seed + offset}" if offset else spec.name
            specs.append(dataclasses.replace(spec, name=name, label=label, seed_offset=offset,
                                             variant=spec.name if offset else ""))
    return tuple(specs)


def model_config(spec: ModelSpec, budget: Budget, dataroot: Path, device: str, seed: int):
    """The RunConfig of `spec` under `budget` (the default preset as models.config defines it now)."""
    from cyclegan_workbench.models import config as mc

    scaled = budget.scaled_networks
    if spec.role == "architecture" and spec.preset in scaled:
        cfg = mc.preset_config(mc.DEFAULT_PRESET)
        cfg.network.num_downs, cfg.network.ngf = scaled[spec.preset]
    else:
        cfg = mc.preset_config(spec.preset or mc.DEFAULT_PRESET)
    cfg.dataroot = str(dataroot)
    n, t = cfg.network, cfg.training
    if spec.batch_size:
        t.batch_size = spec.batch_size
    epochs = budget.toy_epochs if spec.role == "toy" else budget.arch_epochs
    if spec.role != "toy" and t.batch_size > 1 and budget.arch_epochs_batched:
        epochs = budget.arch_epochs_batched
    if epochs:
        t.n_epochs, t.n_epochs_decay = epochs
    t.seed, t.device = seed + spec.seed_offset, device
    t.val_images = 0  # the pipeline measures its own curves, on a class-balanced subset
    t.save_epoch_freq = 0  # latest weights only: numbered copies of U-Net 128 cost 360 MB each
    for key, value in budget.shrink:
        if key == "size":
            t.load_size = t.crop_size = value
        else:
            setattr(n, key, value)
    mc.validate(cfg)
    return cfg


def _preset_summary(cfg) -> str:
    n, t = cfg.network, cfg.training
    text = (f"{n.generator} with {n.num_downs} downsamplings, ngf {n.ngf}, {t.crop_size} px, batch {t.batch_size}, "
            f"lr {t.lr:g}, {t.n_epochs} + {t.n_epochs_decay} epochs")
    if t.cycle_loss != "l1":
        text += f", {t.cycle_loss} cycle loss"
    if t.cycle_noise:
        text += f", cycle noise {t.cycle_noise:g}"
    if t.lambda_shape:
        text += f", shape weight {t.lambda_shape:g}, figure balance {t.cycle_balance:g}"
    if t.cycle_encoder_weight < 1:
        text += f", cycle encoder weight {t.cycle_encoder_weight:g}"
    return text


# =================================================================================================
# Progress


class Listener:
    """What the pipeline reports; the CLI prints it, a GUI would turn it into signals. No-ops here."""

    def stage_started(self, index: int, total: int, name: str, title: str) -> None:
        pass

    def stage_progress(self, fraction: float, message: str) -> None:
        pass

    def stage_finished(self, name: str, seconds: float, reused: bool) -> None:
        pass

    def notice(self, text: str) -> None:
        """A line to show as it is: how the models are spread over processes, how long a model took."""


class PipelineCancelled(Exception):
    """The cancel check returned True; finished stages and saved training states are kept."""


# =================================================================================================
# Test data


@dataclass
class TestData:
    """(A, B) batches and the gray images' ScoringSet of a class-balanced selection of a test split."""

    batches: list
    scoring: object  # ablation.ScoringSet
    count: int


def load_test_data(dataroot: Path, size: int, count: int | None = None) -> TestData:
    """`count` test scenes (all when None), the same number of each class, in both domains."""
    from cyclegan_workbench.data.shapes import load_manifest
    from cyclegan_workbench.data.unaligned import domain_folder, load_domain

    manifest = load_manifest(dataroot)
    stems = balanced_stems(manifest, count)
    if not stems:
        raise UserError(f"the dataset {dataroot} has no test images")
    channels = {manifest["domains"]["rgb"]: 3, manifest["domains"]["gray"]: 1}
    images = {}
    for d in ("A", "B"):
        domain = load_domain(domain_folder(dataroot, "test", d), channels[d], size)
        index = {p.stem: i for i, p in enumerate(domain.paths)}
        images[d] = domain.images[torch.tensor([index[s] for s in stems])].float().div(127.5).sub(1.0)
    batches = [(images["A"][i:i + 16], images["B"][i:i + 16]) for i in range(0, len(stems), 16)]
    return TestData(batches, balanced_test_set(dataroot, size, count), len(stems))


# =================================================================================================
# The pipeline


class Stage(NamedTuple):
    """One step of the plan: its stage name (the file in stages/), its title, what computes its result."""

    name: str
    title: str
    run: Callable[[], dict]
    model: ModelSpec | None = None  # a training stage's model


class Reproduction:
    def __init__(self, out_dir: str | Path, budget: str | Budget = "quick", device: str = "cpu", seed: int = 0,
                 listener: Listener | None = None, cancelled: Callable[[], bool] | None = None, workers: int = 1):
        from cyclegan_workbench.models.runtime import resolve_device

        if not isinstance(budget, Budget) and budget not in BUDGETS:
            raise UserError(f"unknown budget {budget!r}: choose {', '.join(BUDGETS)}")
        if device not in ("cpu", "cuda"):
            raise UserError(f"device must be cpu or cuda, got {device!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise UserError(f"the seed must be a whole number >= 0, got {seed!r}")
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise UserError(f"the number of workers must be a whole number >= 1, got {workers!r}")
        self.device = resolve_device(device)  # UserError when CUDA is asked for and missing
        self.out = Path(out_dir)
        self.budget = budget if isinstance(budget, Budget) else BUDGETS[budget]
        self.device_name, self.seed = device, seed
        self.models = (*TOY_MODELS, *architecture_specs(self.budget, seed))
        self.listener = listener or Listener()
        self._cancelled = cancelled
        self.timings: dict[str, dict] = {}
        self._cache: dict = {}
        self._spread = _spreading(workers, device)  # None: this process trains every model itself
        self._done_before: set[str] = set()  # training stages an earlier invocation finished

    # --- directory and stages --------------------------------------------------------------------
    def _prepare_out_dir(self) -> None:
        out = self.out
        if out.exists() and not out.is_dir():
            raise UserError(f"{out} exists and is not a folder")
        marker = out / "pipeline.json"
        settings = {"format": FORMAT, "budget": self.budget.name, "seed": self.seed,
                    "budget_values": _plain(dataclasses.asdict(self.budget))}
        if marker.is_file():
            saved = read_json(marker, "a reproduction's pipeline.json")
            if not isinstance(saved, dict):
                raise UserError(f"{marker} is not a reproduction's pipeline.json (not a JSON object); choose a "
                                "new --out")
            for key, what in (("budget", "budget"), ("seed", "seed")):
                if saved.get(key) != settings[key]:
                    raise UserError(f"{out} holds a reproduction with {what} {saved.get(key)!r}, not "
                                    f"{settings[key]!r}: rerun with those settings to resume it, or choose a new "
                                    "--out")
            if saved.get("budget_values") != settings["budget_values"]:
                raise UserError(f"the {self.budget.name} budget's settings changed since {out} was started; "
                                "choose a new --out")
            for folder in (out, out / "stages"):
                remove_leftovers(folder)
            return
        if out.is_dir() and any(out.iterdir()):
            raise UserError(f"{out} is not empty and holds no reproduction (no pipeline.json): choose a new or "
                            "empty folder")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create the report folder {out}: {exc.strerror or exc}") from None
        write_json(marker, settings)  # UserError when the folder is not writable

    @property
    def cancel_check(self) -> Callable[[], bool] | None:
        """The function that says the user cancelled (None: no one can); the worker pool polls it."""
        return self._cancelled

    def _check_cancel(self) -> None:
        if self._cancelled is not None and self._cancelled():
            raise PipelineCancelled("reproduction cancelled; rerun to continue where it stopped")

    def _stage(self, index: int, total: int, name: str, title: str, fn, extra: dict | None = None) -> dict:
        """A stage's result: reused when a finished one is saved, else computed and saved with `extra`."""
        saved = self.saved_stage(name)
        if saved is not None:
            self.timings[name] = {"seconds": saved["seconds"], "reused": True}
            self.listener.stage_finished(name, saved["seconds"], True)
            return saved["result"]
        self._check_cancel()
        self.listener.stage_started(index, total, name, title)
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        write_json(self.out / "stages" / f"{name}.json", {"result": result, "seconds": seconds, **(extra or {})})
        self.timings[name] = {"seconds": seconds, "reused": False}
        self.listener.stage_finished(name, seconds, False)
        return result

    def saved_stage(self, name: str) -> dict | None:
        """The stage file of a finished stage ("result", "seconds", maybe "worker"); None when it must run."""
        path = self.out / "stages" / f"{name}.json"
        saved = _read_json(path) if path.is_file() else None  # a damaged stage file is simply computed again
        if (isinstance(saved, dict) and isinstance(saved.get("result"), dict)
                and isinstance(saved.get("seconds"), (int, float)) and self._still_valid(saved["result"])):
            return saved
        return None

    def run_stage(self, index: int, total: int, stage: Stage, worker: dict | None = None) -> dict:
        """`stage` run (or reused) here; a model trained now is announced. `worker`: the stage file's record
        of the process that trains it, when the models are spread over several."""
        result = self._stage(index, total, stage.name, stage.title, stage.run, {"worker": worker} if worker else None)
        if stage.model is not None and not self.timings[stage.name]["reused"]:
            self._announce(result, where(worker) if worker else self._device_text())
        return result

    def collect_stage(self, name: str) -> dict:
        """The result of a training stage another process ran (a worker, another rank), recorded as ours."""
        saved = self.saved_stage(name)
        if saved is None:
            raise UserError(f"the training stage {name} ended without a valid {self.out / 'stages' / name}.json")
        reused = name in self._done_before
        self.timings[name] = {"seconds": saved["seconds"], "reused": reused}
        self.listener.stage_finished(name, saved["seconds"], reused)
        if not reused:
            self._announce(saved["result"], where(saved.get("worker") or {}))
        return saved["result"]

    def _announce(self, model: dict, where_text: str) -> None:
        """The line that says how long a model takes."""
        iterations, seconds = model["iterations"], model["train_seconds"]
        per = f"{seconds / iterations:.3g} s/iteration" if iterations else "no iteration"
        self.listener.notice(f"  {model['name']}: {iterations} iteration{'' if iterations == 1 else 's'}, "
                             f"{seconds:.1f} s of training, {per}, on {where_text}")

    def _device_text(self) -> str:
        if self.device.type == "cuda":
            return f"cuda:{torch.cuda.current_device()}"
        return self.device.type

    def _still_valid(self, result: dict) -> bool:
        """A saved stage whose files went missing (figures, datasets, run directories) runs again."""
        files = [self.out / p for p in result.get("figures", {}).values()]
        files += [self.out / d["path"] / "manifest.json" for d in result.get("datasets", {}).values()]
        if "role" in result:
            files.append(self.out / "runs" / result["name"] / "config.json")
        return all(f.is_file() for f in files)

    # --- the run ---------------------------------------------------------------------------------
    def run(self) -> dict | None:
        """Every stage, then the report; the results. None on a torchrun rank other than 0 (it trains its
        share of the models, and rank 0 writes the report)."""
        from cyclegan_workbench.models.runtime import tune_allocator

        started_wall = time.perf_counter()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        load_start = _load_average()
        on_main = self._spread.on_main if self._spread is not None else _call
        if self._spread is not None:
            self._spread.start(self.device_name)
        try:
            on_main(self._prepare_out_dir)  # under torchrun the other ranks wait for it and share its error
            tune_allocator()
            previous_threads = torch.get_num_threads()
            self.threads = thread_count(load_start)
            torch.set_num_threads(self.threads)
            try:
                return self._run(started_wall, started, load_start)
            finally:
                torch.set_num_threads(previous_threads)
        finally:
            if self._spread is not None:
                self._spread.stop()

    def _plan(self) -> list[Stage]:
        """The stages in order: the datasets, then for each group of models (the default preset's, then the
        architectures) their trainings followed by the registered experiments that need them, by number."""
        plan = [Stage("datasets", "generating the datasets", self._datasets)]
        for role in ("toy", "architecture"):
            plan += [self._training_stage(s) for s in self.models if s.role == role]
            plan += [Stage(e.stage, f"experiment {e.number}: {e.title}", lambda e=e: self._experiment(e))
                     for e in experiments() if e.needs == role]
        return plan

    def _training_stage(self, spec: ModelSpec) -> Stage:
        return Stage(f"train_{spec.name}", f"training {spec.name} ({spec.label})", lambda: self._train(spec), spec)

    def training_stage(self, model: str) -> Stage:
        """The training stage of the model named `model` (a worker process is given the name)."""
        return self._training_stage(next(s for s in self.models if s.name == model))

    def _run(self, started_wall: float, started: str, load_start) -> dict | None:
        plan = self._plan()
        total = len(plan) + 1
        main = self._spread is None or self._spread.is_main
        if self._spread is not None:
            self._done_before = {s.name for s in plan if s.model is not None and self.saved_stage(s.name)}
            if main:
                self.listener.notice(self._spread.describe(self.threads))
        results = {}
        for index, stage in enumerate(plan, 1):
            if stage.model is not None and self._spread is not None:
                if stage is _first_of_group(plan, stage):  # which trains the whole group
                    group = [(i, s) for i, s in enumerate(plan, 1) if _same_group(s, stage)]
                    results.update(self._spread.train(self, group, total))
            elif stage.name == "datasets" and self._spread is not None:
                # Every process trains on the datasets: under torchrun the other ranks wait for rank 0's.
                results[stage.name] = self._spread.on_main(functools.partial(self.run_stage, index, total, stage))
            elif main:
                results[stage.name] = self.run_stage(index, total, stage)
        if not main:
            return None
        self.listener.stage_started(len(plan) + 1, len(plan) + 1, "report", "writing the report")
        t0 = time.perf_counter()
        assembled = self._assemble(results, started, load_start)
        assembled["wall_seconds"] = time.perf_counter() - started_wall
        assembled["stage_seconds_total"] = sum(t["seconds"] for t in self.timings.values())
        paths = write_report(self.out, assembled)
        self.listener.stage_finished("report", time.perf_counter() - t0, False)
        assembled["paths"] = {k: str(v) for k, v in paths.items()}
        return assembled

    def _assemble(self, stages: dict, started: str, load_start) -> dict:
        models = {s.name: stages[f"train_{s.name}"] for s in self.models}
        experiment_stages = {e.stage for e in experiments()}
        exps = {stages[k]["key"]: stages[k] for k in stages if k in experiment_stages}
        toy = models["toy"]
        return {
            "format": FORMAT, "version": 1,
            "budget": {**_plain(dataclasses.asdict(self.budget)), "limits": budget_limits(self.budget)},
            "seed": self.seed, "device": self.device_name, "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "threads": self.threads,
            "load_average_start": load_start, "load_average_end": _load_average(),
            "started": started, "finished": datetime.datetime.now().isoformat(timespec="seconds"),
            "class_colors": stages["datasets"]["class_colors"],
            "datasets": stages["datasets"]["datasets"],
            "default_preset": {"name": toy["preset"], "summary": toy["summary"], "size": toy["size"],
                               "accuracy": toy["accuracy"]},
            "models": models, "experiments": exps, "timings": self.timings,
            # Only when the models were spread: a single process's results stay as they were.
            **({"workers": self._spread.summary()} if self._spread is not None else {}),
        }

    # --- datasets --------------------------------------------------------------------------------
    def _dataset_params(self):
        from cyclegan_workbench.data.shapes import PRESETS

        b = self.budget
        common = dict(size=b.canvas, train_per_class=b.train_per_class, test_per_class=b.test_per_class,
                      seed=self.seed)
        default = dataclasses.replace(PRESETS["default"](), **common)
        large = dataclasses.replace(default, train_per_class=b.large_train_per_class)
        shifted = shifted_params(default)
        return {"default": default, "large": large, "shifted": shifted}

    def _dataset_dir(self, name: str) -> Path:
        return self.out / "datasets" / name

    def _datasets(self) -> dict:
        from cyclegan_workbench.data.shapes import (
            GenerationCancelled,
            generate_dataset,
            load_manifest,
        )

        params = self._dataset_params()
        total = sum(p.image_count() for p in params.values())
        done = 0
        out = {}
        for name, p in params.items():
            folder = self._dataset_dir(name)
            if (folder / "manifest.json").is_file():
                if load_manifest(folder)["params"] != p.to_dict():
                    raise UserError(f"{folder} holds a dataset with other parameters; choose a new --out")
            else:
                def progress(k, n, base=done, name=name):
                    self.listener.stage_progress((base + k) / total, f"dataset {name}: {k}/{n} images")
                    return not (self._cancelled is not None and self._cancelled())

                try:
                    generate_dataset(p, folder, progress=progress)
                except GenerationCancelled:
                    raise PipelineCancelled("reproduction cancelled while generating datasets") from None
            done += p.image_count()
            out[name] = {"path": str(folder.relative_to(self.out)), "purpose": DATASET_PURPOSES[name],
                         "params": p.to_dict(), "train_per_domain": p.train_per_class * len(p.shapes),
                         "test_per_domain": p.test_per_class * len(p.shapes)}
        colours = params["default"].class_colors()
        return {"datasets": out, "class_colors": {k: list(v) for k, v in colours.items()}}

    # --- training --------------------------------------------------------------------------------
    def _test_data(self, dataset: str, size: int, count: int | None) -> TestData:
        key = ("test", dataset, size, count)
        if key not in self._cache:
            self._cache[key] = load_test_data(self._dataset_dir(dataset), size, count)
        return self._cache[key]

    def _train(self, spec: ModelSpec) -> dict:
        from cyclegan_workbench.models import checkpoints
        from cyclegan_workbench.models.training import Trainer

        b = self.budget
        run_dir = self.out / "runs" / spec.name
        cfg = model_config(spec, b, self._dataset_dir(spec.dataset).resolve(), self.device_name, self.seed)
        cap = b.toy_seconds if spec.role == "toy" else b.arch_seconds
        resume = (run_dir / checkpoints.STATE_FILE).is_file()
        if not resume and run_dir.exists():
            shutil.rmtree(run_dir)  # a run that never reached its first save: start it again
        recorder = _CurveRecorder(cap / b.curve_points if cap and b.curve_points else None)
        trainer = Trainer(cfg, run_dir, resume=resume, time_cap=cap, callbacks=[recorder])
        cfg = trainer.cfg
        t = cfg.training
        if resume and not recorder.restored:
            _resume_progress_json(trainer, recorder)
        # The large dataset shares the default one's test split (same seed and count): load it once.
        test_set = "default" if spec.dataset == "large" else spec.dataset
        recorder.val = self._test_data(test_set, t.crop_size, b.curve_val_images)
        stopped_by = self._train_loop(spec, trainer)
        test = self._test_data(test_set, t.crop_size, None)
        self.listener.stage_progress(1.0, f"{spec.name}: evaluating on {test.count} test images")
        measured = measure_cyclegan(trainer.model, test.batches, test.scoring)
        step = _position(trainer)
        per_epoch = trainer.dataset.batches_per_epoch(t.batch_size)
        if stopped_by == "time cap":
            # A capped run is finished for good; its resumable state is most of its disk (1 GB for U-Net 128).
            (run_dir / checkpoints.STATE_FILE).unlink(missing_ok=True)
        return {
            "name": spec.name, "label": spec.label, "preset": cfg.preset, "role": spec.role, "dataset": spec.dataset,
            "variant": spec.variant_name, "seed": t.seed,
            "summary": _preset_summary(cfg), "config": cfg.to_dict(), "size": t.crop_size, "batch_size": t.batch_size,
            "train_images": len(trainer.dataset), "test_images": test.count,
            "planned": f"{t.n_epochs} + {t.n_epochs_decay} epochs" + (f", at most {cap:g} s" if cap else ""),
            "iterations": step, "epochs": step / per_epoch, "images_seen": _images_seen(step, trainer),
            "train_seconds": trainer.train_seconds, "curve_seconds": recorder.seconds, "stopped_by": stopped_by,
            "curve": recorder.curve.points, "table": measured["table"], "accuracy": measured["accuracy"],
            "per_class": measured["per_class"],
        }

    def _train_loop(self, spec: ModelSpec, trainer) -> str:
        """Runs the Trainer with progress messages and the cancel check; why it stopped."""
        total_steps = trainer.cfg.training.total_epochs * trainer.dataset.batches_per_epoch(
            trainer.cfg.training.batch_size)
        cap = trainer.time_cap
        cancelled = False
        try:
            for report in trainer.run():
                used = report.train_seconds
                fraction = max(report.global_step / total_steps, used / cap if cap else 0.0)
                self.listener.stage_progress(min(fraction, 1.0), f"{spec.name}: iteration {report.global_step}/"
                                             f"{total_steps}, epoch {report.epoch}/{report.total_epochs}, "
                                             f"{used:.0f} s" + (f" of {cap:g} s" if cap else ""))
                # stopped_by is set when the time cap stops the run after this iteration: that wins.
                if trainer.stopped_by is None and self._cancelled is not None and self._cancelled():
                    cancelled = True
                    trainer.request_stop()
        except KeyboardInterrupt:
            trainer.save(reason="stop")
            raise
        if cancelled:
            raise PipelineCancelled("reproduction cancelled; rerun to resume the training where it stopped")
        return trainer.stopped_by

    # --- experiments: each one's stage runs its module's run_in_pipeline over these methods ----------
    def _experiment(self, described: Experiment) -> dict:
        try:
            result = described.run_in_pipeline(self)
        except ExperimentCancelled:
            raise PipelineCancelled("reproduction cancelled; rerun to continue where it stopped") from None
        data = result.to_dict()
        data["figures"] = {name: write_figure(self.out, described.figure_file(name), fig)
                           for name, fig in result.figures.items()}
        return data

    # What experiments.descriptor.PipelineContext promises an experiment.
    def hooks(self) -> dict:
        return {"progress": self.listener.stage_progress, "cancelled": self._cancelled}

    def colourizer(self, model: str):
        key = ("graph", model)
        if key not in self._cache:
            from cyclegan_workbench.models import checkpoints
            from cyclegan_workbench.visualization.parser import parse_generator

            run_dir = self.out / "runs" / model
            cfg = checkpoints.load_config(run_dir)
            which = "G_A" if cfg.network.input_nc == 1 else "G_B"
            net, _ = checkpoints.load_generator(run_dir, which, self.device)
            self._cache[key] = parse_generator(net, cfg.training.crop_size, in_channels=1)
        return self._cache[key]

    def model_size(self, model: str = "toy") -> int:
        return self.colourizer(model).input_shape[1]

    def test_images(self, dataset: str, count: int | None = None):
        return self._test_data(dataset, self.model_size(), count).scoring

    def dataset_params(self, name: str):
        return self._dataset_params()[name]

    def class_colors(self) -> dict:
        from cyclegan_workbench.data.shapes import load_manifest

        return {k: tuple(v) for k, v in load_manifest(self._dataset_dir("default"))["class_colors"].items()}

    def trained_models(self, role: str) -> list[dict]:
        return [_read_json(self.out / "stages" / f"train_{s.name}.json")["result"]
                for s in self.models if s.role == role]


class _CurveRecorder(TrainerCallback):
    """The loss curve of one training: a point every `interval` training seconds, at every epoch end and
    where the time cap stops it. The points are a record in the training state, so a resume continues
    the curve the saved state belongs to; the Trainer does not count their evaluation as training time."""

    key = "reproduce_curve"

    def __init__(self, interval: float | None):
        self.every_seconds = interval
        self.curve = LossCurve()
        self.val: TestData | None = None  # set before training: it needs the resumed run's size
        self.seconds = 0.0  # spent on points in this session
        self.restored = False

    def state_dict(self) -> dict:
        return {"points": self.curve.points}

    def load_state_dict(self, record) -> None:
        if not self.load(record.get("points") if isinstance(record, dict) else None):
            raise ValueError("the loss-curve record is not a list of points")

    def load(self, points) -> bool:
        """Continue the curve `points` (False, and nothing loaded, when they are not a list of points)."""
        if not isinstance(points, list) or not all(isinstance(p, dict) and type(p.get("step")) is int
                                                   for p in points):
            return False
        self.curve = LossCurve(points)
        self.restored = True
        return True

    def on_step(self, trainer, report) -> None:
        self.curve.add_step(report.losses)

    def on_interval(self, trainer, report) -> None:
        self._point(trainer)

    def on_epoch_end(self, trainer, summary) -> None:
        self._point(trainer)

    def on_stop(self, trainer) -> None:
        if trainer.stopped_by == "time cap":  # a cancelled run continues later; its curve too
            self._point(trainer)

    def _point(self, trainer) -> None:
        step = _position(trainer)
        if self.curve.points and self.curve.points[-1]["step"] >= step:
            return  # this step has its point already (an interval tick, or the cap, on an epoch end)
        started = time.perf_counter()
        validation = evaluate_losses(trainer.model, self.val.batches)
        accuracy = cyclegan_accuracy(trainer.model, self.val.scoring).accuracy
        per_epoch = trainer.dataset.batches_per_epoch(trainer.cfg.training.batch_size)
        self.curve.add_point(step, _images_seen(step, trainer), step / per_epoch, trainer.train_seconds,
                             validation, accuracy)
        self.seconds += time.perf_counter() - started


def _spreading(workers: int, device: str) -> Workers | Ranks | None:
    """Who trains the models: torchrun's ranks, `workers` worker processes, or None (this process alone)."""
    from cyclegan_workbench.models import distributed

    world = distributed.from_environment()
    if world.active:
        if workers != 1:
            raise UserError("--workers is for one machine without torchrun: under torchrun each rank trains its "
                            "share of the models, so start more ranks instead")
        return Ranks(world)
    return Workers(workers, device) if workers > 1 else None


def _call(action: Callable[[], object]):
    return action()


def _same_group(stage: Stage, other: Stage) -> bool:
    """Both train a model of the same group (the default preset's, or the architectures)."""
    return stage.model is not None and other.model is not None and stage.model.role == other.model.role


def _first_of_group(plan: list[Stage], stage: Stage) -> Stage:
    return next(s for s in plan if _same_group(s, stage))


def _resume_progress_json(trainer, recorder: _CurveRecorder) -> None:
    """A run folder of an older version: its curve and training seconds are in progress.json, in step with
    its training state (points past the state's position were not saved with it: the resume repeats them)."""
    progress = _read_json(trainer.run_dir / "progress.json")
    if not isinstance(progress, dict):
        return
    if recorder.load(progress.get("curve")):
        recorder.curve.truncate(_position(trainer))
    seconds = progress.get("saved_seconds")
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and 0 <= seconds < float("inf"):
        trainer.train_seconds = float(seconds)


def _position(trainer) -> int:
    return trainer.epoch * trainer.dataset.batches_per_epoch(trainer.cfg.training.batch_size) + trainer.iteration


def _images_seen(step: int, trainer) -> int:
    per_epoch = trainer.dataset.batches_per_epoch(trainer.cfg.training.batch_size)
    epochs, rest = divmod(step, per_epoch)
    n = len(trainer.dataset)
    return epochs * n + min(rest * trainer.cfg.training.batch_size, n)


def _read_json(path: Path):
    try:
        return read_json(path, "a JSON file")
    except UserError:
        return None


def _plain(value):
    """Tuples -> lists, so that a budget compares equal to its JSON round trip."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def thread_count(load_average=None) -> int:
    """Torch threads for this run: OMP_NUM_THREADS when the user set it, else one per core that other
    processes leave free (at least one).

    Torch's CPU threads meet at a barrier after every operation; when the other processes already keep
    the cores busy, a second thread mostly waits there. Measured on the 2-core machine with three other
    single-threaded trainings running: a training step of the default preset took 0.17 s with one
    thread and 1.4 s with two.
    """
    default = torch.get_num_threads()
    if os.environ.get("OMP_NUM_THREADS"):
        return default
    cores = os.cpu_count() or 1
    busy = round(load_average[0]) if load_average else 0
    return max(1, min(default, cores - busy))


def _load_average():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def reproduce(out_dir: str | Path, budget: str = "quick", device: str = "cpu", seed: int = 0,
              listener: Listener | None = None, cancelled: Callable[[], bool] | None = None,
              workers: int = 1) -> dict | None:
    return Reproduction(out_dir, budget, device, seed, listener, cancelled, workers).run()


__all__ = ["Budget", "BUDGETS", "budget_limits", "ModelSpec", "ARCHITECTURES", "TOY_MODELS", "architecture_specs",
           "Listener", "PipelineCancelled", "Reproduction", "reproduce", "model_config", "load_test_data", "TestData",
           "thread_count"]
