"""Generators and discriminators, laid out exactly as the reference implementation lays them out.

The module tree (and so every state-dict key and shape) matches pytorch-CycleGAN-and-pix2pix, so its
checkpoints load with strict=True and give the same outputs. Two deliberate differences:
- activations are never in-place, so a cached layer output is never overwritten (the parser and the
  incremental forward rely on that);
- the U-Net accepts any depth from 3 (the reference needs at least 5).
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from cyclegan_workbench.models.config import NetworkConfig

NORMS = ("instance", "batch", "none")


def get_norm_layer(norm: str):
    if norm == "batch":
        return functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
    if norm == "instance":
        return functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
    if norm == "none":
        return lambda channels: nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")


def _uses_bias(norm: str) -> bool:
    # Batch norm has its own shift; instance norm here is not affine, so the conv keeps its bias.
    return norm != "batch"


class UnetSkipConnectionBlock(nn.Module):
    """One level of the U-Net: down path, the inner levels (submodule), up path, then the skip concat."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, norm="batch", use_dropout=False):
        super().__init__()
        self.outermost = outermost
        self.innermost = innermost
        norm_layer = get_norm_layer(norm)
        use_bias = _uses_bias(norm)
        if input_nc is None:
            input_nc = outer_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
        downrelu = nn.LeakyReLU(0.2)
        uprelu = nn.ReLU()
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1)
            model = [downconv, submodule, uprelu, upconv, nn.Tanh()]
        elif innermost:
            upconv = nn.ConvTranspose2d(inner_nc, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, uprelu, upconv, norm_layer(outer_nc)]
        else:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            model = [downrelu, downconv, norm_layer(inner_nc), submodule, uprelu, upconv, norm_layer(outer_nc)]
            if use_dropout:
                model.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        # The reference's first LeakyReLU runs in place, so its skip carries the activated tensor;
        # we keep that mathematics without the in-place write.
        x = self.model[0](x)
        h = x
        for layer in list(self.model)[1:]:
            h = layer(h)
        return torch.cat([x, h], 1)


def unet_channels(level: int, ngf: int) -> int:
    """Width of the encoder at `level` (0 = outermost): ngf, 2 ngf, 4 ngf, then 8 ngf all the way down."""
    return ngf * min(2 ** level, 8)


class UnetGenerator(nn.Module):
    """U-Net with exactly `num_downs` downsamplings; for num_downs >= 5 identical to the reference."""

    def __init__(self, input_nc, output_nc, num_downs, ngf=64, norm="batch", use_dropout=False):
        super().__init__()
        if not 3 <= num_downs <= 8:
            raise ValueError(f"num_downs must be between 3 and 8, got {num_downs}")
        self.num_downs = num_downs
        block = None
        for level in range(num_downs - 1, 0, -1):
            outer, inner = unet_channels(level - 1, ngf), unet_channels(level, ngf)
            innermost = level == num_downs - 1
            # As in the reference, dropout only in the 8*ngf levels between the bottleneck and level 4.
            dropout = use_dropout and not innermost and level >= 4
            block = UnetSkipConnectionBlock(outer, inner, submodule=block, innermost=innermost,
                                            norm=norm, use_dropout=dropout)
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, norm=norm)

    def forward(self, x):
        return self.model(x)


class ResnetBlock(nn.Module):
    def __init__(self, dim, norm="batch", use_dropout=False):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        use_bias = _uses_bias(norm)
        block = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=use_bias), norm_layer(dim), nn.ReLU()]
        if use_dropout:
            block.append(nn.Dropout(0.5))
        block += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, kernel_size=3, bias=use_bias), norm_layer(dim)]
        self.conv_block = nn.Sequential(*block)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    """Two stride-2 downsamplings, `n_blocks` residual blocks, two upsamplings (Johnson et al.)."""

    def __init__(self, input_nc, output_nc, ngf=64, norm="batch", use_dropout=False, n_blocks=6):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        use_bias = _uses_bias(norm)
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, kernel_size=7, bias=use_bias),
                 norm_layer(ngf), nn.ReLU()]
        for i in range(2):
            mult = 2 ** i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, kernel_size=3, stride=2, padding=1, bias=use_bias),
                      norm_layer(ngf * mult * 2), nn.ReLU()]
        model += [ResnetBlock(ngf * 4, norm=norm, use_dropout=use_dropout) for _ in range(n_blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, kernel_size=3, stride=2, padding=1,
                                         output_padding=1, bias=use_bias),
                      norm_layer(ngf * mult // 2), nn.ReLU()]
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, kernel_size=7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        return self.model(x)


class NLayerDiscriminator(nn.Module):
    """PatchGAN: judges overlapping patches (70x70 for n_layers=3) as real or fake."""

    def __init__(self, input_nc, ndf=64, n_layers=3, norm="batch"):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        use_bias = _uses_bias(norm)
        seq = [nn.Conv2d(input_nc, ndf, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        mult = 1
        for n in range(1, n_layers):
            prev, mult = mult, min(2 ** n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=2, padding=1, bias=use_bias),
                    norm_layer(ndf * mult), nn.LeakyReLU(0.2)]
        prev, mult = mult, min(2 ** n_layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, kernel_size=4, stride=1, padding=1, bias=use_bias),
                norm_layer(ndf * mult), nn.LeakyReLU(0.2),
                nn.Conv2d(ndf * mult, 1, kernel_size=4, stride=1, padding=1)]
        self.model = nn.Sequential(*seq)

    def forward(self, x):
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """1x1 PatchGAN: judges every pixel on its own (colour statistics, no shape)."""

    def __init__(self, input_nc, ndf=64, norm="batch"):
        super().__init__()
        norm_layer = get_norm_layer(norm)
        use_bias = _uses_bias(norm)
        self.net = nn.Sequential(
            nn.Conv2d(input_nc, ndf, kernel_size=1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, kernel_size=1, bias=use_bias), norm_layer(ndf * 2), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, 1, kernel_size=1, bias=use_bias))

    def forward(self, x):
        return self.net(x)


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """The reference's 'normal' init: conv weights N(0, gain), norm scales N(1, gain), biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def build_generator(cfg: NetworkConfig, input_nc: int, output_nc: int) -> nn.Module:
    if cfg.generator == "unet":
        net = UnetGenerator(input_nc, output_nc, cfg.num_downs, cfg.ngf, cfg.norm, cfg.use_dropout)
    elif cfg.generator == "resnet":
        net = ResnetGenerator(input_nc, output_nc, cfg.ngf, cfg.norm, cfg.use_dropout, cfg.n_blocks)
    else:
        raise ValueError(f"unknown generator {cfg.generator!r}; choose unet or resnet")
    return init_weights(net, cfg.init_gain)


def build_discriminator(cfg: NetworkConfig, input_nc: int) -> nn.Module:
    if cfg.discriminator == "basic":
        net = NLayerDiscriminator(input_nc, cfg.ndf, 3, cfg.norm)
    elif cfg.discriminator == "n_layers":
        net = NLayerDiscriminator(input_nc, cfg.ndf, cfg.n_layers_D, cfg.norm)
    elif cfg.discriminator == "pixel":
        net = PixelDiscriminator(input_nc, cfg.ndf, cfg.norm)
    else:
        raise ValueError(f"unknown discriminator {cfg.discriminator!r}; choose basic, n_layers or pixel")
    return init_weights(net, cfg.init_gain)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
