"""Many processes against one store: nothing lost, no "database is locked", and kill -9 is harmless."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest
from tests.store._writers import KEYS_PER_BATCH, write_batches, write_forever

from slipway.core import RunStatus
from slipway.store._sql import SqlMetadataStore
from slipway.testing.store_contract import new_experiment

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow


def _hammer(url: str, *, processes: int, batches: int) -> None:
    """Run ``processes`` writers at once (two runs shared between them) and check every row arrived."""
    store = SqlMetadataStore.connect(url)
    exp = new_experiment(store)
    run_ids = [store.create_run(experiment_id=exp.id).id for _ in range(2)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        written = pool.starmap(
            write_batches, [(url, run_ids[w % 2], w, batches) for w in range(processes)], chunksize=1
        )
    assert written == [batches] * processes

    for w in range(processes):
        run = store.get_run(run_ids[w % 2])
        assert {k: v for k, v in run.params.items() if k.startswith(f"w{w}.")} == {
            f"w{w}.p{s}": str(s) for s in range(batches)
        }
        assert {k: v for k, v in run.metrics.items() if k.startswith(f"w{w}.")} == {
            f"w{w}.m{j}": float(batches - 1) for j in range(KEYS_PER_BATCH)
        }
        for j in range(KEYS_PER_BATCH):
            history = store.get_metric_history(run.id, f"w{w}.m{j}")
            assert [m.step for m in history] == list(range(batches))
    for run_id in run_ids:
        assert store.get_run(run_id).params["shared"] == "same"
    store.close()


def test_eight_processes_write_to_one_sqlite_file_and_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    _hammer(url, processes=8, batches=200)
    with sqlite3.connect(tmp_path / "busy.db") as raw:
        assert raw.execute("SELECT count(*) FROM metrics").fetchone() == (8 * 200 * KEYS_PER_BATCH,)
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.postgres
def test_sixteen_processes_write_to_postgres_and_lose_nothing(postgres_url: str) -> None:
    _hammer(postgres_url, processes=16, batches=100)


def test_kill_9_while_logging_leaves_sqlite_readable_and_consistent(tmp_path: Path) -> None:
    path = tmp_path / "killed.db"
    url = f"sqlite:///{path}"
    store = SqlMetadataStore.connect(url)
    exp = new_experiment(store)
    run = store.create_run(experiment_id=exp.id)
    other = store.create_run(experiment_id=exp.id)
    store.end_run(other.id, status=RunStatus.FINISHED)

    child = multiprocessing.get_context("spawn").Process(target=write_forever, args=(url, run.id))
    child.start()
    deadline = time.monotonic() + 60
    while len(store.get_run(run.id).params) < 50:  # killed in the middle of a stream of batches
        assert child.is_alive(), "the writer died on its own"
        assert time.monotonic() < deadline, "the writer made no progress"
        time.sleep(0.05)
    child.kill()
    child.join()
    assert child.exitcode == -9
    store.close()

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    store = SqlMetadataStore.connect(url)
    for run_id in (run.id, other.id):
        store.get_run(run_id)
    after = store.get_run(run.id)
    steps = len(after.params)  # one param per batch: each batch is all-or-nothing
    assert after.params == {f"p{s}": str(s) for s in range(steps)}
    assert after.metrics == {f"m{j}": float(steps - 1) for j in range(20)}
    for j in range(20):
        assert [m.step for m in store.get_metric_history(run.id, f"m{j}")] == list(range(steps))
    assert len(store.search_runs(experiment_ids=[exp.id]).items) == 2
    store.log_batch(run.id, params={"after": "kill"})  # still writable
    assert store.mark_dead_runs(heartbeat_before=int(time.time() * 1000) + 1) == [run.id]
    assert store.get_run(run.id).status is RunStatus.DIED
    store.close()
