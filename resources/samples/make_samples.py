"""Writes the bundled sample images: python resources/samples/make_samples.py (from the repository root).

Test-split scenes of the default dataset (circle, triangle) and of the unseen-figures preset, gray in
B/ and coloured in A/, with matching names, exactly as `generate-dataset` would draw them.
"""
from pathlib import Path

import cv2

HERE = Path(__file__).resolve().parent

from cyclegan_workbench.data.shapes import PRESETS, render_scene  # noqa: E402

SAMPLES = [("default", "circle", 0), ("default", "circle", 3), ("default", "triangle", 0),
           ("default", "triangle", 5), ("unseen", "square", 0), ("unseen", "rectangle", 2),
           ("unseen", "ellipse", 0), ("unseen", "star", 0)]

for preset, shape, index in SAMPLES:
    scene = render_scene(PRESETS[preset](), shape, index, split="test")
    for domain, image in (("A", cv2.cvtColor(scene.rgb, cv2.COLOR_RGB2BGR)), ("B", scene.gray)):
        (HERE / domain).mkdir(exist_ok=True)
        cv2.imwrite(str(HERE / domain / f"{shape}_{index}.png"), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
