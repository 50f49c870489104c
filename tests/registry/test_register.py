"""Registering versions from a run and from a folder: digests, lineage, versions, and bad input."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pytest
from tests.registry._helpers import register_many

from slipway.core import AuditAction
from slipway.errors import (
    ArtifactNotFound,
    IntegrityViolation,
    InvalidInput,
    ModelNotFound,
    NotFound,
    RunNotFound,
)
from slipway.models import MANIFEST_FILE, save_model

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from slipway.artifacts import BlobStore
    from slipway.models import ModelInfo
    from slipway.registry import Registry
    from slipway.store import MetadataStore
    from slipway.tracking import TrackingClient


def test_register_from_a_run_pins_the_runs_digests_without_uploading(
    registry: Registry,
    store: MetadataStore,
    blobs: BlobStore,
    logged: ModelInfo,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for method in ("put_file", "put_bytes", "download"):  # no upload, no download of the model files
        monkeypatch.setattr(blobs, method, _forbidden(method))
    mv = registry.register(logged.uri, "churn", description="first", tags={"team": "risk"}, actor="alice")

    assert (mv.name, mv.version, mv.source, mv.run_id) == ("churn", 1, logged.uri, logged.run_id)
    assert mv.manifest_digest == logged.manifest_digest
    assert (mv.description, mv.tags, mv.creator) == ("first", {"team": "risk"}, "alice")
    run_files = {
        e.path.removeprefix("model/"): e.digest for e in store.list_artifacts(logged.run_id, prefix="model/")
    }
    version_files = {e.path: e.digest for e in store.list_model_version_files("churn", 1)}
    assert version_files == run_files
    assert version_files[MANIFEST_FILE] == mv.manifest_digest


def test_lineage_comes_from_the_manifest_and_the_run(
    registry: Registry, client: TrackingClient, logged: ModelInfo
) -> None:
    first = registry.register(logged.uri, "churn", actor="alice")
    second = registry.register(logged.uri, "churn", actor="alice")

    recorded = logged.manifest.lineage
    assert recorded is not None
    assert first.lineage["run_id"] == logged.run_id
    assert first.lineage["datasets"] == [d.to_dict() for d in recorded.datasets]
    assert {d["role"] for d in first.lineage["datasets"]} == {"training", "evaluation"}
    run = client.get_run(logged.run_id)
    assert first.lineage["git_commit"] == run.tags.get("slipway.git.commit")
    dirty = run.tags.get("slipway.git.dirty")
    assert first.lineage["git_dirty"] == (None if dirty is None else dirty == "true")
    assert first.lineage["previous_version"] is None
    assert second.lineage["previous_version"] == 1
    assert registry.get_version("churn", 2).lineage["previous_version"] == 1


def test_versions_count_up_and_each_registration_is_audited(registry: Registry, logged: ModelInfo) -> None:
    assert register_many(registry, logged.uri, 3) == [1, 2, 3]
    assert registry.register(logged.uri, "other", actor="bob").version == 1
    assert [v.version for v in registry.list_versions("churn")] == [3, 2, 1]
    assert registry.get_model("churn").latest_version == 3
    events = list(registry.audit(model="churn", action=AuditAction.REGISTER))
    assert [(e.version, e.actor) for e in events] == [(1, "alice"), (2, "alice"), (3, "alice")]


def test_register_from_a_folder_uploads_and_verifies_it(
    registry: Registry,
    store: MetadataStore,
    blobs: BlobStore,
    tmp_path: Path,
    trained: tuple[Any, pd.DataFrame],
) -> None:
    model, X = trained
    folder = tmp_path / "saved"
    manifest = save_model(model, folder, input_example=X.head(2))
    mv = registry.register(folder, "churn", actor="alice")

    data = (folder / MANIFEST_FILE).read_bytes()
    assert mv.manifest_digest == hashlib.sha256(data).hexdigest()
    assert mv.source == str(folder.resolve())
    files = {e.path: e.digest for e in store.list_model_version_files("churn", 1)}
    assert files == {**manifest.files, MANIFEST_FILE: mv.manifest_digest}
    assert all(blobs.exists(d) for d in files.values())
    assert mv.run_id is None


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda f: (f / "model.pkl").write_bytes(b"tampered"), "does not match its recorded digest"),
        (lambda f: (f / "extra.py").write_text("import os"), "not listed in the manifest"),
        (lambda f: (f / "input_example.json").unlink(), "is missing"),
        (lambda f: _edit(f / MANIFEST_FILE, b"sklearn", b"pyfunc"), "was changed after it was written"),
    ],
)
def test_a_damaged_folder_is_refused_and_nothing_is_written(
    registry: Registry, tmp_path: Path, trained: tuple[Any, pd.DataFrame], damage: Any, needle: str
) -> None:
    model, X = trained
    folder = tmp_path / "saved"
    save_model(model, folder, input_example=X.head(2))
    damage(folder)
    with pytest.raises(IntegrityViolation, match=needle):
        registry.register(folder, "churn", actor="alice")
    with pytest.raises(ModelNotFound):
        registry.get_model("churn")


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (lambda f: (f / "model.pkl").write_bytes(b"tampered"), "does not match its recorded digest"),
        (lambda f: (f / "extra.py").write_text("import os"), "not listed in the manifest"),
        (lambda f: (f / "input_example.json").unlink(), "is missing"),
        (lambda f: (f / "link").symlink_to("/etc/passwd"), "symbolic link"),
    ],
)
def test_a_damaged_folder_is_refused_before_anything_is_uploaded(
    registry: Registry,
    blobs: BlobStore,
    tmp_path: Path,
    trained: tuple[Any, pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
    damage: Any,
    needle: str,
) -> None:
    model, X = trained
    folder = tmp_path / "saved"
    save_model(model, folder, input_example=X.head(2))
    damage(folder)
    monkeypatch.setattr(blobs, "put_file", _forbidden("put_file"))
    monkeypatch.setattr(blobs, "put_bytes", _forbidden("put_bytes"))
    with pytest.raises(IntegrityViolation, match=needle):
        registry.register(folder, "churn", actor="alice")


def test_a_failed_upload_writes_no_version(
    registry: Registry,
    blobs: BlobStore,
    tmp_path: Path,
    trained: tuple[Any, pd.DataFrame],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, X = trained
    folder = tmp_path / "saved"
    save_model(model, folder, input_example=X.head(2))
    monkeypatch.setattr(blobs, "put_bytes", _forbidden("put_bytes", OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        registry.register(folder, "churn", actor="alice")
    assert registry.list_models() == []
    assert list(registry.audit()) == []


def test_a_run_model_whose_listing_differs_from_its_manifest_is_refused(
    registry: Registry, client: TrackingClient, tmp_path: Path, trained: tuple[Any, pd.DataFrame]
) -> None:
    model, _ = trained
    with client.start_run() as run:
        run.log_model(model, "model")
        stray = tmp_path / "stray.txt"
        stray.write_text("not part of the model")
        run.log_artifact(stray, "model")
    with pytest.raises(IntegrityViolation, match=r"'stray\.txt' is not listed"):
        registry.register(f"runs:/{run.id}/model", "churn", actor="alice")
    assert registry.list_models() == []


@pytest.mark.parametrize(
    ("source", "error", "needle"),
    [
        ("runs:/0123456789abcdef0123456789abcdef/model", RunNotFound, "0123456789abcdef"),
        ("runs:/", InvalidInput, "expected runs:/RUN_ID/PATH"),
        ("models:/churn/1", InvalidInput, "cannot be the source"),
        ("s3://bucket/model", InvalidInput, "not supported"),
        ("./no/such/folder", NotFound, "does not exist"),
    ],
)
def test_bad_sources_are_one_line_errors(
    registry: Registry, source: str, error: type[Exception], needle: str
) -> None:
    with pytest.raises(error, match=needle) as raised:
        registry.register(source, "churn", actor="alice")
    assert "\n" not in str(raised.value)
    assert registry.list_models() == []


def test_a_run_path_without_a_model_is_refused(
    registry: Registry, client: TrackingClient, logged: ModelInfo, tmp_path: Path
) -> None:
    with pytest.raises(ArtifactNotFound, match="no artifacts under 'nothing'"):
        registry.register(f"runs:/{logged.run_id}/nothing", "churn", actor="alice")
    with client.start_run() as run:
        notes = tmp_path / "notes.txt"
        notes.write_text("hi")
        run.log_artifact(notes, "notes")
    with pytest.raises(InvalidInput, match="not a slipway model"):
        registry.register(f"runs:/{run.id}/notes", "churn", actor="alice")


@pytest.mark.parametrize("name", ["", "-churn", "a/b", "x" * 201, "churn model"])
def test_a_bad_model_name_is_refused(registry: Registry, logged: ModelInfo, name: str) -> None:
    with pytest.raises(InvalidInput, match="model name"):
        registry.register(logged.uri, name, actor="alice")


def _edit(path: Path, old: bytes, new: bytes) -> None:
    path.write_bytes(path.read_bytes().replace(old, new, 1))


def _forbidden(method: str, error: Exception | None = None) -> Any:
    def fail(*args: object, **kwargs: object) -> None:
        raise error if error is not None else AssertionError(f"blobs.{method} was called")

    return fail
