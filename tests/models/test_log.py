"""Models through tracking: log_model on the active run, load_model from runs:/ with a digest cache."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

import slipway
from slipway import _api
from slipway.artifacts import open_blob_store
from slipway.errors import AlreadyExists, ArtifactNotFound, IntegrityViolation, InvalidInput
from slipway.models import load_model, log_model, read_manifest
from slipway.models._manifest import write_manifest
from slipway.models._model import load_folder
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd
    from tests._team_server import TeamServer


@pytest.fixture(autouse=True)
def _fresh_api() -> Iterator[None]:
    _api._reset_for_tests()
    yield
    _api._reset_for_tests()


@pytest.fixture
def trained() -> tuple[Any, pd.DataFrame]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return LogisticRegression(max_iter=5000).fit(X, y), X


def test_log_model_records_the_folder_and_its_lineage(trained: tuple[Any, pd.DataFrame]) -> None:
    model, X = trained
    with slipway.start_run(experiment="models") as run:
        record = slipway.log_dataset(X, name="train", role="training")
        info = slipway.log_model(model, "model", input_example=X.head(3), metadata={"owner": "risk"})
    assert info.uri == f"runs:/{run.id}/model"
    paths = {e.path for e in slipway.client().list_artifacts(run.id, prefix="model/")}
    assert paths == {
        "model/slipway.yaml",
        "model/model.pkl",
        "model/input_example.json",
        "model/requirements.txt",
    }
    lineage = info.manifest.lineage
    assert lineage is not None
    assert lineage.run_id == run.id
    assert [(d.digest, d.name, d.role) for d in lineage.datasets] == [(record.digest, "train", "training")]
    assert lineage.git_commit == run.info.tags.get("slipway.git.commit")
    stored = slipway.client().read_artifact(run.id, "model/slipway.yaml")
    assert hashlib.sha256(stored).hexdigest() == info.manifest_digest


def test_load_from_a_run_downloads_once_and_predicts_the_same(
    trained: tuple[Any, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model, X = trained
    with slipway.start_run():
        info = slipway.log_model(model, input_example=X.head(3))
    first = slipway.load_model(info.uri)
    np.testing.assert_array_equal(first.predict(X), model.predict(X))
    np.testing.assert_allclose(first.predict_proba(X.head(5)), model.predict_proba(X.head(5)))
    assert first.path.is_relative_to(tmp_path / ".slipway" / "cache" / "models")

    downloads: list[str] = []
    blobs = slipway.client().blobs
    real = blobs.download

    def counting(digest: str, dest: Path) -> Path:
        downloads.append(digest)
        return real(digest, dest)

    monkeypatch.setattr(blobs, "download", counting)
    second = slipway.load_model(info.uri)
    assert downloads == []
    assert second.path == first.path


def test_a_cached_copy_is_verified_on_every_load_and_repaired(trained: tuple[Any, pd.DataFrame]) -> None:
    model, X = trained
    with slipway.start_run():
        info = slipway.log_model(model, input_example=X.head(3))
    folder = slipway.load_model(info.uri).path

    (folder / "model.pkl").write_bytes(b"tampered")
    again = slipway.load_model(info.uri)  # the damaged copy is moved aside and downloaded again
    assert again.path == folder
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_a_re_signed_manifest_in_the_cache_is_caught_by_the_runs_digest(
    trained: tuple[Any, pd.DataFrame],
) -> None:
    model, X = trained
    with slipway.start_run():
        info = slipway.log_model(model, input_example=X.head(3))
    folder = slipway.load_model(info.uri).path
    manifest = read_manifest(folder)
    write_manifest(folder, replace(manifest, requirements=()))  # a valid, self-consistent manifest
    load_model(folder)  # as a plain folder it loads: nothing outside vouches for it
    with pytest.raises(IntegrityViolation, match="differs from the one recorded for this model"):
        load_folder(folder, manifest_digest=info.manifest_digest)
    assert slipway.load_model(info.uri).manifest.requirements == manifest.requirements  # repaired


def test_run_paths_that_are_not_models_are_named(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    with slipway.start_run() as run:
        slipway.log_artifact(tmp_path / "notes.txt", "docs")
    with pytest.raises(ArtifactNotFound, match="no artifacts under 'model'"):
        slipway.load_model(f"runs:/{run.id}/model")
    with pytest.raises(InvalidInput, match=r"not a slipway model \(no slipway.yaml under 'docs'\)"):
        slipway.load_model(f"runs:/{run.id}/docs")


@pytest.mark.e2e
def test_log_and_load_through_the_team_server(
    team_server: TeamServer, trained: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, X = trained
    store = open_metadata_store(team_server.url, token=team_server.token)
    blobs = open_blob_store(team_server.url, token=team_server.token)
    client = TrackingClient(store, blobs, flush_interval=0.05)
    try:
        with client.start_run(experiment="models-e2e") as run:
            info = log_model(model, "clf", run=run, store=store, input_example=X.head(2))
        loaded = load_model(info.uri, store=store, blobs=blobs, cache_dir=tmp_path / "cache")
        np.testing.assert_array_equal(loaded.predict(X.head(20)), model.predict(X.head(20)))
    finally:
        client.close()


def test_a_second_model_at_the_same_path_of_a_run_is_refused(trained: tuple[Any, pd.DataFrame]) -> None:
    model, X = trained
    with slipway.start_run() as run:
        first = slipway.log_model(model, input_example=X.head(3))
        with pytest.raises(AlreadyExists, match=rf"run {run.id} already has artifacts under 'model'"):
            slipway.log_model(model, input_example=X.head(5))
        other = slipway.log_model(model, "challenger", input_example=X.head(5))
    assert slipway.load_model(first.uri).manifest == first.manifest
    assert other.uri.endswith("/challenger")
