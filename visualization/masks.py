"""Editable gains on a generator's layers: one C x H x W tensor per layer, 1 unless edited; JSON presets.

A layer's output is multiplied element-wise by its gain during the forward (probe.py). Keep one MaskSet
per generator (G_A and G_B have different graphs). Untouched layers store nothing, so a fresh or reset
set costs nothing and leaves the output bit for bit unchanged. Gains are replaced, never written in
place (copy on write): a tensor handed out or held by a worker never changes under it.

Public API
----------
MaskSet(graph)                                  graph: visualization.parser.NetworkGraph
  .reset()  .reset_layer(layer)
  .scale_layer(layer, gain)                     every gain of the layer set to `gain`
  .set_filter(layer, filter, gain)              0 nullifies, 0..1 suppresses, > 1 amplifies
  .set_region(layer, region, gain, filter=None) region: (x0, y0, x1, y1) in the layer's pixels (end
                                                exclusive) or a boolean map (any size: a feature-map
                                                cell is in the region if the map touches it)
  .nullify_bottleneck()
  .isolate_skip(level)                          zero the contracting path and the bottleneck below
                                                `level`: only skips 1..level carry the input
  .gate_skip(level, encoder=None, decoder=None) gains of the two branches at the concatenation
  .gain(layer) -> Tensor (a copy)  .tensor(index) -> Tensor | None (no copy; None = all ones)
  .filter_gains(layer) -> list[float]          mean gain of every filter (1.0 if untouched)
  .edited_layers() -> list[int]  .is_identity()  .version  .layer_version(index)  .copy()
  .describe() -> list[str]                      one readable line per edited layer
  .to_dict() / MaskSet.from_dict(graph, data, source="")  .save(path) / MaskSet.load(path, graph)
`layer` is an index, a layer name or a parser.Layer. Bad arguments raise data.errors.UserError.
Not thread-safe for concurrent edits; give a worker `copy()` (cheap: gains are shared, copy on write).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import torch

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.files import atomic_write_text, read_json

FORMAT = "cyclegan-workbench masks"
FORMAT_VERSION = 1


class MaskSet:
    def __init__(self, graph):
        self.graph = graph
        self._gains: dict[int, torch.Tensor] = {}
        self._versions: dict[int, int] = {}
        self.version = 0  # bumped by every change; a cheap "anything new?" for viewers

    # --- reading ---------------------------------------------------------------------------------
    def tensor(self, index: int) -> torch.Tensor | None:
        """The gain of layer `index` without a copy (never modified afterwards), or None when all ones."""
        return self._gains.get(index)

    def gain(self, layer) -> torch.Tensor:
        l = self.graph.layer(layer)
        g = self._gains.get(l.index)
        return torch.ones(l.shape) if g is None else g.clone()

    def filter_gains(self, layer) -> list[float]:
        l = self.graph.layer(layer)
        g = self._gains.get(l.index)
        return [1.0] * l.channels if g is None else [float(v) for v in g.mean(dim=(1, 2))]

    def layer_version(self, index: int) -> int:
        return self._versions.get(index, 0)

    def content_key(self) -> tuple:
        """Equal for two moments with the same gains: an undo back to a state gives its key back (gains are
        copy-on-write, so an unchanged layer keeps its tensor), while any edit gives a new one."""
        return tuple(sorted((i, id(g)) for i, g in self._gains.items()))

    def edited_layers(self) -> list[int]:
        return sorted(self._gains)

    def is_identity(self) -> bool:
        return not self._gains

    def copy(self) -> MaskSet:
        other = MaskSet(self.graph)
        other._gains = dict(self._gains)
        other._versions = dict(self._versions)
        other.version = self.version
        return other

    def describe(self) -> list[str]:
        lines = []
        for i in self.edited_layers():
            g = self._gains[i]
            layer = self.graph.layers[i]
            per_filter = g.flatten(1)
            uniform = bool((per_filter == per_filter[:, :1]).all())
            if uniform:
                values = per_filter[:, 0]
                changed = [(c, float(v)) for c, v in enumerate(values) if v != 1]
                if len(changed) == layer.channels and bool((values == values[0]).all()):
                    text = f"all filters x{float(values[0]):g}"
                else:
                    shown = ", ".join(f"{c}: x{v:g}" for c, v in changed[:8])
                    text = f"filters {shown}" + (f" (+{len(changed) - 8} more)" if len(changed) > 8 else "")
            else:
                text = f"spatial gains on {int((per_filter != 1).any(dim=1).sum())} filter(s)"
            lines.append(f"layer {i} ({layer.label}): {text}")
        return lines

    # --- editing ---------------------------------------------------------------------------------
    def reset(self) -> None:
        for i in list(self._gains):
            self._store(i, None)

    def reset_layer(self, layer) -> None:
        self._store(self.graph.layer(layer).index, None)

    def scale_layer(self, layer, gain: float) -> None:
        l = self.graph.layer(layer)
        value = _gain_value(gain)
        self._store(l.index, None if value == 1 else torch.full(l.shape, value), may_be_ones=False)

    def set_filter(self, layer, filter: int, gain: float) -> None:
        l = self.graph.layer(layer)
        c = _filter_index(l, filter)
        value = _gain_value(gain)
        g = self._editable(l)
        g[c] = value
        self._store(l.index, g, may_be_ones=value == 1)

    def set_region(self, layer, region, gain: float, filter: int | None = None) -> None:
        l = self.graph.layer(layer)
        value = _gain_value(gain)
        cells = _region_cells(region, l)
        g = self._editable(l)
        if filter is None:
            g[:, cells] = value
        else:
            g[_filter_index(l, filter)][cells] = value
        self._store(l.index, g, may_be_ones=value == 1)

    def nullify_bottleneck(self) -> None:
        self.scale_layer(self.graph.bottleneck, 0.0)

    def isolate_skip(self, level: int) -> None:
        """Zero every contracting-path layer below skip `level` and the bottleneck (other gains stay)."""
        self.graph.skip(level)  # a clear error when there is no such skip
        for l in self.graph.layers:
            if l.side == "down" and l.level is not None and l.level > level:
                self._store(l.index, torch.zeros(l.shape), may_be_ones=False)

    def gate_skip(self, level: int, encoder: float | None = None, decoder: float | None = None) -> None:
        """Gain of the encoder copy and/or the decoder path where skip `level` concatenates them."""
        s = self.graph.skip(level)
        l = self.graph.layers[s.concat]
        g = self._editable(l)
        for value, (start, stop) in ((encoder, s.encoder_channels), (decoder, s.decoder_channels)):
            if value is not None:
                g[start:stop] = _gain_value(value)
        self._store(l.index, g)

    def _editable(self, layer) -> torch.Tensor:
        g = self._gains.get(layer.index)
        return torch.ones(layer.shape) if g is None else g.clone()

    def restore(self, snapshot: MaskSet) -> None:
        """Make the gains those of `snapshot` (a copy() of this set taken earlier: undo and redo).

        The set itself is kept, so everything watching it (a Probe) stays attached; the layers that differ
        get new versions, never an old one back, so no cached response is mistaken for current.
        """
        for index in set(self._gains) | set(snapshot._gains):
            g = snapshot._gains.get(index)
            if self._gains.get(index) is not g:  # copy-on-write: an unchanged layer shares its tensor
                self._store(index, g, may_be_ones=False)

    def _store(self, index: int, g: torch.Tensor | None, may_be_ones: bool = True) -> None:
        # Writing a value other than 1 cannot leave a layer all ones: skip the full comparison then.
        if g is not None and may_be_ones and bool((g == 1).all()):
            g = None
        if g is None and index not in self._gains:
            return
        if g is None:
            del self._gains[index]
        else:
            self._gains[index] = g
        self._versions[index] = self._versions.get(index, 0) + 1
        self.version += 1

    # --- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Only what differs from 1: per layer, groups of filters sharing one gain map."""
        layers = []
        for i in self.edited_layers():
            l = self.graph.layers[i]
            rows = self._gains[i].reshape(l.channels, -1).numpy()
            unique, inverse = np.unique(rows, axis=0, return_inverse=True)
            groups = []
            for u, row in enumerate(unique):
                if (row == 1).all():
                    continue
                group = {"filters": [int(c) for c in np.flatnonzero(inverse.reshape(-1) == u)]}
                if (row == row[0]).all():
                    group["gain"] = float(row[0])
                else:
                    ys, xs = np.divmod(np.flatnonzero(row != 1), l.shape[2])
                    group["pixels"] = [[int(y), int(x), float(row[y * l.shape[2] + x])] for y, x in zip(ys, xs)]
                groups.append(group)
            layers.append({"index": i, "name": l.name, "label": l.label, "shape": list(l.shape), "groups": groups})
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "architecture": {"fingerprint": self.graph.fingerprint, "summary": self.graph.summary,
                             "input_shape": list(self.graph.input_shape)},
            "layers": layers,
        }

    @classmethod
    def from_dict(cls, graph, data, source: str = "the mask set") -> MaskSet:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserError(f"{source} is not a mask set saved by the workbench")
        if data.get("version") != FORMAT_VERSION:
            raise UserError(f"{source} has mask format version {data.get('version')!r}; this workbench reads "
                            f"version {FORMAT_VERSION}")
        arch = data.get("architecture")
        if not isinstance(arch, dict):
            raise UserError(f"{source} does not say which architecture it was made for")
        if arch.get("fingerprint") != graph.fingerprint:
            made_for = arch.get("summary", "an unknown generator")
            hint = ""
            shape = arch.get("input_shape")
            if isinstance(shape, list) and len(shape) == 3 and tuple(shape) != graph.input_shape:
                hint = (f" Masks depend on the input size: this set was made for {shape[1]}x{shape[2]} "
                        f"inputs, the generator was parsed at {graph.input_shape[1]}x{graph.input_shape[2]}.")
            raise UserError(f"{source} was made for a different architecture and cannot be applied. It was made "
                            f"for [{made_for}], this generator is [{graph.summary}].{hint}")
        masks = cls(graph)
        for entry in _list(data.get("layers"), f"{source}: 'layers'"):
            masks._load_layer(entry, source)
        return masks

    def _load_layer(self, entry, source: str) -> None:
        if not isinstance(entry, dict) or type(entry.get("index")) is not int:
            raise UserError(f"{source}: every layer entry needs an integer 'index'")
        layer = self.graph.layer(entry["index"])
        where = f"{source}, layer {layer.index}"
        if entry.get("name", layer.name) != layer.name or entry.get("shape", list(layer.shape)) != list(layer.shape):
            raise UserError(f"{where}: saved as {entry.get('name')} {entry.get('shape')}, but the generator's "
                            f"layer {layer.index} is {layer.name} {list(layer.shape)}")
        c, h, w = layer.shape
        g = torch.ones(layer.shape)
        for group in _list(entry.get("groups"), f"{where}: 'groups'"):
            if not isinstance(group, dict):
                raise UserError(f"{where}: every group must be an object")
            filters = _list(group.get("filters"), f"{where}: 'filters'")
            if not all(isinstance(f, int) and not isinstance(f, bool) and 0 <= f < c for f in filters):
                raise UserError(f"{where}: filter numbers must be integers 0-{c - 1}")
            if "gain" in group:
                g[filters] = _gain_value(group["gain"], where)
            else:
                for pixel in _list(group.get("pixels"), f"{where}: 'pixels'"):
                    if (not isinstance(pixel, list) or len(pixel) != 3 or type(pixel[0]) is not int
                            or type(pixel[1]) is not int or not (0 <= pixel[0] < h and 0 <= pixel[1] < w)):
                        raise UserError(f"{where}: pixels must be [y, x, gain] with 0 <= y < {h}, 0 <= x < {w}")
                    g[filters, pixel[0], pixel[1]] = _gain_value(pixel[2], where)
        self._store(layer.index, g)

    def save(self, path: str | Path) -> None:

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path, graph) -> MaskSet:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"mask set not found: {path}")
        return cls.from_dict(graph, read_json(path, "a mask set"), source=str(path))


# Far beyond any useful edit (the Test tab offers 0-3), and small enough that an amplified layer
# cannot overflow float32 into infinities that turn the translation into NaN.
MAX_GAIN = 1000.0


def _gain_value(gain, where: str = "gain") -> float:
    if isinstance(gain, bool):
        raise UserError(f"{where}: a gain must be a number, got {gain!r}")
    try:
        value = float(gain)
    except (TypeError, ValueError):
        raise UserError(f"{where}: a gain must be a number, got {gain!r}") from None
    if not math.isfinite(value) or abs(value) > MAX_GAIN:
        raise UserError(f"{where}: a gain must be from -{MAX_GAIN:g} to {MAX_GAIN:g}, got {gain!r}")
    return value


def _filter_index(layer, filter) -> int:
    if isinstance(filter, bool) or not isinstance(filter, (int, np.integer)) or not 0 <= filter < layer.channels:
        raise UserError(f"filter {filter!r} does not exist: layer {layer.index} ({layer.label}) has filters "
                        f"0-{layer.channels - 1}")
    return int(filter)


def _list(value, where: str) -> list:
    if not isinstance(value, list):
        raise UserError(f"{where} must be a list")
    return value


def _region_cells(region, layer) -> torch.Tensor:
    """A boolean H x W selection of the layer's feature-map cells."""
    _, h, w = layer.shape
    numbers = isinstance(region, (tuple, list)) and all(isinstance(v, (int, float, np.number)) for v in region)
    if numbers and len(region) == 4:
        x0, y0, x1, y1 = (int(round(float(v))) for v in region)
        (x0, x1), (y0, y1) = sorted((x0, x1)), sorted((y0, y1))  # a rectangle dragged up or left
        x0, x1, y0, y1 = max(0, x0), min(w, x1), max(0, y0), min(h, y1)
        if x1 <= x0 or y1 <= y0:
            raise UserError(f"the rectangle {tuple(region)} does not cover any cell of layer {layer.index}'s "
                            f"{w}x{h} feature maps")
        cells = torch.zeros(h, w, dtype=torch.bool)
        cells[y0:y1, x0:x1] = True
        return cells
    mask = region.detach().cpu().numpy() if isinstance(region, torch.Tensor) else np.asarray(region)
    if mask.ndim != 2 or mask.size == 0:
        raise UserError("a region is a rectangle (x0, y0, x1, y1) or a 2-D boolean map")
    mask = mask.astype(bool)
    if mask.shape != (h, w):
        # Any coverage counts, so a thin painted stroke still selects the cells it crosses.
        interp = cv2.INTER_AREA if mask.shape[0] >= h and mask.shape[1] >= w else cv2.INTER_NEAREST
        mask = cv2.resize(mask.astype(np.float32), (w, h), interpolation=interp) > 0
    return torch.from_numpy(np.ascontiguousarray(mask))
