"""The registry: every module of this package that exports EXPERIMENT (an Experiment) is an experiment, found
by looking, not by a list, so adding one means adding one module. experiments() gives them in report order
(by number); the report, the pipeline, the worker and the menu iterate over it."""
from __future__ import annotations

import importlib
import pkgutil
import sys

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization.experiments.descriptor import NEEDS, Experiment

_PACKAGE = __name__.rpartition(".")[0]
_found: list[Experiment] | None = None  # filled on first use: the experiment modules import this package


def experiments() -> list[Experiment]:
    """Every registered experiment, by number."""
    global _found
    if _found is None:
        _found = _discover()
    return list(_found)


def experiment(key: str) -> Experiment:
    for found in experiments():
        if found.key == key:
            return found
    raise UserError(f"unknown experiment {key!r}: choose {', '.join(e.key for e in experiments())}")


def loaded_model_experiments() -> list[Experiment]:
    """The experiments that run on one loaded generator (the GUI menu's, run_experiment's)."""
    return [e for e in experiments() if e.run_on_loaded_model is not None]


def _discover() -> list[Experiment]:
    package = sys.modules[_PACKAGE]
    found = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_") or info.ispkg:
            continue
        described = getattr(importlib.import_module(f"{_PACKAGE}.{info.name}"), "EXPERIMENT", None)
        if isinstance(described, Experiment):
            found.append(described)
    found.sort(key=lambda e: e.number)
    _check(found)
    return found


def _check(found: list[Experiment]) -> None:
    """Two experiments with one key or number would overwrite each other's stage files and figures."""
    for field in ("key", "number"):
        values = [getattr(e, field) for e in found]
        twice = sorted({v for v in values if values.count(v) > 1})
        if twice:
            raise RuntimeError(f"experiments share a {field}: {twice}")
    for e in found:
        if e.needs not in NEEDS:
            raise RuntimeError(f"experiment {e.key!r} needs {e.needs!r}, not one of {', '.join(NEEDS)}")
