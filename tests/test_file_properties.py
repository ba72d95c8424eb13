"""Property-based tests: any mutation of a config.json, training state or mask file is loaded or refused
with one clear UserError, never a traceback (hypothesis generates the mutations)."""
from __future__ import annotations

import copy
import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.models import checkpoints
from cyclegan_workbench.models.config import RunConfig, validate
from tests.conftest import tiny_config

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def paths_of(value, prefix=()):
    """Every path into nested dicts and lists, the root excluded."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield prefix + (key,)
        yield from paths_of(child, prefix + (key,))


@st.composite
def mutations(draw, document, leaf_values=json_values):
    """`document` with one of: a value replaced, a key deleted, an unknown key added."""
    doc = copy.deepcopy(document)
    path = draw(st.sampled_from(list(paths_of(doc))))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    action = draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace" or not isinstance(parent, dict):
        parent[path[-1]] = draw(leaf_values)
    elif action == "delete":
        del parent[path[-1]]
    else:
        parent[draw(st.text(min_size=1, max_size=6))] = draw(leaf_values)
    return doc


VALID_CONFIG = tiny_config("/data").to_dict()
VALID_CONFIG["network"]["input_nc"] = 3
VALID_CONFIG["network"]["output_nc"] = 1


@SETTINGS
@given(mutations(VALID_CONFIG))
def test_any_config_json_mutation_loads_or_is_refused_clearly(tmp_path_factory, document):
    run = tmp_path_factory.mktemp("cfg")
    (run / "config.json").write_text(json.dumps(document), encoding="utf-8")
    try:
        cfg = checkpoints.load_config(run)
    except UserError as exc:
        assert "config.json" in str(exc)
        return
    validate(cfg)  # what loads is a configuration training accepts
    assert isinstance(cfg, RunConfig) and isinstance(cfg.training.crop_size, int)


@pytest.fixture(scope="module")
def saved_run(toy_dataset, tmp_path_factory):
    from cyclegan_workbench.models.training import Trainer

    run = tmp_path_factory.mktemp("state") / "run"
    trainer = Trainer(tiny_config(toy_dataset), run)
    steps = trainer.run()
    for _ in range(4):  # past the first epoch's end, so every part of the state is filled
        next(steps)
    trainer.save(reason="stop")
    return run


def state_leaf_values():
    tensors = st.sampled_from([torch.zeros(()), torch.zeros(3), torch.full((2, 2), float("nan")),
                               torch.zeros(1, 2, 32, 32), torch.zeros(5, dtype=torch.int64)])
    return json_values | tensors


def state_document(state):
    """The nested containers of a training state, with tensors as leaves (lists for tuples)."""
    if isinstance(state, dict):
        return {k: state_document(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [state_document(v) for v in state]
    return state


@SETTINGS
@given(data=st.data())
def test_any_training_state_mutation_resumes_or_is_refused_clearly(saved_run, tmp_path_factory, data):
    from cyclegan_workbench.models.training import Trainer

    state = state_document(checkpoints.load_training_state(saved_run))
    mutated = data.draw(mutations(state, state_leaf_values()))
    run = tmp_path_factory.mktemp("resume")
    for f in saved_run.iterdir():
        (run / f.name).write_bytes(f.read_bytes())
    torch.save(mutated, run / checkpoints.STATE_FILE)
    try:
        trainer = Trainer(tiny_config(""), run, resume=True)
    except UserError:
        return
    next(trainer.run(), None)  # what resumes can also train and save
    trainer.save(reason="stop")


@pytest.fixture(scope="module")
def mask_graph():
    from cyclegan_workbench.models.networks import UnetGenerator
    from cyclegan_workbench.visualization.parser import parse_generator

    torch.manual_seed(0)
    return parse_generator(UnetGenerator(1, 3, 3, 4, "instance"), 32, fast=False)


@SETTINGS
@given(data=st.data())
def test_any_mask_file_mutation_loads_or_is_refused_clearly(mask_graph, tmp_path_factory, data):
    from cyclegan_workbench.visualization.masks import MaskSet

    masks = MaskSet(mask_graph)
    masks.set_filter(1, 0, 0.0)
    masks.set_region(2, (0, 0, 2, 2), 2.0, filter=1)
    masks.scale_layer(3, 0.5)
    mutated = data.draw(mutations(masks.to_dict()))
    path = tmp_path_factory.mktemp("masks") / "masks.json"
    path.write_text(json.dumps(mutated), encoding="utf-8")
    try:
        loaded = MaskSet.load(path, mask_graph)
    except UserError:
        return
    out = mask_graph.run(torch.zeros(1, 1, 32, 32), loaded)  # what loads can be applied
    assert torch.isfinite(out).all()
