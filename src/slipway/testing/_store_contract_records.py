"""The records part of the metadata-store contract: datasets and artifact listings of a run."""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING

import pytest

from slipway.core import ArtifactEntry, DatasetRecord
from slipway.errors import InvalidInput, RunNotFound

if TYPE_CHECKING:
    from collections.abc import Sequence

    from slipway.core import Experiment
    from slipway.store import MetadataStore


def new_experiment(store: MetadataStore) -> Experiment:
    return store.create_experiment(name=f"contract-records-{uuid.uuid4().hex}")


class RecordsContract:
    """What a run points at: datasets it used and the artifacts it logged."""

    # ------------------------------------------------------------------ datasets

    @staticmethod
    def _dataset(digest: str, *, name: str = "train", role: str = "training") -> DatasetRecord:
        return DatasetRecord(
            digest=digest,
            name=name,
            source="s3://bucket/train.parquet",
            num_rows=15_000,
            num_columns=3,
            schema={"age": "int64", "income": "float64", "city": "string"},
            profile={"age": {"mean": 41.5, "quantiles": [18, 35, 70]}, "city": {"top": ["Paris", "Oslo"]}},
            role=role,
        )

    def test_dataset_round_trips(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        train = self._dataset(uuid.uuid4().hex)
        test = self._dataset(uuid.uuid4().hex, name="holdout", role="evaluation")
        store.log_dataset(run.id, train)
        store.log_dataset(run.id, test)
        store.log_dataset(run.id, train)  # logging again changes nothing

        got = store.get_run_datasets(run.id)

        assert sorted(got, key=lambda d: d.name) == sorted([train, test], key=lambda d: d.name)

    def test_same_dataset_logged_by_two_runs(self, store: MetadataStore) -> None:
        exp = new_experiment(store)
        first = store.create_run(experiment_id=exp.id)
        second = store.create_run(experiment_id=exp.id)
        digest = uuid.uuid4().hex
        store.log_dataset(first.id, self._dataset(digest))
        store.log_dataset(second.id, self._dataset(digest, name="train-copy", role="evaluation"))

        assert store.get_run_datasets(first.id) == [self._dataset(digest)]
        assert store.get_run_datasets(second.id) == [
            self._dataset(digest, name="train-copy", role="evaluation")
        ]

    def test_too_long_dataset_name_is_invalid(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        with pytest.raises(InvalidInput):
            store.log_dataset(run.id, self._dataset(uuid.uuid4().hex, name="d" * 251))
        assert store.get_run_datasets(run.id) == []

    def test_datasets_of_a_run_without_any(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        assert store.get_run_datasets(run.id) == []
        with pytest.raises(RunNotFound):
            store.log_dataset(uuid.uuid4().hex, self._dataset(uuid.uuid4().hex))

    # ------------------------------------------------------------------ artifacts

    def store_blobs(self, store: MetadataStore, contents: Sequence[bytes]) -> None:
        """Hook: make blobs of these bytes exist where ``store`` checks artifact records.

        A team server records an artifact only for a blob it holds with the claimed size: its
        test class uploads them here. Stores that record any digest need not override this.
        """

    def _artifacts(self, store: MetadataStore, **contents: bytes) -> dict[str, ArtifactEntry]:
        """Entries for real bytes (path -> bytes), their blobs stored first."""
        self.store_blobs(store, list(contents.values()))
        return {
            path: ArtifactEntry(path=path, digest=hashlib.sha256(data).hexdigest(), size=len(data))
            for path, data in contents.items()
        }

    def test_artifact_listing_with_prefix(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        made = self._artifacts(
            store, **{"model/slipway.yaml": b"flavor: sklearn\n", "model/weights.bin": b"\x00" * 4096}
        )
        made.update(self._artifacts(store, **{"plots/roc.png": b"\x89PNG" + bytes(range(256))}))
        entries = sorted(made.values(), key=lambda e: e.path)
        store.record_artifacts(run.id, entries)

        assert sorted(store.list_artifacts(run.id), key=lambda e: e.path) == entries
        assert sorted(store.list_artifacts(run.id, prefix="model/"), key=lambda e: e.path) == entries[:2]
        assert store.list_artifacts(run.id, prefix="nothing/") == []

    def test_recording_an_artifact_path_again_updates_it(self, store: MetadataStore) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        first = self._artifacts(store, **{"model.pkl": b"version 1"})["model.pkl"]
        second = self._artifacts(store, **{"model.pkl": b"version two"})["model.pkl"]
        store.record_artifacts(run.id, [first])
        store.record_artifacts(run.id, [second])

        assert store.list_artifacts(run.id) == [second]

    @pytest.mark.parametrize("path", ["../escape", "/etc/passwd", ""])
    def test_artifact_paths_are_validated(self, store: MetadataStore, path: str) -> None:
        run = store.create_run(experiment_id=new_experiment(store).id)
        entry = self._artifacts(store, blob=b"some bytes")["blob"]
        with pytest.raises(InvalidInput):
            store.record_artifacts(run.id, [ArtifactEntry(path=path, digest=entry.digest, size=entry.size)])
        assert store.list_artifacts(run.id) == []
