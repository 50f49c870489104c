"""The local engine: a pool of worker processes on this machine.

Processes, not threads, because the tasks (a chunk of scoring, a training step, a sweep trial) are
Python code that holds the GIL. Workers are started with ``spawn`` so that a task never inherits
the parent's threads (the tracking writer, the prediction-log flusher) half-way through a lock.
Each worker runs one task on one core, so, like Dask's workers, it starts with OpenMP and BLAS
limited to one thread: two workers each running a 2-thread predict on 2 cores ran 2.3x slower.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from concurrent.futures import Future

__all__ = ["LocalEngine"]


class LocalEngine:
    """``workers`` processes (default: the machine's cores), started on first use."""

    name = "local"

    def __init__(self, workers: int | None = None) -> None:
        self._workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        return self._workers

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers, mp_context=multiprocessing.get_context("spawn"), initializer=_one_thread
            )
        return self._pool

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self._executor().submit(fn, *args, **kwargs)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        return self._executor().map(fn, items)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LocalEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")  # Dask's pre-spawn-environ


def _one_thread() -> None:
    """In a new worker, before a task imports numpy or a framework: they read these when loaded."""
    for name in _THREADS:
        os.environ.setdefault(name, "1")  # noqa: TID251  (the worker's own runtime, not a setting)
