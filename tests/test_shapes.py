"""The toy shape generator: determinism, layout, exact colours, manifest, presets, bad input, safe writes."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from data.shapes import (
    PRESETS,
    SHAPES,
    GenerationCancelled,
    ShapeDatasetParams,
    generate_dataset,
    load_manifest,
    render_coverage,
    render_scene,
)
from models.errors import UserError

REPO = Path(__file__).resolve().parents[1]


def tiny(**changes) -> ShapeDatasetParams:
    base = ShapeDatasetParams(size=48, train_per_class=3, test_per_class=2, seed=7)
    return replace(base, **changes)


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def read(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if img.ndim == 3 else img


# -- determinism --------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(tmp_path):
    params = tiny(background="texture:0-255", noise_sigma=5.0)
    a = files(generate_dataset(params, tmp_path / "a"))
    b = files(generate_dataset(params, tmp_path / "b"))
    assert len(a) == 2 * 2 * (3 + 2) + 1
    assert a == b


def test_different_seed_gives_different_images(tmp_path):
    a = files(generate_dataset(tiny(seed=1), tmp_path / "a"))
    b = files(generate_dataset(tiny(seed=2), tmp_path / "b"))
    pngs = [k for k in a if k.endswith(".png")]
    assert sum(a[k] != b[k] for k in pngs) >= 0.8 * len(pngs)


# -- layout and content -------------------------------------------------------------------------


def test_counts_per_split_domain_and_class_with_matching_stems(tmp_path):
    params = tiny(shapes=("circle", "triangle", "star"), train_per_class=4, test_per_class=2)
    out = generate_dataset(params, tmp_path / "ds")
    stems = {}
    for folder in ("trainA", "trainB", "testA", "testB"):
        names = sorted(p.stem for p in (out / folder).glob("*.png"))
        for shape in params.shapes:
            expected = 4 if folder.startswith("train") else 2
            assert sum(n.startswith(shape + "_") for n in names) == expected, folder
        stems[folder] = names
    assert stems["trainA"] == stems["trainB"]
    assert stems["testA"] == stems["testB"]


def test_gray_domain_has_exact_level_and_rgb_domain_the_class_colour(tmp_path):
    params = tiny(shapes=SHAPES, background="30", gray_level=140, train_per_class=0, test_per_class=2, size=64)
    out = generate_dataset(params, tmp_path / "ds")
    manifest = load_manifest(out)
    colors = {k: tuple(v) for k, v in manifest["class_colors"].items()}
    kernel = np.ones((5, 5), np.uint8)  # two pixels of the anti-aliased edge on each side
    for row in manifest["images"]:
        img = read(out / row["file"])
        hard = render_coverage(row["shapes"], params.size, antialias=False)
        inside = cv2.erode(hard, kernel) > 0
        outside = cv2.dilate(hard, kernel) == 0
        assert inside.sum() > 20, row["file"]
        if row["domain"] == "B":
            assert img.ndim == 2
            assert (img[inside] == 140).all(), row["file"]
            assert (img[outside] == 30).all(), row["file"]
        else:
            assert img.ndim == 3
            assert (img[inside] == colors[row["shape"]]).all(), row["file"]
            assert (img[outside] == 30).all(), row["file"]


def test_without_antialias_every_covered_pixel_has_the_exact_level(tmp_path):
    params = tiny(antialias=False, shapes=("star", "cross"))
    out = generate_dataset(params, tmp_path / "ds")
    for row in load_manifest(out)["images"]:
        if row["domain"] == "B":
            img = read(out / row["file"])
            inside = render_coverage(row["shapes"], params.size, antialias=False) > 0
            assert set(np.unique(img[inside])) == {128}
            assert set(np.unique(img[~inside])) == {0}


def test_rgb_domain_can_be_b(tmp_path):
    out = generate_dataset(tiny(rgb_domain="B"), tmp_path / "ds")
    assert read(out / "trainA" / "circle_0000.png").ndim == 2
    assert read(out / "trainB" / "circle_0000.png").shape == (48, 48, 3)


def test_noise_only_on_the_chosen_domain(tmp_path):
    params = tiny(noise_sigma=10.0, noise_domains=("A",), antialias=False, background="100")
    out = generate_dataset(params, tmp_path / "ds")
    gray = read(out / "testB" / "circle_0000.png")
    rgb = read(out / "testA" / "circle_0000.png")
    assert set(np.unique(gray)) == {100, 128}
    background = rgb[gray == 100].astype(float)
    assert 8 < background.std() < 12 and abs(background.mean() - 100) < 1


def test_render_scene_is_exactly_what_the_dataset_holds(tmp_path):
    params = tiny(background="gradient:20-220", shift=3)
    out = generate_dataset(params, tmp_path / "ds")
    scene = render_scene(params, "triangle", 1, "test")
    assert np.array_equal(scene.rgb, read(out / "testA" / "triangle_0001.png"))
    assert np.array_equal(scene.gray, read(out / "testB" / "triangle_0001.png"))


def test_manifest_rows_match_the_files(tmp_path):
    params = tiny(shapes=("square", "rectangle"), colors={"square": (10, 20, 30)})
    out = generate_dataset(params, tmp_path / "ds")
    manifest = load_manifest(out / "manifest.json")
    on_disk = {k for k in files(out) if k.endswith(".png")}
    listed = [row["file"] for row in manifest["images"]]
    assert sorted(listed) == sorted(on_disk)
    assert manifest["class_colors"] == {"square": [10, 20, 30], "rectangle": [255, 255, 0]}
    assert ShapeDatasetParams.from_dict(manifest["params"]).to_dict() == params.to_dict()
    for row in manifest["images"]:
        assert row["file"] == f"{row['split']}{row['domain']}/{row['stem']}.png"
        assert row["stem"].startswith(row["shape"] + "_")
        class_color = manifest["class_colors"][row["shape"]]
        assert row["color"] == (class_color if row["domain"] == "A" else [128, 128, 128])
        assert row["background"] == 0 and row["gray_level"] == 128
        assert row["center"] == [23.5, 23.5]  # centred, no shift
        assert 0.3 * 48 <= row["size"] <= 0.6 * 48
        assert -180 <= row["rotation"] <= 180
        assert (row["aspect"] is not None) == (row["shape"] == "rectangle")
        if row["aspect"] is not None:
            assert 1.5 <= row["aspect"] <= 3.0


def test_several_shapes_per_image_stay_apart_and_inside(tmp_path):
    params = tiny(shapes_per_image=(2, 4), scale=(0.15, 0.3), shift=2, size=64, train_per_class=6)
    out = generate_dataset(params, tmp_path / "ds")
    counts = set()
    for row in load_manifest(out)["images"]:
        figures = row["shapes"]
        counts.add(len(figures))
        assert all(f["shape"] == row["shape"] for f in figures)
        for i, f in enumerate(figures):
            r = f["size"] / 2
            assert r <= f["center"][0] <= 63 - r and r <= f["center"][1] <= 63 - r
            for g in figures[i + 1:]:
                assert np.hypot(*np.subtract(f["center"], g["center"])) >= r + g["size"] / 2
    assert counts <= {2, 3, 4} and len(counts) > 1


def test_shifted_shapes_never_touch_the_border():
    params = tiny(shift=8, scale=(0.6, 0.6), size=48, rotation=45.0)
    params.validate()  # the most that fits: 14.4 px radius + 8 px shift within 23 px of room
    for i in range(20):
        scene = render_scene(params, "triangle", i)
        cover = render_coverage(scene.figures, 48)
        assert not (cover[0].any() or cover[-1].any() or cover[:, 0].any() or cover[:, -1].any())


def test_random_background_never_equals_the_gray_level():
    params = tiny(background="random:127-129")
    levels = {render_scene(params, "circle", i).background_gray for i in range(40)}
    assert levels == {127, 129}


def test_background_sweep_keeps_the_figures_and_spans_the_levels():
    sweep = replace(PRESETS["background-sweep"](), size=48, test_per_class=5)
    plain = replace(sweep, background="0")
    levels = [render_scene(sweep, "circle", i, "test").background_gray for i in range(5)]
    assert levels[0] == 0 and levels[-1] == 255 and levels == sorted(levels)
    assert 128 not in levels
    for i in range(5):
        assert render_scene(sweep, "triangle", i, "test").figures == render_scene(plain, "triangle", i, "test").figures


def test_presets_are_valid_and_as_described():
    assert set(PRESETS) == {"default", "unseen", "background-sweep", "shifted"}
    default = PRESETS["default"]()
    assert default.image_count() == 560 and default.size == 256
    assert default.shapes == ("circle", "triangle") and default.shift == 0 and default.noise_sigma == 0
    assert default.class_colors() == {"circle": (255, 0, 0), "triangle": (0, 255, 0)}
    unseen = PRESETS["unseen"]()
    assert "circle" not in unseen.shapes and "triangle" not in unseen.shapes and len(unseen.shapes) >= 7
    assert unseen.aspect == (1.0, 6.0) and unseen.train_per_class == 0
    assert PRESETS["shifted"]().shift > 0
    for make in PRESETS.values():
        params = make()
        params.validate()
        assert render_scene(params, params.shapes[0], 0, "test").rgb.shape == (256, 256, 3)


def test_every_class_has_a_distinct_default_colour():
    colors = ShapeDatasetParams(shapes=SHAPES).class_colors()
    assert len(set(colors.values())) == len(SHAPES) >= 8


# -- bad input ----------------------------------------------------------------------------------

BAD = [
    (dict(shapes=("circle", "blob")), "unknown shape 'blob'"),
    (dict(colors={"circle": (300, 0, 0)}), "colour of circle"),
    (dict(colors={"circle": (255, 0)}), "colour of circle"),
    (dict(colors={"triangle": (255, 0, 0)}), "same colour"),
    (dict(train_per_class=-1), "train images per class"),
    (dict(test_per_class=-5), "test images per class"),
    (dict(train_per_class=0, test_per_class=0), "nothing to generate"),
    (dict(scale=(0.5, 0.9), shift=6), "do not fit the 48 px canvas"),
    (dict(shapes_per_image=(1, 4), scale=(0.3, 0.6)), "do not fit a cell"),
    (dict(gray_level=0), "equals the constant background"),
    (dict(background="100,200,50", gray_level=153), "equals the constant background"),
    (dict(background="255,0,0"), "circle colour (255, 0, 0) equals the background"),
    (dict(background="wavy"), "background 'wavy' is not understood"),
    (dict(background="random:200-100"), "LO <= HI"),
    (dict(noise_sigma=-1.0), "noise sigma"),
    (dict(noise_domains=("C",)), "noise domains"),
    (dict(rgb_domain="C"), "RGB domain"),
    (dict(scale=(0.6, 0.3)), "above its maximum"),
]


@pytest.mark.parametrize("changes, message", BAD, ids=[m for _, m in BAD])
def test_bad_parameters_are_refused_before_anything_is_written(tmp_path, changes, message):
    params = tiny(**changes)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        params.validate()
    with pytest.raises(UserError):
        generate_dataset(params, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_non_empty_output_is_refused_without_overwrite(tmp_path):
    out = generate_dataset(tiny(seed=1), tmp_path / "ds")
    before = files(out)
    with pytest.raises(UserError, match="is not empty"):
        generate_dataset(tiny(seed=2), out)
    assert files(out) == before
    generate_dataset(tiny(seed=2), out, overwrite=True)
    assert files(out) != before
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_overwrite_refuses_a_folder_that_is_not_a_dataset(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "thesis.tex").write_text("precious")
    with pytest.raises(UserError, match="thesis.tex"):
        generate_dataset(tiny(), tmp_path / "ds", overwrite=True)
    assert (tmp_path / "ds" / "thesis.tex").read_text() == "precious"


def test_interrupted_overwrite_keeps_the_old_dataset_and_leaves_nothing_else(tmp_path):
    out = generate_dataset(tiny(seed=1), tmp_path / "ds")
    before = files(out)

    def interrupt(done, total):
        if done >= 6:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_dataset(tiny(seed=2), out, overwrite=True, progress=interrupt)
    assert files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]


def test_cancelled_generation_leaves_no_folder(tmp_path):
    seen = []

    def cancel(done, total):
        seen.append((done, total))
        return done < 4

    with pytest.raises(GenerationCancelled):
        generate_dataset(tiny(), tmp_path / "new", progress=cancel)
    assert seen == [(2, 20), (4, 20)]
    assert list(tmp_path.iterdir()) == []


def test_params_round_trip_through_json_and_refuse_unknown_keys():
    params = tiny(shapes=("ellipse", "cross"), background="sweep:10-90", scale=(0.2, 0.4))
    assert ShapeDatasetParams.from_dict(params.to_dict()).to_dict() == params.to_dict()
    with pytest.raises(UserError, match="unknown dataset parameter.*colour_mode"):
        ShapeDatasetParams.from_dict({**params.to_dict(), "colour_mode": 1})


def test_core_and_cli_modules_load_without_qt_or_torch():
    code = (
        "import sys, data.shapes, data.scoring, app.cli.dataset_commands\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PyQt5', 'torch')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
