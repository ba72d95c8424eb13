"""One installed name: the wheel holds `cyclegan_workbench` only, and a user's own `models.py` or `data.py`
beside their work cannot shadow ours."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_installs_one_top_level_package(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the working tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__",
                                                                "tests", "benchmarks", "docs"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(source)], check=True, capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"cyclegan_workbench"}
    for part in ("app/main.py", "models/training.py", "data/files.py", "visualization/parser.py",
                 "resources/default_model/latest_net_G_B.pth", "resources/samples/B"):
        assert any(n.startswith(f"cyclegan_workbench/{part}") for n in names), part
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        assert "cyclegan-workbench = cyclegan_workbench.app.main:main" in archive.read(entry_points).decode()


def test_the_program_runs_from_a_folder_holding_a_users_models_and_data_modules(tmp_path):
    for name in ("models", "data", "app", "visualization", "resources"):
        (tmp_path / f"{name}.py").write_text(f"raise ImportError('the user\\'s own {name}.py was imported')\n")
    script = ("import sys; from cyclegan_workbench.app.main import main; "
              "sys.exit(main(['generate-dataset', 'shapes', '--size', '32', '--train-per-class', '2', "
              "'--test-per-class', '1']))")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "shapes" / "manifest.json").is_file()
