"""Generators and discriminators: parameter counts, reference key layout, shapes of every preset and depth."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cyclegan_workbench.models.config import PRESETS, NetworkConfig, preset_config
from cyclegan_workbench.models.networks import (
    NLayerDiscriminator,
    PixelDiscriminator,
    ResnetGenerator,
    UnetGenerator,
    build_generator,
    count_parameters,
)


@pytest.mark.parametrize("make, expected", [
    (lambda: UnetGenerator(1, 3, 7, 64, "instance"), 41_823_619),
    (lambda: UnetGenerator(3, 3, 7, 64, "instance"), 41_825_667),
    (lambda: UnetGenerator(3, 3, 8, 64, "instance"), 54_409_603),
    (lambda: ResnetGenerator(3, 3, 64, "instance", n_blocks=9), 11_378_179),
    (lambda: NLayerDiscriminator(3, 64, 3, "instance"), 2_764_737),
])
def test_parameter_counts_match_the_paper_architectures(make, expected):
    assert count_parameters(make()) == expected


def test_unet_128_state_dict_uses_the_reference_key_names():
    keys = UnetGenerator(3, 3, 7, 64, "instance").state_dict()
    shapes = {k: tuple(v.shape) for k, v in keys.items()}
    # Outermost down and up convolutions, then the 512-channel bottleneck seven levels down.
    assert shapes["model.model.0.weight"] == (64, 3, 4, 4)
    assert shapes["model.model.3.weight"] == (128, 3, 4, 4)
    assert shapes["model.model.1.model.1.weight"] == (128, 64, 4, 4)
    innermost = "model.model.1" + ".model.3" * 5 + ".model.1.weight"
    assert shapes[innermost] == (512, 512, 4, 4)
    assert shapes["model.model.1" + ".model.3" * 5 + ".model.3.weight"] == (512, 512, 4, 4)
    assert len(keys) == 28  # 7 down + 7 up convolutions, weight and bias each, no norm parameters
    assert not any("running" in k for k in keys)


def test_batch_norm_variant_carries_running_statistics_under_reference_names():
    keys = UnetGenerator(3, 3, 8, 64, "batch").state_dict()
    assert "model.model.1.model.2.running_mean" in keys
    assert "model.model.1.model.2.num_batches_tracked" in keys
    assert "model.model.1.model.1.bias" not in keys  # the reference drops conv bias before batch norm
    d = NLayerDiscriminator(3, 64, 3, "batch").state_dict()
    assert {"model.0.weight", "model.2.weight", "model.3.running_var", "model.11.weight"} <= set(d)


def test_resnet_and_discriminator_key_layout():
    r = ResnetGenerator(3, 3, 64, "instance", n_blocks=9).state_dict()
    assert tuple(r["model.1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(r["model.10.conv_block.1.weight"].shape) == (256, 256, 3, 3)
    assert tuple(r["model.18.conv_block.5.weight"].shape) == (256, 256, 3, 3)
    assert tuple(r["model.19.weight"].shape) == (256, 128, 3, 3)  # first transposed conv
    assert tuple(r["model.26.weight"].shape) == (3, 64, 7, 7)
    d = NLayerDiscriminator(3, 64, 3, "instance").state_dict()
    assert [k for k in d if k.endswith("weight")] == ["model.0.weight", "model.2.weight", "model.5.weight",
                                                      "model.8.weight", "model.11.weight"]
    p = PixelDiscriminator(3, 64, "instance").state_dict()
    assert tuple(p["net.0.weight"].shape) == (64, 3, 1, 1)


@pytest.mark.parametrize("num_downs", range(3, 9))
def test_unet_depth_is_honoured_exactly(num_downs):
    size = 2 ** num_downs * 2
    net = UnetGenerator(1, 3, num_downs, ngf=2, norm="instance")
    seen = {}
    # Walk down the nested blocks: outermost keeps its submodule at index 1, the others at index 3.
    block, depth = net.model.model[1], 1
    while not block.innermost:
        block, depth = block.model[3], depth + 1
    block.model[1].register_forward_hook(lambda m, i, o: seen.update(bottleneck=o.shape))
    out = net(torch.zeros(1, 1, size, size))
    assert depth + 1 == num_downs
    assert out.shape == (1, 3, size, size)
    assert seen["bottleneck"][-1] == size // 2 ** num_downs


def test_shallow_unet_has_a_16x16_bottleneck_at_128px():
    net = UnetGenerator(1, 3, 3, ngf=4, norm="instance")
    seen = []
    net.model.model[1].model[3].model[1].register_forward_hook(lambda m, i, o: seen.append(o.shape))
    net(torch.zeros(1, 1, 128, 128))
    assert seen[0][-2:] == (16, 16)


def test_skip_connection_carries_the_activated_encoder_output_like_the_reference():
    torch.manual_seed(0)
    net = UnetGenerator(1, 1, 3, ngf=2, norm="none").eval()
    block = net.model.model[1]
    x = torch.randn(1, 2, 16, 16)
    before = x.clone()
    out = block(x)
    # The reference's in-place LeakyReLU makes the concatenated skip equal LeakyReLU(x), not x...
    assert torch.equal(out[:, :2], F.leaky_relu(before, 0.2))
    # ...but ours computes it without overwriting the caller's tensor, as the reference's in-place op does.
    assert torch.equal(x, before)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_and_keeps_the_image_size(name):
    cfg = preset_config(name)
    n = NetworkConfig(**{**cfg.network.__dict__, "ngf": 2, "input_nc": 1, "output_nc": 3})
    size = 2 ** n.num_downs if n.generator == "unet" else 32
    g = build_generator(n, 1, 3)
    assert g(torch.zeros(1, 1, size, size)).shape == (1, 3, size, size)


def test_outputs_stay_in_tanh_range():
    g = build_generator(NetworkConfig(num_downs=4, ngf=4, input_nc=3, output_nc=1), 3, 1)
    out = g(torch.randn(2, 3, 32, 32) * 5)
    assert out.shape == (2, 1, 32, 32)
    assert out.abs().max() <= 1.0
