"""Experiments on one loaded gray -> RGB generator, as the GUI's Experiments menu runs them: where their
figures come from (LoadedModelInputs: the model's generated dataset, or without one the default toy-dataset
parameters rendered in memory) and the one call that runs any of them (run_loaded_experiment)."""
from __future__ import annotations

from dataclasses import dataclass, field

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.data.scoring_set import ScoringSet
from cyclegan_workbench.data.shapes import ShapeDatasetParams
from cyclegan_workbench.visualization.experiments.inputs import as_colourizer, balanced_test_set
from cyclegan_workbench.visualization.experiments.registry import experiment, loaded_model_experiments
from cyclegan_workbench.visualization.experiments.result import CancelCheck, ExperimentResult, Progress
from cyclegan_workbench.visualization.parser import NetworkGraph


@dataclass
class LoadedModelInputs:
    """The figures of an experiment on a loaded generator: `images` test images of `dataset` (a generated
    dataset's folder or manifest) and figures rendered with its parameters, or with dataset None figures
    rendered in memory from `params`."""

    size: int
    params: ShapeDatasetParams
    class_colors: dict
    source: str  # where the parameters come from, in words
    dataset: str | None = None
    images: int = 40
    _test: ScoringSet | None = field(default=None, repr=False)

    @classmethod
    def of(cls, dataset: str, size: int, images: int = 40, required: bool = False) -> LoadedModelInputs:
        """The inputs `dataset` offers; without a generated dataset there, the default toy-dataset parameters
        (or, when `required`, the UserError of reading it)."""
        from cyclegan_workbench.data.shapes import load_manifest

        manifest = None
        if dataset or required:
            try:
                manifest = load_manifest(dataset)
            except UserError:
                if required:
                    raise
        if manifest is not None:
            params = ShapeDatasetParams.from_dict(manifest["params"])
            colours = {k: tuple(v) for k, v in manifest["class_colors"].items()}
            return cls(size, params, colours, f"the parameters of dataset {dataset}", dataset, images)
        params = ShapeDatasetParams()
        missing = f"no generated dataset at {dataset}" if dataset else "the model names no dataset"
        return cls(size, params, params.class_colors(), f"the default toy-dataset parameters ({missing})", None,
                   images)

    @property
    def per_class(self) -> int:
        """Figures per class when `images` are rendered in memory."""
        return max(1, self.images // max(len(self.params.shapes), 1))

    def test_images(self) -> ScoringSet:
        """The gray test images: the dataset's test split (balanced), else figures rendered in memory."""
        if self._test is None:
            if self.dataset is not None:
                self._test = balanced_test_set(self.dataset, self.size, self.images)
            else:
                self._test = ScoringSet.from_params(self.params, self.size, self.class_colors, self.per_class)
        return self._test

    @property
    def test_images_text(self) -> str:
        if self.dataset is not None:
            return f"gray test images of dataset {self.dataset}"
        return f"gray test figures rendered in memory with {self.source}"


def run_loaded_experiment(key: str, graph, size: int, dataset: str = "", images: int = 40,
                          progress: Progress | None = None, cancelled: CancelCheck | None = None,
                          **options) -> tuple[ExperimentResult, str]:
    """Experiment `key` (one of loaded_model_experiments()) on one parsed gray -> RGB generator, with the
    inputs LoadedModelInputs.of(dataset) finds and the experiment's own options (e.g. the skip level).
    Returns (ExperimentResult, the inputs in words)."""
    chosen = _loaded_model_experiment(key)
    inputs = LoadedModelInputs.of(dataset, size, images)
    return chosen.run_on_loaded_model(graph, inputs, {"progress": progress, "cancelled": cancelled}, **options)


def run_experiment(key: str, generator, dataset, size: int | None = None, images: int = 40,
                   progress: Progress | None = None, cancelled: CancelCheck | None = None,
                   **options) -> ExperimentResult:
    """Experiment `key` on one gray -> RGB generator (nn.Module with `size`, or NetworkGraph) with the
    settings of the GUI's menu; `dataset` (a generated dataset: the model's training dataset) is required."""
    chosen = _loaded_model_experiment(key)
    if size is None:
        if not isinstance(generator, NetworkGraph):
            raise UserError("give the input size the generator runs at")
        size = generator.input_shape[1]
    graph = as_colourizer(generator, size)
    inputs = LoadedModelInputs.of(dataset, size, images, required=True)
    result, _ = chosen.run_on_loaded_model(graph, inputs, {"progress": progress, "cancelled": cancelled}, **options)
    return result


def _loaded_model_experiment(key: str):
    offered = loaded_model_experiments()
    if key not in [e.key for e in offered]:
        raise UserError(f"unknown experiment {key!r}: choose {', '.join(e.key for e in offered)}")
    return experiment(key)
