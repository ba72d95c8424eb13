"""The Experiment descriptor each experiment module exports as EXPERIMENT: its key, number, title and
question; how the reproduction pipeline runs it (run_in_pipeline, over a PipelineContext); how the report
states its setting and numbers; its entry in the GUI's Experiments menu and, when it can run on one
loaded generator, how (run_on_loaded_model). The registry, the report, the pipeline, the worker and the
menu read nothing else about an experiment."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cyclegan_workbench.visualization.experiments.result import ExperimentResult

# The models a pipeline experiment needs trained first, by their reproduce.ModelSpec role.
NEEDS = ("toy", "architecture")


class PipelineContext(Protocol):
    """What the reproduction pipeline (visualization.reproduce.Reproduction) offers an experiment's stage."""

    budget: Any  # reproduce.Budget: the sizes the experiment runs at

    def hooks(self) -> dict:
        """{"progress": ..., "cancelled": ...} for the experiment function."""

    def colourizer(self, model: str):
        """The parsed gray -> RGB generator (NetworkGraph) of a trained model ("toy", "toy_shifted", ...)."""

    def model_size(self, model: str = "toy") -> int:
        """The input size a trained model runs at."""

    def test_images(self, dataset: str, count: int | None = None):
        """A class-balanced ScoringSet of `count` (None: all) gray test images of a pipeline dataset
        ("default", "large", "shifted"), at the default-preset model's size."""

    def dataset_params(self, name: str):
        """The ShapeDatasetParams of a pipeline dataset."""

    def class_colors(self) -> dict:
        """{class: (r, g, b)} of the default dataset."""

    def trained_models(self, role: str) -> list[dict]:
        """The training stages' results of the models with `role` ("toy" or "architecture"), in order."""


@dataclass(frozen=True)
class AskWholeNumber:
    """A whole number the menu asks for before the experiment starts, passed as `option` to
    run_on_loaded_model; the allowed values depend on the loaded generator."""

    option: str
    label: str  # "{max}" becomes the largest allowed value
    choices: Callable[[Any], list[int]]  # NetworkGraph -> allowed values; none: the experiment cannot run
    preferred: int  # the value offered first when it is allowed (else the smallest)
    none_title: str
    none_message: str  # "{generator}" becomes G_A or G_B


@dataclass(frozen=True)
class MenuEntry:
    text: str  # the action's text, "&" before its mnemonic
    tip: str  # status and tool tip
    order: int  # its place in the menu, which lists the entries by this rather than by experiment number
    ask: AskWholeNumber | None = None


@dataclass(frozen=True)
class Experiment:
    key: str
    number: int  # section number in the report; names its pipeline stage and figure files
    title: str
    question: str
    needs: str  # one of NEEDS: the pipeline runs it right after training those models
    run_in_pipeline: Callable[[PipelineContext], ExperimentResult]
    setting_text: Callable[[dict, dict], str]  # (its results.json entry, the whole results) -> Setting paragraph
    number_tables: Callable[[dict, dict], list[tuple]]  # (its numbers, the whole results) -> report blocks
    menu: MenuEntry
    # (graph, LoadedModelInputs, hooks, **options) -> (ExperimentResult, the inputs in words); None: the
    # experiment needs the pipeline (the menu shows it disabled and points to `cyclegan-workbench reproduce`).
    run_on_loaded_model: Callable[..., tuple[ExperimentResult, str]] | None = None

    @property
    def stage(self) -> str:
        """Its stage in the pipeline: stages/<stage>.json, figures/<stage's prefix>_<name>.png."""
        return f"exp{self.number}_{self.key}"

    def figure_file(self, name: str) -> str:
        return f"exp{self.number}_{name}"
