"""The engine interface: where independent tasks run, on this machine or on a cluster.

Batch scoring, pipeline steps and parameter sweeps hand their work to an engine as plain picklable
functions and arguments and get the results back in order. The interface is deliberately small
(submit, map, close) so that Ray or Spark can be added behind it later; everything else (what a
task is, where its output goes) stays with the capability that makes the tasks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from concurrent.futures import Future

__all__ = ["Engine"]


@runtime_checkable
class Engine(Protocol):
    """Runs independent tasks and returns their results.

    ``submit`` returns a :class:`concurrent.futures.Future` (or an object with the same
    ``result()`` / ``done()`` / ``exception()``); ``map`` yields results in the order of
    ``items``, raising the first task failure when it reaches it. ``workers`` is how many tasks
    run at once (a sweep or a scoring job sizes its work by it). Engines are context managers;
    ``close`` releases the processes or the cluster connection they hold.

    .. versionadded:: 0.1
    """

    name: str

    @property
    def workers(self) -> int: ...

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]: ...

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: object) -> None: ...
