"""Forked children (multiprocessing's fork start method) logging to a run of their parent."""

from __future__ import annotations

import multiprocessing
import signal
import sys
from typing import TYPE_CHECKING

import pytest

from slipway.core import RunStatus
from slipway.tracking._writer import _install_sigterm_handler, _on_sigterm

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from slipway.tracking import ActiveRun, TrackingClient

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
N = 3_000


def _log_from_child(run: ActiveRun, first: int) -> None:
    for i in range(first, first + N):
        run.log_metric("loss", float(i), step=i)


def test_metrics_logged_in_forked_children_are_all_written(client: TrackingClient) -> None:
    fork = multiprocessing.get_context("fork")
    with client.start_run() as run:
        run.log_metric("loss", -1.0, step=-1)  # pending in the parent at fork time: written once, by it
        children = [fork.Process(target=_log_from_child, args=(run, k * N)) for k in range(2)]
        for child in children:
            child.start()
        for child in children:
            child.join(60)
            assert child.exitcode == 0
        assert client.store.get_run(run.id).status is RunStatus.RUNNING  # no child ended it
        run.log_metric("loss", 0.5, step=2 * N)
    got = client.get_run(run.id)
    assert got.status is RunStatus.FINISHED
    steps = sorted(m.step for m in client.get_metric_history(run.id, "loss"))
    assert steps == list(range(-1, 2 * N + 1))  # every point of both children, none twice


def _child_ends_its_copy(run: ActiveRun) -> None:
    with run:  # leaving the block in a child flushes; it does not end the parent's run
        run.log_metric("child", 1.0)


def test_a_child_leaving_a_with_block_does_not_end_the_parents_run(client: TrackingClient) -> None:
    fork = multiprocessing.get_context("fork")
    with client.start_run() as run:
        child = fork.Process(target=_child_ends_its_copy, args=(run,))
        child.start()
        child.join(60)
        assert child.exitcode == 0
        assert client.store.get_run(run.id).status is RunStatus.RUNNING
    assert client.get_run(run.id).status is RunStatus.FINISHED
    assert client.get_run(run.id).metrics["child"] == 1.0


def _report_sigterm_handler(conn: Connection) -> None:
    conn.send(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)


def test_forked_children_do_not_inherit_the_sigterm_handler() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL and previous is not _on_sigterm:
        pytest.skip("the test runner installed a SIGTERM handler of its own")
    _install_sigterm_handler()
    try:
        assert signal.getsignal(signal.SIGTERM) is _on_sigterm
        fork = multiprocessing.get_context("fork")
        parent, child_end = fork.Pipe()
        child = fork.Process(target=_report_sigterm_handler, args=(child_end,))
        child.start()
        assert parent.recv() is True  # Pool.terminate() SIGTERMs workers: they must simply die
        child.join(60)
    finally:
        signal.signal(signal.SIGTERM, previous)


_inherited: list[ActiveRun] = []  # what a pool worker sees of its parent (pool arguments are pickled)


def _log_in_worker(first: int) -> None:
    _log_from_child(_inherited[0], first)


def test_pool_workers_log_and_terminate_still_stops_the_pool(client: TrackingClient) -> None:
    fork = multiprocessing.get_context("fork")
    with client.start_run() as run:
        _inherited[:] = [run]
        try:
            with fork.Pool(2) as pool:  # leaving the block calls terminate(): SIGTERM to each worker
                pool.map(_log_in_worker, [0, N, 2 * N])
                pool.close()
                pool.join()  # workers leave through os._exit: multiprocessing's finalizers flush them
        finally:
            _inherited.clear()
        assert client.store.get_run(run.id).status is RunStatus.RUNNING
    steps = sorted(m.step for m in client.get_metric_history(run.id, "loss"))
    assert steps == list(range(3 * N))
