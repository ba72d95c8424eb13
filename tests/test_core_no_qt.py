"""The core never loads Qt: importing models, data and visualization (and the headless CLI) pulls in no PyQt5."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import importlib, pkgutil, sys
loaded = []
for package in ("cyclegan_workbench.models", "cyclegan_workbench.data", "cyclegan_workbench.visualization"):
    pkg = importlib.import_module(package)
    loaded.append(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"{package}.{info.name}")
        loaded.append(f"{package}.{info.name}")
for name in ("cli", "cli.inspect_commands", "cli.training_commands", "cli.dataset_commands",
             "cli.reproduce_commands"):
    importlib.import_module(f"cyclegan_workbench.app.{name}")
# Colormaps come from matplotlib: make sure that does not pick a Qt backend either.
from cyclegan_workbench.visualization.render import colormap_lut
colormap_lut("viridis")
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PyQt5", "PyQt6", "PySide2", "PySide6"))
print(len(loaded))
print(",".join(qt))
"""


def test_importing_the_core_loads_no_qt():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    count, qt = (result.stdout.splitlines() + [""])[:2]
    assert int(count) >= 15  # every module of the three packages was imported, so the check means something
    assert qt == "", f"Qt modules loaded by the core: {qt}"


LAYERS = """
import importlib, pkgutil, sys
import cyclegan_workbench.{package} as pkg
for info in pkgutil.iter_modules(pkg.__path__):
    importlib.import_module(f"cyclegan_workbench.{package}.{{info.name}}")
print(",".join(sorted({{m.split(".")[1] for m in sys.modules if m.startswith("cyclegan_workbench.")}})))
"""


def test_each_layer_imports_only_the_layers_below_it():
    """data/ (errors, file safety, image I/O, datasets) is the lowest layer; models/ builds on it alone."""
    for package, allowed in (("data", {"data"}), ("models", {"data", "models"})):
        result = subprocess.run([sys.executable, "-c", LAYERS.format(package=package)], cwd=ROOT,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        loaded = set(result.stdout.strip().split(","))
        assert loaded <= allowed, f"{package}/ imports {sorted(loaded - allowed)}"
