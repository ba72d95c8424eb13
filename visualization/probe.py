"""Cached, incremental masked forward of one generator; layer responses; the cycle-aware view of an edit.

The probe keeps every step's output for the current input. After a gain edit at layer k only the steps
downstream of k run again (layer k itself is just re-multiplied by its new gain from its cached raw
output); everything else is served from the cache. The result equals a full masked forward (tests hold
it to 1e-6). No cached tensor is ever written to: the parser made every step out-of-place, gains are
applied out of place, and everything handed out is a copy. Weights changed under the probe (a live view
during training) are noticed and trigger a full recompute.

Public API
----------
Probe(graph, masks=None)          graph: parser.NetworkGraph; masks: masks.MaskSet (a fresh one if None)
  .masks                          the MaskSet; edit it in place, or assign another (e.g. a loaded preset)
  .set_input(x)                   x: (C, H, W) or (N, C, H, W) float tensor in [-1, 1], or a uint8 image
  .input -> Tensor | None
  .update() -> int                bring the cache up to date; returns how many steps ran
  .output() -> Tensor             (N, C, H, W), masked, up to date
  .response(layer, masked=True) -> Tensor   one layer's output (N, C, H, W)
  .responses(masked=True) -> dict[int, Tensor]   every layer, from one pass
  .grid(layer, masked=True, sample=0, **options) -> render.Grid    the layer's maps tiled (see render.py)
  .map_image(layer, channel, masked=True, sample=0, **options) -> RGB uint8 array of one map
  .unedited_output() -> Tensor    the output with no gains applied (cached per input)
  .forward(x, masks=...) -> Tensor    a full, uncached forward (default: the probe's masks; None: none)
  .cycle(other) -> CycleView      the edited translation through the other generator (an nn.Module, a
                                  NetworkGraph or another Probe, whose own gains then apply)
CycleView: output, unedited_output, reconstruction, unedited_reconstruction, output_change,
  cycle_loss, unedited_cycle_loss, cycle_loss_change
masked_generator(net, masks, size) -> callable x -> output   (`translate --masks`)
Not thread-safe: use one probe per thread, or serialise calls.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization import render
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.trace import eval_mode


class Probe:
    def __init__(self, graph, masks: MaskSet | None = None):
        if masks is not None and masks.graph is not graph and masks.graph.fingerprint != graph.fingerprint:
            raise UserError("this mask set belongs to a different generator")
        self.graph = graph
        self._masks = masks if masks is not None else MaskSet(graph)
        self._x: torch.Tensor | None = None
        self._raw: list | None = None  # each step's output before its gain
        self._vals: list | None = None  # after its gain: what later steps read
        self._seen: dict[int, int] = {}  # layer -> mask version its cached value was computed with
        self._seen_version = -1
        self._weights = None
        self._unedited: torch.Tensor | None = None
        self._cycle_cache: dict = {}
        self.last_recomputed = 0  # steps run by the latest update (a full pass runs len(graph.nodes))

    @property
    def masks(self) -> MaskSet:
        return self._masks

    @masks.setter
    def masks(self, masks: MaskSet) -> None:
        """Swap in another mask set (a loaded preset, say): the next update recomputes everything."""
        if masks.graph is not self.graph and masks.graph.fingerprint != self.graph.fingerprint:
            raise UserError("this mask set belongs to a different generator")
        self._masks = masks
        self._raw = self._vals = None

    # --- input -----------------------------------------------------------------------------------
    def set_input(self, x) -> None:
        if isinstance(x, np.ndarray):
            from cyclegan_workbench.data.images import to_tensor

            if x.dtype != np.uint8:
                raise UserError(f"an image array must be uint8, got {x.dtype}")
            x = to_tensor(x)
        self._x = self.graph.prepare_input(x).clone()
        self._raw = self._vals = None
        self._unedited = None
        self._cycle_cache = {}

    @property
    def input(self) -> torch.Tensor | None:
        return None if self._x is None else self._x.clone()

    # --- the incremental forward -----------------------------------------------------------------
    def update(self) -> int:
        if self._x is None:
            raise UserError("the probe has no input yet: call set_input first")
        weights = self.graph.weights_version()
        if self._raw is None or weights != self._weights:
            self._full(weights)
            return self.last_recomputed
        if self.masks.version == self._seen_version:
            self.last_recomputed = 0
            return 0
        dirty = [l.node for l in self.graph.layers if self.masks.layer_version(l.index) != self._seen.get(l.index, 0)]
        self._sweep(dirty)
        return self.last_recomputed

    def _full(self, weights) -> None:
        self._unedited = None
        self._cycle_cache = {}
        _, self._raw, self._vals = self.graph.run(self._x, self.masks, keep=True)
        self._weights = weights
        self._mark_seen()
        self.last_recomputed = len(self.graph.nodes)

    def _sweep(self, dirty_nodes: list[int]) -> None:
        nodes, raw, vals = self.graph.nodes, self._raw, self._vals
        downstream: set[int] = set()
        for d in dirty_nodes:
            downstream.update(self.graph.downstream_nodes(d))
        ran = 0
        with torch.no_grad(), eval_mode(self.graph.net):
            for i in sorted(downstream.union(dirty_nodes)):
                node = nodes[i]
                if i in downstream:  # an input changed: run the step again
                    raw[i] = node.run(vals)
                    ran += 1
                # else: only its own gain changed; its raw output is still valid
                vals[i] = self._apply_gain(node, raw[i])
        self._mark_seen()
        self.last_recomputed = ran

    def _apply_gain(self, node, value):
        if node.layer is None:
            return value
        gain = self.masks.tensor(node.layer)
        return value if gain is None else value * gain.to(value.device)

    def _mark_seen(self) -> None:
        self._seen = {l.index: self.masks.layer_version(l.index) for l in self.graph.layers}
        self._seen_version = self.masks.version

    # --- reading results -------------------------------------------------------------------------
    def output(self) -> torch.Tensor:
        self.update()
        return self._vals[self.graph.output_node].clone()

    def _cached(self, layer, masked: bool) -> torch.Tensor:
        """The layer's current response in the cache, not a copy: read it, never keep or change it."""
        node = self.graph.layer(layer).node
        self.update()
        return (self._vals if masked else self._raw)[node]

    def response(self, layer, masked: bool = True) -> torch.Tensor:
        return self._cached(layer, masked).clone()

    def value(self, layer, channel: int, row: int, col: int, masked: bool = True, sample: int = 0) -> float:
        """One activation (the hover readout), without copying the layer."""
        return float(self._cached(layer, masked)[sample, channel, row, col])

    def value_range(self, layer, channel: int | None = None, masked: bool = True, sample: int = 0):
        """(min, max) of the layer's response, or of one of its maps, without copying the layer."""
        values = self._cached(layer, masked)[sample]
        values = values if channel is None else values[channel]
        return float(values.min()), float(values.max())

    def grid(self, layer, masked: bool = True, sample: int = 0, **render_options):
        """The layer's response as a render.Grid, rendered straight from the cache (no copy)."""
        return render.tile_grid(self._cached(layer, masked), sample=sample, **render_options)

    def map_image(self, layer, channel: int, masked: bool = True, sample: int = 0, **render_options):
        """One feature map of the layer at full size as an RGB image (see render.render_map)."""
        return render.render_map(self._cached(layer, masked), channel, sample=sample, **render_options)

    def responses(self, masked: bool = True) -> dict[int, torch.Tensor]:
        self.update()
        source = self._vals if masked else self._raw
        return {l.index: source[l.node].clone() for l in self.graph.layers}

    def unedited_output(self) -> torch.Tensor:
        self.update()  # also notices new weights, which invalidate the unedited output
        if self._unedited is None:
            self._unedited = self.graph.run(self._x, None)
        return self._unedited.clone()

    def forward(self, x, masks="current") -> torch.Tensor:
        """A full, uncached forward of `x` with the probe's gains (masks="current"), none, or another set."""
        return self.graph.run(x, self.masks if isinstance(masks, str) and masks == "current" else masks)

    # --- cycle-aware view ------------------------------------------------------------------------
    def cycle(self, other) -> CycleView:
        """Pass the edited and the unedited translation through `other` (the opposite generator)."""
        run_other, key = _runner(other)
        edited = self.output()
        unedited = self.unedited_output()
        cached = self._cycle_cache.get(key)
        if cached is None:
            cached = self._cycle_cache[key] = _check_channels(run_other, unedited, self._x)
        reconstruction = _check_channels(run_other, edited, self._x)
        x = self._x
        return CycleView(
            output=edited, unedited_output=unedited, reconstruction=reconstruction,
            unedited_reconstruction=cached.clone(),
            output_change=float((edited - unedited).abs().mean()),
            cycle_loss=float((reconstruction - x).abs().mean()),
            unedited_cycle_loss=float((cached - x).abs().mean()),
        )


@dataclass
class CycleView:
    """An edit seen through the cycle x -> G(x) -> F(G(x)); losses are the CycleGAN L1 before lambda."""

    output: torch.Tensor
    unedited_output: torch.Tensor
    reconstruction: torch.Tensor
    unedited_reconstruction: torch.Tensor
    output_change: float  # mean |edited output - unedited output|
    cycle_loss: float  # mean |reconstruction - input|
    unedited_cycle_loss: float

    @property
    def cycle_loss_change(self) -> float:
        return self.cycle_loss - self.unedited_cycle_loss


def _runner(other):
    """(callable, cache key) for the other generator, in any of its accepted forms."""
    if isinstance(other, Probe):
        return other.forward, ("probe", id(other), id(other.masks), other.masks.version, other.graph.weights_version())
    if hasattr(other, "run") and hasattr(other, "layers"):  # a NetworkGraph
        return (lambda t: other.run(t)), ("graph", id(other), other.weights_version())
    if isinstance(other, nn.Module):
        def run(t):
            with torch.no_grad(), eval_mode(other):
                return other(t)
        key = ("module", id(other), tuple(p._version for p in other.parameters()))
        return run, key
    raise UserError(f"the other generator must be a Probe, a NetworkGraph or a module, got {type(other).__name__}")


def _check_channels(run_other, translation, x):
    try:
        out = run_other(translation)
    except (RuntimeError, UserError) as exc:
        raise UserError(f"the other generator cannot take this generator's {translation.shape[1]}-channel "
                        f"output: {str(exc).splitlines()[0]}") from exc
    if out.shape != x.shape:
        raise UserError(f"the other generator returns {tuple(out.shape[1:])} for this generator's output, but "
                        f"a reconstruction of the {tuple(x.shape[1:])} input is needed (is it the opposite generator?)")
    return out


def masked_generator(net: nn.Module, masks: MaskSet | str | Path, size: int, fast: bool = True):
    """A callable batch -> output running `net` with the gains of `masks` (a MaskSet or a saved .json)."""
    from cyclegan_workbench.visualization.parser import parse_generator

    graph = parse_generator(net, size, fast=fast)
    if not isinstance(masks, MaskSet):
        masks = MaskSet.load(masks, graph)
    elif masks.graph.fingerprint != graph.fingerprint:
        raise UserError("the mask set was made for another architecture or input size")
    if masks.is_identity():  # nothing to apply: the generator's own forward, bit for bit
        return lambda x: _plain(net, x)
    return lambda x: graph.run(x, masks)


def _plain(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), eval_mode(net):
        return net(x)
