"""The write-safety part of the metadata-store contract: idempotent batches, limits, run liveness."""

from __future__ import annotations

import os
import sys
import threading
import traceback
import uuid
import warnings
from typing import TYPE_CHECKING

import pytest

from slipway.core import MAX_VALUE_LENGTH, Metric, RunStatus
from slipway.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from slipway.core import Run
    from slipway.store import MetadataStore


def _run(store: MetadataStore) -> Run:
    exp = store.create_experiment(name=f"contract-writes-{uuid.uuid4().hex}")
    return store.create_run(experiment_id=exp.id)


class WritesContract:
    """What makes writes safe to retry and the same for every store."""

    # ------------------------------------------------------------------ idempotent batches

    def test_a_batch_sent_twice_with_one_id_is_written_once(self, store: MetadataStore) -> None:
        run = _run(store)
        batch = [Metric(key="loss", value=0.5, step=1, timestamp=10)]

        store.log_batch(run.id, metrics=batch, params={"lr": "0.1"}, tags={"t": "1"}, batch_id="b-1")
        store.log_batch(run.id, metrics=batch, params={"lr": "0.1"}, tags={"t": "1"}, batch_id="b-1")

        assert store.get_metric_history(run.id, "loss") == batch
        got = store.get_run(run.id)
        assert (got.params, got.tags, got.metrics) == ({"lr": "0.1"}, {"t": "1"}, {"loss": 0.5})

    def test_batch_ids_are_per_run_and_distinct_ids_all_apply(self, store: MetadataStore) -> None:
        first, second = _run(store), _run(store)
        one = [Metric(key="m", value=1.0, step=1, timestamp=1)]

        store.log_batch(first.id, metrics=one, batch_id="same")
        store.log_batch(second.id, metrics=one, batch_id="same")
        store.log_batch(first.id, metrics=one, batch_id="other")
        store.log_batch(first.id, metrics=one)  # without an id: always applied
        store.log_batch(first.id, metrics=one)

        assert len(store.get_metric_history(first.id, "m")) == 4
        assert len(store.get_metric_history(second.id, "m")) == 1

    def test_a_failed_batch_is_not_recorded_and_may_be_sent_again(self, store: MetadataStore) -> None:
        run = _run(store)
        store.log_batch(run.id, params={"lr": "0.1"})
        metric = Metric(key="loss", value=0.5, step=1, timestamp=10)

        with pytest.raises(Conflict):
            store.log_batch(run.id, metrics=[metric], params={"lr": "0.2"}, batch_id="b-2")
        store.log_batch(run.id, metrics=[metric], batch_id="b-2")

        assert store.get_metric_history(run.id, "loss") == [metric]

    def test_one_batch_sent_from_threads_at_once_is_written_once(self, store: MetadataStore) -> None:
        run = _run(store)
        batch = [Metric(key=f"k{i}", value=float(i), step=1, timestamp=1) for i in range(50)]
        errors: list[BaseException] = []
        start = threading.Barrier(4)

        def send() -> None:
            try:
                start.wait()
                store.log_batch(run.id, metrics=batch, batch_id="racing")
            except BaseException as exc:  # collected: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert errors == []
        assert all(len(store.get_metric_history(run.id, f"k{i}")) == 1 for i in (0, 49))

    @pytest.mark.parametrize("batch_id", ["", "has space", "x" * 65, "new\nline", "a\x00b"])
    def test_bad_batch_id_is_invalid_and_writes_nothing(self, store: MetadataStore, batch_id: str) -> None:
        run = _run(store)
        with pytest.raises(InvalidInput, match="batch_id"):
            store.log_batch(run.id, metrics=[Metric(key="m", value=1.0)], batch_id=batch_id)
        assert store.get_metric_history(run.id, "m") == []

    # ------------------------------------------------------------------ bad input

    def test_values_up_to_the_one_limit_are_kept_and_longer_ones_are_invalid(
        self, store: MetadataStore
    ) -> None:
        run = _run(store)
        longest, too_long = "v" * MAX_VALUE_LENGTH, "v" * (MAX_VALUE_LENGTH + 1)
        store.log_batch(run.id, params={"p": longest}, tags={"t": longest})
        got = store.get_run(run.id)
        assert (got.params, got.tags) == ({"p": longest}, {"t": longest})

        with pytest.raises(InvalidInput, match="param"):
            store.log_batch(run.id, params={"q": too_long})
        with pytest.raises(InvalidInput, match="tag"):
            store.log_batch(run.id, tags={"t": too_long})
        with pytest.raises(InvalidInput):
            store.create_run(experiment_id=run.experiment_id, tags={"t": too_long})
        with pytest.raises(InvalidInput):
            store.create_experiment(name=f"contract-{uuid.uuid4().hex}", tags={"t": too_long})
        assert store.get_run(run.id) == got

    def test_nul_is_refused_everywhere_as_postgresql_cannot_store_it(self, store: MetadataStore) -> None:
        run = _run(store)
        with pytest.raises(InvalidInput):
            store.log_batch(run.id, params={"p": "a\x00b"})
        with pytest.raises(InvalidInput):
            store.log_batch(run.id, tags={"t": "a\x00b"})
        with pytest.raises(InvalidInput):
            store.create_run(experiment_id=run.experiment_id, name="a\x00b")
        with pytest.raises(InvalidInput):
            store.create_run(experiment_id=run.experiment_id, tags={"t": "\x00"})
        assert store.get_run(run.id) == run

    def test_integers_beyond_64_bits_are_invalid_input(self, store: MetadataStore) -> None:
        run = _run(store)
        with pytest.raises(InvalidInput, match="start_time"):
            store.create_run(experiment_id=run.experiment_id, start_time=2**63)
        with pytest.raises(InvalidInput, match="end_time"):
            store.end_run(run.id, status=RunStatus.FINISHED, end_time=-(2**63) - 1)
        with pytest.raises(InvalidInput):
            store.heartbeat(run.id, at=2**64)
        with pytest.raises(InvalidInput):
            store.log_batch(run.id, metrics=[Metric(key="m", value=1.0, step=2**63)])
        with pytest.raises(InvalidInput):
            store.log_batch(run.id, metrics=[Metric(key="m", value=1.0, timestamp=10**30)])
        assert store.get_run(run.id) == run
        store.log_batch(run.id, metrics=[Metric(key="m", value=1.0, step=2**63 - 1, timestamp=-(2**63))])
        assert store.get_metric_history(run.id, "m")[0].step == 2**63 - 1

    @pytest.mark.parametrize("status", ["BOGUS", "finished", "", "RUNNING"])
    def test_end_run_with_a_status_that_does_not_end_it_is_invalid(
        self, store: MetadataStore, status: str
    ) -> None:
        run = _run(store)
        with pytest.raises(InvalidInput, match="status"):
            store.end_run(run.id, status=status)  # type: ignore[arg-type]
        assert store.get_run(run.id).status is RunStatus.RUNNING

    # ------------------------------------------------------------------ processes

    @pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")
    def test_a_forked_child_writes_through_the_inherited_store(self, store: MetadataStore) -> None:
        """The child must not share the parent's connections: both write at once and lose nothing."""
        run = _run(store)
        for who in ("parent", "child"):  # warm: the parent now holds a pooled, kept-alive connection
            store.log_batch(run.id, metrics=[Metric(key=who, value=-1.0, step=0, timestamp=0)])
        batches = 40
        read_end, write_end = os.pipe()
        with warnings.catch_warnings():  # Python 3.12 warns when forking with threads running
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the child: report through the pipe, never return into pytest
            os.close(read_end)
            code = 0
            try:
                for step in range(1, batches + 1):
                    store.log_batch(run.id, metrics=[Metric(key="child", value=float(step), step=step)])
                    store.get_run(run.id)
            except BaseException:
                os.write(write_end, traceback.format_exc().encode())
                code = 1
            finally:
                os.close(write_end)
                sys.stdout.flush()
                os._exit(code)
        os.close(write_end)
        try:
            for step in range(1, batches + 1):
                store.log_batch(run.id, metrics=[Metric(key="parent", value=float(step), step=step)])
                store.get_run(run.id)
        finally:
            with os.fdopen(read_end, "rb") as pipe:
                report = pipe.read().decode(errors="replace")
            _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, f"the child failed:\n{report}"
        for who in ("parent", "child"):
            assert [m.step for m in store.get_metric_history(run.id, who)] == list(range(batches + 1))
        assert store.get_run(run.id).metrics == {"parent": float(batches), "child": float(batches)}
