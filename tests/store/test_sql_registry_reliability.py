"""Many processes registering one model at once: distinct versions 1..N, and alias moves that chain.

Workers are spawned processes that open the store through ``open_metadata_store`` as any client
does, wait at a barrier until all are connected, then register (and later move one alias) at the
same moment. :func:`check_registered_at_once` is shared with the test through a team server.
"""

from __future__ import annotations

import itertools
import multiprocessing
import queue
import uuid
from typing import TYPE_CHECKING

import pytest
from tests.store._writers import register_at_once

from slipway.core import AuditAction
from slipway.store import open_metadata_store

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

PROCESSES = 16


def check_registered_at_once(url: str, *, token: str | None = None, processes: int = PROCESSES) -> None:
    name = f"at-once-{uuid.uuid4().hex}"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=register_at_once, args=(url, token, name, barrier, results))
        for _ in range(processes)
    ]
    for w in workers:
        w.start()
    got = []
    try:
        for _ in range(processes):
            got.append(results.get(timeout=180))
    except queue.Empty:
        pytest.fail(f"only {len(got)} of {processes} workers answered: {got}")
    finally:
        for w in workers:
            w.join(timeout=60)
    errors = [g for g in got if isinstance(g, str)]
    assert errors == []

    assert sorted(version for version, _ in got) == list(range(1, processes + 1))
    store = open_metadata_store(url, token=token)
    try:
        assert [v.version for v in store.list_model_versions(name)] == list(range(processes, 0, -1))
        registered = store.search_audit(model=name, action=AuditAction.REGISTER).items
        assert sorted(e.version or 0 for e in registered) == list(range(1, processes + 1))
        # Every move saw the holder the previous move left: the events chain without a gap.
        moves = store.search_audit(model=name, alias="production").items
        assert len(moves) == processes
        assert moves[0].previous_version is None
        assert all(later.previous_version == earlier.version for earlier, later in itertools.pairwise(moves))
        assert store.get_version_by_alias(name, "production").version == moves[-1].version
    finally:
        store.close()


def test_sixteen_processes_register_on_one_sqlite_file_and_get_distinct_versions(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    open_metadata_store(url).close()  # the schema exists before the workers race to open it
    check_registered_at_once(url)


@pytest.mark.postgres
def test_sixteen_processes_register_on_postgres_and_get_distinct_versions(postgres_url: str) -> None:
    check_registered_at_once(postgres_url)
