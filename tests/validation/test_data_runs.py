"""A schema kept with its run's dataset, and found again from the run or from the model it trained."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pytest

from slipway.artifacts import open_blob_store
from slipway.errors import ArtifactNotFound, InvalidInput, NotFound
from slipway.registry import Registry
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient
from slipway.validation import infer_schema, load_schema, log_schema, validate_data

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def tracking(tmp_path: Path) -> Iterator[TrackingClient]:
    store = open_metadata_store(f"sqlite:///{tmp_path / 'slipway.db'}")
    client = TrackingClient(store, open_blob_store(str(tmp_path / "artifacts")), flush_interval=0.05)
    yield client
    client.close()


def _iris() -> tuple[pd.DataFrame, pd.Series[int]]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y


def test_log_schema_keeps_the_schema_with_the_dataset_and_the_run(tracking: TrackingClient) -> None:
    X, _ = _iris()
    schema = infer_schema(X)

    with tracking.start_run(experiment="iris") as run:
        uri = log_schema(run, schema, name="train", data=X, role="training")

    assert uri == f"runs:/{run.id}/schemas/train.yaml"
    [record] = tracking.get_datasets(run.id)
    assert (record.name, record.role) == ("train", "training")
    assert tracking.get_run(run.id).tags["slipway.schema.train"] == "schemas/train.yaml"
    loaded = load_schema(uri, tracking=tracking)
    assert loaded.columns == schema.columns
    assert loaded.dataset == {"name": "train", "rows": 150, "digest": record.digest}
    assert loaded.source == uri


def test_a_run_id_or_its_prefix_finds_its_schema(tracking: TrackingClient) -> None:
    X, _ = _iris()
    with tracking.start_run() as run:
        log_schema(run, infer_schema(X))
        log_schema(run, infer_schema(X.head(10)), name="holdout")

    assert load_schema(f"runs:/{run.id[:8]}", tracking=tracking).dataset["rows"] == 150  # train
    assert load_schema(f"runs:/{run.id}", tracking=tracking, name="holdout").dataset["rows"] == 10
    one = load_schema(f"runs:/{run.id}/schemas/holdout.yaml", tracking=tracking)
    assert one.source == f"runs:/{run.id}/schemas/holdout.yaml"


def test_the_schema_of_a_registered_model_is_that_of_its_training_run(
    tracking: TrackingClient, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = _iris()
    with tracking.start_run(experiment="iris") as run:
        log_schema(run, infer_schema(X), data=X, role="training")
        run.log_model(LogisticRegression(max_iter=500).fit(X, y), "model", input_example=X.head(2))
    registry = Registry(tracking.store, tracking.blobs)
    registry.register(f"runs:/{run.id}/model", "iris", actor="test")
    registry.set_alias("iris", "production", 1, actor="test")

    schema = load_schema("models:/iris@production", tracking=tracking)
    drifted = X.assign(**{"petal length (cm)": X["petal length (cm)"] * 3})
    result = validate_data(drifted, schema)

    assert schema.source == f"runs:/{run.id}/schemas/train.yaml"
    assert [(a.column, a.kind) for a in result.anomalies] == [("petal length (cm)", "out_of_range")]


def test_lookups_that_find_nothing_say_why(tracking: TrackingClient, tmp_path: Path) -> None:
    with tracking.start_run() as bare:
        pass
    with tracking.start_run() as two:
        log_schema(two, infer_schema(pd.DataFrame({"x": [1]})), name="a")
        log_schema(two, infer_schema(pd.DataFrame({"x": [1]})), name="b")

    with pytest.raises(ArtifactNotFound, match=f"runs:/{bare.id}: run {bare.id} logged no schema"):
        load_schema(f"runs:/{bare.id}", tracking=tracking)
    with pytest.raises(InvalidInput, match=f"run {two.id} has schemas a, b; name one"):
        load_schema(f"runs:/{two.id}", tracking=tracking)
    with pytest.raises(
        ArtifactNotFound, match=f"runs:/{two.id}/schemas/c.yaml: the run has no such artifact"
    ):
        load_schema(f"runs:/{two.id}", tracking=tracking, name="c")
    with pytest.raises(InvalidInput, match="a runs:/ or models:/ URI needs the tracking stores"):
        load_schema(f"runs:/{two.id}")
    with pytest.raises(InvalidInput, match=r"expected runs:/RUN_ID or runs:/RUN_ID/schemas/NAME\.yaml"):
        load_schema("runs:/", tracking=tracking)
    with pytest.raises(NotFound, match="model 'nope'"):
        load_schema("models:/nope@production", tracking=tracking)


def test_a_model_registered_from_a_folder_has_no_run_to_hold_a_schema(
    tracking: TrackingClient, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    from slipway.models import save_model

    X, y = _iris()
    save_model(LogisticRegression(max_iter=500).fit(X, y), tmp_path / "m", input_example=X.head(2))
    Registry(tracking.store, tracking.blobs).register(tmp_path / "m", "folder", actor="test")

    with pytest.raises(NotFound, match="registered from a folder, not a run; no schema"):
        load_schema("models:/folder/1", tracking=tracking)


def test_schema_names_are_file_names(tracking: TrackingClient) -> None:
    schema = infer_schema(pd.DataFrame({"x": [1]}))
    with tracking.start_run() as run:
        for bad in ("../x", "a/b", "train.yaml", ""):
            with pytest.raises(InvalidInput, match="schema name"):
                log_schema(run, schema, name=bad)
