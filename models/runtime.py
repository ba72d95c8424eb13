"""Process-wide settings that make CPU training faster: allocator thresholds and thread count."""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

import torch

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc caps the mmap threshold at 32 MiB on 64-bit systems; every activation and gradient of our
# generators fits under it, so all of them are recycled from the heap instead of fresh mmap pages.
_MMAP_THRESHOLD = 32 * 1024 * 1024
_TRIM_THRESHOLD = 1024 * 1024 * 1024

_tuned = False


def tune_allocator() -> bool:
    """Keep freed tensor memory in the process (glibc only): no page faults on every re-allocation.

    Measured on a 2-core machine: a training step of unet_128 went from ... (see benchmarks/train_step.py).
    Returns whether the settings took effect.
    """
    global _tuned
    if _tuned:
        return True
    name = ctypes.util.find_library("c")
    if os.name != "posix" or not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
        ok = libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to tune
        return False
    _tuned = ok
    return ok


def configure_threads(num_threads: int = 0) -> int:
    """Use `num_threads` intra-op threads (0 = one per core); returns the count in force."""
    if num_threads > 0:
        torch.set_num_threads(num_threads)
    return torch.get_num_threads()


def resolve_device(name: str = "auto") -> torch.device:
    from cyclegan_workbench.data.errors import UserError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("CUDA was requested but no CUDA device is available; use --device cpu")
    return torch.device(name)
