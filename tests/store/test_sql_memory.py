"""The in-memory SQLite store (``sqlite://``): one shared connection, so every use is serialised."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from slipway.core import Metric
from slipway.store import open_metadata_store
from slipway.store._sql import SqlMetadataStore
from slipway.testing.store_contract import MetadataStoreContract, new_experiment

if TYPE_CHECKING:
    from collections.abc import Iterator

    from slipway.store import MetadataStore


class TestSqliteMemory(MetadataStoreContract):
    @pytest.fixture
    def store(self) -> Iterator[MetadataStore]:
        s = SqlMetadataStore.connect("sqlite://")
        yield s
        s.close()

    def test_a_forked_child_writes_through_the_inherited_store(self, store: MetadataStore) -> None:
        pytest.skip("an in-memory database is private to its process: see the test below")


def test_a_forked_child_gets_its_own_copy_of_an_in_memory_store() -> None:
    import os

    store = open_metadata_store("sqlite://")
    run = store.create_run(experiment_id=new_experiment(store).id)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            store.log_batch(run.id, metrics=[Metric(key="child", value=1.0)])
            code = 0 if store.get_run(run.id).metrics == {"child": 1.0} else 2
        finally:
            os._exit(code)
    store.log_batch(run.id, metrics=[Metric(key="parent", value=1.0)])
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert store.get_run(run.id).metrics == {"parent": 1.0}
    store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_threads_writing_and_searching_an_in_memory_store_lose_nothing(url: str) -> None:
    store = open_metadata_store(url)
    exp = new_experiment(store)
    runs = [store.create_run(experiment_id=exp.id) for _ in range(2)]
    errors: list[BaseException] = []

    def write(run_id: str) -> None:
        try:
            for step in range(150):
                store.log_batch(
                    run_id,
                    metrics=[Metric(key=f"m{j}", value=float(step), step=step) for j in range(5)],
                    params={f"p{step}": "x"},
                )
        except BaseException as exc:  # collected: a thread's failure must fail the test
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(run.id,)) for run in runs]
    for t in writers:
        t.start()
    try:
        while any(t.is_alive() for t in writers):
            store.search_runs(experiment_ids=[exp.id], order_by="metrics.m0 desc")
            store.get_run(runs[0].id)
    finally:
        for t in writers:
            t.join()

    assert errors == []
    for run in runs:
        assert len(store.get_run(run.id).params) == 150
        for j in range(5):
            assert len(store.get_metric_history(run.id, f"m{j}")) == 150
    store.close()
