"""The retraining template end to end: validate, train, register, gate against the champion, promote."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from tests.pipelines._project import Project, isolated_project

import slipway
from slipway.pipelines import retrain, run
from slipway.registry import Registry

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd

MODEL = "cancer"

STRONG = """
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def strong(x, y):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, y)


def prior(x, y):
    from sklearn.dummy import DummyClassifier

    return DummyClassifier(strategy="prior").fit(x, y)
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from isolated_project(tmp_path)


def _data() -> pd.DataFrame:
    frame: pd.DataFrame = load_breast_cancer(as_frame=True).frame
    return frame


def _champion(frame: pd.DataFrame) -> None:
    """Version 1 at production: a weak model (few rows, heavy regularisation, unscaled)."""
    few = frame.sample(60, random_state=1)
    x, y = few.drop(columns=["target"]), few["target"]
    with slipway.start_run(experiment="champion"):
        info = slipway.log_model(LogisticRegression(C=1e-4, max_iter=200).fit(x, y), input_example=x.head(3))
    slipway.register_model(info.uri, MODEL)
    tracking = slipway.client()
    Registry(tracking.store, tracking.blobs).set_alias(MODEL, "production", 1, actor="test")


def _versions() -> list[int]:
    return sorted(v.version for v in slipway.client().store.list_model_versions(MODEL))


def _holder() -> int:
    return slipway.client().store.get_version_by_alias(MODEL, "production").version


def test_a_better_challenger_is_registered_gated_and_promoted_and_a_rerun_adds_nothing(
    project: Project, tmp_path: Path
) -> None:
    frame = _data()
    _champion(frame)
    frame.to_parquet(tmp_path / "fresh.parquet")
    project.write("trainers.py", STRONG)
    params = {
        "model": MODEL,
        "data": tmp_path / "fresh.parquet",
        "target": "target",
        "trainer": f"{tmp_path / 'trainers.py'}:strong",
        "promote": True,
    }

    first = run(retrain, params=params)

    assert first.ok, first.error
    assert first.output("promote_version") == {
        "promoted": True,
        "version": 2,
        "reason": "production -> version 2",
    }
    assert _versions() == [1, 2]
    assert _holder() == 2
    assert first.output("gate")["passed"] is True
    gate = slipway.client().store.get_model_version(MODEL, 2)
    assert gate.version == 2
    # The new version's run keeps the schema its training data defines, for the next retraining.
    from slipway.validation import load_schema

    schema = load_schema(f"models:/{MODEL}@production", tracking=slipway.client(), name="train")
    assert "mean radius" in schema.columns

    again = run(retrain, params=params)

    assert again.ok, again.error
    assert _versions() == [1, 2]  # nothing retrained, nothing registered
    statuses = {name: s.status for name, s in again.steps.items()}
    assert statuses["train"] == statuses["register"] == statuses["split"] == "cached"
    assert statuses["validate_data"] == "ran"  # against the new champion's schema
    assert again.output("promote_version")["reason"] == "version 2 already holds production"


def test_a_challenger_that_loses_is_registered_but_not_promoted(project: Project, tmp_path: Path) -> None:
    frame = _data()
    _champion(frame)
    frame.to_parquet(tmp_path / "fresh.parquet")
    project.write("trainers.py", STRONG)
    trainer = f"{tmp_path / 'trainers.py'}:prior"  # predicts the class shares: ROC AUC 0.5

    params = {"model": MODEL, "data": tmp_path / "fresh.parquet", "target": "target", "trainer": trainer}
    result = run(retrain, params={**params, "promote": True})

    assert result.ok, result.error
    outcome = result.output("promote_version")
    assert outcome["promoted"] is False
    assert outcome["reason"].startswith("gate failed: no_regression:roc_auc")
    assert _versions() == [1, 2]
    assert _holder() == 1


def test_data_that_breaks_the_champions_schema_stops_before_training(
    project: Project, tmp_path: Path
) -> None:
    frame = _data()
    _champion(frame)
    project.write("trainers.py", STRONG)
    frame.to_parquet(tmp_path / "fresh.parquet")
    common = {"model": MODEL, "target": "target", "trainer": f"{tmp_path / 'trainers.py'}:strong"}
    assert run(retrain, params={**common, "data": tmp_path / "fresh.parquet", "promote": True}).ok
    broken = frame.drop(columns=["mean area"])
    broken["mean radius"] = broken["mean radius"] * 1000
    broken.to_parquet(tmp_path / "broken.parquet")

    result = run(retrain, params={**common, "data": tmp_path / "broken.parquet"})

    assert not result.ok
    assert result.error is not None
    assert result.error.startswith("step validate_data failed: DataValidationFailed")
    assert "mean area" in result.error
    assert result.steps["train"].status == "skipped"
    assert _versions() == [1, 2]


def test_editing_the_trainer_or_the_policy_reruns_the_steps_that_read_them(
    project: Project, tmp_path: Path
) -> None:
    frame = _data()
    _champion(frame)
    frame.to_parquet(tmp_path / "fresh.parquet")
    project.write("trainers.py", STRONG)
    project.write(
        "gate.yaml", "compare: {alias: production}\nchecks:\n  - {kind: metric, metric: accuracy, min: 0.5}\n"
    )
    params = {
        "model": MODEL,
        "data": tmp_path / "fresh.parquet",
        "target": "target",
        "trainer": f"{tmp_path / 'trainers.py'}:strong",
        "policy": str(tmp_path / "gate.yaml"),
    }
    assert run(retrain, params=params).ok

    project.write("trainers.py", STRONG.replace("max_iter=2000", "max_iter=2000, C=0.5"))
    edited = run(retrain, params=params)

    assert edited.ok, edited.error
    assert edited.steps["train"].status == "ran"
    assert _versions() == [1, 2, 3]  # a different model: registered

    project.write(
        "gate.yaml",
        "compare: {alias: production}\nchecks:\n  - {kind: metric, metric: accuracy, min: 0.99}\n",
    )
    stricter = run(retrain, params=params)

    assert stricter.ok, stricter.error
    assert stricter.steps["train"].status == stricter.steps["register"].status == "cached"
    assert stricter.steps["gate"].status == "ran"
    assert stricter.output("promote_version")["reason"].startswith("gate failed: accuracy >= 0.99")


def test_the_champion_is_described_without_what_changes_between_loads() -> None:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    from slipway.pipelines._template import _describe

    a = RandomForestClassifier(n_estimators=3, random_state=np.random.RandomState(0))
    b = RandomForestClassifier(n_estimators=3, random_state=np.random.RandomState(0))
    assert _describe(a) == _describe(b)
    assert "n_estimators=3" in _describe(a)
    assert _describe(a) != _describe(RandomForestClassifier(n_estimators=4))
