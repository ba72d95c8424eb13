"""Install the CycleGAN Workbench: `pip install .` (add `.[test]` for the test suite)."""
from setuptools import setup

NAMESPACE = "cyclegan_workbench"
FOLDERS = ["app", "app.cli", "app.tabs", "app.widgets", "models", "data", "visualization",
           "visualization.experiments", "resources"]

setup(
    name="cyclegan-workbench",
    version="0.1.0",
    description="A desktop workbench for looking inside CycleGAN generators trained on toy shapes",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    # One installed name: the repository's folders become sub-packages of cyclegan_workbench, so no
    # generic top-level package (app, models, data...) can clash with another distribution's.
    packages=[f"{NAMESPACE}.{p}" for p in FOLDERS],
    package_dir={f"{NAMESPACE}.{p}": p.replace(".", "/") for p in FOLDERS},
    package_data={f"{NAMESPACE}.resources": ["icons/*.png", "default_model/*.json", "default_model/*.pth",
                                             "default_model/*.md", "samples/A/*.png", "samples/B/*.png"]},
    install_requires=[
        # No upper bound: pip keeps a torch the user already has when it satisfies the range, and
        # CI installs the newest build the index offers (the CUDA build, with triton).
        "torch>=2.4",  # 2.4: fused Adam on CPU
        "numpy>=1.24",
        "opencv-python-headless>=4.8",
        "matplotlib>=3.7",
        "seaborn>=0.12",
        "PyQt5>=5.15",
        "tqdm>=4.60",  # command-line progress bars
    ],
    extras_require={"test": ["pytest>=7", "pytest-qt>=4.2", "hypothesis>=6", "scikit-image>=0.21", "ruff>=0.17,<0.18"]},
    entry_points={"console_scripts": ["cyclegan-workbench=cyclegan_workbench.app.main:main"]},
)
