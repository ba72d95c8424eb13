"""Checkpoint files: reference .pth loading, refused pickles, readable mismatches, atomic writes."""
from __future__ import annotations

import errno
import json
import os

import numpy as np
import pytest
import torch

from cyclegan_workbench.data import files
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.config import RunConfig
from cyclegan_workbench.models.networks import ResnetGenerator, UnetGenerator


def _save_plain(net, path, prefix=""):
    torch.save({prefix + k: v for k, v in net.state_dict().items()}, path)


@pytest.mark.parametrize("make, expected", [
    (lambda: UnetGenerator(1, 3, 7, 8, "instance"),
     {"generator": "unet", "num_downs": 7, "ngf": 8, "norm": "instance"}),
    (lambda: UnetGenerator(3, 3, 8, 4, "batch"), {"generator": "unet", "num_downs": 8, "ngf": 4, "norm": "batch"}),
    (lambda: ResnetGenerator(3, 1, 4, "instance", n_blocks=6), {"generator": "resnet", "n_blocks": 6, "ngf": 4}),
])
def test_a_bare_reference_style_pth_loads_with_its_architecture_and_same_outputs(tmp_path, make, expected):
    torch.manual_seed(0)
    source = make().eval()
    path = tmp_path / "latest_net_G_A.pth"
    _save_plain(source, path)
    net, cfg = checkpoints.load_generator(path)
    for key, value in expected.items():
        assert getattr(cfg, key) == value
    x = torch.randn(1, cfg.input_nc, 256, 256)
    with torch.no_grad():
        assert torch.equal(net(x), source(x))


def test_dataparallel_prefix_is_accepted(tmp_path):
    source = UnetGenerator(1, 1, 4, 4, "instance").eval()
    _save_plain(source, tmp_path / "g.pth", prefix="module.")
    net, cfg = checkpoints.load_generator(tmp_path / "g.pth")
    assert cfg.num_downs == 4


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_checkpoint_carrying_pickled_code_is_refused_and_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    torch.save({"model.model.0.weight": torch.zeros(1), "hook": _Payload()}, path)
    with pytest.raises(UserError, match="refused to load .*pickled Python objects"):
        checkpoints.load_generator(path)
    assert not (tmp_path / "pwned").exists()


def test_plain_pickle_and_garbage_files_get_clear_messages(tmp_path):
    # Random bytes make torch's restricted unpickler raise whatever it meets first (IndexError, KeyError...).
    rng = np.random.default_rng(0)
    garbage = [b"", b"\x80", *(rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (1, 2, 16, 256, 4096) * 4)]
    real = tmp_path / "real.pth"
    torch.save({"w": torch.zeros(64)}, real)
    garbage.append(real.read_bytes()[:100])  # a truncated checkpoint
    for i, data in enumerate(garbage):
        path = tmp_path / f"garbage{i}.pth"
        path.write_bytes(data)
        with pytest.raises(UserError, match=f"garbage{i}.pth"):
            checkpoints.load_generator(path)
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(UserError):
        checkpoints.load_generator(tmp_path / "list.pth")
    with pytest.raises(UserError, match="not found"):
        checkpoints.load_generator(tmp_path / "missing.pth")


def test_wrong_architecture_says_what_differs(tmp_path):
    cfg = RunConfig()
    cfg.network.num_downs, cfg.network.ngf, cfg.network.input_nc, cfg.network.output_nc = 5, 8, 3, 1
    checkpoints.save_config(tmp_path, cfg)
    _save_plain(UnetGenerator(3, 1, 4, 16, "instance"), tmp_path / "latest_net_G_A.pth")
    with pytest.raises(UserError) as err:
        checkpoints.load_generator(tmp_path, "G_A")
    message = str(err.value)
    assert "4 downsamplings, ngf 16" in message and "5 downsamplings, ngf 8" in message
    assert "missing" not in message.lower()


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "config.json"
    target.write_text("old")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(UserError, match="No space left on device"):
        files.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["config.json"]


def test_config_round_trips_and_rejects_unknown_settings(tmp_path):
    cfg = RunConfig(preset="toy", dataroot="/data")
    cfg.training.lr = 1e-3
    checkpoints.save_config(tmp_path, cfg)
    assert checkpoints.load_config(tmp_path) == cfg
    (tmp_path / "config.json").write_text(json.dumps({"network": {"ngff": 3}}))
    with pytest.raises(UserError, match="ngff"):
        checkpoints.load_config(tmp_path)


def test_a_run_saved_before_the_cycle_loss_setting_keeps_training_with_l1(tmp_path):
    """The toy preset's cycle loss became l2; a run saved before (no cycle_loss in its config) trained with the
    paper's l1 and must resume with it, not switch its loss halfway."""
    from cyclegan_workbench.models.config import preset_config

    saved = preset_config("toy").to_dict()
    del saved["training"]["cycle_loss"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    assert checkpoints.load_config(tmp_path).training.cycle_loss == "l1"
    assert preset_config("toy").training.cycle_loss == "l2"
    (tmp_path / "config.json").write_text(json.dumps({"training": {"cycle_loss": "l3"}}))
    with pytest.raises(UserError, match="cycle loss must be l1 or l2, got 'l3'"):
        checkpoints.load_config(tmp_path)
