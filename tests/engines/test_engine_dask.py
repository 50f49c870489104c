"""DaskEngine on a real multi-process LocalCluster: functions, closures, failures, close, connect."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import time
from concurrent.futures import FIRST_EXCEPTION, as_completed, wait
from typing import TYPE_CHECKING

import pytest
from tests.engines._engine_tasks import attempt, interval, keywords, refuse, square, where

from slipway.engines import DaskEngine, Engine, lost, open_engine
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def engine() -> Iterator[DaskEngine]:
    with DaskEngine.start(2) as e:
        yield e


def test_module_functions_and_closures_run_on_worker_processes(engine: DaskEngine) -> None:
    offset = 10

    def shifted(x: int) -> int:  # a closure: travels by value (cloudpickle), not by name
        return x + offset

    assert isinstance(engine, Engine)
    assert engine.workers == 2
    assert engine.submit(square, 7).result(timeout=30) == 49
    assert engine.submit(shifted, 1).result(timeout=30) == 11
    assert list(engine.map(square, range(6))) == [0, 1, 4, 9, 16, 25]
    assert list(engine.map(lambda x: x - offset, [10, 20])) == [0, 10]
    pids = set(engine.map(where, range(6)))
    assert len(pids) == 2
    assert os.getpid() not in pids


def test_keywords_reach_the_function_even_where_dask_has_an_option_of_that_name(engine: DaskEngine) -> None:
    assert engine.submit(keywords, key="k", workers=3).result(timeout=30) == "k:3"


def test_futures_work_with_concurrent_futures_and_failures_keep_their_type(engine: DaskEngine) -> None:
    futures = [engine.submit(square, i) for i in range(4)]
    assert sorted(f.result() for f in as_completed(futures, timeout=30)) == [0, 1, 4, 9]

    failing = engine.submit(refuse, 3)
    done, _ = wait([failing], timeout=30, return_when=FIRST_EXCEPTION)
    assert failing in done
    with pytest.raises(InvalidInput, match="item 3: refused"):
        failing.result()
    results = engine.map(refuse, [1, 2, 3, 4])
    assert [next(results), next(results)] == [1, 2]
    with pytest.raises(InvalidInput, match="item 3: refused"):
        next(results)


def test_a_big_argument_reaches_the_task(engine: DaskEngine) -> None:
    import numpy as np

    data = np.arange(1_000_000, dtype="int64")  # 8 MB: scattered to a worker, not put in the task
    assert engine.submit(np.sum, data).result(timeout=30) == data.sum()


def test_connecting_to_a_running_scheduler_leaves_its_cluster_running(engine: DaskEngine) -> None:
    address = engine.client.scheduler.address
    with open_engine("dask", address=address) as other:
        assert isinstance(other, DaskEngine)
        assert other.workers == 2
        assert other.submit(square, 3).result(timeout=30) == 9
    assert engine.submit(square, 4).result(timeout=30) == 16


def test_an_unreachable_scheduler_is_one_line_naming_it_within_the_timeout() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(InvalidInput) as caught:
        DaskEngine.connect(f"tcp://127.0.0.1:{port}", timeout=1)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert message.startswith(f"scheduler tcp://127.0.0.1:{port}: cannot connect")
    assert "\n" not in message


def test_workers_cap_a_connected_cluster_without_resizing_it(engine: DaskEngine) -> None:
    address = engine.client.scheduler.address
    with open_engine("dask", address=address, workers=1) as capped:
        assert capped.workers == 1
        assert list(capped.map(square, range(5))) == [0, 1, 4, 9, 16]
        runs = sorted(capped.map(interval, range(3)))
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(runs))  # one at a time
    assert engine.workers == 2


def test_close_shuts_down_the_cluster_it_started() -> None:
    engine = open_engine("dask", workers=1)
    assert isinstance(engine, DaskEngine)
    pid = engine.submit(where).result(timeout=30)
    cluster = engine._cluster
    engine.close()
    engine.close()  # idempotent
    assert cluster.status.name == "closed"
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


def test_a_task_whose_worker_dies_fails_and_is_not_run_again(tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    with DaskEngine.start(2) as engine:
        dying = engine.submit(attempt, str(attempts), 3)  # os._exit(3) in the worker

        error = dying.exception(timeout=60)

        assert error is not None
        assert lost(error) == (
            "its worker died before it finished (it exited, crashed the interpreter or ran out of memory)"
        )
        assert attempts.read_text().count("attempt") == 1  # Dask would have tried it on 3 more workers
        assert engine.submit(square, 3).result(timeout=60) == 9  # the cluster goes on
    assert lost(InvalidInput("raised by the task")) is None


def test_a_finished_task_is_not_computed_again_when_its_worker_dies(tmp_path: Path) -> None:
    attempts = tmp_path / "attempts"
    with DaskEngine.start(2) as engine:
        finished = engine.submit(attempt, str(attempts))  # held, as a caller holds what it submitted
        pid = finished.result(timeout=60)
        before = set(engine.client.scheduler_info()["workers"])

        os.kill(pid, signal.SIGKILL)  # the worker that holds the task's result
        deadline = time.monotonic() + 30
        while before <= set(engine.client.scheduler_info()["workers"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not before <= set(engine.client.scheduler_info()["workers"]), "the scheduler never saw it die"
        time.sleep(1.0)  # Dask recomputes a lost result it still owes a client at once

        assert attempts.read_text().count("attempt") == 1
        assert finished.result() == pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
