"""`inspect` and `ablate`: the parsed layer table of a generator, and its filters ranked by ablation (no Qt).

Numbers are parsed here rather than by argparse types, so a bad value is a UserError naming the option
(exit 2, no usage dump).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from cyclegan_workbench.app.cli.progress import ProgressBar
from cyclegan_workbench.data.errors import UserError


def register(sub) -> None:
    p = sub.add_parser("inspect", help="print a generator's layers, skip connections and bottleneck",
                       description="Parse a generator (a run directory or a single .pth, ours or the reference "
                       "implementation's) and print its summary and skip connections; --layers adds the table of "
                       "every layer with its index, label and module name (the names masks and `ablate` use).")
    p.add_argument("source", metavar="RUN_DIR_OR_PTH")
    p.add_argument("--layers", action="store_true", help="print every layer")
    p.add_argument("--which", choices=["G_A", "G_B"], default="G_A", help="generator of a run directory (default G_A)")
    p.add_argument("--size", metavar="N", help="input size (default: the run's crop size; 256 for a .pth)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(run=run_inspect)

    p = sub.add_parser("ablate", help="rank a layer's filters by what nullifying each one changes",
                       description="Nullify each filter of a layer in turn and rank the filters by the mean absolute "
                       "change of the output; with --manifest, also by the change of colourization accuracy "
                       "(the inputs must then be gray images of that dataset).")
    p.add_argument("source", metavar="RUN_DIR")
    p.add_argument("--layer", required=True, metavar="N", help="layer index or name (see `inspect --layers`)")
    p.add_argument("--input", required=True, metavar="IMAGE", help="an image, or a folder of images")
    p.add_argument("--which", choices=["G_A", "G_B"],
                   help="generator (default G_A; with --manifest, the one that colourizes the gray domain)")
    p.add_argument("--manifest", metavar="PATH", help="dataset folder or manifest.json: also measure accuracy")
    p.add_argument("--masks", metavar="MASKS.json", help="gains to keep applied while scanning")
    p.add_argument("--size", metavar="N", help="input size (default: the run's crop size; 256 for a .pth)")
    p.add_argument("--limit", metavar="N", default="16", help="at most this many images of a folder (default 16)")
    p.add_argument("--top", metavar="K", default="10", help="print the K strongest filters (default 10; 0 = all)")
    p.add_argument("--rank-by", choices=["output", "accuracy"], default="output")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(run=run_ablate)


def _int_option(value, option: str, minimum: int) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{option} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise UserError(f"{option} must be at least {minimum}, got {number}")
    return number


def run_inspect(args) -> int:
    from cyclegan_workbench.visualization.parser import load_and_parse

    _, _, graph = load_and_parse(args.source, args.which, _int_option(args.size, "--size", 1))
    if args.json:
        print(json.dumps({
            "summary": graph.summary, "fingerprint": graph.fingerprint,
            "input_shape": list(graph.input_shape), "output_shape": list(graph.output_shape),
            "bottleneck": graph.bottleneck,
            "layers": [{"index": l.index, "name": l.name, "kind": l.kind, "op": l.op, "label": l.label,
                        "shape": list(l.shape), "level": l.level, "side": l.side, "is_bottleneck": l.is_bottleneck}
                       for l in graph.layers],
            "skips": [s.__dict__ for s in graph.skips],
            "residuals": [r.__dict__ for r in graph.residuals],
        }, indent=2))
        return 0
    print(graph.summary)
    print(f"fingerprint {graph.fingerprint}")
    if args.layers:
        print()
        print(graph.format_table())
    print()
    print(graph.format_skips())
    return 0


def run_ablate(args) -> int:
    import cv2
    import torch

    from cyclegan_workbench.data.images import read_image, to_tensor
    from cyclegan_workbench.data.scoring_set import ScoringSet
    from cyclegan_workbench.data.unaligned import list_images
    from cyclegan_workbench.models.runtime import tune_allocator
    from cyclegan_workbench.visualization.ablation import ablate_layer
    from cyclegan_workbench.visualization.masks import MaskSet
    from cyclegan_workbench.visualization.parser import load_and_parse

    tune_allocator()
    size = _int_option(args.size, "--size", 1)
    limit = _int_option(args.limit, "--limit", 1)
    top = _int_option(args.top, "--top", 0)
    which = args.which or _colourizing_generator(args.manifest)
    _, _, graph = load_and_parse(args.source, which, size)
    layer = graph.layer(args.layer)
    source = Path(args.input)
    if source.is_dir():
        paths = list_images(source)[:limit]
    elif source.is_file():
        paths = [source]
    else:
        raise UserError(f"no image or folder at {source}")
    if not paths:
        raise UserError(f"no images in {source}")
    channels, h, w = graph.input_shape
    scoring = None
    if args.manifest:
        scoring = ScoringSet.from_files(args.manifest, paths, h)
        inputs = scoring.images
    else:
        inputs = torch.stack([to_tensor(cv2.resize(read_image(p, channels), (w, h), interpolation=cv2.INTER_AREA))
                              for p in paths])
    masks = MaskSet.load(args.masks, graph) if args.masks else None
    bar = ProgressBar(layer.channels, "ablate", unit="filter")
    try:
        result = ablate_layer(graph, layer, inputs, masks=masks, scoring=scoring, rank_by=args.rank_by,
                              progress=lambda done, total: bar.update(done))
    finally:
        bar.close()
    if args.json:
        data = result.to_dict()
        if top:
            data["effects"] = data["effects"][:top]
        print(json.dumps(data, indent=2))
    else:
        print(result.format_table(top or None))
    return 0


def _colourizing_generator(manifest) -> str:
    """G_A when domain A is the gray one (it colourizes A -> B), else G_B; G_A without a manifest."""
    if not manifest:
        return "G_A"
    from cyclegan_workbench.data.shapes import load_manifest

    gray = (load_manifest(manifest).get("domains") or {}).get("gray", "B")
    if gray not in ("A", "B"):
        print("warning: the manifest names no gray domain; using G_A", file=sys.stderr)
        return "G_A"
    return "G_A" if gray == "A" else "G_B"
