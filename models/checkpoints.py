"""Run directories and checkpoint files: atomic writes, safe loads, readable architecture mismatches.

A run directory holds
- config.json: the RunConfig;
- latest_net_G_A.pth ... latest_net_D_B.pth and <epoch>_net_*.pth: plain state dicts, named and laid out
  as the reference implementation names them, so either tool opens the other's weights;
- training_state.pth: everything a resume needs (weights, optimizers, schedulers, pools, RNG states,
  position, loss history) in one file, so weights and optimizer state can never come from two moments;
- losses.csv: per-epoch train and validation losses.
Every file is written atomically (data.files); loads use weights_only=True.
"""
from __future__ import annotations

import io
import json
import pickle
import re
from pathlib import Path

import torch
from torch import nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.files import (
    atomic_write_bytes,
    atomic_write_text,
    read_json,
)
from cyclegan_workbench.models.config import NetworkConfig, RunConfig, validate
from cyclegan_workbench.models.networks import build_generator

NET_NAMES = ("G_A", "G_B", "D_A", "D_B")
CONFIG_FILE = "config.json"
STATE_FILE = "training_state.pth"
LOSSES_FILE = "losses.csv"


# --- atomic writes -------------------------------------------------------------------------------
def atomic_torch_save(obj, path: Path) -> None:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


# --- safe loads ----------------------------------------------------------------------------------
def safe_load(path: str | Path, map_location="cpu"):
    """torch.load restricted to tensors and plain containers; anything carrying code is refused."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower():  # damaged bytes rather than a reference to code
            raise UserError(f"{path} is not a readable PyTorch checkpoint (damaged or not a .pth file)") from exc
        raise UserError(f"refused to load {path}: it contains pickled Python objects, not just weights "
                        "(a checkpoint can run code when unpickled, so only plain tensors are accepted)") from exc
    except Exception as exc:  # noqa: BLE001 - damaged bytes make the restricted unpickler raise anything
        # (IndexError on a zero-byte or random file with torch 2.14, KeyError, RuntimeError, EOFError...)
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"{path} is not a readable PyTorch checkpoint ({detail})") from exc


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A plain state dict from a .pth (ours, the reference's, or a {'state_dict': ...} wrapper)."""
    return _as_state_dict(safe_load(path), path)


def _as_state_dict(obj, path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise UserError(f"{path} does not hold a network's weights (expected a state dict of tensors)")
    # Weights saved from a DataParallel wrapper carry a "module." prefix.
    return {k[7:] if k.startswith("module.") else k: v for k, v in obj.items()}


# --- architecture from weights -------------------------------------------------------------------
def describe_generator_weights(state: dict[str, torch.Tensor]) -> dict:
    """Architecture facts readable from a generator state dict: kind, depth, ngf, channels, norm."""
    norm = "batch" if any(k.endswith("running_mean") for k in state) else "instance"
    if "model.model.0.weight" in state:  # U-Net: nested skip blocks
        first = state["model.model.0.weight"]
        last = state.get("model.model.3.weight")
        # Level k's down convolution: "model.model.1" + ".model.3" * (k - 1) + ".model.1.weight".
        levels = [k.count(".model.3") + 1 for k in state
                  if k.startswith("model.model.1.") and k.endswith(".model.1.weight")]
        return {"generator": "unet", "num_downs": max(levels, default=0) + 1, "ngf": first.shape[0],
                "input_nc": first.shape[1], "output_nc": None if last is None else last.shape[1], "norm": norm}
    if "model.1.weight" in state and state["model.1.weight"].ndim == 4:  # ResNet generator
        first = state["model.1.weight"]
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))}
        convs = [k for k in state if re.fullmatch(r"model\.\d+\.weight", k) and state[k].ndim == 4]
        last = state[max(convs, key=lambda k: int(k.split(".")[1]))]
        return {"generator": "resnet", "n_blocks": len(blocks), "ngf": first.shape[0],
                "input_nc": first.shape[1], "output_nc": last.shape[0], "norm": norm}
    return {"generator": "unknown"}


def _describe(d: dict) -> str:
    if d.get("generator") == "unet":
        return (f"a U-Net with {d['num_downs']} downsamplings, ngf {d['ngf']}, "
                f"{d['input_nc']}->{d['output_nc']} channels, {d['norm']} norm")
    if d.get("generator") == "resnet":
        return (f"a ResNet generator with {d['n_blocks']} blocks, ngf {d['ngf']}, "
                f"{d['input_nc']}->{d['output_nc']} channels, {d['norm']} norm")
    return "weights of an unknown architecture"


def network_config_from_weights(state: dict[str, torch.Tensor]) -> NetworkConfig:
    d = describe_generator_weights(state)
    if d["generator"] == "unet":
        return NetworkConfig(generator="unet", num_downs=d["num_downs"], ngf=d["ngf"], norm=d["norm"],
                             input_nc=d["input_nc"], output_nc=d["output_nc"])
    if d["generator"] == "resnet":
        return NetworkConfig(generator="resnet", n_blocks=d["n_blocks"], ngf=d["ngf"], norm=d["norm"],
                             input_nc=d["input_nc"], output_nc=d["output_nc"])
    raise UserError("these weights are neither a U-Net nor a ResNet generator of the reference layout")


def load_weights(net: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """load_state_dict(strict=True), but a mismatch says what differs instead of listing keys."""
    own = net.state_dict()
    # Old reference checkpoints stored running stats for instance norm; they carry no weights.
    stats = re.compile(r"running_(mean|var)$|num_batches_tracked$")
    state = {k: v for k, v in state.items() if k in own or not stats.search(k)}
    mismatch = set(own) != set(state) or any(own[k].shape != state[k].shape for k in own)
    if not mismatch and any(v.is_floating_point() and not torch.isfinite(v).all() for v in state.values()):
        raise UserError(f"{source} holds NaN or infinite weights (saved from a diverged training?); its "
                        "translations would be meaningless")
    if mismatch:
        expected, found = describe_generator_weights(own), describe_generator_weights(state)
        if expected.get("generator") != "unknown" or found.get("generator") != "unknown":
            raise UserError(f"{source} holds {_describe(found)}, but {_describe(expected)} was expected")
        raise UserError(f"{source} does not match this network: {len(set(own) ^ set(state))} parameter "
                        "names differ or have other shapes")
    net.load_state_dict(state, strict=True)


# --- run directories -----------------------------------------------------------------------------
def save_config(run_dir: Path, cfg: RunConfig) -> None:
    atomic_write_text(Path(run_dir) / CONFIG_FILE, json.dumps(cfg.to_dict(), indent=2) + "\n")


def load_config(run_dir: Path) -> RunConfig:
    """The run's checked RunConfig; a damaged or hand-edited config.json is one clear UserError."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise UserError(f"{run_dir} is not a run directory (no {CONFIG_FILE})")
    data = read_json(path, "a run configuration")
    try:
        cfg = RunConfig.from_dict(data)
        validate(cfg)
    except UserError as exc:
        raise UserError(f"{path} is not a valid run configuration: {exc}") from None
    return cfg


def save_networks(run_dir: Path, nets: dict[str, nn.Module], tag: str = "latest") -> None:
    for name, net in nets.items():
        state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        atomic_torch_save(state, Path(run_dir) / f"{tag}_net_{name}.pth")


def save_training_state(run_dir: Path, state: dict) -> None:
    atomic_torch_save(state, Path(run_dir) / STATE_FILE)


def repair_latest_networks(run_dir: Path, nets: dict[str, nn.Module]) -> list[str]:
    """Rewrite the latest_net_* files that differ from the restored training state; their names.

    The training state is saved first, so a kill between it and the weights leaves latest_net_* one save
    behind; after this, weights and state are again from one step.
    """
    stale = []
    for name, net in nets.items():
        path = Path(run_dir) / f"latest_net_{name}.pth"
        try:
            saved = load_state_dict_file(path)
        except UserError:
            saved = {}
        own = net.state_dict()
        if saved.keys() != own.keys() or any(not torch.equal(saved[k], v.detach().cpu()) for k, v in own.items()):
            stale.append(name)
    if stale:
        save_networks(run_dir, {name: nets[name] for name in stale}, "latest")
    return stale


def load_training_state(run_dir: Path) -> dict:
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        raise UserError(f"nothing to resume in {run_dir}: no {STATE_FILE}")
    state = safe_load(path)
    if not isinstance(state, dict) or "nets" not in state or "epoch" not in state:
        raise UserError(f"{path} is not a training state written by this tool")
    return state


REFERENCE_OPTIONS = "train_opt.txt"  # what the reference implementation writes beside its checkpoints


def reference_options(folder: Path) -> dict[str, str]:
    """The `name: value` lines of a reference run's train_opt.txt ({} when there is none or it is unreadable)."""
    path = Path(folder) / REFERENCE_OPTIONS
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    options = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() and " " not in name.strip():
            options[name.strip()] = value.split("[default:")[0].strip()
    return options


def trained_size(folder: Path, cfg: NetworkConfig) -> int:
    """The image size a generator without our config.json was trained at: the reference's train_opt.txt
    (crop_size) when present, else what the architecture was made for (unet_128 has 7 downsamplings,
    unet_256 has 8; ResNets, 256 px in the reference's examples)."""
    crop = reference_options(folder).get("crop_size", "")
    if crop.isdigit() and int(crop) >= 8:
        return int(crop)
    return 2 ** cfg.num_downs if cfg.generator == "unet" else 256


def load_generator(source: str | Path, which: str = "G_A", device="cpu") -> tuple[nn.Module, NetworkConfig]:
    """A generator, ready for inference, from a run directory or a single .pth (ours or the reference's).

    In a run directory `which` picks G_A (A->B) or G_B (B->A); a bare .pth is one generator whose
    architecture is read off its weights.
    """
    source = Path(source)
    if source.is_dir() and not (source / CONFIG_FILE).is_file() and (source / f"latest_net_{which}.pth").is_file():
        source = source / f"latest_net_{which}.pth"  # a reference run folder: its weights say what they are
    if source.is_dir():
        cfg = load_config(source).network
        path = source / f"latest_net_{which}.pth"
        in_nc, out_nc = (cfg.input_nc, cfg.output_nc) if which == "G_A" else (cfg.output_nc, cfg.input_nc)
        net = build_generator(cfg, in_nc, out_nc)
        state = load_state_dict_file(path)
        cfg = NetworkConfig(**{**cfg.__dict__, "input_nc": in_nc, "output_nc": out_nc})
    else:
        state = load_state_dict_file(source)
        cfg = network_config_from_weights(state)
        net = build_generator(cfg, cfg.input_nc, cfg.output_nc)
        path = source
    load_weights(net, state, str(path))
    return net.to(device).eval(), cfg
