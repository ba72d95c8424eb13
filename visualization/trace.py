"""A generator traced by torch.fx into steps that can be re-run from any one of them.

Each step is a small closure over the module or function it calls, reading the values of earlier steps
from a list: a full forward runs them all in order, an incremental one (probe.py) only those downstream
of a change. In-place operations (the reference U-Net's LeakyReLU(0.2, True) and ReLU(True), x.relu_(),
F.relu(x, inplace=True), torch.relu_(x)) are made out-of-place, and every later reader of an in-place target
reads the rewritten step instead: the mathematics is unchanged, and no step ever overwrites a tensor
that another step, a cache or a caller still holds.

Public API (for parser.py, probe.py, ablation.py)
----------
trace_generator(net, fast=True) -> (traced GraphModule, fx nodes, steps, input step, output step)
GraphNode: index, name, inputs (step indices), run(values) -> value, from_input, layer (set by the parser)
downstream_steps(steps) -> per step, the sorted indices of every step that depends on it
eval_mode(net): context manager running the net in eval mode, restoring its modes afterwards
"""
from __future__ import annotations

import copy
import inspect
import operator
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import fx, nn

from cyclegan_workbench.data.errors import UserError
from cyclegan_workbench.visualization import kernels


@dataclass
class GraphNode:
    """One step of the traced forward; `run(values)` computes it from the values of earlier steps."""

    index: int
    name: str
    inputs: tuple[int, ...]
    run: Callable[[list], Any] = field(repr=False)
    from_input: bool  # depends on the network input (else a constant, e.g. a getattr'd parameter)
    layer: int | None = None


@contextmanager
def eval_mode(net: nn.Module):
    """Run `net` in eval mode and give its modes back afterwards.

    Dropout and batch statistics would make every cached activation a random sample, and batch norm in
    training mode would update its running statistics; a live view of a network in training must
    change nothing.
    """
    training = [m for m in net.modules() if m.training]
    for m in training:
        m.training = False
    try:
        yield
    finally:
        for m in training:
            m.training = True


def trace_generator(net: nn.Module, fast: bool = True):
    """Trace `net`, make it out-of-place and compile its steps (fast: prepacked CPU convolutions)."""
    try:
        traced = fx.symbolic_trace(net)
    except Exception as exc:  # fx raises many types for untraceable Python (TraceError, TypeError, ...)
        raise UserError(f"{type(net).__name__} cannot be traced by torch.fx ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); the workbench needs a "
                        "generator without data-dependent control flow") from exc
    _rewrite_inplace(traced.graph)
    nodes, input_node, output_node, fx_nodes = _compile(traced, fast)
    return traced, fx_nodes, nodes, input_node, output_node


# --- in-place rewriting --------------------------------------------------------------------------
_INPLACE_OPERATORS = {operator.iadd: operator.add, operator.isub: operator.sub, operator.imul: operator.mul,
                      operator.itruediv: operator.truediv}


def _inplace_position(fn) -> int | None:
    """Where a function takes an `inplace` flag (F.leaky_relu(x, 0.2, True) passes it by position)."""
    try:
        names = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):  # builtins without a signature
        return None
    return names.index("inplace") if "inplace" in names else None


def _inplace_flag(node: fx.Node) -> bool:
    if node.kwargs.get("inplace") is True:
        return True
    pos = _inplace_position(node.target)
    return pos is not None and len(node.args) > pos and node.args[pos] is True


def _inplace_target(node: fx.Node, modules: dict) -> bool:
    if node.op == "call_module":
        return getattr(modules[node.target], "inplace", False) is True
    if node.op == "call_function":
        name = getattr(node.target, "__name__", "")
        return (_inplace_flag(node) or node.target in _INPLACE_OPERATORS
                or (name.endswith("_") and not name.endswith("__") and hasattr(torch, name[:-1])))
    if node.op == "call_method":
        return node.target.endswith("_") and not node.target.endswith("__")
    return False


def _rewrite_inplace(graph: fx.Graph) -> None:
    """Make every in-place step out-of-place; later readers of its target read the step instead."""
    modules = dict(graph.owning_module.named_modules())
    order = {n: i for i, n in enumerate(graph.nodes)}
    for node in list(graph.nodes):
        if not _inplace_target(node, modules) or not node.args or not isinstance(node.args[0], fx.Node):
            continue
        target = node.args[0]
        for user in list(target.users):
            if order[user] > order[node]:
                user.replace_input_with(target, node)
        node.meta["was_inplace"] = True
        if node.op == "call_function" and _inplace_flag(node):
            if "inplace" in node.kwargs:
                node.kwargs = {**node.kwargs, "inplace": False}
            else:
                args = list(node.args)
                args[_inplace_position(node.target)] = False
                node.args = tuple(args)


def _out_of_place_call(node: fx.Node, modules: dict):
    """The callable for a step, never writing into its inputs."""
    if node.op == "call_module":
        module = modules[node.target]
        if node.meta.get("was_inplace"):
            module = copy.copy(module)  # a shallow copy: same parameters, its own `inplace` flag
            module.inplace = False
        return module
    if node.op == "call_function":
        fn = node.target
        if node.meta.get("was_inplace"):
            if fn in _INPLACE_OPERATORS:
                return _INPLACE_OPERATORS[fn]
            name = getattr(fn, "__name__", "")
            if name.endswith("_") and hasattr(torch, name[:-1]):  # torch.relu_ -> torch.relu
                return getattr(torch, name[:-1])
        return fn
    if node.op == "call_method":
        name = node.target
        if node.meta.get("was_inplace"):
            if not hasattr(torch.Tensor, name[:-1]):
                raise UserError(f"the in-place operation .{name}() in the generator has no out-of-place "
                                "form; the workbench cannot cache around it")
            name = name[:-1]
        return name
    raise AssertionError(node.op)


# --- compiling the graph into steps --------------------------------------------------------------
class _Slot:
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def _binder(template) -> Callable[[list], Any]:
    """values -> the argument structure with every node replaced by its value."""
    if isinstance(template, _Slot):
        i = template.index
        return lambda v: v[i]
    if isinstance(template, (tuple, list)):
        parts = [_binder(t) for t in template]
        kind = type(template)
        return lambda v: kind(p(v) for p in parts)
    if isinstance(template, dict):
        parts = {k: _binder(t) for k, t in template.items()}
        return lambda v: {k: p(v) for k, p in parts.items()}
    return lambda v: template


def _compile(traced: fx.GraphModule, fast: bool):
    modules = dict(traced.named_modules())
    fx_nodes = [n for n in traced.graph.nodes if n.op != "output"]
    index = {n: i for i, n in enumerate(fx_nodes)}
    placeholders = [n for n in fx_nodes if n.op == "placeholder"]
    required = [n for n in placeholders if not n.args]
    if len(required) != 1:
        raise UserError(f"the generator's forward takes {len(required)} required inputs; the workbench "
                        "needs exactly one (the image batch)")
    input_node = index[required[0]]
    out_fx = next(n for n in traced.graph.nodes if n.op == "output").args[0]
    if not isinstance(out_fx, fx.Node):
        raise UserError("the generator returns several values; the workbench needs a single image batch")
    nodes: list[GraphNode] = []
    from_input: list[bool] = []
    for i, n in enumerate(fx_nodes):
        inputs = tuple(sorted({index[a] for a in n.all_input_nodes}))
        depends = i == input_node or any(from_input[j] for j in inputs)
        from_input.append(depends)
        nodes.append(GraphNode(i, n.name, inputs, _step(n, index, modules, traced, fast), depends))
    return nodes, input_node, index[out_fx], fx_nodes


def _step(n: fx.Node, index: dict, modules: dict, traced: fx.GraphModule, fast: bool) -> Callable:
    if n.op == "placeholder":
        default = n.args[0] if n.args else None
        return lambda v: default
    if n.op == "get_attr":
        value = _fetch_attr(traced, n.target)
        return lambda v: value
    template_args = fx.node.map_arg(n.args, lambda a: _Slot(index[a]))
    template_kwargs = fx.node.map_arg(n.kwargs, lambda a: _Slot(index[a]))
    call = _out_of_place_call(n, modules)
    if n.op == "call_module" and fast:
        call = kernels.conv_runner(call)
    if n.op == "call_method":
        bind_args, bind_kwargs, name = _binder(template_args), _binder(template_kwargs), call
        return lambda v: (lambda a: getattr(a[0], name)(*a[1:], **bind_kwargs(v)))(bind_args(v))
    if len(template_args) == 1 and isinstance(template_args[0], _Slot) and not template_kwargs:
        i = template_args[0].index
        return lambda v: call(v[i])
    bind_args, bind_kwargs = _binder(template_args), _binder(template_kwargs)
    return lambda v: call(*bind_args(v), **bind_kwargs(v))


def _fetch_attr(module: nn.Module, target: str):
    value = module
    for part in target.split("."):
        value = getattr(value, part)
    return value


def downstream_steps(nodes: list[GraphNode]) -> list[tuple[int, ...]]:
    users: list[list[int]] = [[] for _ in nodes]
    for node in nodes:
        for j in node.inputs:
            users[j].append(node.index)
    result: list[tuple[int, ...]] = [()] * len(nodes)
    for node in reversed(nodes):  # execution order is topological, so users are done first
        reach = set()
        for u in users[node.index]:
            reach.add(u)
            reach.update(result[u])
        result[node.index] = tuple(sorted(reach))
    return result
