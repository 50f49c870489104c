"""Resolving models:/ URIs and loading versions: a cache keyed by digests, the manifest pinned."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from tests.registry._helpers import register_many

import slipway
from slipway import _api
from slipway.errors import (
    AliasNotFound,
    IntegrityViolation,
    InvalidInput,
    ModelNotFound,
    ModelVersionNotFound,
)
from slipway.models import MANIFEST_FILE, read_manifest
from slipway.models._manifest import write_manifest
from slipway.registry import Registry

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd

    from slipway.artifacts import BlobStore
    from slipway.models import ModelInfo


def test_resolve_by_version_alias_and_latest(registry: Registry, logged: ModelInfo) -> None:
    register_many(registry, logged.uri, 3)
    registry.set_alias("churn", "production", 2, actor="alice")

    assert registry.resolve("models:/churn/1").version == 1
    assert registry.resolve("models:/churn@production").version == 2
    assert registry.resolve("models:/churn@production").aliases == frozenset({"production"})
    assert registry.resolve("models:/churn/latest").version == 3


@pytest.mark.parametrize(
    ("uri", "error", "needle"),
    [
        ("models:/nope/1", ModelNotFound, "nope"),
        ("models:/nope/latest", ModelNotFound, "nope"),
        ("models:/churn/9", ModelVersionNotFound, "9"),
        ("models:/churn@staging", AliasNotFound, "staging"),
        ("models:/churn", InvalidInput, "expected models:/NAME/VERSION"),
        ("models:/churn/0", InvalidInput, "whole number from 1"),
        ("models:/churn@v3", InvalidInput, "reads as a version"),
        ("models:/bad name/latest", InvalidInput, "model name"),
        ("runs:/abc/model", InvalidInput, "expected models:/NAME/VERSION"),
    ],
)
def test_bad_uris_are_one_line_errors_naming_them(
    registry: Registry, logged: ModelInfo, uri: str, error: type[Exception], needle: str
) -> None:
    registry.register(logged.uri, "churn", actor="alice")
    with pytest.raises(error, match=needle) as raised:
        registry.resolve(uri)
    assert "\n" not in str(raised.value)


def test_load_by_alias_downloads_once_and_predicts(
    registry: Registry,
    blobs: BlobStore,
    logged: ModelInfo,
    trained: tuple[Any, pd.DataFrame],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model, X = trained
    registry.register(logged.uri, "churn", actor="alice")
    registry.set_alias("churn", "production", 1, actor="alice")
    cache = tmp_path / "cache"

    loaded = registry.load("models:/churn@production", cache_dir=cache)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.path.is_relative_to(cache)

    downloads: list[str] = []
    real = blobs.download

    def counted(digest: str, dest: Path) -> Path:
        downloads.append(digest)
        return real(digest, dest)

    monkeypatch.setattr(blobs, "download", counted)
    again = registry.load("models:/churn/1", cache_dir=cache)
    assert again.path == loaded.path
    assert downloads == []


def test_a_tampered_cached_manifest_is_repaired_from_the_store(
    registry: Registry, logged: ModelInfo, tmp_path: Path
) -> None:
    registry.register(logged.uri, "churn", actor="alice")
    loaded = registry.load("models:/churn/1", cache_dir=tmp_path / "cache")
    pinned = (loaded.path / MANIFEST_FILE).read_bytes()
    # re-signed: the manifest's own closing digest is valid, only the registry's pin catches it
    manifest = read_manifest(loaded.path)
    (loaded.path / MANIFEST_FILE).unlink()
    write_manifest(loaded.path, manifest.__class__(**{**_fields(manifest), "python_version": "3.0.0"}))
    again = registry.load("models:/churn/1", cache_dir=tmp_path / "cache")
    assert again.path == loaded.path
    assert (again.path / MANIFEST_FILE).read_bytes() == pinned
    assert again.manifest.python_version == manifest.python_version


def test_a_tampered_cached_model_file_is_repaired_not_loaded(
    registry: Registry, logged: ModelInfo, trained: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, X = trained
    registry.register(logged.uri, "churn", actor="alice")
    loaded = registry.load("models:/churn/1", cache_dir=tmp_path / "cache")
    (loaded.path / "model.pkl").write_bytes(b"cos\nsystem\n(S'echo owned'\ntR.")
    again = registry.load("models:/churn/1", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    assert b"owned" not in (again.path / "model.pkl").read_bytes()


def test_a_tampered_stored_manifest_blob_is_refused(
    registry: Registry, blobs: BlobStore, logged: ModelInfo, tmp_path: Path
) -> None:
    mv = registry.register(logged.uri, "churn", actor="alice")
    digest = mv.manifest_digest
    path = tmp_path / "artifacts" / "sha256" / digest[:2] / digest[2:]  # the folder's layout
    path.chmod(0o644)
    path.write_bytes(path.read_bytes().replace(b"sklearn", b"pyfunc", 1))
    with pytest.raises(IntegrityViolation):
        registry.load("models:/churn/1", cache_dir=tmp_path / "cache")


def test_a_version_whose_stored_pin_was_rewritten_is_refused(
    registry: Registry, logged: ModelInfo, tmp_path: Path
) -> None:
    registry.register(logged.uri, "churn", actor="alice")
    with sqlite3.connect(tmp_path / "slipway.db") as db:  # someone edits the database behind our back
        db.execute("UPDATE model_versions SET manifest_digest = ? WHERE name = 'churn'", ("0" * 64,))
    with pytest.raises(IntegrityViolation, match="not the manifest the version was registered with"):
        registry.load("models:/churn/1", cache_dir=tmp_path / "cache")


@pytest.fixture
def _fresh_api() -> Iterator[None]:
    _api._reset_for_tests()
    yield
    _api._reset_for_tests()


@pytest.mark.usefixtures("_fresh_api")
def test_the_fluent_api_registers_and_loads_models_uris(
    trained: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, X = trained
    with slipway.start_run():
        info = slipway.log_model(model, input_example=X.head(3))
    mv = slipway.register_model(info.uri, "churn", description="first cut", reason="baseline")
    assert (mv.name, mv.version, mv.description) == ("churn", 1, "first cut")
    client = slipway.client()
    Registry(client.store, client.blobs).set_alias("churn", "production", 1, actor="alice")

    loaded = slipway.load_model("models:/churn@production")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.path.is_relative_to(tmp_path / ".slipway" / "cache" / "models")
    assert slipway.load_model("models:/churn/latest").path == loaded.path
    with pytest.raises(AliasNotFound, match="staging"):
        slipway.load_model("models:/churn@staging")


def _fields(manifest: Any) -> dict[str, Any]:
    return {name: getattr(manifest, name) for name in manifest.__dataclass_fields__}
