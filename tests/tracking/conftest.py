"""Tracking runs against the real embedded default: a SQLite file and a local blob folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from slipway.artifacts import open_blob_store
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.artifacts import BlobStore
    from slipway.store import MetadataStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    s = open_metadata_store(f"sqlite:///{tmp_path / 'slipway.db'}")
    yield s
    s.close()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return open_blob_store(str(tmp_path / "artifacts"))


@pytest.fixture
def client(store: MetadataStore, blobs: BlobStore) -> TrackingClient:
    return TrackingClient(store, blobs, flush_interval=0.05, heartbeat_interval=0.2, dead_after=5.0)
