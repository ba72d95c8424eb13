"""Configuration dataclasses (network, training) and the named presets; stored in every checkpoint."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from cyclegan_workbench.data.errors import UserError


@dataclass
class NetworkConfig:
    """Architecture of both generators and both discriminators (G_A: A->B, G_B: B->A)."""

    generator: str = "unet"  # unet | resnet
    num_downs: int = 7  # U-Net downsamplings (3..8)
    ngf: int = 64
    n_blocks: int = 9  # ResNet residual blocks
    norm: str = "instance"  # instance | batch | none
    use_dropout: bool = False
    discriminator: str = "basic"  # basic (PatchGAN, 3 layers) | n_layers | pixel
    ndf: int = 64
    n_layers_D: int = 3
    init_gain: float = 0.02
    input_nc: int = 0  # channels of domain A (1 or 3); 0 = read off the dataset when training starts
    output_nc: int = 0  # channels of domain B, likewise


@dataclass
class TrainingConfig:
    """How the CycleGAN learns; defaults follow the paper except where a preset says otherwise."""

    n_epochs: int = 100  # epochs at the initial learning rate
    n_epochs_decay: int = 100  # epochs of linear decay to zero
    batch_size: int = 1
    lr: float = 2e-4
    lr_D_scale: float = 1.0  # discriminator lr = lr * lr_D_scale (balance D against G)
    beta1: float = 0.5
    lambda_A: float = 10.0  # cycle A -> B -> A
    lambda_B: float = 10.0  # cycle B -> A -> B
    lambda_identity: float = 0.5
    gan_mode: str = "lsgan"  # lsgan | vanilla
    # The per-pixel error the cycle losses average: l1 (the paper's) or l2 (squared). Where the colour a pixel
    # must get depends on a class the generator cannot tell yet, l1's best guess is the per-channel median of
    # the classes' colours (for three primary colours black, which the shape losses forbid; one colour for all
    # is then as good as any mix) and its gradient only a sign, so a generator sits on one colour for every
    # class; l2's best guess is their mean, and its gradient grows with the error.
    cycle_loss: str = "l1"  # one of CYCLE_LOSSES
    # Gaussian noise added to a translation before the other generator reconstructs it, as a fraction
    # of the translated domain's contrast (data.unaligned.contrast: 1.0 for gray 128 on black). It
    # stops a generator hiding the source image in invisible low-amplitude patterns (Chu et al. 2017,
    # "CycleGAN, a master of steganography"), so the cycle loss really asks for a faithful
    # translation; relative to the contrast, it never drowns the figures themselves. 0 = the paper's.
    cycle_noise: float = 0.0
    # The cycle losses aim this far (in [-1, 1] units) inside the tanh's range, and the discriminators see
    # real images within it: at exactly -1 or 1 (black backgrounds, full colours) both drive the output
    # layer into saturation (models/cyclegan.py).
    cycle_margin: float = 0.0
    # Std of the log of a random contrast gain given to each translation before it is translated back: it
    # hides a class coded in the translation's gray level (experiment, see benchmarks/robustness.py).
    cycle_gain_jitter: float = 0.0
    # Weight of figure vs background pixels in the cycle and shape losses: 0 = a plain mean (the paper's),
    # 1 = figure and background count half each, however small the figures (models/cyclegan.py).
    cycle_balance: float = 0.0
    # Weight of the shape losses (models/cyclegan.py, `_shape_loss`): a translation must stand out from its
    # background where and as much as its input does, in units of each domain's contrast. Between gray and
    # colour domains, cycle consistency alone accepts a generator that redraws circles as triangles (and
    # paints them green) or codes the class in the gray level; this self-regularisation (Shrivastava et al.
    # 2017) of the silhouette leaves the shape as the only carrier of the class. 0 = the paper's.
    lambda_shape: float = 0.0
    # Share of the cycle losses' gradient that reaches the generator translating first (the cycle's "encoder";
    # the one translating back always gets all of it). A hidden code exists because the cycle loss rewards the
    # encoder for it (Chu et al. 2017). Measured on small figures: G_A wrote the colour into a faint pattern of
    # the gray background, which survived the cycle noise; with no share the code was gone, while a 0.1 share
    # still left one in the texture of gray 40 figures (README). 1 = the paper's.
    cycle_encoder_weight: float = 1.0
    pool_size: int = 50
    load_size: int = 128  # images are resized to this...
    crop_size: int = 128  # ...then randomly cropped to this
    flip: bool = False  # random horizontal flip
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    num_threads: int = 0  # torch intra-op threads on CPU; 0 = all cores
    save_epoch_freq: int = 5  # also keep <epoch>_net_*.pth every this many epochs (latest_* every epoch)
    val_images: int = 160  # held-out images scored at the end of every epoch (0 = no validation)

    @property
    def total_epochs(self) -> int:
        return self.n_epochs + self.n_epochs_decay


CYCLE_LOSSES = ("l1", "l2")


@dataclass
class RunConfig:
    """Everything needed to rebuild and continue a run; saved as config.json and inside checkpoints."""

    preset: str = "custom"
    dataroot: str = ""
    network: NetworkConfig = field(default_factory=NetworkConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """A RunConfig from its JSON form; UserError naming the first setting that is missing its type."""
        if not isinstance(data, dict):
            raise UserError("the run configuration is not a JSON object")
        unknown = sorted(set(data) - {"preset", "dataroot", "network", "training"})
        if unknown:
            raise UserError(f"unknown settings: {', '.join(map(str, unknown))}")
        for key in ("preset", "dataroot"):
            if not isinstance(data.get(key, ""), str):
                raise UserError(f"{key} must be a string, got {data[key]!r}")
        return cls(
            preset=data.get("preset", "custom"),
            dataroot=data.get("dataroot", ""),
            network=_from_plain(NetworkConfig, data.get("network", {})),
            training=_from_plain(TrainingConfig, data.get("training", {})),
        )


def _from_plain(cls, values: dict):
    if not isinstance(values, dict):
        raise UserError(f"the {cls.__name__} section of the configuration is not a JSON object")
    defaults = cls()
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise UserError(f"unknown {cls.__name__} settings: {', '.join(map(str, unknown))}")
    for name, value in values.items():
        _check_type(name, value, type(getattr(defaults, name)))
    return cls(**{k: float(v) if isinstance(getattr(defaults, k), float) else v for k, v in values.items()})


def _check_type(name: str, value, kind: type) -> None:
    """JSON has no int/float/bool distinction we can trust blindly: a setting keeps its default's type."""
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    else:
        ok = isinstance(value, kind)
    if not ok:
        wanted = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}
        raise UserError(f"{name} must be {wanted.get(kind, kind.__name__)}, got {value!r}")


# Presets: overrides of the defaults above. The paper's architectures keep the paper's training
# settings; "toy" is the laptop default, chosen by measurement (see README, "Default preset").
PRESETS: dict[str, dict] = {
    "unet_128": {"network": {"generator": "unet", "num_downs": 7, "ngf": 64}},
    "unet_256": {"network": {"generator": "unet", "num_downs": 8, "ngf": 64},
                 "training": {"load_size": 256, "crop_size": 256}},
    "unet_shallow": {"network": {"generator": "unet", "num_downs": 3, "ngf": 64}},
    "unet_mini": {"network": {"generator": "unet", "num_downs": 7, "ngf": 4}},
    "resnet_6blocks": {"network": {"generator": "resnet", "n_blocks": 6, "ngf": 64}},
    "resnet_9blocks": {"network": {"generator": "resnet", "n_blocks": 9, "ngf": 64}},
    # Chosen by measurement on a matrix of toy datasets (README, "Default preset", and
    # benchmarks/robustness.py): 64 px keeps every shape a few dozen pixels wide; ngf/ndf 16 and depth 5
    # (2x2 bottleneck) train an epoch in about 2 s on 2 cores; cycle noise at half of each domain's
    # contrast, the shape losses and no share of the cycle gradient for the generator translating first
    # stop G_A hiding the colour in the gray image (its level, its shape or a faint background pattern);
    # the figure balance makes small figures count; the margin keeps G_B's colour channels out of tanh
    # saturation, so a colour it has not painted yet can still be learned; the squared cycle error does not
    # let a generator rest on one colour for every class (cycle_loss above).
    "toy": {
        "network": {"generator": "unet", "num_downs": 5, "ngf": 16, "ndf": 16},
        "training": {"load_size": 64, "crop_size": 64, "n_epochs": 60, "n_epochs_decay": 40,
                     "batch_size": 4, "lr": 4e-4, "cycle_loss": "l2", "cycle_noise": 0.5, "cycle_margin": 0.05,
                     "lambda_shape": 10.0, "cycle_balance": 1.0, "cycle_encoder_weight": 0.0,
                     # Off, as it is anyway on toy data: a gray and a colour domain cannot be each other's input.
                     "lambda_identity": 0.0},
    },
}
DEFAULT_PRESET = "toy"


# What each setting beyond the paper does: one text for the Train tab's tooltips and `train --help`.
SETTING_HELP: dict[str, str] = {
    "cycle_noise": (
        "Std of the Gaussian noise added to a translation before the other generator translates it back, as a "
        "fraction of that domain's contrast (measured on the training images; gray 128 shapes on black have "
        "contrast 1). It stops a generator hiding the colour in invisible patterns of its gray output (CycleGAN's "
        "steganography), so the colour must be read off the shape. 0 = the paper's CycleGAN."),
    "cycle_loss": (
        "l1 or l2: the per-pixel error the cycle losses average, absolute (the paper's CycleGAN) or squared. For a "
        "generator that cannot tell the classes apart yet, l1 rates one colour on every figure as good as any "
        "mix and gives only the sign of each error, so it can sit on one colour; l2 rates the classes' mean "
        "colour best and pushes harder the larger the error: on the toy datasets it learned which shape takes "
        "which colour in about half the epochs (README)."),
    "cycle_margin": (
        "The cycle losses aim this far inside the generators' output range [-1, 1], and the discriminators see "
        "real images within it, so black backgrounds and full colours do not drive the output layer into "
        "saturation, where a colour not painted yet can no longer be learned. 0 = the paper's CycleGAN."),
    "lambda_shape": (
        "Weight of the shape losses: each translation must stand out from its background where, and as much as, "
        "its input does (in units of each domain's contrast). It stops a generator redrawing a figure as another "
        "shape or coding the colour in the gray level, so the colour must be learned from the shape. 0 = the "
        "paper's CycleGAN."),
    "cycle_balance": (
        "0-1: how far the cycle and shape losses weigh figure and background pixels equally (1: half each), "
        "however small the figures. In a plain mean (0, the paper's) small figures hardly count, and a colour "
        "not painted yet gets almost no gradient."),
    "cycle_encoder_weight": (
        "0-1: share of the cycle losses' gradient that reaches the generator translating first (the one "
        "translating back always gets all of it). The cycle loss rewards the first for hiding its input in faint "
        "patterns of its output (CycleGAN's steganography: the colour written into the gray image); at 0 nothing "
        "rewards it, and the shape losses and the discriminator keep the translation faithful. 1 = the paper's "
        "CycleGAN."),
}


def preset_config(name: str) -> RunConfig:
    """A RunConfig holding the named preset's settings."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    spec = PRESETS[name]
    return RunConfig(
        preset=name,
        network=NetworkConfig(**spec.get("network", {})),
        training=TrainingConfig(**spec.get("training", {})),
    )


MAX_WIDTH = 1024  # filters in the first layer
MAX_SIZE = 4096  # image side in pixels


def validate(cfg: RunConfig) -> None:
    """Reject settings that cannot work, with a message naming the setting."""
    n, t = cfg.network, cfg.training
    checks = [
        (n.generator in ("unet", "resnet"), f"generator must be unet or resnet, got {n.generator!r}"),
        (3 <= n.num_downs <= 8, f"num_downs must be between 3 and 8, got {n.num_downs}"),
        (1 <= n.ngf <= MAX_WIDTH and 1 <= n.ndf <= MAX_WIDTH, f"ngf and ndf must be from 1 to {MAX_WIDTH}"),
        (1 <= n.n_blocks <= 64 and 1 <= n.n_layers_D <= 8, "n_blocks must be 1-64 and n_layers_D 1-8"),
        (n.norm in ("instance", "batch", "none"), f"norm must be instance, batch or none, got {n.norm!r}"),
        (n.discriminator in ("basic", "n_layers", "pixel"), f"unknown discriminator {n.discriminator!r}"),
        (n.input_nc in (0, 1, 3) and n.output_nc in (0, 1, 3), "channel counts must be 1 (gray) or 3 (RGB)"),
        (t.n_epochs >= 0 and t.n_epochs_decay >= 0 and t.total_epochs >= 1, "train for at least one epoch"),
        (t.batch_size >= 1, f"batch size must be at least 1, got {t.batch_size}"),
        (8 <= t.crop_size <= MAX_SIZE and 8 <= t.load_size <= MAX_SIZE,
         f"the image size must be from 8 to {MAX_SIZE} pixels, got {t.crop_size}"),
        (t.batch_size <= 4096 and t.total_epochs <= 100_000 and t.pool_size <= 10_000,
         "batch size (at most 4096), epochs (100000) or pool size (10000) out of range"),
        (t.seed >= 0, f"the seed must be 0 or more, got {t.seed}"),
        (t.num_threads >= 0, f"threads must be 0 (one per core) or more, got {t.num_threads}"),
        (t.val_images >= 0, f"validation images cannot be negative, got {t.val_images}"),
        (t.lr > 0 and t.lr_D_scale > 0, "learning rates must be positive"),
        (0 <= t.beta1 < 1, f"beta1 must be from 0 to below 1, got {t.beta1}"),
        (t.save_epoch_freq >= 0 and n.init_gain >= 0, "save_epoch_freq and init_gain cannot be negative"),
        (t.lambda_A >= 0 and t.lambda_B >= 0 and t.lambda_identity >= 0, "loss weights cannot be negative"),
        (t.gan_mode in ("lsgan", "vanilla"), f"gan mode must be lsgan or vanilla, got {t.gan_mode!r}"),
        (t.cycle_loss in CYCLE_LOSSES, f"cycle loss must be {' or '.join(CYCLE_LOSSES)}, got {t.cycle_loss!r}"),
        (t.pool_size >= 0, "pool size cannot be negative"),
        (t.cycle_noise >= 0, "cycle noise cannot be negative"),
        (0 <= t.cycle_gain_jitter <= 2, f"cycle gain jitter must be from 0 to 2, got {t.cycle_gain_jitter}"),
        (0 <= t.cycle_balance <= 1, f"cycle balance must be from 0 to 1, got {t.cycle_balance}"),
        (0 <= t.cycle_encoder_weight <= 1,
         f"the cycle's encoder weight must be from 0 to 1, got {t.cycle_encoder_weight}"),
        (0 <= t.lambda_shape <= 1000, f"the shape weight must be from 0 to 1000, got {t.lambda_shape}"),
        (0 <= t.cycle_margin < 1, f"cycle margin must be from 0 to below 1, got {t.cycle_margin}"),
        (t.crop_size <= t.load_size, f"crop size {t.crop_size} is larger than load size {t.load_size}"),
        (t.device in ("auto", "cpu", "cuda"), f"device must be auto, cpu or cuda, got {t.device!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(message)
    check_input_size(n, t.crop_size)


def check_input_size(n: NetworkConfig, size: int) -> None:
    """UserError unless a generator of architecture `n` can take size x size images."""
    step = 2 ** n.num_downs if n.generator == "unet" else 4
    if not 8 <= size <= MAX_SIZE or size % step:
        what = f"a U-Net with {n.num_downs} downsamplings" if n.generator == "unet" else "the ResNet generator"
        raise UserError(f"{what} needs an image size from 8 to {MAX_SIZE} pixels divisible by {step}; "
                        f"{size} is not")
