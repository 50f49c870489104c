"""The engine interface: where independent tasks run, on this machine or on a cluster.

Batch scoring, pipeline steps and parameter sweeps hand their work to an engine as plain picklable
functions and arguments and get the results back in order. The interface is deliberately small
(submit, map, close) so that Ray or Spark can be added behind it later; everything else (what a
task is, where its output goes) stays with the capability that makes the tasks.
"""

from __future__ import annotations

import sys
from concurrent.futures import BrokenExecutor, CancelledError
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from concurrent.futures import Future

__all__ = ["Engine", "lost"]


@runtime_checkable
class Engine(Protocol):
    """Runs independent tasks and returns their results.

    ``submit`` returns a :class:`concurrent.futures.Future` (or an object with the same
    ``result()`` / ``done()`` / ``exception()``); ``map`` yields results in the order of
    ``items``, raising the first task failure when it reaches it (:func:`lost` tells a task the
    engine lost from one that raised). ``workers`` is how many tasks
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


#: Why a task did not finish when its worker process went away under it.
_DIED = "its worker died before it finished (it exited, crashed the interpreter or ran out of memory)"


def lost(exc: BaseException) -> str | None:
    """Why the engine lost a task whose future raised ``exc``; None when the task raised it itself.

    Neither engine runs a task twice: a task whose worker dies fails (``BrokenProcessPool`` on
    ``local``, where every task of the pool fails with it; Dask's ``KilledWorker``), and so does
    one cancelled or lost with its cluster. The caller records what the task could not (a run
    left RUNNING, an Optuna trial never told) and says so in one line with this reason.
    """
    if isinstance(exc, BrokenExecutor):
        return _DIED
    distributed = sys.modules.get("distributed")  # imported by now if the task ran on Dask
    if distributed is not None and isinstance(exc, distributed.KilledWorker):
        return _DIED
    if isinstance(exc, CancelledError):
        return "it was cancelled, or lost with its cluster, before it finished"
    return None
