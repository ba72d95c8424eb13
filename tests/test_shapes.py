"""The toy shape generator: determinism, layout, exact colours, manifest, presets, bad input, safe writes."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.shapes import (
    PRESETS,
    SHAPES,
    GenerationCancelled,
    ShapeDatasetParams,
    ShapeGeometry,
    generate_dataset,
    load_manifest,
    render_coverage,
    render_scene,
)

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
    (dict(triangle_kind="obtuse"), "unknown triangle kind 'obtuse': choose from equilateral, right, axis-aligned"),
    (dict(image_format="gif"), "unknown image format 'gif': choose from png, jpeg"),
    (dict(image_format="jpeg", jpeg_quality=0), "JPEG quality must be an integer from 1 to 100, got 0"),
    (dict(jpeg_quality=101), "JPEG quality must be an integer from 1 to 100, got 101"),
    (dict(jpeg_quality=50.5), "JPEG quality must be an integer"),
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
    with pytest.raises(UserError, match="no manifest.json"):
        generate_dataset(tiny(), tmp_path / "ds", overwrite=True)
    assert (tmp_path / "ds" / "thesis.tex").read_text() == "precious"


def test_overwrite_refuses_a_dataset_someone_else_made_or_added_to(tmp_path):
    """Only a generated dataset holding nothing but what its manifest lists may be replaced."""
    theirs = tmp_path / "theirs"
    (theirs / "trainA").mkdir(parents=True)
    (theirs / "trainA" / "photo_001.png").write_bytes(b"their image")
    with pytest.raises(UserError, match="not made by generate-dataset"):
        generate_dataset(tiny(), theirs, overwrite=True)
    assert (theirs / "trainA" / "photo_001.png").read_bytes() == b"their image"

    ours = generate_dataset(tiny(seed=1), tmp_path / "ours")
    (ours / "trainA" / "added_by_hand.png").write_bytes(b"added")
    with pytest.raises(UserError, match="trainA/added_by_hand.png"):
        generate_dataset(tiny(seed=2), ours, overwrite=True)
    assert (ours / "trainA" / "added_by_hand.png").read_bytes() == b"added"


def test_a_killed_generation_leaves_nothing_behind_after_the_next(tmp_path):
    """SIGKILL cannot be caught: the hidden partial folder of a dead process is removed by the next run,
    and a dataset stranded between the two renames of a replace is put back."""
    stale = tmp_path / ".ds.partial-999999999-abcd1234"  # no such process id
    (stale / "trainA").mkdir(parents=True)
    generate_dataset(tiny(seed=1), tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]

    before = files(tmp_path / "ds")
    os.rename(tmp_path / "ds", tmp_path / ".ds.old-1234abcd")
    generate_dataset(tiny(seed=2), tmp_path / "ds", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"] and files(tmp_path / "ds") != before


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
        "import sys, cyclegan_workbench.data.shapes, cyclegan_workbench.data.scoring\n"
        "import cyclegan_workbench.app.cli.dataset_commands\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PyQt5', 'torch')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# -- triangle kinds and JPEG output ---------------------------------------------------------------

# sha256 of render_scene's images and figures computed with the code before triangle kinds and JPEG
# existed: the defaults must keep drawing exactly the same scenes (same random draws per figure).
BEFORE_TRIANGLE_KINDS = [
    (dict(size=48, seed=7), "78e39bb53b79ec94c7c1b661409a5e2812bd2776c7a2f67800b1220e1b9b588d"),
    (
        dict(shapes=SHAPES, size=64, seed=3, rotation=30.0, shift=2, scale=(0.3, 0.5),
             background="texture:0-255", noise_sigma=3.0),
        "0d822e71c73a123c77dd5532578feebe810ebb7e3180b68ce3d7ee138be6dd48",
    ),
    (
        dict(shapes=("triangle", "star"), size=64, shapes_per_image=(2, 4), scale=(0.15, 0.3), seed=11,
             antialias=False),
        "4f4dacade76d5f5b0e328a7ea438023adc8f89c3e316af648129e6f2503d187a",
    ),
]


def scenes_digest(params: ShapeDatasetParams, count: int = 3) -> str:
    h = hashlib.sha256()
    for split in ("train", "test"):
        for shape in params.shapes:
            for i in range(count):
                scene = render_scene(params, shape, i, split)
                h.update(scene.rgb.tobytes())
                h.update(scene.gray.tobytes())
                h.update(json.dumps([g.to_dict() for g in scene.figures]).encode())
    return h.hexdigest()


@pytest.mark.parametrize("changes, digest", BEFORE_TRIANGLE_KINDS, ids=["default", "all-shapes", "multi"])
def test_default_parameters_draw_exactly_what_they_drew_before(changes, digest):
    assert scenes_digest(ShapeDatasetParams(**changes)) == digest


def test_other_triangle_kinds_and_jpeg_leave_the_other_shapes_alone():
    base = tiny(shapes=SHAPES, shift=2, scale=(0.3, 0.5))
    for changes in (dict(triangle_kind="right"), dict(triangle_kind="axis-aligned"), dict(image_format="jpeg")):
        other = replace(base, **changes)
        for shape in SHAPES:
            a, b = render_scene(base, shape, 1), render_scene(other, shape, 1)
            same = shape != "triangle" or changes.get("triangle_kind") is None
            assert (a.figures == b.figures and np.array_equal(a.rgb, b.rgb)) == same, (shape, changes)
            if shape == "triangle":  # same centre and size: only the outline changes
                assert [(f.center, f.size) for f in a.figures] == [(f.center, f.size) for f in b.figures]


def test_right_triangle_has_half_the_area_of_its_circles_inscribed_square():
    params = tiny(triangle_kind="right", size=64, scale=(0.5, 0.8), rotation=180.0)
    rotations = []
    for i in range(6):
        (g,) = render_scene(params, "triangle", i).figures
        assert g.kind == "right" and -180 <= g.rotation <= 180
        rotations.append(g.rotation)
        r = g.size / 2
        # Area r^2 (legs r * sqrt(2)); measured on an 8x canvas, where the anti-aliased rim is negligible.
        big = replace(g, center=(255.5, 255.5), size=8 * g.size)
        area = render_coverage([big], 512).sum() / 255 / 64
        assert area == pytest.approx(r * r, rel=0.04), (i, g)
        # At the real size too, within the rim OpenCV's anti-aliasing adds.
        area = render_coverage([g], 64).sum() / 255
        assert r * r < area < 1.25 * r * r
        # An equilateral triangle of the same size is a third larger, so the test tells them apart.
        equilateral = render_coverage([replace(big, kind=None)], 512).sum() / 255 / 64
        assert equilateral == pytest.approx(3 * 3**0.5 / 4 * r * r, rel=0.04)
    assert len(set(rotations)) == 6


def test_axis_aligned_triangle_has_its_legs_along_the_axes():
    params = tiny(triangle_kind="axis-aligned", size=64, scale=(0.4, 0.9), rotation=10.0, train_per_class=12)
    corners = set()
    for i in range(12):
        (g,) = render_scene(params, "triangle", i).figures
        assert g.kind == "right" and g.rotation in (45.0, 135.0, 225.0, 315.0)  # params.rotation ignored
        hard = render_coverage([g], 64, antialias=False) > 0
        ys, xs = np.nonzero(hard)
        box = hard[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        assert box.shape[0] == box.shape[1]
        assert box.mean() == pytest.approx(0.5, abs=0.04)  # half of the bounding square (+ the diagonal)
        full_rows = [box[0].all(), box[-1].all()]
        full_cols = [box[:, 0].all(), box[:, -1].all()]
        assert sum(full_rows) == 1 and sum(full_cols) == 1, g  # one straight horizontal and vertical leg
        corners.add((full_rows.index(True), full_cols.index(True)))
        # The legs are straight: every row's run starts (or ends) at the same column, and so do the columns.
        runs = [np.flatnonzero(row) for row in box]
        edge = [r[0] for r in runs] if full_cols[0] else [r[-1] for r in runs]
        assert len(set(edge)) == 1
    assert len(corners) == 4  # all four orientations occur


@pytest.mark.parametrize("kind", ["equilateral", "right", "axis-aligned"])
def test_the_manifest_redraws_every_triangle_kind(tmp_path, kind):
    params = tiny(triangle_kind=kind, shapes=("triangle", "square"), shapes_per_image=(1, 2), scale=(0.2, 0.4))
    out = generate_dataset(params, tmp_path / "ds")
    manifest = load_manifest(out)
    assert ShapeDatasetParams.from_dict(manifest["params"]).triangle_kind == kind
    for row in manifest["images"]:
        for figure in row["shapes"]:
            expected = "right" if kind != "equilateral" and figure["shape"] == "triangle" else None
            assert figure.get("kind") == expected
            assert ("kind" in figure) == (expected is not None)  # equilateral figures read as before
        alpha = render_coverage(row["shapes"], params.size).astype(np.uint16)
        level = np.asarray(row["color"], np.uint16)
        expected_img = ((alpha[..., None] * level + 127) // 255).astype(np.uint8)
        img = read(out / row["file"])
        if img.ndim == 2:
            expected_img = expected_img[..., 0]
        assert np.array_equal(img, expected_img), row["file"]


def test_geometry_round_trips_with_kind_and_reads_old_manifests():
    right = ShapeGeometry("triangle", (10.5, 12.0), 20.0, 135.0, None, "right")
    assert right.to_dict()["kind"] == "right"
    assert ShapeGeometry.from_dict(right.to_dict()) == right
    old = {"shape": "triangle", "center": [10.5, 12.0], "size": 20.0, "rotation": 135.0, "aspect": None}
    assert ShapeGeometry.from_dict(old) == replace(right, kind=None)
    assert ShapeGeometry.from_dict(old).to_dict() == old
    assert not np.array_equal(render_coverage([old], 24), render_coverage([right], 24))
    params = tiny(triangle_kind="axis-aligned", image_format="jpeg", jpeg_quality=90)
    assert ShapeDatasetParams.from_dict(params.to_dict()).to_dict() == params.to_dict()
    legacy = {k: v for k, v in tiny().to_dict().items() if k not in ("triangle_kind", "image_format", "jpeg_quality")}
    assert ShapeDatasetParams.from_dict(legacy).to_dict() == tiny().to_dict()


def test_jpeg_datasets_write_jpg_files_that_load_and_score_perfectly(tmp_path):
    from cyclegan_workbench.data.scoring import score_directory
    from cyclegan_workbench.data.unaligned import UnalignedDataset
    from cyclegan_workbench.models.evaluation import ColourizationProbe

    params = tiny(shapes=SHAPES, image_format="jpeg", background="random:0-255", triangle_kind="right",
                  train_per_class=2, test_per_class=3, size=40, scale=(0.3, 0.9))
    out = generate_dataset(params, tmp_path / "ds")
    manifest = load_manifest(out)
    listed = sorted(row["file"] for row in manifest["images"])
    on_disk = sorted(k for k in files(out) if k != "manifest.json")
    assert listed == on_disk and all(name.endswith(".jpg") for name in on_disk)
    assert all(p.read_bytes()[:3] == b"\xff\xd8\xff" for p in (out / "testA").iterdir())  # JPEG signature
    # Lossy: the files are not the rendered scene, but close to it.
    scene = render_scene(params, "star", 1, "test")
    img = read(out / "testA" / "star_0001.jpg")
    assert not np.array_equal(img, scene.rgb) and np.abs(img.astype(int) - scene.rgb).mean() < 12
    # Higher quality is closer.
    best = generate_dataset(replace(params, jpeg_quality=100, train_per_class=0), tmp_path / "q100")
    err100 = np.abs(read(best / "testA" / "star_0001.jpg").astype(int) - scene.rgb).mean()
    assert err100 < np.abs(img.astype(int) - scene.rgb).mean()

    data = UnalignedDataset(out, load_size=40, crop_size=40)
    assert (data.A.channels, data.B.channels) == (3, 1)
    assert len(data.A) == len(data.B) == 2 * len(SHAPES)
    # The RGB test images, JPEG ringing and all, are perfect translations of the gray ones.
    result = score_directory(out, out / "testA")
    assert result.accuracy == 1.0 and result.n == 3 * len(SHAPES) and not result.missing
    probe = ColourizationProbe.create(out, 32)
    assert probe is not None and len(probe.classes) == 3 * len(SHAPES)
