"""Faster CPU inference for 2-d convolutions: oneDNN kernels on weights reordered once, not on every call.

nn.Conv2d / nn.ConvTranspose2d on CPU hand plain weights to oneDNN, which reorders them into its blocked
layout on every call; for the wide, low-resolution layers of a U-Net that copy costs more than the
convolution (unet_128's two deepest transposed convolutions: 20 ms each instead of about 2 ms on one
core). `conv_runner(module)` returns a callable that keeps the reordered weights and calls the same
oneDNN primitives directly where that pays (see _MAX_POSITIONS); a forward of unet_128 at 128 px on
one core drops from about 77 ms to 25 ms.

The primitives are PyTorch's own (the ones torch.compile's CPU backend uses), reached through private
operator names. So every runner checks itself on each new input shape against the module and falls
back to the module, for good, on any error or disagreement; outside CPU float32 inference it always
uses the module. Results agree with the module within float rounding (a few 1e-6), not bit for bit.
Weights changed in place (an optimizer step while a live view watches) are noticed and reordered.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import torch
from torch import nn

log = logging.getLogger(__name__)

# A reordered kernel must agree with the module to float rounding; a wrong layout is off by O(1).
_SELF_CHECK_TOL = 1e-4
# The reorder costs O(weights) per call, the convolution O(weights x positions), so prepacking pays
# where each weight is applied at few positions (batch x output pixels of a convolution, batch x input
# pixels of a transposed one). Measured on one core, unet_128 at 128 px: at 256 positions or fewer the
# prepacked kernel was 1.0-25x faster; at 1024 and more the module was 5-55% faster (toy preset: equal).
_MAX_POSITIONS = 256


def _ops():
    try:
        return (torch.ops.mkldnn._convolution_pointwise, torch._C._nn.mkldnn_reorder_conv2d_weight,
                torch.ops.mkldnn._convolution_transpose_pointwise,
                torch.ops.mkldnn._reorder_convolution_transpose_weight)
    except (AttributeError, RuntimeError):
        return None


_OPS = _ops() if torch.backends.mkldnn.is_available() else None


def available() -> bool:
    """Whether this PyTorch build has the oneDNN primitives the fast runners need."""
    return _OPS is not None


def conv_runner(module: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """`module` itself, or a faster equivalent callable for a zero-padded Conv2d / ConvTranspose2d."""
    if _OPS is None or not isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        return module
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        return module
    return _PrepackedConv(module)


class _PrepackedConv:
    """Calls oneDNN with weights reordered once per (input shape, weight version)."""

    def __init__(self, module: nn.Conv2d | nn.ConvTranspose2d):
        self.module = module
        self.transposed = isinstance(module, nn.ConvTranspose2d)
        self.failed = False
        self._packed: dict[tuple, torch.Tensor] = {}
        self._checked: set[tuple] = set()
        self._weight_key = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        m = self.module
        w = m.weight
        if (self.failed or x.device.type != "cpu" or x.dtype != torch.float32 or w.dtype != torch.float32
                or x.dim() != 4 or (torch.is_grad_enabled() and (x.requires_grad or w.requires_grad))):
            return m(x)
        key = (w.data_ptr(), w._version, None if m.bias is None else m.bias._version)
        if key != self._weight_key:
            # New weights need a new reorder; the self-check (the layout, not the values) still holds.
            self._packed.clear()
            self._weight_key = key
        shape = tuple(x.shape)
        if self._positions(shape) > _MAX_POSITIONS:
            return m(x)
        try:
            if shape not in self._checked and not self._agrees(shape):
                return self._give_up(x, "its result differs from the module's")
            return self._run(x, shape)
        except RuntimeError as exc:
            return self._give_up(x, f"{type(exc).__name__}: {str(exc).splitlines()[0]}")

    def _positions(self, shape: tuple) -> int:
        n, _, h, w = shape
        if self.transposed:
            return n * h * w
        m = self.module
        out = [(size + 2 * p - d * (k - 1) - 1) // s + 1
               for size, p, d, k, s in zip((h, w), m.padding, m.dilation, m.kernel_size, m.stride)]
        return n * out[0] * out[1]

    def _agrees(self, shape: tuple) -> bool:
        # On random data, not the caller's: an all-zero input (shape inference) would hide a wrong layout.
        g = torch.Generator().manual_seed(0)
        x = torch.randn(shape, generator=g)
        expected = self.module(x)
        out = self._run(x, shape)
        ok = expected.shape == out.shape and torch.allclose(out, expected, rtol=_SELF_CHECK_TOL, atol=_SELF_CHECK_TOL)
        if ok:
            self._checked.add(shape)
        return ok

    def _run(self, x: torch.Tensor, shape: tuple) -> torch.Tensor:
        m = self.module
        conv, reorder, deconv, reorder_t = _OPS
        packed = self._packed.get(shape)
        pad, stride, dil = list(m.padding), list(m.stride), list(m.dilation)
        if self.transposed:
            out_pad = list(m.output_padding)
            if packed is None:
                packed = self._packed[shape] = reorder_t(m.weight.detach(), pad, out_pad, stride, dil, m.groups,
                                                         list(shape))
            return deconv(x, packed, m.bias, pad, out_pad, stride, dil, m.groups, "none", [], "")
        if packed is None:
            packed = self._packed[shape] = reorder(m.weight.detach().to_mkldnn(), pad, stride, dil, m.groups,
                                                   list(shape))
        return conv(x, packed, m.bias, pad, stride, dil, m.groups, "none", [], "")

    def _give_up(self, x: torch.Tensor, why: str) -> torch.Tensor:
        self.failed = True
        self._packed.clear()
        log.warning("prepacked oneDNN kernel disabled for %s (%s); using the module", self.module, why)
        return self.module(x)
