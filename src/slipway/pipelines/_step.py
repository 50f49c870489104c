"""Steps: plain functions that, called inside a pipeline function, return lazy handles instead.

Outside a pipeline a step is its function (call it in a notebook or a test and get the value). While
a pipeline function is being traced (see ``_graph``), calling a step records a node and returns a
:class:`Handle` per output; passing a handle to another step is what makes the edge between them,
so the graph is exactly the data dependencies the code spells out.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from typing import TypeAlias

    #: A declared external input: a fingerprint, or a function that computes one when the key is built.
    External: TypeAlias = str | int | float | bool | None
    ExternalSource: TypeAlias = External | Callable[[], External]

__all__ = ["File", "Handle", "Step", "step"]

#: The tracer of the pipeline being built in this context, if any (see ``_graph.trace``).
BUILDING: contextvars.ContextVar[Any] = contextvars.ContextVar("slipway_pipeline_building", default=None)


class Step:
    """A function whose result is cached by the content of what it reads (see ``step``).

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        always_run: bool = False,
        expires_after: float | timedelta | None = None,
        external: Mapping[str, ExternalSource] | None = None,
        outputs: Sequence[str] | None = None,
    ) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = name or fn.__name__
        self.always_run = always_run
        self.expires_after = _seconds(self.name, expires_after)
        self.external = dict(external or {})
        self.outputs = _output_names(self.name, outputs)

    @property
    def output_names(self) -> tuple[str, ...]:
        """Declared output names; a step without ``outputs=`` has one output named after it."""
        return self.outputs if self.outputs is not None else (self.name,)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tracer = BUILDING.get()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.add(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<step {self.name}>"

    def __reduce__(self) -> tuple[Callable[[str, str, str | None], Step], tuple[str, str, str | None]]:
        # Pickled by reference, as a function is, so that an engine's worker imports the step
        # instead of receiving a copy of its code; the file too, for a pipeline loaded from one
        # (train.py:pipeline) in a worker that does not have its folder on sys.path.
        file = getattr(sys.modules.get(self.fn.__module__), "__file__", None)
        return _find_step, (self.fn.__module__, self.fn.__qualname__, file)


def _find_step(module: str, qualname: str, file: str | None = None) -> Step:
    found: Any
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except ModuleNotFoundError:
        if file is None or "." in qualname:
            raise
        from slipway.pipelines._target import load_target

        found = load_target(f"{file}:{qualname}")
    if not isinstance(found, Step):
        raise InvalidInput(
            f"{module}:{qualname}: expected a @slipway.step function, got {type(found).__name__}"
        )
    return found


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(
    *,
    name: str | None = None,
    always_run: bool = False,
    expires_after: float | timedelta | None = None,
    external: Mapping[str, ExternalSource] | None = None,
    outputs: Sequence[str] | None = None,
) -> Callable[[Callable[..., Any]], Step]: ...


def step(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    always_run: bool = False,
    expires_after: float | timedelta | None = None,
    external: Mapping[str, ExternalSource] | None = None,
    outputs: Sequence[str] | None = None,
) -> Step | Callable[[Callable[..., Any]], Step]:
    """Make a function a pipeline step: ``@slipway.step`` or ``@slipway.step(outputs=("X", "y"))``.

    Args:
        fn: the function; its arguments that receive other steps' outputs are its inputs, the
            others its parameters (JSON values, or a ``Path``/:class:`File` hashed by content).
        name: the step's name in the graph (default: the function's name).
        always_run: never reuse an earlier result (``--resume`` still reuses one from the run it
            resumes).
        expires_after: seconds (or a ``timedelta``) after which an earlier result is not reused.
        external: fingerprints of what the step reads from outside the project (a URL's ETag, a
            query's ``max(updated_at)``), each a value or a function computing it; a changed
            fingerprint runs the step again.
        outputs: names for the items of a tuple the function returns; calling the step inside a
            pipeline then returns one handle per name.

    .. versionadded:: 0.1
    """
    options: dict[str, Any] = {
        "name": name,
        "always_run": always_run,
        "expires_after": expires_after,
        "external": external,
        "outputs": outputs,
    }
    if fn is not None:
        return Step(fn, **options)
    return lambda f: Step(f, **options)


@dataclass(frozen=True, slots=True)
class Handle:
    """An output of a step inside a pipeline function, before anything ran: pass it to a step."""

    node: str
    output: str

    def __iter__(self) -> Iterator[Any]:
        raise InvalidInput(
            f"step {self.node}: its output is a lazy handle while the pipeline is built; "
            "to unpack several outputs declare them, e.g. @slipway.step(outputs=('train', 'test'))"
        )

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"step {self.node}: its output has no value while the pipeline is built; "
            "branch inside a step, not in the pipeline function"
        )


@dataclass(frozen=True, slots=True)
class File:
    """A file or folder a step reads, declared so that its content (not its name) is in the key.

    A ``pathlib.Path`` argument is treated the same way; the step receives a ``Path``.

    .. versionadded:: 0.1
    """

    path: Path

    def __init__(self, path: str | os.PathLike[str]) -> None:
        object.__setattr__(self, "path", Path(path))

    def __fspath__(self) -> str:
        return str(self.path)


def _seconds(name: str, value: float | timedelta | None) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds <= 0:
        raise InvalidInput(f"step {name}: expires_after {value!r}: expected a positive number of seconds")
    return float(seconds)


def _output_names(name: str, outputs: Sequence[str] | None) -> tuple[str, ...] | None:
    if outputs is None:
        return None
    names = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    if not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise InvalidInput(f"step {name}: outputs {outputs!r}: expected one or more identifiers")
    if len(set(names)) != len(names):
        raise InvalidInput(f"step {name}: outputs {outputs!r}: names must differ")
    return names
