"""The gate against the real embedded default: a SQLite file, a blob folder, models trained once."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from tests.validation._models import Models, classifiers, regressors

from slipway.artifacts import open_blob_store
from slipway.registry import Registry
from slipway.store import open_metadata_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="session")
def clf(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return classifiers(tmp_path_factory.mktemp("classifiers"))


@pytest.fixture(scope="session")
def reg(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return regressors(tmp_path_factory.mktemp("regressors"))


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    store = open_metadata_store(f"sqlite:///{tmp_path / 'slipway.db'}")
    yield Registry(store, open_blob_store(str(tmp_path / "artifacts")))
    store.close()
