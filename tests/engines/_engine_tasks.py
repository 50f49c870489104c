"""Module-level tasks for the engine tests: picklable by name, so every engine can run them."""

from __future__ import annotations

import os
import time

from slipway.errors import InvalidInput


def square(x: int) -> int:
    return x * x


def where(_: object = None) -> int:
    time.sleep(0.2)  # long enough that every worker takes a share
    return os.getpid()


def refuse(x: int) -> int:
    if x == 3:
        raise InvalidInput(f"item {x}: refused")
    return x


def keywords(*, key: str, workers: int) -> str:
    return f"{key}:{workers}"


def interval(_: object = None) -> tuple[float, float]:
    """When the task ran (wall clock, comparable across processes on one machine)."""
    start = time.time()
    time.sleep(0.2)
    return start, time.time()


def openmp_threads(_: object = None) -> str | None:
    return os.environ.get("OMP_NUM_THREADS")


def attempt(path: str, code: int | None = None) -> int:
    """Count an attempt in ``path`` (a line each), then exit the worker with ``code`` or return its pid."""
    with open(path, "a") as f:
        f.write("attempt\n")
    if code is not None:
        os._exit(code)
    return os.getpid()
