"""LocalEngine: spawned worker processes behind the same interface, and open_engine's choices."""

from __future__ import annotations

import os

import pytest
from tests.engines._engine_tasks import openmp_threads, refuse, square, where

from slipway.engines import Engine, LocalEngine, open_engine
from slipway.errors import InvalidInput


def test_tasks_run_in_other_processes_in_order_and_failures_keep_their_type() -> None:
    with open_engine("local", workers=2) as engine:
        assert isinstance(engine, LocalEngine)
        assert isinstance(engine, Engine)
        assert engine.workers == 2
        assert engine.submit(square, 5).result(timeout=60) == 25
        assert list(engine.map(square, range(5))) == [0, 1, 4, 9, 16]
        assert os.getpid() not in set(engine.map(where, range(4)))
        assert set(engine.map(openmp_threads, range(2))) == {"1"}  # one core per worker, as on Dask
        with pytest.raises(InvalidInput, match="item 3: refused"):
            list(engine.map(refuse, [1, 2, 3]))


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("spark", {}, "engine 'spark': expected one of local, dask"),
        ("local", {"workers": 0}, "workers 0: expected a positive whole number"),
        ("local", {"address": "tcp://x:8786"}, "address: only the dask engine connects to a scheduler"),
    ],
)
def test_open_engine_refuses_what_it_cannot_run(kind: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_engine(kind, **options)  # type: ignore[arg-type]
