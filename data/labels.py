"""Class labels and class colours for datasets without a manifest: their colourization scoring set.

Owns `probe_set`, which turns a user's own unaligned dataset (trainA/trainB/testA/testB, or A/B) into a
data.scoring_set.ScoringSet (what `models.evaluation.ColourizationProbe` scores), or into one sentence
saying why no accuracy can be computed. Pure numpy + OpenCV + torch (no Qt). The rules:

- Domains: the gray domain is the one whose images are single-channel (`detect_channels` == 1); the
  other domain must be 3-channel. Scored images are the gray domain's `split` images; the RGB domain's
  images come from the same split when it has a folder, else from train.
- Classes: a file's class is the name of its sub-folder right below the domain folder
  (testB/circle/x.png -> "circle"), else its file-name prefix: the stem up to the first "_", "-" or
  digit ("circle_0003.png", "Circle-12.jpg", "circle3.png" -> "circle"). Names are lower-cased. A stem
  with no such prefix ("0003.png", "photo.png") has no class, and unlabelled gray images are not
  scored. The gray split must name at least two classes, and every one must also have RGB images.
- Class colours: per RGB image, the background colour is the median of its border pixels, the figure
  pixels are those farther than 40 (Euclidean, RGB) from it, and the image's colour is the median of
  its figure pixels; a class colour is the per-channel median over up to 20 of its images. Only the
  gray split's classes get a colour. Two class colours closer than 60 cannot be told apart: no accuracy.
- Gray level: the median of the figure pixels (farther than 20 from the image's border median) over
  all labelled gray images, at the probe size.
- Masks: data.interior's rule for figures of unknown geometry, at the gray level above: found at the
  file's own resolution and shrunk to the probe size when the file is larger, at the probe size otherwise.
- `limit` keeps at most `limit` gray images, taken round-robin over the classes (each class in sorted
  file order), listed in sorted file order.
"""
from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import numpy as np

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.images import read_image
from cyclegan_workbench.data.interior import border_median, figure_interior, figure_pixels_gray
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.unaligned import detect_channels, domain_folder, list_images, load_domain

RGB_FIGURE_DISTANCE = 40   # a figure pixel is this far (Euclidean RGB) from its image's background colour
MIN_COLOR_SEPARATION = 60  # closer class colours would make the nearest-colour score a coin toss
COLOR_SAMPLES = 20         # RGB images measured per class: the median settles long before
MIN_CLASSES = 2

# The prefix is everything before the first separator or digit; a stem without one has no prefix, so
# that "photo.png" is not taken for a class called "photo".
_PREFIX = re.compile(r"([^_\-\d]+)[_\-\d]")
_NAMING_HINT = ("put each class in its own sub-folder ({folder}/circle/...) "
                "or start file names with the class (circle_001.png)")


def class_of(path: Path, folder: Path) -> str | None:
    """The class of an image file below a domain folder: its sub-folder, else its name prefix, else None."""
    parts = path.relative_to(folder).parts
    if len(parts) > 1:
        return parts[0].strip().lower() or None
    match = _PREFIX.match(path.stem)
    name = match.group(1).strip().lower() if match else ""
    return name or None


def figure_pixels_rgb(image: np.ndarray) -> np.ndarray:
    """Bool H x W: pixels farther than RGB_FIGURE_DISTANCE from the image's background colour."""
    diff = image.astype(np.float64) - border_median(image)[None, None, :]
    return np.sqrt((diff ** 2).sum(axis=2)) > RGB_FIGURE_DISTANCE


def image_colour(image: np.ndarray) -> np.ndarray | None:
    """Median colour of an RGB image's figure pixels; None when nothing stands out from the background."""
    figure = figure_pixels_rgb(image)
    if not figure.any():
        return None
    return np.median(image[figure].astype(np.float64), axis=0)


def probe_set(dataroot: str | Path, size: int, split: str = "test", limit: int | None = None) -> ScoringSet | str:
    """The colourization scoring set of a dataset without a manifest, or why there can be none.

    Returns a `ScoringSet` (see the module docstring for the rules), or a one-sentence reason starting
    with "no accuracy:". Unreadable or missing folders are reasons too: the accuracy is optional, and
    the training that wants it reports such problems on its own.
    """
    try:
        return _probe_set(Path(dataroot), size, split, limit)
    except UserError as exc:
        return f"no accuracy: {exc}"


def _probe_set(root: Path, size: int, split: str, limit: int | None) -> ScoringSet | str:
    folders = {}
    for domain in ("A", "B"):
        folder = _folder(root, split, domain) or _folder(root, "train", domain)
        if folder is None:
            return f"no accuracy: the dataset {root} has no {split}{domain}/ (or {domain}/) folder"
        folders[domain] = folder
    channels = {d: detect_channels(f) for d, f in folders.items()}
    gray = [d for d in ("A", "B") if channels[d] == 1]
    if len(gray) == 2:
        return "no accuracy: both domains are gray (single-channel), so there are no class colours to score against"
    if not gray:
        return "no accuracy: neither domain is gray (single-channel), so there is no gray -> RGB translation to score"
    gray_domain = gray[0]
    rgb_domain = "A" if gray_domain == "B" else "B"
    gray_folder = _folder(root, split, gray_domain)
    if gray_folder is None:
        return f"no accuracy: the dataset has no {split}{gray_domain}/ folder of gray images to score"
    rgb_folder = folders[rgb_domain]
    gray_name, rgb_name = _shown(gray_folder, root), _shown(rgb_folder, root)

    loaded = load_domain(gray_folder, 1, size)
    labels = [class_of(p, gray_folder) for p in loaded.paths]
    labelled = [i for i, c in enumerate(labels) if c is not None]
    if not labelled:
        return (f"no accuracy: the images of {gray_name} name no classes; "
                + _NAMING_HINT.format(folder=gray_name))
    classes = sorted({labels[i] for i in labelled})
    if len(classes) < MIN_CLASSES:
        return (f"no accuracy: the images of {gray_name} name only one class ({classes[0]}); "
                f"the accuracy needs at least two")

    rgb_files: dict[str, list[Path]] = {}
    for path in list_images(rgb_folder):
        name = class_of(path, rgb_folder)
        if name is not None:
            rgb_files.setdefault(name, []).append(path)
    missing = [c for c in classes if c not in rgb_files]
    if missing:
        what = "classes" if len(missing) > 1 else "a class"
        return (f"no accuracy: {rgb_name} has no images of {', '.join(missing)} ({what} "
                f"of {gray_name}), so there is no colour to score {'them' if len(missing) > 1 else 'it'} against")

    class_colors = {}
    for name in classes:
        colour = _class_colour(rgb_files[name])
        if colour is None:
            return (f"no accuracy: no {name} image of {rgb_name} shows a figure that stands out from its "
                    f"background, so the colour of {name} is unknown")
        class_colors[name] = colour
    for a, b in combinations(classes, 2):
        distance = float(np.linalg.norm(np.subtract(class_colors[a], class_colors[b], dtype=np.float64)))
        if distance < MIN_COLOR_SEPARATION:
            return (f"no accuracy: classes {a} and {b} have nearly the same colour in {rgb_name} "
                    f"({class_colors[a]} and {class_colors[b]}), so the score could not tell them apart")

    raw_all = {i: loaded.images[i, 0].numpy() for i in labelled}
    figure_values = np.concatenate([raw_all[i][figure_pixels_gray(raw_all[i])] for i in labelled])
    if figure_values.size == 0:
        return f"no accuracy: no image of {gray_name} shows a figure that stands out from its background"
    gray_level = int(round(float(np.median(figure_values))))

    keep = _limited(labelled, labels, limit)
    unlabelled = len(loaded.paths) - len(labelled)
    note = (f"the accuracy scores the {len(keep)} {split} images whose names give a class; {unlabelled} name "
            f"none and are left out") if unlabelled else ""
    return ScoringSet(
        images=loaded.images[keep].float().div(127.5).sub(1.0),
        masks=[_mask(loaded.paths[i], raw_all[i], gray_level) for i in keep],
        classes=[labels[i] for i in keep],
        class_colors=class_colors,
        names=[loaded.paths[i].relative_to(gray_folder).as_posix() for i in keep],
        gray_level=gray_level,
        gray_domain=gray_domain,
        note=note,
    )


def _mask(path: Path, gray: np.ndarray, gray_level: int) -> np.ndarray:
    """The interior of one image's figures, searched in the file itself (at its own resolution)."""
    try:
        full = read_image(path, 1)
    except UserError:
        full = gray  # decoded once already, so unreadable only if it changed since: use the decoded copy
    return figure_interior(gray.shape[0], gray=full, gray_level=gray_level)


def _folder(root: Path, split: str, domain: str) -> Path | None:
    try:
        return domain_folder(root, split, domain)
    except UserError:
        return None


def _shown(folder: Path, root: Path) -> str:
    try:
        return folder.relative_to(root).as_posix()
    except ValueError:
        return str(folder)


def _class_colour(paths: list[Path]) -> tuple[int, int, int] | None:
    # Evenly spread samples rather than the first ones: sorted names often group by source or session.
    picks = np.unique(np.linspace(0, len(paths) - 1, min(COLOR_SAMPLES, len(paths))).round().astype(int))
    colours = []
    for i in picks:
        try:
            image = read_image(paths[i], 3)
        except UserError:
            continue  # a corrupt file should not cost the whole accuracy; load_domain skips it too
        colour = image_colour(image)
        if colour is not None:
            colours.append(colour)
    if not colours:
        return None
    return tuple(int(round(v)) for v in np.median(np.stack(colours), axis=0))


def _limited(indices: list[int], labels: list, limit: int | None) -> list[int]:
    """At most `limit` of `indices`, round-robin over the classes so that each stays represented."""
    if not limit or limit >= len(indices):
        return list(indices)
    per_class: dict[str, list[int]] = {}
    for i in indices:
        per_class.setdefault(labels[i], []).append(i)
    queues = list(per_class.values())
    chosen: list[int] = []
    depth = 0
    while len(chosen) < limit:
        for queue in queues:
            if depth < len(queue) and len(chosen) < limit:
                chosen.append(queue[depth])
        depth += 1
    return sorted(chosen)


__all__ = ["probe_set", "class_of", "figure_pixels_rgb", "image_colour"]
