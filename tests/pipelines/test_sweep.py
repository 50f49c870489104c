"""slipway.pipelines.sweep: Optuna trials as runs nested under the sweep's run, here or on an engine.

Objectives are written as files in each test's folder and named as ``FILE.py:NAME``, the way the
CLI names them and the way worker processes load them.
"""

from __future__ import annotations

import contextlib
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
from tests.engines._cluster import running_cluster

from slipway.config import load_settings
from slipway.core import RunStatus
from slipway.errors import Conflict, InvalidInput
from slipway.pipelines import sweep

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.core import Run
    from slipway.tracking import TrackingClient

optuna = pytest.importorskip("optuna")

QUADRATIC = """
    import slipway

    def objective(trial, offset=2.0):
        x = trial.suggest_float("x", -10, 10)
        slipway.log_metric("x_squared", x * x)
        return (x - offset) ** 2
"""


def _write(folder: Path, name: str, code: str) -> str:
    (folder / f"{name}.py").write_text(textwrap.dedent(code))
    return f"{folder / name}.py:objective"


@pytest.fixture
def client() -> TrackingClient:
    from slipway.artifacts import open_blob_store
    from slipway.store import open_metadata_store
    from slipway.tracking import TrackingClient

    s = load_settings()
    return TrackingClient(open_metadata_store(s.tracking_uri), open_blob_store(s.artifact_uri))


def _children(client: TrackingClient, parent: str) -> list[Run]:
    runs = client.search_runs(filter="tags.`sweep.study` != ''", max_results=1000).items
    return sorted((r for r in runs if r.parent_run_id == parent), key=lambda r: int(r.tags["sweep.trial"]))


def test_a_serial_seeded_sweep_records_each_trial_and_registers_the_best_model(
    tmp_path: Path, client: TrackingClient
) -> None:
    target = _write(
        tmp_path,
        "train_iris",
        """
        import slipway
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import cross_val_score

        def objective(trial):
            X, y = load_iris(return_X_y=True, as_frame=True)
            c = trial.suggest_float("C", 1e-3, 10.0, log=True)
            model = LogisticRegression(C=c, max_iter=200)
            score = cross_val_score(model, X, y, cv=3).mean()
            slipway.log_model(model.fit(X, y), input_example=X.head(3))
            return score
        """,
    )

    result = sweep(target, trials=4, seed=7, direction="maximize", register="iris")

    assert result.states == {"COMPLETE": 4, "PRUNED": 0, "FAIL": 0}
    trials = _children(client, result.run_id)
    assert [r.name for r in trials] == ["trial-0", "trial-1", "trial-2", "trial-3"]
    assert all(r.status is RunStatus.FINISHED for r in trials)
    assert [float(r.params["C"]) for r in trials] == [t.params["C"] for t in result.trials]
    assert [r.metrics["value"] for r in trials] == [t.value for t in result.trials]
    best = max(result.trials, key=lambda t: t.value or 0.0)
    assert (result.best_trial, result.best_run_id, result.best_value) == (
        best.number,
        best.run_id,
        best.value,
    )
    sweep_run = client.get_run(result.run_id)
    assert sweep_run.tags["sweep.direction"] == "maximize"
    assert sweep_run.tags["sweep.best_run_id"] == best.run_id
    assert sweep_run.metrics["best_value"] == best.value
    assert float(sweep_run.params["best.C"]) == best.params["C"]
    assert result.registered is not None
    assert (result.registered.name, result.registered.version) == ("iris", 1)
    assert result.registered.run_id == best.run_id


def test_the_same_seed_suggests_what_optuna_alone_would(tmp_path: Path) -> None:
    target = _write(tmp_path, "quadratic_seed", QUADRATIC)

    first = sweep(target, trials=5, seed=11)
    second = sweep(target, trials=5, seed=11)

    plain = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=11))
    plain.optimize(lambda t: (t.suggest_float("x", -10, 10) - 2.0) ** 2, n_trials=5)
    expected = [t.params for t in plain.trials]
    assert [t.params for t in first.trials] == expected
    assert [t.params for t in second.trials] == expected
    assert first.study != second.study


def test_parallel_trials_run_at_the_same_time_in_worker_processes(
    tmp_path: Path, client: TrackingClient
) -> None:
    target = _write(
        tmp_path,
        "sleepy",
        """
        import os, time
        import slipway

        def objective(trial):
            x = trial.suggest_float("x", 0, 1)
            slipway.log_param("pid", os.getpid())
            time.sleep(1.5)
            return x
        """,
    )

    result = sweep(target, trials=2, parallel=2)

    a, b = _children(client, result.run_id)
    assert a.end_time is not None
    assert b.end_time is not None
    assert a.start_time < b.end_time  # each started before the other ended: they overlapped
    assert b.start_time < a.end_time
    assert a.params["pid"] != b.params["pid"]
    assert all(r.metrics["value"] == float(r.params["x"]) for r in (a, b))


def test_a_failing_trial_is_recorded_and_the_sweep_goes_on(tmp_path: Path, client: TrackingClient) -> None:
    target = _write(
        tmp_path,
        "flaky",
        """
        def objective(trial):
            x = trial.suggest_float("x", 0, 1)
            if trial.number == 1:
                raise RuntimeError("diverged\\nsecond line")
            return x
        """,
    )

    result = sweep(target, trials=3)

    assert result.states == {"COMPLETE": 2, "PRUNED": 0, "FAIL": 1}
    assert result.trials[1].error == "RuntimeError: diverged"
    runs = _children(client, result.run_id)
    assert [r.status for r in runs] == [RunStatus.FINISHED, RunStatus.FAILED, RunStatus.FINISHED]
    assert runs[1].tags["sweep.state"] == "FAIL"
    study = optuna.load_study(study_name=result.study, storage=_journal(result.storage))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL", "COMPLETE"]


DIED = "its worker died before it finished (it exited, crashed the interpreter or ran out of memory)"
STARTED_AGAIN = "its worker died before it finished, and the scheduler started it again: it is not run twice"


@pytest.mark.parametrize(
    ("engine", "reason"),
    [
        ("local", DIED),
        ("dask", DIED),  # a LocalCluster of the sweep's own
        ("scheduler", STARTED_AGAIN),  # a running cluster, which gives a task 3 more tries by default
    ],
)
def test_a_trial_whose_worker_dies_is_recorded_from_here_and_stops_the_sweep(
    tmp_path: Path, client: TrackingClient, engine: str, reason: str
) -> None:
    target = _write(
        tmp_path,
        f"dies_{engine}",
        """
        import os, time
        from pathlib import Path

        def objective(trial, done=""):
            x = trial.suggest_float("x", 0, 1)
            if trial.number == 1:  # dies once trial 0 has ended, so only this trial is lost
                deadline = time.time() + 60
                while not Path(done).exists() and time.time() < deadline:
                    time.sleep(0.05)
                time.sleep(0.5)
                os._exit(3)
            Path(done).touch()
            return x
        """,
    )
    name = f"dies-{engine}"
    options: dict[str, Any] = {"engine": engine}
    with contextlib.ExitStack() as stack:
        if engine != "local":
            pytest.importorskip("distributed")
        if engine == "scheduler":
            options = {"engine": "dask", "scheduler": stack.enter_context(running_cluster(2))}

        with pytest.raises(InvalidInput) as caught:
            sweep(target, trials=2, parallel=2, study=name, params={"done": str(tmp_path / "0")}, **options)

    assert str(caught.value) == f"study '{name}': trial 1: {reason}; the sweep stopped (2 trials ended)"
    (sweep_run,) = [r for r in client.search_runs(max_results=100).items if r.parent_run_id is None]
    assert sweep_run.status is RunStatus.FAILED
    runs = _children(client, sweep_run.id)
    assert [(r.name, r.status) for r in runs] == [
        ("trial-0", RunStatus.FINISHED),
        ("trial-1", RunStatus.KILLED),  # ended here: its worker could not
    ]
    journal = str(tmp_path / ".slipway" / "sweeps" / f"{name}.journal")
    study = optuna.load_study(study_name=name, storage=_journal(journal))
    assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL"]  # told, and not run again


def test_a_value_that_is_not_a_number_fails_its_trial(tmp_path: Path) -> None:
    target = _write(
        tmp_path,
        "odd_values",
        """
        import numpy as np

        def objective(trial):
            n = trial.suggest_int("n", 0, 9)
            return [np.int64(n), None, float("nan")][trial.number % 3]
        """,
    )

    result = sweep(target, trials=3)

    assert [t.state for t in result.trials] == ["COMPLETE", "FAIL", "FAIL"]
    assert result.trials[0].value == result.trials[0].params["n"]
    assert result.trials[1].error == "the objective returned None: expected a number"
    assert result.trials[2].error == "the objective returned nan: expected a number"


def test_when_every_trial_fails_the_sweep_fails_with_the_first_error(
    tmp_path: Path, client: TrackingClient
) -> None:
    target = _write(
        tmp_path,
        "broken",
        """
        def objective(trial):
            trial.suggest_int("n", 1, 3)
            raise ValueError(f"bad data in trial {trial.number}")
        """,
    )

    with pytest.raises(
        InvalidInput, match=r"^all 2 trials failed; trial 0: ValueError: bad data in trial 0$"
    ):
        sweep(target, trials=2, parallel=2)

    (sweep_run,) = [r for r in client.search_runs(max_results=100).items if r.parent_run_id is None]
    assert sweep_run.status is RunStatus.FAILED
    assert [r.status for r in _children(client, sweep_run.id)] == [RunStatus.FAILED] * 2


def test_pruned_trials_are_recorded_as_pruned(tmp_path: Path, client: TrackingClient) -> None:
    target = _write(
        tmp_path,
        "pruned",
        """
        import optuna

        def objective(trial):
            x = trial.suggest_float("x", 0, 1)
            if trial.number % 2:
                raise optuna.TrialPruned()
            return x
        """,
    )

    result = sweep(target, trials=4)

    assert result.states == {"COMPLETE": 2, "PRUNED": 2, "FAIL": 0}
    assert [r.tags["sweep.state"] for r in _children(client, result.run_id)] == [
        "COMPLETE",
        "PRUNED",
        "COMPLETE",
        "PRUNED",
    ]


def test_a_study_resumed_by_name_continues_where_it_stopped(tmp_path: Path) -> None:
    target = _write(tmp_path, "quadratic_resume", QUADRATIC)

    first = sweep(target, trials=2, study="tune", direction="minimize", seed=1)
    second = sweep(target, trials=3, study="tune")

    assert [t.number for t in second.trials] == [2, 3, 4]
    assert second.direction == "minimize"
    everything = [*first.trials, *second.trials]
    assert second.best_value == min(t.value for t in everything if t.value is not None)
    with pytest.raises(Conflict, match="created to minimize, not to maximize"):
        sweep(target, trials=1, study="tune", direction="maximize")


def test_an_rdb_storage_holds_the_study(tmp_path: Path) -> None:
    target = _write(tmp_path, "quadratic_sqlite", QUADRATIC)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"

    sweep(target, trials=2, study="rdb", storage=url)
    second = sweep(target, trials=1, study="rdb", storage=url)

    assert [t.number for t in second.trials] == [2]
    assert len(_trials("rdb", url)) == 3


@pytest.mark.postgres
def test_parallel_workers_share_a_postgresql_study(tmp_path: Path, empty_postgres_url: str) -> None:
    target = _write(tmp_path, "quadratic_pg", QUADRATIC)

    result = sweep(target, trials=4, parallel=2, storage=empty_postgres_url, study="pg")

    assert result.states["COMPLETE"] == 4
    assert sorted(t.number for t in _trials("pg", empty_postgres_url)) == [0, 1, 2, 3]


def test_keyword_params_reach_the_objective(tmp_path: Path, client: TrackingClient) -> None:
    target = _write(tmp_path, "quadratic_params", QUADRATIC)

    result = sweep(target, trials=2, params={"offset": 100.0})

    assert all((t.value or 0) > 80**2 for t in result.trials)  # x <= 10, so (x - 100)^2 >= 90^2
    assert client.get_run(result.run_id).params["offset"] == "100.0"
    with pytest.raises(InvalidInput, match=r"param 'scale': the objective takes no such keyword argument"):
        sweep(target, trials=1, params={"scale": 2})


def test_the_timeout_stops_starting_trials(tmp_path: Path) -> None:
    target = _write(
        tmp_path,
        "slow_trial",
        """
        import time

        def objective(trial):
            time.sleep(0.4)
            return trial.suggest_float("x", 0, 1)
        """,
    )

    result = sweep(target, trials=20, timeout=0.6)

    assert 1 <= len(result.trials) <= 3
    assert result.not_started == 20 - len(result.trials)


def test_a_function_objective_runs_in_process(tmp_path: Path) -> None:
    def objective(trial: object, offset: float = 0.0) -> float:
        return float(trial.suggest_int("n", 0, 3)) + offset  # type: ignore[attr-defined]

    result = sweep(objective, trials=3, direction="maximize", params={"offset": 1})

    assert result.study.startswith("objective-")
    assert all(t.value == t.params["n"] + 1 for t in result.trials)


def test_inside_an_active_run_the_sweep_nests_under_it(tmp_path: Path, client: TrackingClient) -> None:
    import slipway
    from slipway import _api

    target = _write(tmp_path, "quadratic_nested", QUADRATIC)
    _api._reset_for_tests()  # the fluent API's client from an earlier test points at its folder
    try:
        with slipway.start_run(experiment="tuning") as outer:
            result = sweep(target, trials=2)
    finally:
        _api._reset_for_tests()

    assert client.get_run(result.run_id).parent_run_id == outer.id
    trials = _children(client, result.run_id)
    assert {r.experiment_id for r in trials} == {outer.experiment_id}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"trials": 0}, r"^trials 0: expected a whole number of at least 1$"),
        ({"trials": 2, "parallel": 0}, r"^parallel 0: expected a whole number"),
        ({"trials": 2, "engine": "spark"}, r"^engine 'spark': expected one of local, dask$"),
        ({"trials": 2, "direction": "up"}, r"^direction 'up': expected one of minimize, maximize$"),
        ({"trials": 2, "timeout": 0}, r"^timeout 0: expected a positive number of seconds$"),
        ({"trials": 2, "study": "a b"}, r"^study 'a b': expected letters, digits"),
        ({"trials": 2, "scheduler": "tcp://h:8786"}, r"only the dask engine connects to a scheduler$"),
        (
            {"trials": 2, "engine": "dask", "scheduler": "tcp://h:8786"},
            r"^storage \(--storage\) /.*\.journal: the workers of scheduler tcp://h:8786 may run on other",
        ),
        (
            {"trials": 2, "engine": "dask", "scheduler": "tcp://h:8786", "storage": "postgresql://h/optuna"},
            r"^tracking store \(SLIPWAY_TRACKING_URI\) sqlite:///.*cannot reach a local file or folder",
        ),
    ],
)
def test_bad_options_are_one_line_errors_before_anything_runs(
    tmp_path: Path, client: TrackingClient, options: dict[str, object], message: str
) -> None:
    target = _write(tmp_path, "quadratic_bad", QUADRATIC)

    with pytest.raises(InvalidInput, match=message):
        sweep(target, **options)  # type: ignore[arg-type]

    assert client.search_runs(max_results=1).items == []


def test_a_storage_password_is_never_shown_even_holding_an_at_sign(tmp_path: Path) -> None:
    target = _write(tmp_path, "quadratic_secret", QUADRATIC)
    url = "postgresql+psycopg://user:p@ss:w@127.0.0.1:1/optuna"  # nothing listens on port 1

    with pytest.raises(InvalidInput) as caught:
        sweep(target, trials=1, storage=url)

    message = str(caught.value)
    assert message.startswith("storage postgresql+psycopg://user:***@127.0.0.1:1/optuna: ")
    assert "p@ss" not in message
    assert "ss:w" not in message


def test_an_objective_that_is_not_a_function_of_a_trial_is_refused(tmp_path: Path) -> None:
    (tmp_path / "values.py").write_text("objective = 3\n\ndef nothing():\n    return 1.0\n")

    with pytest.raises(InvalidInput, match=r"values.py:objective: expected a function objective\(trial\)"):
        sweep("values.py:objective", trials=1)
    with pytest.raises(InvalidInput, match=r"taking the trial first"):
        sweep("values.py:nothing", trials=1)


def test_trials_on_a_dask_cluster_are_nested_runs_of_the_sweep(
    tmp_path: Path, client: TrackingClient
) -> None:
    pytest.importorskip("distributed")
    target = _write(
        tmp_path,
        "on_dask",
        """
        import os
        import slipway

        def objective(trial):
            slipway.log_param("pid", os.getpid())
            return trial.suggest_float("x", 0, 1)
        """,
    )

    result = sweep(target, trials=4, parallel=2, engine="dask", seed=3)

    runs = _children(client, result.run_id)
    assert len(runs) == 4
    assert all(r.status is RunStatus.FINISHED and "value" in r.metrics for r in runs)
    assert len({r.params["pid"] for r in runs}) == 2  # two single-threaded worker processes
    assert result.states["COMPLETE"] == 4


def _trials(study: str, url: str) -> list[Any]:
    storage = optuna.storages.RDBStorage(url)
    try:
        return list(optuna.load_study(study_name=study, storage=storage).trials)
    finally:
        storage.engine.dispose()


def _journal(path: str) -> object:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(path))
