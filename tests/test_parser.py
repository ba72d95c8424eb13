"""The parser: layer lists, shapes, skip pairs and bottleneck of U-Nets (ours and the reference's), ResNets,
other fx-traceable generators; in-place rewriting; clear refusals."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models.networks import (
    ResnetGenerator,
    UnetGenerator,
    UnetSkipConnectionBlock,
    unet_channels,
)
from cyclegan_workbench.visualization.parser import parse_generator


def expected_unet(depth: int, ngf: int, size: int, out_nc: int = 3):
    """(kind, shape) of every layer of our U-Net, written out from the architecture, plus the skip pairs."""
    def ch(level):  # encoder width at 1-based level
        return unet_channels(level - 1, ngf)

    def res(level):
        return size >> level

    layers = [("conv", (ch(1), res(1))), ("activation", (ch(1), res(1)))]
    encoder_act = {1: 1}
    for level in range(2, depth):
        layers += [("conv", (ch(level), res(level))), ("norm", (ch(level), res(level))),
                   ("activation", (ch(level), res(level)))]
        encoder_act[level] = len(layers) - 1
    layers.append(("conv", (ch(depth), res(depth))))
    bottleneck = len(layers) - 1
    layers.append(("activation", (ch(depth), res(depth))))
    skips = {}
    for level in range(depth - 1, 0, -1):
        layers += [("transposed conv", (ch(level), res(level))), ("norm", (ch(level), res(level)))]
        decoder = len(layers) - 1
        layers += [("concat", (2 * ch(level), res(level))), ("activation", (2 * ch(level), res(level)))]
        skips[level] = (encoder_act[level], decoder, len(layers) - 2)
    layers += [("transposed conv", (out_nc, size)), ("tanh", (out_nc, size))]
    return [(k, (c, r, r)) for k, (c, r) in layers], skips, bottleneck


@pytest.mark.parametrize("depth", [3, 4, 5, 6, 7, 8])
def test_unet_layers_shapes_skips_and_bottleneck_for_every_depth(depth):
    ngf, size = 2, 2 ** depth
    graph = parse_generator(UnetGenerator(3, 3, depth, ngf, "instance"), size, fast=False)
    layers, skips, bottleneck = expected_unet(depth, ngf, size)
    assert len(graph.layers) == 7 * depth - 4
    assert [(l.kind, l.shape) for l in graph.layers] == layers
    assert [l.index for l in graph.layers] == list(range(len(layers)))
    assert graph.bottleneck == bottleneck and graph.layers[bottleneck].is_bottleneck
    assert sum(l.is_bottleneck for l in graph.layers) == 1
    assert graph.layers[bottleneck].shape[1:] == (1, 1)
    assert graph.skip_levels == list(range(1, depth))
    for s in graph.skips:
        assert (s.encoder, s.decoder, s.concat) == skips[s.level]
        width = graph.layers[s.encoder].channels
        assert s.encoder_channels == (0, width) and s.decoder_channels == (width, 2 * width)
    assert not graph.residuals
    assert graph.input_shape == (3, size, size) and graph.output_shape == (3, size, size)


def test_labels_and_names_read_like_the_paper():
    graph = parse_generator(UnetGenerator(3, 3, 7, 8, "instance"), 128, fast=False)
    assert graph.layers[5].label == "down 3: conv 4x4/2, 32 ch, 16x16"
    assert graph.layers[5].name == "model.model.1.model.3.model.1"
    assert graph.layers[6].label == "down 3: instance norm, 32 ch, 16x16"
    assert graph.layers[7].label == "down 3: leaky relu 0.2, 32 ch, 16x16"
    assert graph.layers[17].label == "down 7 (bottleneck): conv 4x4/2, 64 ch, 1x1"
    assert graph.layers[33].label == "up 3: concat skip 3, 64 ch, 16x16"
    assert graph.layers[33].name == "model.model.1.model.3.model.3.cat"
    assert graph.layers[44].label == "out: tanh, 3 ch, 128x128"
    assert (graph.layers[5].level, graph.layers[5].side) == (3, "down")
    assert (graph.layers[33].level, graph.layers[33].side) == (3, "up")
    assert graph.layer("model.model.1.model.3.model.1") is graph.layers[5]
    assert graph.layer("5") is graph.layers[5]
    with pytest.raises(UserError, match="layers 0-44"):
        graph.layer(45)
    with pytest.raises(UserError, match="no layer named"):
        graph.layer("model.nothing")


class _InPlaceBlock(UnetSkipConnectionBlock):
    """Our block run the way the reference layout runs it: activations overwrite their input in place, and
    the skip reads the block input after the first LeakyReLU has changed it."""

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


def in_place_unet(input_nc, output_nc, depth, ngf):
    net = UnetGenerator(input_nc, output_nc, depth, ngf, "instance")
    for module in net.modules():
        if isinstance(module, UnetSkipConnectionBlock):
            module.__class__ = _InPlaceBlock
        if isinstance(module, (nn.ReLU, nn.LeakyReLU)):
            module.inplace = True
    return net


@pytest.mark.parametrize("depth", [5, 8])
def test_reference_layout_parses_like_ours_and_runs_the_same(depth):
    torch.manual_seed(0)
    ref = in_place_unet(1, 3, depth, 2).eval()
    ours = UnetGenerator(1, 3, depth, 2, "instance").eval()
    ours.load_state_dict(ref.state_dict())
    size = 2 ** depth
    g_ref, g_ours = parse_generator(ref, size, fast=False), parse_generator(ours, size, fast=False)
    assert [(l.name, l.kind, l.shape, l.label) for l in g_ref.layers] == \
           [(l.name, l.kind, l.shape, l.label) for l in g_ours.layers]
    assert g_ref.skips == g_ours.skips and g_ref.bottleneck == g_ours.bottleneck
    assert g_ref.fingerprint == g_ours.fingerprint
    x = torch.randn(1, 1, size, size)
    with torch.no_grad():
        expected = ref(x.clone())
    out, raw, vals = g_ref.run(x, keep=True)
    assert torch.equal(out, expected)
    # The skip carries the activated encoder tensor, and the norm before it keeps its own output.
    s = g_ref.skips[0]
    concat = vals[g_ref.layers[s.concat].node]
    encoder = vals[g_ref.layers[s.encoder].node]
    assert torch.equal(concat[:, :encoder.shape[1]], encoder)
    norm_node = g_ref.layers[s.encoder + 2].node  # down 2's norm, read by down 2's (in-place) LeakyReLU
    assert (raw[norm_node] < 0).any()


def test_resnet_has_residual_additions_and_no_concatenation_skips():
    graph = parse_generator(ResnetGenerator(3, 1, 4, "instance", n_blocks=3), 32, fast=False)
    assert graph.skips == []
    with pytest.raises(UserError, match="no skip connections"):
        graph.skip(1)
    assert [r.block for r in graph.residuals] == [1, 2, 3]
    kinds = [l.kind for l in graph.layers]
    assert "concat" not in kinds and kinds.count("add") == 3
    assert not any("pad" in l.op for l in graph.layers)  # reflection pads run but are not listed
    assert len(graph.layers) == 9 + 3 * 6 + 6 + 2
    last = graph.residuals[-1]
    assert graph.bottleneck == last.add and graph.layers[last.add].shape == (16, 8, 8)
    for r in graph.residuals:
        assert [graph.layers[i].kind for i in r.layers] == ["conv", "norm", "activation", "conv", "norm"]
        assert r.source == (r.layers[0] - 1)
        assert graph.layers[r.add].label.startswith(f"res {r.block}")
    assert graph.layers[0].label == "in: conv 7x7/1, 4 ch, 32x32"
    assert graph.layers[-1].label == "out: tanh, 1 ch, 32x32"
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(graph.run(x), graph.net(x))


def test_unet_without_norm_and_with_dropout():
    graph = parse_generator(UnetGenerator(3, 3, 6, 2, "none", use_dropout=True), 64, fast=False)
    kinds = [l.kind for l in graph.layers]
    assert "norm" not in kinds
    assert kinds.count("dropout") == 1  # only the 8*ngf levels between level 4 and the bottleneck
    level_1 = graph.skip(1)
    assert graph.layers[level_1.decoder].kind == "transposed conv"  # identity norms are not layers
    dropout_skip = next(s for s in graph.skips if graph.layers[s.decoder].kind == "dropout")
    assert dropout_skip.level == 4


class FunctionalGenerator(nn.Module):
    """Functional calls, an in-place activation and a one-level skip: any fx-traceable generator."""

    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(1, 4, 3, padding=1)
        self.down = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.up = nn.Upsample(scale_factor=2)
        self.head = nn.Conv2d(10, 3, 1)

    def forward(self, x):
        h = self.enc(x)
        h.relu_()  # in place, three ways, as some generators do
        d = self.up(F.leaky_relu(self.down(h), 0.1, True))
        y = F.relu(torch.cat([h, d], dim=1) * 0.5, inplace=True)
        return torch.tanh(self.head(y))


def test_any_fx_traceable_generator_with_in_place_steps():
    net = FunctionalGenerator().eval()
    graph = parse_generator(net, 16, fast=False)
    assert [l.kind for l in graph.layers] == ["conv", "activation", "conv", "activation", "upsample", "concat",
                                              "multiply", "activation", "conv", "tanh"]
    relu = graph.layers[1]
    assert relu.name == "relu_" and relu.op == "relu" and relu.shape == (4, 16, 16)
    (skip,) = graph.skips
    assert (skip.level, skip.encoder, skip.decoder, skip.concat) == (0, 1, 4, 5)
    assert skip.encoder_channels == (0, 4) and skip.decoder_channels == (4, 10)
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        expected = net(x.clone())
    out, raw, _ = graph.run(x, keep=True)
    assert torch.equal(out, expected)
    # None of the in-place activations overwrote the output of the step before it.
    with torch.no_grad():
        h0 = net.enc(x)
        c = net.down(torch.relu(h0))
        y0 = torch.cat([torch.relu(h0), net.up(F.leaky_relu(c, 0.1))], dim=1) * 0.5
    for layer, value in ((0, h0), (2, c), (6, y0)):
        assert torch.equal(raw[graph.layers[layer].node], value) and (value < 0).any()
    assert graph.downstream(0) == list(range(1, 10))
    assert graph.downstream(4) == [5, 6, 7, 8, 9]
    assert graph.downstream(9) == []


class DataDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)

    def forward(self, x):
        if x.mean() > 0:
            return self.conv(x)
        return x


def test_untraceable_or_unfitting_generators_are_refused_clearly():
    with pytest.raises(UserError, match="cannot be traced by torch.fx"):
        parse_generator(DataDependent(), 8)
    with pytest.raises(UserError, match="a U-Net with 5 downsamplings needs an input size divisible by 32; 48x48"):
        parse_generator(UnetGenerator(3, 3, 5, 2, "instance"), 48)
    with pytest.raises(UserError, match="FunctionalGenerator cannot run on a 1x15x15 input: .*size"):
        parse_generator(FunctionalGenerator(), 15)


def test_parsing_leaves_a_training_network_in_training_mode():
    net = UnetGenerator(1, 1, 3, 2, "batch").train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    graph = parse_generator(net, 8, fast=False)
    graph.run(torch.randn(2, 1, 8, 8))
    assert all(m.training for m in net.modules())
    # Batch norm ran in eval mode: its running statistics did not move.
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
