"""Data-parallel training under torchrun: which process this is, the process group, and what the ranks share.

torchrun (or any launcher that sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT) starts one process
per device. Each trains on its own share of every global batch, DistributedDataParallel averages the gradients
(nccl on GPUs, gloo on CPU), and rank 0 alone validates and writes the run folder. Without those variables (or
with a world of one) `World` is a single process and every method hands its input back unchanged, so
one-process training stays bit-identical.

The ranks share all of a single process's randomness, so N ranks train as one process would with the same
global batch, up to the order of floating-point sums:
- the data: every rank builds the same global batch (data.unaligned derives it from seed, epoch and index) and
  keeps its share. A batch whose size is not a multiple of N (an epoch's last) is padded with repeats of its
  first images, as torch's DistributedSampler pads an epoch, so those images count twice in that step;
- the random numbers: every rank starts from the same seeds and draws what a single process draws. The cycle
  noise is drawn for the global batch and sliced, and each image pool is fed the gathered global batch of
  fakes, so every rank holds the pool a single process would; rank 0's saved RNG states and pools are thus
  every rank's, and a run resumes with any number of ranks.
What still differs from one process: batch norm (--norm batch) normalises over each rank's share, and dropout
(off in every preset) draws each share's masks from the shared stream, so the ranks' masks coincide.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import nn

from cyclegan_workbench.data.errors import UserError


@dataclass
class World:
    """This process's place among the training processes: rank `rank` of `size`, on its node's `local_rank`."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    _rows: int = field(default=0, repr=False)  # size of the global batch in training (for gather and noise)

    @property
    def active(self) -> bool:
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: validates, logs, and alone writes the run folder."""
        return self.rank == 0

    # --- set-up ----------------------------------------------------------------------------------
    def check_batch_size(self, batch_size: int) -> None:
        if batch_size % self.size:
            raise UserError(f"the batch size {batch_size} is the global batch, shared equally by the {self.size} "
                            f"processes: choose a multiple of {self.size}")

    def join(self, device: torch.device) -> torch.device:
        """This rank's device (its node's GPU number `local_rank`), with the process group started on it."""
        if not self.active:
            return device
        if device.type == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise UserError(f"process {self.local_rank} of this node has no GPU of its own "
                                f"({torch.cuda.device_count()} visible): start at most one process per GPU")
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        self.device = device
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return device

    def run_on_main(self, action: Callable[[], object]) -> None:
        """`action` on rank 0 only (a write to the run folder) while the others wait for it; its UserError is
        raised on every rank, so that none goes on alone into the next collective and waits there
        until the group times out."""
        if not self.active:
            action()
            return
        message = None
        if self.is_main:
            try:
                action()
            except UserError as exc:
                message = str(exc)
        box = [message]
        dist.broadcast_object_list(box, src=0, device=self._comm_device())
        if box[0] is not None:
            raise UserError(box[0])

    def wrap(self, model) -> None:
        """Route a CycleGAN's step through DistributedDataParallel, global noise and global image pools."""
        if not self.active:
            return
        ids = [self.device.index] if self.device.type == "cuda" else None
        model.parallel_steps = {
            "G": nn.parallel.DistributedDataParallel(
                _Objective({"G_A": model.G_A, "G_B": model.G_B}, model.generator_objective), device_ids=ids),
            "D": nn.parallel.DistributedDataParallel(
                _Objective({"D_A": model.D_A, "D_B": model.D_B}, model.discriminator_objective), device_ids=ids),
        }
        model.noise_like = self.noise_like
        model.pool_A, model.pool_B = GlobalPool(model.pool_A, self), GlobalPool(model.pool_B, self)

    def restore_cuda_rng(self, saved: list[torch.Tensor]) -> None:
        """Give this rank's GPU the stream rank 0's GPU (always its node's first) was saved with."""
        if self.active and self.device.type == "cuda" and saved:
            torch.cuda.set_rng_state(saved[0], self.device)

    # --- the data --------------------------------------------------------------------------------
    def share(self, batch: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global batch (padded with its first rows to a multiple of the world size)."""
        if not self.active:
            return batch
        self._rows = batch.shape[0]
        return self._slice(batch)

    def _slice(self, batch: torch.Tensor) -> torch.Tensor:
        per_rank = -(-self._rows // self.size)
        rows = torch.arange(self.rank * per_rank, (self.rank + 1) * per_rank) % self._rows
        return batch[rows.to(batch.device)]

    def gather(self, local: torch.Tensor) -> torch.Tensor:
        """The global batch whose share `local` is (each rank's rows, the padding left out)."""
        parts = [torch.empty_like(local) for _ in range(self.size)]
        dist.all_gather(parts, local.contiguous())
        return torch.cat(parts)[:self._rows]

    def noise_like(self, local: torch.Tensor) -> torch.Tensor:
        """This rank's share of the Gaussian noise a single process draws for the whole batch."""
        noise = torch.randn((self._rows, *local.shape[1:]), dtype=local.dtype, device=local.device)
        return self._slice(noise)

    # --- agreement -------------------------------------------------------------------------------
    def average(self, values: dict[str, float]) -> dict[str, float]:
        """The mean over ranks of each value (every rank trained on an equal share of the batch)."""
        if not self.active:
            return values
        tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(tensor)
        return dict(zip(values, (tensor / self.size).tolist()))

    def everyone(self, flag: bool) -> bool:
        """True when `flag` is true on every rank: one rank's stop request stops them all after the same step."""
        if not self.active:
            return flag
        tensor = torch.tensor([int(flag)], device=self._comm_device())
        dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
        return bool(tensor.item())

    def _comm_device(self) -> torch.device:
        # nccl moves only GPU tensors; gloo takes CPU ones.
        return self.device if self.device.type == "cuda" else torch.device("cpu")


def from_environment() -> World:
    """The World torchrun describes in RANK, WORLD_SIZE and LOCAL_RANK; a single process without them."""
    names = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
    if "WORLD_SIZE" not in os.environ:
        return World()
    try:
        rank, size, local_rank = (int(os.environ.get(name, "0")) for name in names)
    except ValueError:
        raise UserError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them)") from None
    if not (size >= 1 and 0 <= rank < size and local_rank >= 0):
        raise UserError(f"RANK {rank} of WORLD_SIZE {size} is not a place in the world (torchrun sets them)")
    return World(rank, size, local_rank)


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class _Objective(nn.Module):
    """The networks one optimizer updates and the function computing their losses, as one module.

    DistributedDataParallel needs exactly one forward per backward whose backward reaches all its parameters,
    but a CycleGAN step calls G_A for fake_B, rec_B and the identity loss, and calls the (frozen) discriminators
    inside the generators' loss. Wrapping each half of a step as one module gives DDP its one forward per
    backward over one optimizer's networks; the frozen networks are reached through `compute`, outside DDP.
    """

    def __init__(self, nets: dict[str, nn.Module], compute: Callable):
        super().__init__()
        self.nets = nn.ModuleDict(nets)
        self.compute = compute

    def forward(self, *inputs):
        return self.compute(*inputs)


class GlobalPool:
    """An ImagePool fed the gathered global batch of fakes, so every rank keeps the pool a single process keeps
    (same seed, same images, same decisions) and takes its share of the answer."""

    def __init__(self, pool, world: World):
        self.pool, self.world = pool, world

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.pool.size == 0:
            return images  # no pool: nothing to gather
        return self.world._slice(self.pool.query(self.world.gather(images.detach())))

    def __getattr__(self, name):  # state_dict, load_state_dict, size, images: the pool's own
        return getattr(self.pool, name)
