"""Ablation scan: nullify each filter of a layer in turn, measure what the output loses, rank the filters.

The forward is re-run only from the scanned layer, and batched: the batch holds one copy of the inputs
per filter, each with its own filter zeroed, so the deep, weight-bound layers read their weights once
per chunk of filters instead of once per filter. The current gains of every layer (a MaskSet) stay
applied; the baseline is the output with them. With a ScoringSet (data.scoring_set: gray inputs with their
classes and figure interiors), the change of colourization accuracy (data.scoring) is measured as well.

Public API
----------
ablate_layer(graph, layer, inputs=None, masks=None, scoring=None, rank_by="output", batch_size=None,
             progress=None) -> AblationResult
    inputs: (C, H, W) or (N, C, H, W) tensor in [-1, 1] (default: scoring.images); masks: gains kept
    applied (a copy is safest while the GUI edits on); rank_by: "output" (largest mean change first) or
    "accuracy" (largest accuracy drop first, needs scoring); batch_size: filters per batch (default from
    the activation sizes); progress(done, total) is called after every batch and may return False to
    stop early (the result is then partial, complete=False).
AblationResult: layer, effects (ranked FilterEffect list), baseline_accuracy, n_inputs, complete, seconds
    .top(k)  .to_dict()  .format_table(k)
FilterEffect: filter, output_change (mean |output - baseline|), accuracy, accuracy_change
ScoringSet: data.scoring_set's, importable from here too.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.scoring import score_outputs
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.visualization.masks import MaskSet
from cyclegan_workbench.visualization.trace import eval_mode

# How many filter variants share one batch. Batching pays where the downstream layers are bound by
# reading their weights (wide, low-resolution U-Net levels) and costs where they are bound by compute on
# large maps, whose batch then falls out of cache. Measured on one core of a busy machine (+-20%),
# unet_128 at 128 px, ms per filter: "down 3" scan 28 unbatched, 19 in batches of 8; bottleneck scan
# 18-24 unbatched, 16-19 in batches of 8-16; "up 1" scan 2.7-3.1 unbatched, 3.2 in batches of 8, 5.5 in
# batches of 64. So: as many variants as keep the largest activation of a batch near 16 MB, at most 16.
_CHUNK_BYTES = 16 * 1024 * 1024
_MAX_CHUNK = 16


@dataclass
class FilterEffect:
    filter: int
    output_change: float
    accuracy: float | None = None
    accuracy_change: float | None = None


@dataclass
class AblationResult:
    layer: object  # parser.Layer
    effects: list[FilterEffect]  # ranked, strongest first
    baseline_accuracy: float | None
    n_inputs: int
    complete: bool
    seconds: float
    rank_by: str = "output"

    def top(self, k: int) -> list[FilterEffect]:
        return self.effects[:k]

    def to_dict(self) -> dict:
        return {
            "layer": self.layer.index, "name": self.layer.name, "label": self.layer.label,
            "rank_by": self.rank_by, "n_inputs": self.n_inputs, "complete": self.complete,
            "baseline_accuracy": self.baseline_accuracy, "seconds": round(self.seconds, 3),
            "effects": [e.__dict__.copy() for e in self.effects],
        }

    def format_table(self, k: int | None = None) -> str:
        rows = self.effects if k is None else self.effects[:k]
        with_acc = self.baseline_accuracy is not None
        head = f"{'rank':>4}  {'filter':>6}  {'mean |change|':>13}"
        if with_acc:
            head += f"  {'accuracy':>8}  {'change':>7}"
        lines = [f"layer {self.layer.index}: {self.layer.label}  ({self.n_inputs} input(s)"
                 + (f", baseline accuracy {self.baseline_accuracy:.1%}" if with_acc else "") + ")", head]
        for rank, e in enumerate(rows, 1):
            line = f"{rank:>4}  {e.filter:>6}  {e.output_change:>13.6f}"
            if with_acc:
                line += f"  {e.accuracy:>8.1%}  {e.accuracy_change:>+7.1%}"
            lines.append(line)
        if not self.complete:
            lines.append(f"(stopped early: {len(self.effects)} of {self.layer.channels} filters scanned)")
        return "\n".join(lines)


def ablate_layer(graph, layer, inputs: torch.Tensor | None = None, masks: MaskSet | None = None,
                 scoring: ScoringSet | None = None, rank_by: str = "output", batch_size: int | None = None,
                 progress: Callable[[int, int], bool | None] | None = None) -> AblationResult:
    started = time.perf_counter()
    l = graph.layer(layer)
    if rank_by not in ("output", "accuracy"):
        raise UserError(f"rank by 'output' or 'accuracy', not {rank_by!r}")
    if rank_by == "accuracy" and scoring is None:
        raise UserError("ranking by accuracy needs a dataset manifest")
    if scoring is not None:
        if graph.input_shape[0] != 1 or graph.output_shape[0] != 3:
            raise UserError(f"colourization accuracy needs the gray -> RGB generator; this one maps "
                            f"{graph.input_shape[0]} -> {graph.output_shape[0]} channels (pick the other one)")
        if inputs is None:
            inputs = scoring.images
    if inputs is None:
        raise UserError("give the input images to scan with")
    if masks is None:
        masks = MaskSet(graph)
    elif masks.graph is not graph and masks.graph.fingerprint != graph.fingerprint:
        raise UserError("the mask set was made for another generator or input size")
    baseline, raw, vals = graph.run(inputs, masks, keep=True)
    n = baseline.shape[0]
    if scoring is not None and len(scoring.classes) != n:
        raise UserError(f"{n} inputs but {len(scoring.classes)} scored images")
    base_acc = score_outputs(baseline, scoring).accuracy if scoring is not None else None

    channels = l.channels
    chunk = batch_size or _chunk_size(graph, l, vals)
    effects: list[FilterEffect] = []
    complete = True
    with torch.no_grad(), eval_mode(graph.net):
        for start in range(0, channels, chunk):
            filters = list(range(start, min(start + chunk, channels)))
            out = _run_variants(graph, l, vals, filters, masks, n)
            for k, f in enumerate(filters):
                variant = out[k * n:(k + 1) * n]
                effect = FilterEffect(f, float((variant - baseline).abs().mean()))
                if scoring is not None:
                    effect.accuracy = score_outputs(variant, scoring).accuracy
                    effect.accuracy_change = effect.accuracy - base_acc
                effects.append(effect)
            if progress is not None and progress(len(effects), channels) is False:
                complete = len(effects) == channels
                break
    if rank_by == "accuracy":
        effects.sort(key=lambda e: (e.accuracy_change, -e.output_change, e.filter))
    else:
        effects.sort(key=lambda e: (-e.output_change, e.filter))
    return AblationResult(l, effects, base_acc, n, complete, time.perf_counter() - started, rank_by)


def _chunk_size(graph, layer, vals) -> int:
    largest = max(vals[i].numel() * vals[i].element_size() for i in (layer.node, *graph.downstream_nodes(layer.node))
                  if isinstance(vals[i], torch.Tensor))
    return int(max(1, min(layer.channels, _MAX_CHUNK, _CHUNK_BYTES // max(largest, 1))))


def _run_variants(graph, layer, vals: list, filters: list[int], masks: MaskSet, n: int) -> torch.Tensor:
    """The output for every filter nullified in turn, as one batch of len(filters) * n."""
    v = len(filters)
    nodes = graph.nodes
    down = graph.downstream_nodes(layer.node)
    inside = set(down) | {layer.node}
    scratch = list(vals)
    start = vals[layer.node].repeat(v, 1, 1, 1)  # variant k holds rows k*n .. (k+1)*n - 1
    for k, f in enumerate(filters):
        start[k * n:(k + 1) * n, f] = 0
    scratch[layer.node] = start
    for i in down:
        node = nodes[i]
        for j in node.inputs:
            # Values from outside the scanned layer's reach are shared by every variant: tile them.
            value = vals[j]
            if (j not in inside and nodes[j].from_input and scratch[j] is value
                    and isinstance(value, torch.Tensor) and value.dim() and value.shape[0] == n):
                scratch[j] = value.repeat(v, *([1] * (value.dim() - 1)))
        value = node.run(scratch)
        if node.layer is not None:
            gain = masks.tensor(node.layer)
            if gain is not None:
                value = value * gain.to(value.device)
        scratch[i] = value
    return scratch[graph.output_node]


__all__ = ["ablate_layer", "AblationResult", "FilterEffect", "ScoringSet"]
