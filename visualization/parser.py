"""Any generator -> an ordered list of layers, its skip connections, residual blocks and bottleneck.

The generator is traced into steps that can be re-run from any one of them, with every in-place
operation made out-of-place (trace.py); this module decides which steps are layers, what they are
called, where the skip connections, residual blocks and bottleneck are, and what shape each layer has
for a given input size. The reference implementation's U-Net (in-place LeakyReLU/ReLU, whose skip
carries the activated tensor) parses to the same layers as ours.

A *layer* is a step whose output is a batch of feature maps (N x C x H x W) that a person would call a
layer: convolutions, norms, activations, concatenations, additions, dropout, ... Padding and identity
steps, fx plumbing (getattr, getitem, views) still run but are not listed: masking them would only
duplicate the layer before them.

Public API
----------
parse_generator(net, size, in_channels=None, fast=True) -> NetworkGraph
    `size`: input height/width (int or (h, w)); `in_channels` defaults to the first convolution's.
    `fast`: run convolutions through prepacked oneDNN kernels on CPU (see kernels.py); False runs the
    modules themselves, bit for bit net(x).
load_and_parse(source, which="G_A", size=None, fast=True) -> (net, NetworkConfig, NetworkGraph)
    A run directory or .pth via models.checkpoints.load_generator; size defaults to the run's crop size
    (256 for a bare .pth).
NetworkGraph
    .layers: list[Layer]  .skips: list[Skip]  .residuals: list[Residual]  .bottleneck: int (layer index)
    .input_shape / .output_shape: (C, H, W)   .fingerprint: str   .summary: str   .net: the generator
    .layer(key) -> Layer (index, name or Layer)   .skip(level) -> Skip   .skip_levels -> list[int]
    .downstream(layer) -> list[int] (layers whose output depends on it)
    .prepare_input(x) -> (N, C, H, W) tensor, or UserError when x does not fit
    .run(x, masks=None, keep=False) -> Tensor: a full forward with the gains of a MaskSet applied
        (keep=True: (output, raw values, masked values), one per step of .nodes)
    .format_table() / .format_skips() -> str (what `cyclegan-workbench inspect` prints)
    .nodes / .downstream_nodes(node) / .weights_version(): the steps, for probe.py and ablation.py
eval_mode(net) (from trace.py): run the net in eval mode, restoring its modes afterwards
Layer (frozen): index, name, kind, op, shape (C, H, W), stage, label, level, side, is_bottleneck, node
Skip (frozen): level, concat, encoder, decoder, encoder_channels, decoder_channels (layer indices; channel
    ranges are [start, stop) within the concatenation's output)
Residual (frozen): block, add, source, layers
"""
from __future__ import annotations

import hashlib
import json
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import fx, nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization.trace import (
    GraphNode,
    downstream_steps,
    eval_mode,
    trace_generator,
)

KINDS = ("conv", "transposed conv", "norm", "activation", "tanh", "concat", "add", "multiply", "dropout",
         "upsample", "pool", "module", "op")
# Steps that run but are not offered as layers (see the module docstring).
_HIDDEN_KINDS = ("pad", "identity", "layout")


@dataclass(frozen=True)
class Layer:
    index: int
    name: str  # module path, or the owning module's path + "." + the function ("model.model.1.cat")
    kind: str  # one of KINDS
    op: str  # "conv 4x4/2", "instance norm", "leaky relu 0.2", "concat skip 3", ...
    shape: tuple[int, int, int]  # output C, H, W for the parsed input size
    stage: str  # "down 3", "up 2", "res 4", "in", "out"
    label: str  # "down 3: conv 4x4/2, 256 ch, 16x16"
    level: int | None  # log2(input size / output size): 0 at full resolution
    side: str  # "down" (up to and including the bottleneck) or "up"
    is_bottleneck: bool
    node: int  # index of its step in NetworkGraph.nodes

    @property
    def channels(self) -> int:
        return self.shape[0]


@dataclass(frozen=True)
class Skip:
    """A concatenation along channels of an encoder tensor (copied across) and the decoder path."""

    level: int
    concat: int
    encoder: int | None  # the layer whose output is copied across (None: not a listed layer)
    decoder: int | None
    encoder_channels: tuple[int, int]
    decoder_channels: tuple[int, int]


@dataclass(frozen=True)
class Residual:
    """y = source + f(source): `layers` are f's layers, `add` the addition."""

    block: int  # 1-based, in execution order
    add: int
    source: int | None
    layers: tuple[int, ...]


class NetworkGraph:
    """The parsed generator; see the module docstring for the public attributes."""

    def __init__(self, net, nodes, input_node, output_node, layers, skips, residuals, bottleneck, input_shape,
                 output_shape):
        self.net: nn.Module = net
        self.nodes: list[GraphNode] = nodes
        self.input_node: int = input_node
        self.output_node: int = output_node
        self.layers: list[Layer] = layers
        self.skips: list[Skip] = skips
        self.residuals: list[Residual] = residuals
        self.bottleneck: int = bottleneck
        self.input_shape: tuple[int, int, int] = input_shape
        self.output_shape: tuple[int, int, int] = output_shape
        self.net_name = type(net).__name__
        self.device = _device_of(net)
        self._by_name = {layer.name: layer for layer in layers}
        self._downstream_nodes = downstream_steps(nodes)

    # --- lookups ---------------------------------------------------------------------------------
    def layer(self, key) -> Layer:
        """A layer by index, by name, or the Layer itself; UserError naming the valid range otherwise."""
        if isinstance(key, Layer):
            key = key.index
        if isinstance(key, str):
            if key in self._by_name:
                return self._by_name[key]
            if key.lstrip("-").isdigit():
                key = int(key)
            else:
                raise UserError(f"no layer named {key!r} (use an index 0-{len(self.layers) - 1} or a name "
                                "from `cyclegan-workbench inspect --layers`)")
        if isinstance(key, bool) or not isinstance(key, int) or not 0 <= key < len(self.layers):
            raise UserError(f"layer {key!r} does not exist: this generator has layers 0-{len(self.layers) - 1}")
        return self.layers[key]

    @property
    def skip_levels(self) -> list[int]:
        return [s.level for s in self.skips]

    def skip(self, level: int) -> Skip:
        for s in self.skips:
            if s.level == level:
                return s
        if not self.skips:
            raise UserError(f"{self.net_name} has no skip connections (no concatenation of an encoder copy)")
        raise UserError(f"no skip connection at level {level}; this generator has levels "
                        f"{', '.join(map(str, self.skip_levels))}")

    def downstream(self, layer) -> list[int]:
        """Indices of the layers whose output changes when `layer`'s output changes (not itself)."""
        node = self.layer(layer).node
        return [n.layer for n in (self.nodes[i] for i in self._downstream_nodes[node]) if n.layer is not None]

    def downstream_nodes(self, node: int) -> tuple[int, ...]:
        return self._downstream_nodes[node]

    def weights_version(self) -> tuple:
        """Changes whenever a parameter or buffer of the generator is replaced or written in place."""
        return tuple((t.data_ptr(), t._version) for t in (*self.net.parameters(), *self.net.buffers()))

    @property
    def fingerprint(self) -> str:
        """Identifies the architecture at this input size: names, kinds and shapes of every layer."""
        spec = [list(self.input_shape)] + [[l.name, l.kind, list(l.shape)] for l in self.layers]
        return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:16]

    @property
    def summary(self) -> str:
        def shape(s):
            return "x".join(map(str, s))

        parts = [f"{self.net_name}: {len(self.layers)} layers, {shape(self.input_shape)} -> {shape(self.output_shape)}"]
        if self.skips:
            parts.append(f"{len(self.skips)} skip connections")
        if self.residuals:
            parts.append(f"{len(self.residuals)} residual blocks")
        b = self.layers[self.bottleneck]
        parts.append(f"bottleneck: layer {b.index} ({b.shape[0]}x{b.shape[1]}x{b.shape[2]})")
        return ", ".join(parts)

    # --- running ---------------------------------------------------------------------------------
    def prepare_input(self, x) -> torch.Tensor:
        """(C, H, W) or (N, C, H, W) float input as a batch on the graph's device; UserError on a bad shape."""
        if not isinstance(x, torch.Tensor):
            raise UserError(f"the input must be a tensor, got {type(x).__name__}")
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or tuple(x.shape[1:]) != self.input_shape:
            c, h, w = self.input_shape
            raise UserError(f"this generator was parsed for {c}-channel {h}x{w} inputs; got a tensor of shape "
                            f"{tuple(x.shape)} (resize the image, or parse again at its size)")
        return x.to(self.device, torch.float32)

    def run(self, x: torch.Tensor, masks=None, keep: bool = False):
        """A full forward with `masks`' gains applied; with keep=True also the (raw, masked) value lists."""
        x = self.prepare_input(x)
        n = len(self.nodes)
        raw: list = [None] * n
        vals: list = [None] * n
        with torch.no_grad(), eval_mode(self.net):
            for node in self.nodes:
                i = node.index
                raw[i] = x if i == self.input_node else node.run(vals)
                vals[i] = raw[i]
                if node.layer is not None and masks is not None:
                    gain = masks.tensor(node.layer)
                    if gain is not None:
                        vals[i] = raw[i] * gain.to(raw[i].device)
        out = vals[self.output_node]
        return (out, raw, vals) if keep else out

    # --- printing --------------------------------------------------------------------------------
    def format_table(self) -> str:
        width = max(len(l.label) for l in self.layers)
        lines = [f"{'#':>3}  {'layer':<{width}}  name"]
        for l in self.layers:
            lines.append(f"{l.index:>3}  {l.label:<{width}}  {l.name}")
        return "\n".join(lines)

    def format_skips(self) -> str:
        lines = []
        for s in self.skips:
            enc = "-" if s.encoder is None else f"{s.encoder} ({self.layers[s.encoder].stage})"
            dec = "-" if s.decoder is None else f"{s.decoder} ({self.layers[s.decoder].stage})"
            lines.append(f"skip {s.level}: encoder layer {enc} ch {s.encoder_channels[0]}-{s.encoder_channels[1] - 1}"
                         f" + decoder layer {dec} ch {s.decoder_channels[0]}-{s.decoder_channels[1] - 1}"
                         f" -> concat layer {s.concat}")
        for r in self.residuals:
            src = "-" if r.source is None else str(r.source)
            lines.append(f"residual {r.block}: layer {src} + layers {r.layers[0]}-{r.layers[-1]} -> add layer {r.add}")
        if not lines:
            lines.append("no skip connections or residual additions")
        return "\n".join(lines)


# =================================================================================================
# Parsing


def parse_generator(net: nn.Module, size: int | Sequence[int], in_channels: int | None = None,
                    fast: bool = True) -> NetworkGraph:
    """Trace `net` and describe its layers for a `size` x `size` input (or (h, w))."""
    h, w = (int(size[0]), int(size[1])) if isinstance(size, (tuple, list)) else (int(size), int(size))
    if h < 1 or w < 1:
        raise UserError(f"the input size must be positive, got {h}x{w}")
    if in_channels is None:
        in_channels = _first_conv_channels(net)
    depth = getattr(net, "num_downs", None)
    if isinstance(depth, int) and (h % 2 ** depth or w % 2 ** depth):
        raise UserError(f"a U-Net with {depth} downsamplings needs an input size divisible by {2 ** depth}; "
                        f"{h}x{w} is not")
    traced, fx_nodes, nodes, input_node, output_node = trace_generator(net, fast)
    device = _device_of(net)
    probe_input = torch.zeros(1, in_channels, h, w, device=device)
    values: list = [None] * len(nodes)
    try:
        with torch.no_grad(), eval_mode(net):
            for node in nodes:
                values[node.index] = probe_input if node.index == input_node else node.run(values)
    except (RuntimeError, ValueError) as exc:
        raise UserError(f"{type(net).__name__} cannot run on a {in_channels}x{h}x{w} input: "
                        f"{str(exc).splitlines()[0]}") from exc
    out = values[output_node]
    if not isinstance(out, torch.Tensor) or out.dim() != 4:
        raise UserError(f"{type(net).__name__} does not return a batch of images (got "
                        f"{type(out).__name__}); the workbench needs an image-to-image generator")
    layers, skips, residuals, bottleneck = _describe(nodes, fx_nodes, values, traced, (in_channels, h, w))
    return NetworkGraph(net, nodes, input_node, output_node, layers, skips, residuals, bottleneck,
                        (in_channels, h, w), tuple(int(s) for s in out.shape[1:]))


def load_and_parse(source: str | Path, which: str = "G_A", size: int | None = None, fast: bool = True):
    """(net, NetworkConfig, NetworkGraph) for a run directory or a generator .pth."""
    from cyclegan_workbench.models import checkpoints

    if which not in ("G_A", "G_B"):
        raise UserError(f"which generator: G_A or G_B, not {which!r}")
    source = Path(source)
    if not source.exists():
        raise UserError(f"no run directory or checkpoint at {source}")
    net, cfg = checkpoints.load_generator(source, which)
    if size is None:
        size = checkpoints.load_config(source).training.crop_size if source.is_dir() else 256
    return net, cfg, parse_generator(net, size, cfg.input_nc or None, fast=fast)


def _first_conv_channels(net: nn.Module) -> int:
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            return m.in_channels
    raise UserError(f"cannot tell how many input channels {type(net).__name__} takes; pass in_channels")


def _device_of(net: nn.Module) -> torch.device:
    for p in net.parameters():
        return p.device
    return torch.device("cpu")


# --- describing the layers -----------------------------------------------------------------------
_PADS = (nn.ReflectionPad2d, nn.ReplicationPad2d, nn.ZeroPad2d, nn.ConstantPad2d)
_NORMS = {nn.BatchNorm2d: "batch norm", nn.InstanceNorm2d: "instance norm", nn.GroupNorm: "group norm",
          nn.LayerNorm: "layer norm", nn.SyncBatchNorm: "batch norm"}
_CONCATS = {torch.cat, getattr(torch, "concat", torch.cat), getattr(torch, "concatenate", torch.cat)}
_ADDS = {operator.add, operator.iadd, torch.add}
_MULS = {operator.mul, operator.imul, torch.mul}
_LAYOUT_METHODS = {"view", "reshape", "permute", "contiguous", "to", "float", "clone", "flatten", "unsqueeze",
                   "squeeze", "expand", "transpose", "detach", "type_as"}


def _classify(n: fx.Node, modules: dict) -> tuple[str, str]:
    """(kind, op description) of a step."""
    if n.op == "call_module":
        m = modules[n.target]
        if isinstance(m, nn.ConvTranspose2d):
            return "transposed conv", f"transposed conv {_kernel(m)}"
        if isinstance(m, nn.Conv2d):
            return "conv", f"conv {_kernel(m)}"
        for cls, name in _NORMS.items():
            if isinstance(m, cls):
                return "norm", name
        if isinstance(m, nn.Tanh):
            return "tanh", "tanh"
        if isinstance(m, nn.LeakyReLU):
            return "activation", f"leaky relu {m.negative_slope:g}"
        if isinstance(m, (nn.ReLU, nn.ReLU6, nn.ELU, nn.GELU, nn.SiLU, nn.PReLU, nn.Sigmoid, nn.Hardswish,
                          nn.Mish, nn.Softplus, nn.Hardtanh)):
            return "activation", type(m).__name__.lower()
        if isinstance(m, (nn.Dropout, nn.Dropout2d)):
            return "dropout", f"dropout {m.p:g}"
        if isinstance(m, (nn.Upsample, nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d, nn.PixelShuffle)):
            return "upsample", type(m).__name__.lower()
        if isinstance(m, (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            return "pool", type(m).__name__.lower()
        if isinstance(m, _PADS):
            return "pad", "pad"
        if isinstance(m, nn.Identity):
            return "identity", "identity"
        return "module", type(m).__name__
    if n.op == "call_function":
        fn = n.target
        if fn in _CONCATS:
            return "concat", "concat"
        if fn in _ADDS:
            return "add", "add"
        if fn in _MULS:
            return "multiply", "multiply"
        if fn in (torch.tanh, F.tanh):
            return "tanh", "tanh"
        if fn is F.pad:
            return "pad", "pad"
        if fn in (F.interpolate, F.pixel_shuffle):
            return "upsample", fn.__name__
        if fn in (F.relu, F.leaky_relu, F.gelu, F.silu, F.elu, torch.relu, torch.sigmoid, F.sigmoid):
            return "activation", fn.__name__.rstrip("_")
        if fn is operator.getitem:
            return "layout", "getitem"
        return "op", getattr(fn, "__name__", str(fn))
    if n.op == "call_method":
        name = n.target.rstrip("_")
        if name in _LAYOUT_METHODS:
            return "layout", name
        if name == "add":
            return "add", "add"
        if name == "mul":
            return "multiply", "multiply"
        if name == "tanh":
            return "tanh", "tanh"
        if name in ("relu", "sigmoid", "clamp", "leaky_relu"):
            return "activation", name
        return "op", name
    return "layout", n.op


def _kernel(m) -> str:
    kh, kw = m.kernel_size
    sh, sw = m.stride
    k = f"{kh}x{kw}"
    s = f"{sh}" if sh == sw else f"{sh}x{sw}"
    return f"{k}/{s}"


def _layer_name(n: fx.Node) -> str:
    """The module path; for a function or method, its owning module's path + "." + its name."""
    if n.op == "call_module":
        return n.target
    fn = n.target if n.op == "call_method" else getattr(n.target, "__name__", n.name)
    stack = n.meta.get("nn_module_stack") or {}
    owner = ""
    if stack:
        last = list(stack.values())[-1]
        owner = last[0] if isinstance(last, tuple) else str(last)
    return f"{owner}.{fn}" if owner else fn


def _describe(nodes, fx_nodes, values, traced, input_shape):
    modules = dict(traced.named_modules())
    _, h_in, w_in = input_shape
    batch = values[next(n.index for n in nodes if n.from_input)].shape[0]
    candidates = []
    for node, n in zip(nodes, fx_nodes):
        v = values[node.index]
        if n.op in ("placeholder", "get_attr") or not node.from_input:
            continue
        if not isinstance(v, torch.Tensor) or v.dim() != 4 or v.shape[0] != batch:
            continue
        kind, op = _classify(n, modules)
        if kind in _HIDDEN_KINDS:
            continue
        candidates.append((node, n, kind, op, tuple(int(s) for s in v.shape[1:])))
    if not candidates:
        raise UserError("the generator has no layers producing feature maps")

    # Bottleneck: the smallest feature maps; the last of them that is not a bare activation (the
    # innermost code of a U-Net, the output of a ResNet's last residual block).
    smallest = min(c[4][1] * c[4][2] for c in candidates)
    at_smallest = [i for i, c in enumerate(candidates) if c[4][1] * c[4][2] == smallest]
    not_act = [i for i in at_smallest if candidates[i][2] != "activation"]
    bottleneck = (not_act or at_smallest)[-1]

    layer_of_node = {c[0].index: i for i, c in enumerate(candidates)}
    residuals = _residuals(candidates, nodes, layer_of_node)
    block_of = {l: r.block for r in residuals for l in (*r.layers, r.add)}
    fx_index = {n: i for i, n in enumerate(fx_nodes)}
    skips_raw = _skips(candidates, nodes, values, layer_of_node, fx_index)

    names_seen: dict[str, int] = {}
    layers = []
    for i, (node, n, kind, op, shape) in enumerate(candidates):
        name = _layer_name(n)
        if name in names_seen:  # a module called twice: keep names unique and stable
            names_seen[name] += 1
            name = f"{name}#{names_seen[name]}"
        else:
            names_seen[name] = 1
        level = _level(h_in, w_in, shape[1], shape[2])
        side = "down" if i <= bottleneck else "up"
        if i in block_of:
            stage = f"res {block_of[i]}"
        elif level is None:
            stage = side
        elif level == 0:
            stage = "in" if side == "down" else "out"
        else:
            stage = f"{side} {level}"
        if kind == "concat" and i in skips_raw:
            op = f"concat skip {level}"
        elif kind == "add" and i in block_of:
            op = "add (residual)"
        label = f"{stage}{' (bottleneck)' if i == bottleneck else ''}: {op}, {shape[0]} ch, {shape[1]}x{shape[2]}"
        layers.append(Layer(i, name, kind, op, shape, stage, label, level, side, i == bottleneck, node.index))
        node.layer = i

    # Levels come from resolution; a size that is no power-of-two fraction of the input has none, and
    # such skips are numbered in execution order instead.
    skips = sorted((Skip(layers[i].level if layers[i].level is not None else k, i, *rest)
                    for k, (i, rest) in enumerate(sorted(skips_raw.items()), 1)), key=lambda s: s.level)
    return layers, skips, residuals, bottleneck


def _level(h_in, w_in, h, w) -> int | None:
    if h <= 0 or w <= 0 or h_in % h or w_in % w or h_in // h != w_in // w:
        return None
    ratio = h_in // h
    level = int(round(math.log2(ratio)))
    return level if 2 ** level == ratio else None


def _nearest_layer(node_index: int, nodes, layer_of_node) -> int | None:
    """The listed layer that produced this value, looking back through hidden single-input steps."""
    seen = node_index
    while seen not in layer_of_node:
        inputs = [j for j in nodes[seen].inputs if nodes[j].from_input]
        if len(inputs) != 1:
            return None
        seen = inputs[0]
    return layer_of_node[seen]


def _skips(candidates, nodes, values, layer_of_node, fx_index):
    found = {}
    for i, (_node, n, kind, _op, _shape) in enumerate(candidates):
        if kind != "concat":
            continue
        parts = n.args[0] if n.args else n.kwargs.get("tensors")
        dim = n.args[1] if len(n.args) > 1 else n.kwargs.get("dim", 0)
        if not isinstance(parts, (list, tuple)) or len(parts) != 2 or dim not in (1, -3):
            continue
        if not all(isinstance(p, fx.Node) for p in parts):
            continue
        idx = [fx_index[p] for p in parts]
        widths = [int(values[j].shape[1]) for j in idx]
        first, second = (0, widths[0]), (widths[0], widths[0] + widths[1])
        # The encoder copy is the older of the two tensors: it was computed on the way down.
        (enc, enc_ch), (dec, dec_ch) = sorted(zip(idx, (first, second)), key=lambda t: t[0])
        found[i] = (_nearest_layer(enc, nodes, layer_of_node), _nearest_layer(dec, nodes, layer_of_node),
                    enc_ch, dec_ch)
    return found


def _residuals(candidates, nodes, layer_of_node) -> list[Residual]:
    ancestors: list[set[int]] = []
    for node in nodes:
        a = set(node.inputs)
        for j in node.inputs:
            a |= ancestors[j]
        ancestors.append(a)
    result = []
    for i, (node, _n, kind, _op, _shape) in enumerate(candidates):
        if kind != "add":
            continue
        ins = [j for j in node.inputs if nodes[j].from_input]
        if len(ins) != 2:
            continue
        a, b = ins
        if a in ancestors[b]:
            src, branch_end = a, b
        elif b in ancestors[a]:
            src, branch_end = b, a
        else:
            continue
        inside = {j for j in ancestors[branch_end] if src in ancestors[j]} | {branch_end}
        members = tuple(sorted(layer_of_node[j] for j in inside if j in layer_of_node))
        if not members:
            continue
        result.append(Residual(len(result) + 1, i, _nearest_layer(src, nodes, layer_of_node), members))
    return result
