"""The registry against the real embedded default: a SQLite file and a local blob folder.

Models are logged the way users log them (TrackingClient + log_model), from a small scikit-learn
classifier trained once per session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from slipway.artifacts import open_blob_store
from slipway.registry import Registry
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd

    from slipway.artifacts import BlobStore
    from slipway.models import ModelInfo
    from slipway.store import MetadataStore


@pytest.fixture(scope="session")
def trained() -> tuple[Any, pd.DataFrame]:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=300, n_features=5, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    return LogisticRegression().fit(frame, y), frame


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


@pytest.fixture
def registry(store: MetadataStore, blobs: BlobStore) -> Registry:
    return Registry(store, blobs)


@pytest.fixture
def logged(client: TrackingClient, trained: tuple[Any, pd.DataFrame]) -> ModelInfo:
    """A model logged to a run that recorded its training data."""
    model, X = trained
    with client.start_run(experiment="churn") as run:
        run.log_dataset(X, name="train", role="training")
        run.log_dataset(X.tail(50), name="holdout", role="evaluation")
        info = run.log_model(model, "model", input_example=X.head(3))
    return info
