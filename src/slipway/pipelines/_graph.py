"""Pipelines: the graph of steps that their data dependencies make, and its parameters.

Two ways to say what a pipeline is, one graph either way:

- ``@slipway.pipeline`` on a function that calls steps. The function runs once, with steps
  recording nodes instead of running (see ``_step``); a handle passed from one step to another is
  an edge. A cycle cannot be written this way.
- ``slipway.pipeline(steps=[load, split, train])``: each step's argument named like another step's
  output is an input from it (Hamilton and Kedro wire by name the same way); every other argument
  is a pipeline parameter. Here a cycle or an input nobody produces is possible, and each is a
  one-line error naming it.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput, SlipwayError
from slipway.pipelines._key import canonical
from slipway.pipelines._step import BUILDING, File, Handle, Step

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from slipway.pipelines._runner import PipelineResult

__all__ = ["Graph", "Node", "Pipeline", "params_from_args", "pipeline"]

_EMPTY = inspect.Parameter.empty
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """One call of a step in the graph, with its arguments as bound to the function."""

    name: str
    step: Step
    arguments: dict[str, Any]  # argument -> Handle (an input), Path (a file input) or a value

    @property
    def inputs(self) -> dict[str, Handle]:
        return {k: v for k, v in self.arguments.items() if isinstance(v, Handle)}

    @property
    def files(self) -> dict[str, Path]:
        return {k: v for k, v in self.arguments.items() if isinstance(v, Path)}

    @property
    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.arguments.items() if not isinstance(v, (Handle, Path))}

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(h.node for h in self.inputs.values()))


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    """A pipeline built for given parameters: nodes in an order where inputs come first."""

    name: str
    nodes: dict[str, Node]
    params: dict[str, Any]
    folder: Path  # where the pipeline is defined: project-local modules are looked up below it


class Pipeline:
    """A named graph of steps; call it (``train(C=0.5)``) to run it, or see ``slipway.pipelines.run``.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        steps: Sequence[Step] | None = None,
    ) -> None:
        if (fn is None) == (steps is None):
            raise InvalidInput("pipeline: give a function that calls steps, or steps=[...], not both")
        if steps is not None and not all(isinstance(s, Step) for s in steps):
            raise InvalidInput("pipeline: steps=[...] takes @slipway.step functions only")
        self.fn = fn
        self.steps = tuple(steps or ())
        self.name = name or (fn.__name__ if fn is not None else "pipeline")
        self._unnamed = name is None and fn is None  # steps form: nothing to name it after yet
        self._producers = _producers(self.name, self.steps)
        self.__doc__ = fn.__doc__ if fn is not None else None

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"

    def named_after(self, attribute: str) -> Pipeline:
        """This pipeline, or (steps form without ``name=``) a copy named after the attribute holding it.

        A command loading ``train.py:churn`` calls it, so that two unnamed steps-form pipelines
        do not share one experiment and one ``--resume`` history as "pipeline".
        """
        return Pipeline(steps=self.steps, name=attribute) if self._unnamed else self

    def __call__(self, **params: Any) -> Any:
        if self.fn is not None and BUILDING.get() is not None:
            return self.fn(**params)  # a pipeline called inside another one adds its steps to it
        from slipway.pipelines._runner import run

        result: PipelineResult = run(self, params=params)
        return result

    # ---------------------------------------------------------------- parameters
    def parameters(self) -> dict[str, inspect.Parameter]:
        """The parameters ``--param`` sets: the function's, or (steps form) what no step produces."""
        if self.fn is not None:
            return {
                p.name: p for p in inspect.signature(self.fn).parameters.values() if p.kind not in _VARIADIC
            }
        produced = self._producers.keys()
        found: dict[str, inspect.Parameter] = {}
        for s in self.steps:
            for p in inspect.signature(s.fn).parameters.values():
                if p.kind in _VARIADIC or p.name in produced:
                    continue
                if p.name not in found or (found[p.name].default is _EMPTY and p.default is not _EMPTY):
                    found[p.name] = p
        return found

    def parse_params(self, raw: Mapping[str, str]) -> dict[str, Any]:
        """``--param`` strings typed by each parameter's annotation, else by its default's type."""
        known = self.parameters()
        hints = _hints(self.fn) if self.fn is not None else {}
        if self.fn is None:
            for s in self.steps:
                hints = {**_hints(s.fn), **hints}
        out: dict[str, Any] = {}
        for key, text in raw.items():
            if key not in known:
                raise self._unknown(key, known)
            out[key] = _convert(key, text, hints.get(key, known[key].annotation), known[key].default)
        return out

    def resolve_params(self, given: Mapping[str, Any] | None) -> dict[str, Any]:
        known = self.parameters()
        values: dict[str, Any] = {}
        for key, value in (given or {}).items():
            if key not in known:
                raise self._unknown(key, known)
            values[key] = value
        for key, p in known.items():
            if key in values:
                continue
            if p.default is _EMPTY:
                raise InvalidInput(f"pipeline {self.name}: {self._what(key)}; pass --param {key}=VALUE")
            values[key] = p.default
        return values

    def _what(self, key: str) -> str:
        """A parameter without a default, as the user wrote it: a function's, or an unfed input."""
        if self.fn is not None:
            return f"parameter {key!r} has no default"
        needs = next(s.name for s in self.steps if key in inspect.signature(s.fn).parameters)
        return f"step {needs}: input {key!r} is produced by no step and has no default"

    def _unknown(self, key: str, known: Mapping[str, inspect.Parameter]) -> InvalidInput:
        names = ", ".join(known) or "none"
        return InvalidInput(f"pipeline {self.name}: unknown parameter {key!r} (parameters: {names})")

    # ---------------------------------------------------------------- the graph
    def build(self, params: Mapping[str, Any] | None = None) -> Graph:
        """The graph for these parameters (defaults filled in); nothing runs."""
        values = self.resolve_params(params)
        if self.fn is not None:
            nodes = _trace(self.name, self.fn, values)
            where: Callable[..., Any] | None = self.fn
        else:
            nodes = _wire(self.steps, self._producers, values)
            where = self.steps[0].fn if self.steps else None
        if not nodes:
            raise InvalidInput(f"pipeline {self.name}: it has no steps")
        return Graph(name=self.name, nodes=_ordered(self.name, nodes), params=values, folder=_folder(where))


def pipeline(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    steps: Sequence[Step] | None = None,
) -> Any:
    """``@slipway.pipeline`` on a function that calls steps, or ``slipway.pipeline(steps=[...])``.

    The function's parameters (with their defaults and annotations) are the pipeline's; in the
    steps form, every step argument that no step produces is one.

    .. versionadded:: 0.1
    """
    if fn is None and steps is None:
        return lambda f: Pipeline(f, name=name)
    return Pipeline(fn, name=name, steps=steps)


# -------------------------------------------------------------------- building


class _Tracer:
    """Receives the step calls of a pipeline function being built."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def add(self, step: Step, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        name, n = step.name, 1
        while name in self.nodes:  # the same step called twice: train, train_2
            n += 1
            name = f"{step.name}_{n}"
        try:
            bound = inspect.signature(step.fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"step {name}: {exc} (pass another step's output or a value)") from None
        bound.apply_defaults()
        self.nodes[name] = _node(name, step, bound.arguments)
        handles = tuple(Handle(name, o) for o in step.output_names)
        return handles if len(handles) > 1 else handles[0]


def _trace(pipeline: str, fn: Callable[..., Any], values: Mapping[str, Any]) -> dict[str, Node]:
    tracer = _Tracer()
    token = BUILDING.set(tracer)
    try:
        fn(**values)
    except SlipwayError:
        raise
    except Exception as exc:
        raise InvalidInput(
            f"pipeline {pipeline}: building its graph failed: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        BUILDING.reset(token)
    return tracer.nodes


def _producers(pipeline: str, steps: Iterable[Step]) -> dict[str, Handle]:
    """Steps form: which step makes each output name; two steps of one name, or one output, are errors."""
    producers: dict[str, Handle] = {}
    names: set[str] = set()
    for s in steps:
        if s.name in names:
            raise InvalidInput(f"pipeline {pipeline}: two steps are named {s.name!r}")
        names.add(s.name)
        for output in s.output_names:
            if output in producers:
                raise InvalidInput(
                    f"pipeline {pipeline}: output {output!r} is produced by both "
                    f"{producers[output].node} and {s.name}"
                )
            producers[output] = Handle(s.name, output)
    return producers


def _wire(
    steps: Iterable[Step], producers: Mapping[str, Handle], values: Mapping[str, Any]
) -> dict[str, Node]:
    nodes: dict[str, Node] = {}
    for s in steps:
        arguments: dict[str, Any] = {}
        for p in inspect.signature(s.fn).parameters.values():
            if p.kind in _VARIADIC:
                continue
            # every other argument is a parameter, resolved (given or defaulted) before wiring
            arguments[p.name] = producers[p.name] if p.name in producers else values[p.name]
        nodes[s.name] = _node(s.name, s, arguments)
    return nodes


def _node(name: str, step: Step, arguments: Mapping[str, Any]) -> Node:
    """Sort each argument into input, file or parameter; a parameter must be a JSON value."""
    out: dict[str, Any] = {}
    for arg, value in arguments.items():
        if isinstance(value, (Handle, Path)):
            out[arg] = value
        elif isinstance(value, File):
            out[arg] = value.path
        elif isinstance(value, PurePath):
            out[arg] = Path(value)
        else:
            if _holds_handle(value):
                raise InvalidInput(
                    f"step {name}: argument {arg!r} holds a step's output inside a container; "
                    "pass each output as an argument of its own"
                )
            canonical(value, where=f"step {name}: parameter {arg!r}")
            out[arg] = value
    return Node(name=name, step=step, arguments=out)


def _holds_handle(value: Any) -> bool:
    if isinstance(value, Handle):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_handle(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_handle(v) for v in value.values())
    return False


def _ordered(pipeline: str, nodes: Mapping[str, Node]) -> dict[str, Node]:
    """The nodes with every node after its inputs (Kahn); a cycle is named, one line."""
    waiting = {name: set(node.upstream) for name, node in nodes.items()}
    ordered: dict[str, Node] = {}
    while waiting:
        ready = [name for name, needs in waiting.items() if not needs - ordered.keys()]
        if not ready:
            raise InvalidInput(f"pipeline {pipeline}: cycle: {' → '.join(_cycle(waiting))}")
        for name in ready:  # in declaration order, so the order is stable from run to run
            ordered[name] = nodes[name]
            del waiting[name]
    return ordered


def _cycle(waiting: Mapping[str, set[str]]) -> list[str]:
    """One cycle among nodes that all wait (each waits on another), as data flows, smallest name first."""
    path: list[str] = []
    node = next(iter(waiting))
    while node not in path:
        path.append(node)
        node = sorted(n for n in waiting[node] if n in waiting)[0]
    loop = path[path.index(node) :][::-1]  # "x waits on y" read backwards is "y feeds x"
    start = loop.index(min(loop))
    loop = loop[start:] + loop[:start]
    return [*loop, loop[0]]


def _folder(fn: Callable[..., Any] | None) -> Path:
    try:
        return Path(inspect.getfile(fn)).resolve().parent if fn is not None else Path.cwd()
    except (TypeError, OSError):
        return Path.cwd()


# -------------------------------------------------------------------- parameter strings


def params_from_args(items: Iterable[str] | None, *, pipeline: Pipeline | None = None) -> dict[str, Any]:
    """``--param NAME=VALUE`` strings as values: the one rule of every command that takes them.

    With a pipeline each value is typed by its parameter (``Pipeline.parse_params``); without one
    (a sweep's objective) it is JSON when it parses (numbers, true, lists), else the string.
    """
    raw: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip().isidentifier():
            raise InvalidInput(f"--param {item!r}: expected NAME=VALUE")
        raw[key.strip()] = value
    if pipeline is not None:
        return pipeline.parse_params(raw)
    return {key: _json_or_text(text) for key, text in raw.items()}


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except Exception:  # an annotation that does not resolve: fall back to the raw ones
        return {}


def _convert(name: str, text: str, annotation: Any, default: Any) -> Any:
    target = annotation
    if target is _EMPTY or isinstance(target, str):
        target = type(default) if default is not _EMPTY and default is not None else None
    optional = False
    if typing.get_origin(target) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(target) if a is not type(None)]
        optional = len(members) < len(typing.get_args(target))
        target = members[0] if len(members) == 1 else None
    if optional and text.strip().lower() in ("none", "null"):
        return None
    try:
        if target is bool:
            lowered = text.strip().lower()
            if lowered not in _TRUE | _FALSE:
                raise ValueError(text)
            return lowered in _TRUE
        if target in (int, float, str):
            return target(text)
        if isinstance(target, type) and issubclass(target, PurePath):
            return Path(text)
        if target is File:
            return File(text)
        if target is None:  # no annotation and no default: a JSON value, else the string
            return _json_or_text(text)
        return json.loads(text)
    except ValueError:
        expected = getattr(target, "__name__", None) or str(target)
        raise InvalidInput(f"--param {name}={text!r}: expected {expected}") from None
