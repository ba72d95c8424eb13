"""`generate-dataset` and `score`: the toy shape generator and the colourization score on the command line.

Options override the chosen preset one by one. Values are parsed here rather than by argparse types so
that a bad value is reported as a UserError naming the option (exit 2, no usage dump). No Qt, no torch.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

from cyclegan_workbench.app.cli.progress import ProgressBar
from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.scoring import score_directory
from cyclegan_workbench.data.shapes import (
    IMAGE_FORMATS,
    PRESETS,
    SHAPES,
    TRIANGLE_KINDS,
    ShapeDatasetParams,
    generate_dataset,
)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "generate-dataset",
        help="write a toy shape dataset (trainA/trainB/testA/testB + manifest.json)",
        description="Write a toy shape dataset: one RGB domain where every class has its colour, one gray "
        "domain where every shape has the same gray level. Options override the preset.",
    )
    p.add_argument("out", metavar="OUT", help="dataset folder to create")
    p.add_argument("--preset", choices=list(PRESETS), default="default", help="starting parameters (default: default)")
    p.add_argument("--shapes", metavar="LIST", help=f"comma-separated classes from: {', '.join(SHAPES)}")
    p.add_argument("--colors", nargs="+", metavar="SHAPE=R,G,B", help="class colours in the RGB domain")
    p.add_argument("--train-per-class", metavar="N", help="training images per class and domain")
    p.add_argument("--test-per-class", metavar="N", help="test images per class and domain")
    p.add_argument("--size", metavar="PX", help="canvas size in pixels (square)")
    p.add_argument("--gray-level", metavar="L", help="gray level of every shape in the gray domain")
    p.add_argument(
        "--background",
        metavar="SPEC",
        help="L (gray), R,G,B (colour), or random|sweep|gradient|texture[:LO-HI] (e.g. random:0-255)",
    )
    p.add_argument("--noise-sigma", metavar="S", help="Gaussian noise sigma on the 0-255 scale")
    p.add_argument("--noise-domains", metavar="A,B", help="domains that get noise (default: A,B)")
    p.add_argument("--rgb-domain", metavar="A|B", help="which domain is the coloured one (default: A)")
    p.add_argument("--shift", metavar="PX", help="random shift of each shape, up to PX along each axis")
    p.add_argument("--scale", metavar="MIN,MAX", help="shape diameter as a fraction of the canvas")
    p.add_argument("--rotation", metavar="DEG", help="random rotation in [-DEG, DEG]")
    p.add_argument("--aspect", metavar="MIN,MAX", help="rectangle side ratio range")
    p.add_argument("--ellipse-aspect", metavar="MIN,MAX", help="ellipse axis ratio range")
    p.add_argument("--shapes-per-image", metavar="MIN,MAX", help="figures per image (all of the image's class)")
    p.add_argument(
        "--triangle",
        choices=TRIANGLE_KINDS,
        help="triangle kind: equilateral (default), right (right isosceles, randomly rotated) or axis-aligned "
        "(right isosceles with its legs along the image axes; --rotation does not apply)",
    )
    p.add_argument("--format", choices=IMAGE_FORMATS, help="image files: png (lossless, default) or jpeg (.jpg)")
    p.add_argument("--jpeg-quality", metavar="Q", help="JPEG quality 1-100 with --format jpeg (default: 75)")
    p.add_argument("--no-antialias", action="store_true", help="hard edges")
    p.add_argument("--seed", metavar="N", help="random seed")
    p.add_argument("--overwrite", action="store_true", help="replace an existing dataset in OUT")
    p.set_defaults(run=run_generate)

    s = subparsers.add_parser(
        "score",
        help="colourization accuracy of translated gray images",
        description="For each gray image of the dataset and its translation (same file stem), assign the mean "
        "colour inside the shape to the nearest class colour; print accuracy, per-class accuracy and a confusion "
        "table.",
    )
    s.add_argument("dataset", metavar="MANIFEST_OR_DATASET", help="dataset folder or its manifest.json")
    s.add_argument("translations", metavar="TRANSLATIONS_DIR", help="folder of translated images (png/jpg)")
    s.add_argument("--split", choices=("train", "test"), default="test", help="which gray images (default: test)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.set_defaults(run=run_score)


def params_from_args(args) -> ShapeDatasetParams:
    """The preset with every given option applied; validated."""
    params = PRESETS[args.preset]()
    changes: dict = {}
    if args.shapes is not None:
        changes["shapes"] = tuple(_names(args.shapes, "--shapes"))
    if args.colors:
        changes["colors"] = {**params.colors, **_colors(args.colors)}
    for option, name, parse in (
        ("train_per_class", "--train-per-class", int),
        ("test_per_class", "--test-per-class", int),
        ("size", "--size", int),
        ("gray_level", "--gray-level", int),
        ("noise_sigma", "--noise-sigma", float),
        ("shift", "--shift", int),
        ("rotation", "--rotation", float),
        ("seed", "--seed", int),
        ("jpeg_quality", "--jpeg-quality", int),
    ):
        value = getattr(args, option)
        if value is not None:
            changes[option] = _number(value, name, parse)
    for option, name, parse in (
        ("scale", "--scale", float),
        ("aspect", "--aspect", float),
        ("ellipse_aspect", "--ellipse-aspect", float),
        ("shapes_per_image", "--shapes-per-image", int),
    ):
        value = getattr(args, option)
        if value is not None:
            changes[option] = _pair(value, name, parse)
    if args.background is not None:
        changes["background"] = args.background
    if args.noise_domains is not None:
        changes["noise_domains"] = tuple(d.upper() for d in _names(args.noise_domains, "--noise-domains"))
    if args.rgb_domain is not None:
        changes["rgb_domain"] = args.rgb_domain.strip().upper()
    if args.no_antialias:
        changes["antialias"] = False
    if args.triangle is not None:
        changes["triangle_kind"] = args.triangle
    if args.format is not None:
        changes["image_format"] = args.format
    params = replace(params, **changes)
    params.validate()
    return params


def run_generate(args) -> int:
    params = params_from_args(args)
    total = params.image_count()
    bars: list[ProgressBar] = []

    def progress(done: int, _total: int) -> None:
        # Created on the first report, so a refused output folder prints no empty bar before the error.
        if not bars:
            bars.append(ProgressBar(total, "generating", unit="image"))
        bars[0].update(done)

    start = time.perf_counter()
    try:
        out = generate_dataset(params, args.out, overwrite=args.overwrite, progress=progress)
    finally:
        for bar in bars:
            bar.close()
    seconds = time.perf_counter() - start
    print(
        f"wrote {total} images to {out} in {seconds:.2f} s "
        f"(RGB domain {params.rgb_domain}, gray domain {params.gray_domain}; manifest {out / 'manifest.json'})"
    )
    return 0


def run_score(args) -> int:
    result = score_directory(args.dataset, args.translations, split=args.split)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(result.format_table())
    if result.missing:
        print(f"warning: {len(result.missing)} gray {args.split} images have no translation", file=sys.stderr)
    return 0


def _names(text: str, option: str) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise UserError(f"{option} needs a comma-separated list, got {text!r}")
    return names


def _number(text: str, option: str, parse):
    try:
        return parse(text)
    except ValueError:
        kind = "an integer" if parse is int else "a number"
        raise UserError(f"{option} must be {kind}, got {text!r}") from None


def _pair(text: str, option: str, parse) -> tuple:
    """MIN,MAX, or one value for a fixed MIN = MAX."""
    parts = [t.strip() for t in text.split(",")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise UserError(f"{option} must be MIN,MAX (or one value), got {text!r}")
    return tuple(_number(p, option, parse) for p in parts)


def _colors(items: list[str]) -> dict[str, tuple[int, int, int]]:
    colors = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            rgb = tuple(int(v) for v in value.split(","))
        except ValueError:
            rgb = ()
        if not sep or len(rgb) != 3:
            raise UserError(f"--colors takes SHAPE=R,G,B items (e.g. circle=255,0,0), got {item!r}")
        colors[name.strip()] = rgb
    return colors
