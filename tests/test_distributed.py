"""Data-parallel training: `train` under torchrun with two gloo processes on CPU against one process.

One torchrun launch (module fixture) trains the tiny toy model on 2 ranks with the global batch of 4 the
single-process reference uses, with the toy preset's cycle noise and image pool on: the ranks draw the noise
and keep the pool a single process would (models.distributed), so only the order of floating-point sums
differs. Rank 1 is sent SIGTERM after step 4 of 6, so the launch also shows that one rank's stop request stops
both after the same step, that rank 0 alone wrote the run folder (an audit hook records every write of each
rank), and that a single process resumes the run and ends where the uninterrupted single-process run ends.

Tolerance. Averaging two half-batch gradients instead of taking one full-batch gradient changes only the order
of float32 sums (relative differences near 1e-7). Measured after 4 and 6 Adam steps: weights at most 5e-7
apart, translations 2e-7. WEIGHT_TOL = OUTPUT_TOL = 1e-5 is 20 times that and far below what a mistake does:
with gradients not averaged, every rank on the same rows, or noise drawn per rank, weights ended 2e-3 to 3e-3
apart and translations 3e-2 to 1e-1 (one Adam step moves a weight by up to the learning rate, 4e-4). One kind
of parameter is exempt: the bias of a convolution followed by an instance norm (not affine), which subtracts
any constant. It changes no output and its true gradient is exactly zero, so what both runs compute is rounding
noise, which Adam normalises into steps of up to about 1.4 x lr in either direction in these first steps
(tests/test_independent_checks.py meets the same; measured 2.3e-3 apart after 4 steps). Those biases are only
held to 3 x lr per step; the translations, which they cannot change, are compared instead.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from cyclegan_workbench.app.main import main
from cyclegan_workbench.data.unaligned import paired_test_batches
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.distributed import World
from cyclegan_workbench.models.training import Trainer

TINY = ["--size", "32", "--num-downs", "3", "--ngf", "4", "--ndf", "4", "--batch-size", "4", "--threads", "1",
        "--epochs", "1", "--epochs-decay", "1"]
STOP_AFTER = 4  # of 6 steps (3 per epoch): rank 1 is sent SIGTERM mid second epoch
WEIGHT_TOL = 1e-5
OUTPUT_TOL = 1e-5  # translations in [-1, 1]

# Run by torchrun on each rank: records the rank's writes under WATCHED, sends SIGTERM to rank 1 after step
# STOP_AFTER, then runs the ordinary command line.
WORKER = textwrap.dedent("""
    import os, signal, sys

    watched, stop_after = os.path.realpath(sys.argv[1]), int(sys.argv[2])
    rank = os.environ["RANK"]
    record = open(os.path.join(watched, f"writes-rank{rank}.txt"), "w", buffering=1)
    WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    CHANGES = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.chmod", "os.truncate", "shutil.rmtree",
               "os.link", "os.symlink"}

    def audit(event, args):
        if event == "open" and args[2] & WRITE_FLAGS:
            paths = args[:1]
        elif event in CHANGES:
            paths = args[:2] if event == "os.rename" else args[:1]
        else:
            return
        for path in paths:
            if not isinstance(path, (str, bytes, os.PathLike)):
                continue  # a file descriptor, opened (and recorded) before
            path = os.path.realpath(os.fsdecode(path))
            if path.startswith(watched + os.sep) and not os.path.basename(path).startswith("writes-rank"):
                record.write(f"{event} {path}\\n")

    sys.addaudithook(audit)

    from cyclegan_workbench.models import training

    run = training.Trainer.run

    def run_and_stop(self):
        for report in run(self):
            yield report
            if rank == "1" and report.global_step == stop_after:
                os.kill(os.getpid(), signal.SIGTERM)

    training.Trainer.run = run_and_stop
    from cyclegan_workbench.app.main import main

    sys.exit(main(sys.argv[3:]))
""")


@pytest.fixture(scope="module")
def two_ranks(toy_dataset, tmp_path_factory):
    """The run folder of the two-rank launch (stopped after STOP_AFTER steps) and the launch's output."""
    root = tmp_path_factory.mktemp("distributed")
    worker = root / "worker.py"
    worker.write_text(WORKER)
    run = root / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", str(worker),
         str(root), str(STOP_AFTER), "train", str(toy_dataset), "--out", str(run), *TINY],
        capture_output=True, text=True, timeout=300, env=env)
    return run, root, done


@pytest.fixture(scope="module")
def one_process(toy_dataset, two_ranks, tmp_path_factory):
    """The same run in one process, uninterrupted: its weights after step STOP_AFTER and at the end."""
    run, _, _ = two_ranks
    cfg = checkpoints.load_config(run)  # the very settings the command line gave the two ranks
    trainer = Trainer(cfg, tmp_path_factory.mktemp("single") / "run")
    at_stop = None
    for report in trainer.run():
        if report.global_step == STOP_AFTER:
            at_stop = _state_dicts(trainer.model.networks())
            history = [dict(h) for h in trainer.history]
    return trainer, at_stop, history


def _state_dicts(nets: dict[str, nn.Module]) -> dict[str, dict[str, torch.Tensor]]:
    return {name: {k: v.detach().clone() for k, v in net.state_dict().items()} for name, net in nets.items()}


def _cancelled_biases(net: nn.Module) -> set[str]:
    """Biases of convolutions an (affine-free) instance norm follows: they change no output."""
    names = set()
    for prefix, module in net.named_modules():
        children = list(module.named_children())
        for (name, layer), (_, following) in zip(children, children[1:]):
            if isinstance(following, nn.InstanceNorm2d) and getattr(layer, "bias", None) is not None:
                names.add(f"{prefix}.{name}.bias".lstrip("."))
    return names


def _assert_same_weights(ours: dict, reference: dict[str, nn.Module], steps: int, lr: float) -> None:
    compared = 0
    for name, net in reference.items():
        exempt = _cancelled_biases(net)
        assert exempt, "the tiny nets have instance-normed convolutions"
        for key, value in net.state_dict().items():
            diff = float((ours[name][key] - value).abs().max())
            bound = 3 * lr * steps if key in exempt else WEIGHT_TOL
            assert diff <= bound, f"{name}.{key} differs by {diff:.2e} (tolerance {bound:.0e})"
            compared += key not in exempt
    assert compared >= 20


def _assert_same_outputs(nets: dict[str, nn.Module], reference: dict[str, nn.Module], toy_dataset) -> None:
    a, b = next(paired_test_batches(toy_dataset, 3, 1, 32))
    with torch.no_grad():
        for name, images in (("G_A", a), ("G_B", b)):
            diff = float((nets[name](images) - reference[name](images)).abs().max())
            assert diff <= OUTPUT_TOL, f"{name}'s translations differ by {diff:.2e}"


def _loaded_nets(run, state) -> dict[str, nn.Module]:
    from cyclegan_workbench.models.cyclegan import CycleGAN

    model = CycleGAN(checkpoints.load_config(run))
    for name, net in model.networks().items():
        net.load_state_dict(state["nets"][name])
    return model.networks()


def test_two_ranks_stop_together_and_train_as_one_process_with_the_same_global_batch(two_ranks, one_process,
                                                                                      toy_dataset):
    run, _, done = two_ranks
    assert "stopped by another process: state saved" in done.stderr, done.stderr[-3000:]
    state = checkpoints.load_training_state(run)
    assert (state["epoch"], state["iteration"]) == (1, STOP_AFTER - 3), "both ranks stopped after the same step"
    trainer, at_stop, history = one_process
    assert trainer.cfg.training.cycle_noise > 0 and trainer.cfg.training.pool_size > 0  # randomness is on
    _assert_same_weights(state["nets"], _as_modules(at_stop, trainer), STOP_AFTER, trainer.cfg.training.lr)
    _assert_same_outputs(_loaded_nets(run, state), _as_modules(at_stop, trainer), toy_dataset)
    # Rank 0 reports the losses averaged over the ranks: the mean over the global batch.
    (saved,), (reference,) = state["history"], history
    assert saved["train"] == pytest.approx(reference["train"], rel=1e-5)
    assert saved["validation"]["Total"] == pytest.approx(reference["validation"]["Total"], rel=1e-4)


def _as_modules(weights: dict, trainer: Trainer) -> dict[str, nn.Module]:
    import copy

    nets = copy.deepcopy(trainer.model.networks())
    for name, net in nets.items():
        net.load_state_dict(weights[name])
    return nets


def test_rank_1_writes_nothing_and_rank_0_writes_the_ordinary_run_folder(two_ranks):
    run, root, done = two_ranks
    rank0, rank1 = ((root / f"writes-rank{r}.txt").read_text().splitlines() for r in (0, 1))
    assert rank1 == [], rank1
    assert any(line.endswith(os.sep + checkpoints.STATE_FILE) for line in rank0), rank0  # the hook saw rank 0
    names = sorted(p.name for p in run.iterdir())
    assert names == sorted(["config.json", "losses.csv", "training_state.pth", "latest_net_G_A.pth",
                            "latest_net_G_B.pth", "latest_net_D_A.pth", "latest_net_D_B.pth"]), names


def test_a_single_process_resumes_the_two_rank_run_and_ends_where_one_process_ends(two_ranks, one_process,
                                                                                   toy_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(two_ranks[0], run)  # the other tests read the stopped run
    assert main(["train", "--resume", "--out", str(run)]) == 0
    assert "done" in capsys.readouterr().out
    trainer, _, _ = one_process
    state = checkpoints.load_training_state(run)
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [1, 2]
    _assert_same_weights(state["nets"], trainer.model.networks(), 6, trainer.cfg.training.lr)
    _assert_same_outputs(_loaded_nets(run, state), trainer.model.networks(), toy_dataset)


def test_a_global_batch_the_ranks_cannot_share_equally_is_refused_before_anything_is_written(
        toy_dataset, tmp_path, capsys, monkeypatch):
    for name, value in (("RANK", "0"), ("WORLD_SIZE", "2"), ("LOCAL_RANK", "0")):
        monkeypatch.setenv(name, value)
    run = tmp_path / "run"
    assert main(["train", str(toy_dataset), "--out", str(run), *TINY, "--batch-size", "3"]) == 2
    assert "batch size 3 is the global batch" in capsys.readouterr().err
    assert not run.exists()


@pytest.mark.parametrize("rows", [4, 3, 1])
def test_the_ranks_shares_cover_the_global_batch_padded_with_its_first_rows(rows):
    batch = torch.arange(rows * 2).reshape(rows, 2)
    shares = [World(rank=r, size=2).share(batch) for r in range(2)]
    assert [s.shape[0] for s in shares] == [-(-rows // 2)] * 2
    rows_seen = torch.cat(shares)
    assert torch.equal(rows_seen[:rows], batch)  # every row once, in order...
    assert torch.equal(rows_seen[rows:], batch[:rows_seen.shape[0] - rows])  # ...then repeats of the first ones
