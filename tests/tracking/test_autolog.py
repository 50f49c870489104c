"""Autolog for scikit-learn, through the explicit hooks the fluent API also uses."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from slipway.core import RunStatus
from slipway.models import Model, load_model
from slipway.tracking import autolog

if TYPE_CHECKING:
    from collections.abc import Iterator

    from slipway.tracking import ActiveRun, TrackingClient


class Hooks:
    """A minimal "current run" for the test, standing in for slipway._api."""

    def __init__(self, client: TrackingClient) -> None:
        self.client = client
        self.current: ActiveRun | None = None
        self.started: list[ActiveRun] = []

    def active_run(self) -> ActiveRun | None:
        return self.current

    def start_run(self, name: str) -> ActiveRun:
        run = self.client.start_run(experiment="auto", name=name, capture_environment=False)
        self.started.append(run)
        return run

    def start_nested(self, parent: ActiveRun, name: str) -> ActiveRun:
        run = self.client.start_run(parent=parent, name=name, capture_environment=False)
        self.started.append(run)
        return run


@pytest.fixture
def hooks(client: TrackingClient) -> Iterator[Hooks]:
    h = Hooks(client)
    autolog(active_run=h.active_run, start_run=h.start_run, start_nested=h.start_nested)
    yield h
    autolog(active_run=h.active_run, start_run=h.start_run, disable=True)


def test_a_pipeline_logs_once_with_params_metrics_data_and_model(
    hooks: Hooks, client: TrackingClient
) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.5, max_iter=500))])
    with client.start_run(experiment="auto", capture_environment=False) as run:
        hooks.current = run
        pipe.fit(X, y)
        hooks.current = None

    assert hooks.started == []  # the active run was used
    got = client.get_run(run.id)
    assert got.params["clf__C"] == "0.5"
    assert got.params["scale__with_mean"] == "True"
    assert "scale__copy" in got.params
    expected = {"accuracy", "precision", "recall", "f1", "log_loss", "roc_auc"}
    assert {k.removeprefix("training_") for k in got.metrics} == expected
    assert got.metrics["training_accuracy"] == pytest.approx(pipe.score(X, y))
    # one fit logged: each metric has a single point (inner StandardScaler/LogisticRegression fits are silent)
    assert len(client.get_metric_history(run.id, "training_accuracy")) == 1
    assert got.tags["slipway.autolog.estimator"] == "sklearn.pipeline.Pipeline"
    datasets = {d.name: d for d in client.get_datasets(run.id)}
    assert datasets["X_train"].role == "training"
    assert datasets["X_train"].num_rows == len(X)
    assert datasets["y_train"].num_columns == 1

    model = _model(client, run.id)  # a slipway model folder: verified, with a signature and an example
    np.testing.assert_array_equal(model.predict(X), pipe.predict(X))
    assert model.flavor == "sklearn"
    assert model.signature is not None
    assert [c.name for c in model.signature.inputs.columns or ()] == list(X.columns)
    assert any(r.startswith("scikit-learn==") for r in model.manifest.requirements)
    assert model.input_example is not None


def test_without_an_active_run_a_fit_starts_and_ends_one(hooks: Hooks, client: TrackingClient) -> None:
    X, y = load_diabetes(return_X_y=True)
    LinearRegression().fit(X, y)

    [run] = hooks.started
    got = client.get_run(run.id)
    assert got.status.value == "FINISHED"
    assert got.name == "LinearRegression"
    assert set(got.metrics) == {"training_mae", "training_mse", "training_rmse", "training_r2"}
    assert got.metrics["training_rmse"] == pytest.approx(got.metrics["training_mse"] ** 0.5)


def test_multiclass_and_a_failing_fit(hooks: Hooks, client: TrackingClient) -> None:
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=500).fit(X, y)
    assert "training_roc_auc" in client.get_run(hooks.started[-1].id).metrics
    with pytest.raises(ValueError, match="C"):
        LogisticRegression(C=-1).fit(X, y)
    assert client.get_run(hooks.started[-1].id).status.value == "FAILED"


def test_disable_restores_the_original_methods(client: TrackingClient) -> None:
    original = LogisticRegression.fit
    h = Hooks(client)
    autolog(active_run=h.active_run, start_run=h.start_run)
    assert LogisticRegression.fit is not original

    class Late(LinearRegression):  # type: ignore[misc]  # defined after autolog: patched via __init_subclass__
        def fit(self, X, y, sample_weight=None):  # type: ignore[no-untyped-def,unused-ignore]
            return super().fit(X, y, sample_weight)

    assert "__wrapped__" in vars(Late.fit)
    autolog(active_run=h.active_run, start_run=h.start_run, disable=True)
    assert LogisticRegression.fit is original
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=500).fit(X, y)
    assert h.started == []


def test_a_sweep_inside_one_run_keeps_every_fit_in_nested_runs(hooks: Hooks, client: TrackingClient) -> None:
    X, y = load_iris(return_X_y=True)
    with client.start_run(experiment="auto", capture_environment=False) as run:
        hooks.current = run
        for c in (0.1, 1.0, 10.0):
            LogisticRegression(C=c, max_iter=500).fit(X, y)
        hooks.current = None

    assert client.get_run(run.id).params["C"] == "0.1"  # the first fit is the run's own
    children = client.search_runs(filter=f"attributes.parent_run_id = '{run.id}'").items
    assert sorted(r.params["C"] for r in children) == ["1.0", "10.0"]
    for child in children:
        assert child.name == "LogisticRegression"
        assert child.status is RunStatus.FINISHED
        assert "training_accuracy" in child.metrics
        fitted = _model(client, child.id).raw
        assert isinstance(fitted, LogisticRegression)
        assert float(child.params["C"]) == fitted.C
    first = _model(client, run.id).raw
    assert isinstance(first, LogisticRegression)
    assert first.C == 0.1


def test_a_fit_whose_params_clash_with_the_users_gets_its_own_run(
    hooks: Hooks, client: TrackingClient
) -> None:
    X, y = load_iris(return_X_y=True)
    with client.start_run(experiment="auto", capture_environment=False) as run:
        run.log_param("C", 5)
        hooks.current = run
        LogisticRegression(C=1.0, max_iter=500).fit(X, y)
        hooks.current = None
    assert client.get_run(run.id).params == {"C": "5"}
    [child] = client.search_runs(filter=f"attributes.parent_run_id = '{run.id}'").items
    assert child.params["C"] == "1.0"


def test_refitting_the_same_params_without_models_stays_in_the_run(client: TrackingClient) -> None:
    h = Hooks(client)
    autolog(active_run=h.active_run, start_run=h.start_run, start_nested=h.start_nested, log_models=False)
    try:
        X, y = load_iris(return_X_y=True)
        with client.start_run(experiment="auto", capture_environment=False) as run:
            h.current = run
            for _ in range(2):
                LogisticRegression(max_iter=500).fit(X, y)
    finally:
        autolog(active_run=h.active_run, start_run=h.start_run, disable=True)
    assert h.started == []
    assert len(client.get_metric_history(run.id, "training_accuracy")) == 2


def _model(client: TrackingClient, run_id: str) -> Model:
    # each test runs in its own folder (tests/conftest.py), so a relative cache is private to it
    cache = Path("model-cache")
    return load_model(f"runs:/{run_id}/model", store=client.store, blobs=client.blobs, cache_dir=cache)
