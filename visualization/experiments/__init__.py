"""The experiments of the reproduction: one module per experiment, found by the registry.

Each experiment module (architectures, bottleneck, skip, unseen, background, shift, filters) owns its key,
number, title, question, its computation over trained generators (numbers, a neutral generated reading,
matplotlib Figures on an Agg canvas: no pyplot, no Qt), the Setting text and number tables of its report
section, its pipeline stage and its Experiments-menu entry, and exports them as EXPERIMENT (a
descriptor.Experiment). registry.experiments() finds them; the report, the pipeline (visualization.reproduce),
the GUI's experiment worker and its menu iterate over it, so adding an experiment means adding one module.

Shared by the experiments: result (ExperimentResult, ExperimentCancelled, progress), inputs (the gray ->
RGB generator, test sets from a dataset or drawn in memory), running (batched forward), figures,
formatting (how numbers read), cyclegan_measures (a whole CycleGAN's test losses and loss curves, measured
by the pipeline's training stages) and loaded_model (any experiment on one loaded generator).

Experiments build their own MaskSets and never touch the caller's gains. Long loops call
`progress(fraction, message)` and poll `cancelled()`; when it returns True they raise ExperimentCancelled.
What "painted red" means is defined in visualization/measurements.py (chroma and hue rules). Pixel-level
measurements use the pixels at least half covered by a shape at the output resolution; accuracies use
data.scoring.score_outputs on a data.scoring_set.ScoringSet (mean colour of the figure's interior, nearest class
colour).
"""
from cyclegan_workbench.visualization.experiments.cyclegan_measures import (
    LossCurve,
    cyclegan_accuracy,
    measure_cyclegan,
)
from cyclegan_workbench.visualization.experiments.descriptor import (
    AskWholeNumber,
    Experiment,
    MenuEntry,
    PipelineContext,
)
from cyclegan_workbench.visualization.experiments.figures import figure_png
from cyclegan_workbench.visualization.experiments.formatting import colour_names
from cyclegan_workbench.visualization.experiments.inputs import (
    as_colourizer,
    balanced_stems,
    balanced_test_set,
    conv_layers,
    shifted_params,
)
from cyclegan_workbench.visualization.experiments.loaded_model import (
    LoadedModelInputs,
    run_experiment,
    run_loaded_experiment,
)
from cyclegan_workbench.visualization.experiments.registry import (
    experiment,
    experiments,
    loaded_model_experiments,
)
from cyclegan_workbench.visualization.experiments.result import ExperimentCancelled, ExperimentResult

__all__ = [
    "Experiment", "MenuEntry", "AskWholeNumber", "PipelineContext", "experiments", "experiment",
    "loaded_model_experiments", "ExperimentResult", "ExperimentCancelled",
    "as_colourizer", "conv_layers", "balanced_stems", "balanced_test_set", "shifted_params", "LoadedModelInputs",
    "run_experiment", "run_loaded_experiment", "LossCurve", "measure_cyclegan", "cyclegan_accuracy", "figure_png",
    "colour_names",
]
