"""The metadata-store conformance suite: every :class:`~slipway.store.MetadataStore` must pass it.

Subclass :class:`MetadataStoreContract` in a test module and provide a ``store`` fixture::

    class TestMyStore(MetadataStoreContract):
        @pytest.fixture
        def store(self) -> Iterator[MetadataStore]:
            s = MyStore.connect(...)
            yield s
            s.close()

Every test creates its own experiment under a unique name and only looks at what it created, so
the suite runs against a shared database or a remote server that other tests use at the same time.
It needs pytest and nothing else.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from slipway.core import Experiment, Metric, Run, RunStatus
from slipway.errors import (
    AlreadyExists,
    Conflict,
    ExperimentNotFound,
    InvalidInput,
    NotFound,
    RunNotFound,
)
from slipway.testing._store_contract_monitoring import MonitoringContract
from slipway.testing._store_contract_records import RecordsContract
from slipway.testing._store_contract_registry import RegistryContract
from slipway.testing._store_contract_search import SearchContract
from slipway.testing._store_contract_writes import WritesContract

if TYPE_CHECKING:
    from slipway.store import MetadataStore

__all__ = ["MetadataStoreContract", "new_experiment"]


def new_experiment(store: MetadataStore, **tags: str) -> Experiment:
    """An experiment no other test (or test session) shares."""
    return store.create_experiment(name=f"contract-{uuid.uuid4().hex}", tags=tags or None)


def _now() -> int:
    return time.time_ns() // 1_000_000


class MetadataStoreContract(
    RecordsContract, RegistryContract, MonitoringContract, SearchContract, WritesContract
):
    """Behaviour every metadata store shows; subclasses provide the ``store`` fixture."""

    # ------------------------------------------------------------------ experiments

    def test_experiment_round_trips_by_id_and_name(self, store: MetadataStore) -> None:
        before = _now()
        exp = new_experiment(store, team="vision", owner="ada")

        assert exp.tags == {"team": "vision", "owner": "ada"}
        assert before - 5_000 <= exp.created_at <= _now() + 5_000
        assert store.get_experiment(exp.id) == exp
        assert store.get_experiment_by_name(exp.name) == exp
        assert exp in store.list_experiments()

    def test_duplicate_experiment_name_is_already_exists(self, store: MetadataStore) -> None:
        exp = new_experiment(store)

        with pytest.raises(AlreadyExists, match=exp.name):
            store.create_experiment(name=exp.name)
        assert [e.id for e in store.list_experiments() if e.name == exp.name] == [exp.id]

    def test_unknown_experiment_is_not_found(self, store: MetadataStore) -> None:
        missing = uuid.uuid4().hex

        with pytest.raises(ExperimentNotFound):
            store.get_experiment(missing)
        assert store.get_experiment_by_name(f"missing-{missing}") is None

    @pytest.mark.parametrize("name", ["", "   ", " padded "])
    def test_blank_experiment_name_is_invalid(self, store: MetadataStore, name: str) -> None:
        with pytest.raises(InvalidInput):
            store.create_experiment(name=name)

    # ------------------------------------------------------------------ runs

    def test_created_run_round_trips(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        run = store.create_run(
            experiment_id=exp.id,
            name="baseline",
            user="ada",
            tags={"stage": "dev"},
            start_time=1_700_000_000_000,
        )

        assert run.experiment_id == exp.id
        assert (run.name, run.user, run.start_time, run.tags) == (
            "baseline",
            "ada",
            1_700_000_000_000,
            {"stage": "dev"},
        )
        assert run.status is RunStatus.RUNNING
        assert run.end_time is None
        assert store.get_run(run.id) == run

    def test_run_defaults(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        before = _now()
        run = store.create_run(experiment_id=exp.id)
        after = _now()

        assert run.name  # a generated name, never empty
        assert before - 5_000 <= run.start_time <= after + 5_000
        assert (run.params, run.metrics, run.parent_run_id, run.user) == ({}, {}, None, "")
        assert store.get_run(run.id) == run

    def test_too_long_names_are_invalid(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        with pytest.raises(InvalidInput):
            store.create_run(experiment_id=exp.id, name="n" * 251)
        with pytest.raises(InvalidInput):
            store.create_experiment(name="e" * 251)
        run = store.create_run(experiment_id=exp.id, name="n" * 250)
        assert store.get_run(run.id).name == "n" * 250

    def test_two_runs_get_distinct_ids(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        assert store.create_run(experiment_id=exp.id).id != store.create_run(experiment_id=exp.id).id

    def test_nested_run_records_its_parent(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        parent = store.create_run(experiment_id=exp.id, name="sweep")
        child = store.create_run(experiment_id=exp.id, name="trial-1", parent_run_id=parent.id)

        assert store.get_run(child.id).parent_run_id == parent.id
        assert store.get_run(parent.id).parent_run_id is None

    def test_run_in_unknown_experiment_is_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(ExperimentNotFound):
            store.create_run(experiment_id=uuid.uuid4().hex)

    def test_run_with_unknown_parent_is_not_found(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        with pytest.raises(NotFound):
            store.create_run(experiment_id=exp.id, parent_run_id=uuid.uuid4().hex)

    def test_unknown_run_is_run_not_found(self, store: MetadataStore) -> None:
        missing = uuid.uuid4().hex
        with pytest.raises(RunNotFound):
            store.get_run(missing)
        with pytest.raises(RunNotFound):
            store.end_run(missing, status=RunStatus.FINISHED)
        with pytest.raises(RunNotFound):
            store.log_batch(missing, metrics=[Metric(key="m", value=1.0)])
        with pytest.raises(RunNotFound):
            store.heartbeat(missing)

    @pytest.mark.parametrize("status", [RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED])
    def test_end_run_sets_status_and_end_time(self, store: MetadataStore, status: RunStatus) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id, start_time=1_000)

        ended = store.end_run(run.id, status=status, end_time=2_000)

        assert (ended.status, ended.end_time) == (status, 2_000)
        assert store.get_run(run.id) == ended

    def test_end_run_defaults_end_time_to_now(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        before = _now()
        ended = store.end_run(run.id, status=RunStatus.FINISHED)
        assert ended.end_time is not None
        assert before - 5_000 <= ended.end_time <= _now() + 5_000

    def test_heartbeat_is_recorded(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        store.heartbeat(run.id, at=run.start_time + 10_000)
        assert store.get_run(run.id).heartbeat_at == run.start_time + 10_000

    def test_mark_dead_runs_marks_only_silent_running_runs(self, store: MetadataStore) -> None:
        # Times at the epoch: no run of any other test (all at 1000 ms or later) is before the cutoff.
        exp = new_experiment(store)
        silent = store.create_run(experiment_id=exp.id, start_time=10)
        store.heartbeat(silent.id, at=15)
        never_beat = store.create_run(experiment_id=exp.id, start_time=12)
        alive = store.create_run(experiment_id=exp.id, start_time=10)
        store.heartbeat(alive.id, at=_now())
        finished = store.create_run(experiment_id=exp.id, start_time=10)
        store.end_run(finished.id, status=RunStatus.FINISHED, end_time=11)

        dead = store.mark_dead_runs(heartbeat_before=20)

        assert {silent.id, never_beat.id} <= set(dead)
        assert not {alive.id, finished.id} & set(dead)
        for run_id in (silent.id, never_beat.id):
            died = store.get_run(run_id)
            assert died.status is RunStatus.DIED
            assert died.end_time is not None
        assert store.get_run(alive.id).status is RunStatus.RUNNING
        untouched = store.get_run(finished.id)
        assert (untouched.status, untouched.end_time) == (RunStatus.FINISHED, 11)
        assert silent.id not in store.mark_dead_runs(heartbeat_before=20)  # already DIED

    def test_a_heartbeat_brings_a_died_run_back_to_running(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        slow = store.create_run(experiment_id=exp.id, start_time=10)
        done = store.create_run(experiment_id=exp.id, start_time=10)
        store.end_run(done.id, status=RunStatus.FINISHED, end_time=11)
        assert slow.id in store.mark_dead_runs(heartbeat_before=20)

        store.heartbeat(slow.id)  # the process was only slow: it is alive
        store.heartbeat(done.id)

        back = store.get_run(slow.id)
        assert (back.status, back.end_time) == (RunStatus.RUNNING, None)
        assert back.heartbeat_at is not None
        assert back.heartbeat_at >= _now() - 60_000
        assert slow.id not in store.mark_dead_runs(heartbeat_before=20)
        finished = store.get_run(done.id)
        assert (finished.status, finished.end_time) == (RunStatus.FINISHED, 11)

    # ------------------------------------------------------------------ params and tags

    def test_params_are_set_and_read_back(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        store.log_batch(run.id, params={"lr": "0.01", "optimizer": "adam"})
        store.log_batch(run.id, params={"epochs": "10"})
        assert store.get_run(run.id).params == {"lr": "0.01", "optimizer": "adam", "epochs": "10"}

    def test_setting_a_param_again_to_the_same_value_is_fine(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        store.log_batch(run.id, params={"lr": "0.01"})
        store.log_batch(run.id, params={"lr": "0.01", "seed": "1"})
        assert store.get_run(run.id).params == {"lr": "0.01", "seed": "1"}

    def test_changing_a_param_is_a_conflict_and_writes_nothing_of_the_batch(
        self, store: MetadataStore
    ) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        store.log_batch(run.id, params={"lr": "0.01"})

        with pytest.raises(Conflict, match="lr"):
            store.log_batch(
                run.id,
                params={"seed": "7", "lr": "0.02"},
                metrics=[Metric(key="loss", value=0.5, step=1, timestamp=1)],
                tags={"note": "x"},
            )

        after = store.get_run(run.id)
        assert after.params == {"lr": "0.01"}
        assert after.metrics == {}
        assert after.tags == {}
        assert store.get_metric_history(run.id, "loss") == []

    def test_tags_can_be_overwritten(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id, tags={"stage": "dev"})
        store.log_batch(run.id, tags={"stage": "prod", "owner": "ada"})
        assert store.get_run(run.id).tags == {"stage": "prod", "owner": "ada"}

    @pytest.mark.parametrize("key", ["", " lead", "a\nb", "semi;colon", "x" * 251])
    def test_bad_keys_are_invalid_and_write_nothing(self, store: MetadataStore, key: str) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        with pytest.raises(InvalidInput):
            store.log_batch(run.id, params={key: "1"}, metrics=[Metric(key="ok", value=1.0)])
        with pytest.raises(InvalidInput):
            store.log_batch(run.id, metrics=[Metric(key=key, value=1.0)])
        with pytest.raises(InvalidInput):
            store.log_batch(run.id, tags={key: "v"})
        assert store.get_run(run.id) == run

    def test_keys_may_hold_dots_slashes_and_spaces(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        store.log_batch(
            run.id, params={"model/layer 1.units": "64"}, metrics=[Metric(key="val/acc:top-1", value=0.5)]
        )
        got = store.get_run(run.id)
        assert got.params == {"model/layer 1.units": "64"}
        assert got.metrics == {"val/acc:top-1": 0.5}

    # ------------------------------------------------------------------ metrics

    def test_metric_history_is_ordered_by_step_then_timestamp(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        logged = [
            Metric(key="loss", value=0.3, step=2, timestamp=30),
            Metric(key="loss", value=0.9, step=0, timestamp=10),
            Metric(key="loss", value=0.5, step=1, timestamp=25),
            Metric(key="loss", value=0.6, step=1, timestamp=20),
        ]
        store.log_batch(run.id, metrics=logged[:2])
        store.log_batch(run.id, metrics=logged[2:])

        history = store.get_metric_history(run.id, "loss")

        assert history == sorted(logged, key=lambda m: (m.step, m.timestamp))
        assert store.get_metric_history(run.id, "never-logged") == []

    def test_latest_value_is_the_one_with_the_greatest_step_and_timestamp(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        store.log_batch(run.id, metrics=[Metric(key="acc", value=0.7, step=5, timestamp=100)])
        store.log_batch(run.id, metrics=[Metric(key="acc", value=0.1, step=3, timestamp=999)])  # older step
        assert store.get_run(run.id).metrics == {"acc": 0.7}

        store.log_batch(
            run.id, metrics=[Metric(key="acc", value=0.8, step=5, timestamp=101)]
        )  # same step, later
        assert store.get_run(run.id).metrics == {"acc": 0.8}

        store.log_batch(
            run.id,
            metrics=[
                Metric(key="acc", value=0.95, step=9, timestamp=1),
                Metric(key="acc", value=0.9, step=7, timestamp=2),
                Metric(key="loss", value=2.0, step=0, timestamp=0),
            ],
        )
        assert store.get_run(run.id).metrics == {"acc": 0.95, "loss": 2.0}
        assert len(store.get_metric_history(run.id, "acc")) == 5

    @pytest.mark.parametrize(
        "value", [0.0, -0.0, 1e308, -1e308, 5e-324, 0.1, 1 / 3, math.inf, -math.inf], ids=repr
    )
    def test_metric_values_round_trip_exactly(self, store: MetadataStore, value: float) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        store.log_batch(run.id, metrics=[Metric(key="v", value=value, step=0, timestamp=1)])

        assert store.get_metric_history(run.id, "v")[0].value == value
        assert store.get_run(run.id).metrics["v"] == value

    def test_nan_is_stored(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        store.log_batch(run.id, metrics=[Metric(key="v", value=math.nan, step=0, timestamp=1)])

        assert math.isnan(store.get_metric_history(run.id, "v")[0].value)
        assert math.isnan(store.get_run(run.id).metrics["v"])

    def test_a_thousand_metrics_in_one_batch_are_all_kept(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        batch = [Metric(key=f"m{i % 10}", value=float(i), step=i // 10, timestamp=i) for i in range(1000)]
        store.log_batch(run.id, metrics=batch)

        assert len(store.get_metric_history(run.id, "m3")) == 100
        assert store.get_run(run.id).metrics == {f"m{k}": float(990 + k) for k in range(10)}

    def test_metric_history_of_unknown_run_is_run_not_found(self, store: MetadataStore) -> None:
        with pytest.raises(RunNotFound):
            store.get_metric_history(uuid.uuid4().hex, "loss")

    def test_concurrent_writers_from_threads_lose_nothing(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                for step in range(20):
                    store.log_batch(
                        run.id,
                        metrics=[Metric(key=f"w{worker}", value=float(step), step=step, timestamp=step)],
                        params={f"p{worker}": str(worker)},
                    )
                    store.get_run(run.id)
            except BaseException as exc:  # collected: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert errors == []
        got = store.get_run(run.id)
        assert got.params == {f"p{w}": str(w) for w in range(4)}
        assert got.metrics == {f"w{w}": 19.0 for w in range(4)}
        assert all(len(store.get_metric_history(run.id, f"w{w}")) == 20 for w in range(4))

    # ------------------------------------------------------------------ tokens

    def test_token_secret_is_returned_once_and_verifies(self, store: MetadataStore) -> None:
        name = f"ci-{uuid.uuid4().hex}"
        info, secret = store.create_token(name=name)

        assert info.name == name
        assert not info.revoked
        assert secret
        assert secret not in repr(info)
        assert store.verify_token(secret) == info
        listed = [t for t in store.list_tokens() if t.id == info.id]
        assert listed == [info]
        assert secret not in repr(store.list_tokens())

    def test_wrong_secret_does_not_verify(self, store: MetadataStore) -> None:
        _, secret = store.create_token(name=f"ci-{uuid.uuid4().hex}")
        assert store.verify_token(secret + "x") is None
        assert store.verify_token("") is None
        assert store.verify_token("slw_" + uuid.uuid4().hex) is None

    def test_revoked_token_no_longer_verifies(self, store: MetadataStore) -> None:
        info, secret = store.create_token(name=f"ci-{uuid.uuid4().hex}")
        other, other_secret = store.create_token(name=f"ci-{uuid.uuid4().hex}")

        store.revoke_token(info.id)

        assert store.verify_token(secret) is None
        assert store.verify_token(other_secret) == other
        assert [t.revoked for t in store.list_tokens() if t.id == info.id] == [True]
        with pytest.raises(NotFound):
            store.revoke_token(uuid.uuid4().hex)

    # ------------------------------------------------------------------ entities

    def test_run_read_back_everywhere_is_equal(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        run = store.create_run(experiment_id=exp.id, name="r", user="ada", tags={"t": "1"})
        store.log_batch(run.id, params={"p": "x"}, metrics=[Metric(key="m", value=0.25, step=1, timestamp=5)])
        store.end_run(run.id, status=RunStatus.FINISHED, end_time=run.start_time + 1)

        got = store.get_run(run.id)
        page = store.search_runs(experiment_ids=[exp.id])

        assert isinstance(got, Run)
        assert page.items == [got]
        assert (got.params, got.tags, got.metrics) == ({"p": "x"}, {"t": "1"}, {"m": 0.25})
