"""LocalEngine: spawned worker processes behind the same interface, and open_engine's choices."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from tests.engines._engine_tasks import attempt, openmp_threads, refuse, square, where

from slipway.engines import Engine, LocalEngine, check_engine, lost, open_engine
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path


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


def test_a_task_whose_worker_dies_fails_and_is_not_run_again(tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    with LocalEngine(1) as engine:
        error = engine.submit(attempt, str(attempts), 3).exception(timeout=60)  # os._exit(3)

    assert error is not None
    assert lost(error) == (
        "its worker died before it finished (it exited, crashed the interpreter or ran out of memory)"
    )
    assert attempts.read_text().count("attempt") == 1


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("spark", {}, "engine 'spark': expected one of local, dask"),
        ("local", {"workers": 0}, "workers 0: expected a positive whole number"),
        ("local", {"address": "tcp://x:8786"}, "scheduler 'tcp://x:8786': only the dask engine connects"),
    ],
)
def test_open_engine_refuses_what_it_cannot_run(kind: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_engine(kind, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        (None, {"workers": 2}, "workers 2: choose where the work runs with engine='local' or 'dask'"),
        (None, {"scheduler": "tcp://x:8786"}, "scheduler 'tcp://x:8786': choose where the work runs"),
        ("local", {"workers": True}, "workers True: expected a positive whole number"),
        ("local", {"workers": 1.5}, "workers 1.5: expected a positive whole number"),
    ],
)
def test_check_engine_is_the_one_rule_for_engine_options(
    kind: str | None, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_engine(kind, **options)

    assert str(caught.value).startswith(message)
    check_engine(None)  # no engine and no options: the work runs in this process
    check_engine("local", workers=2)
    check_engine("dask", workers=2, scheduler="tcp://x:8786")  # checked, not connected to


def test_a_dask_engine_without_dask_installed_names_the_extra(tmp_path: Path) -> None:
    # A real interpreter in which `distributed` cannot be imported (a None entry blocks it).
    code = (
        "import sys; sys.modules['distributed'] = None\n"
        "from slipway.engines import check_engine\n"
        "try:\n"
        "    check_engine('dask')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )

    assert done.stdout.strip() == "MissingExtra the dask engine needs: pip install 'slipway[dask]'"
