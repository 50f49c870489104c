"""``log_model``: save a model into a run's artifacts, with its lineage taken from the run.

The run is anything with an ``id``, an ``info`` (the run's tags, for the git commit) and
``log_artifacts`` (tracking's ``ActiveRun``); the datasets come from the metadata store. This keeps
``slipway.models`` below ``slipway.tracking``: tracking calls in, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from slipway.core import GIT_COMMIT_TAG, RunModelUri, validate_artifact_path
from slipway.errors import AlreadyExists
from slipway.models._manifest import MANIFEST_FILE, DatasetRef, Lineage, Manifest
from slipway.models._save import save_model

if TYPE_CHECKING:
    from slipway.core import ArtifactEntry, Run
    from slipway.store import MetadataStore

__all__ = ["GIT_COMMIT_TAG", "ModelInfo", "RunSink", "log_model"]


class RunSink(Protocol):
    """What ``log_model`` needs of a run (tracking's ``ActiveRun`` is one)."""

    @property
    def id(self) -> str: ...
    @property
    def info(self) -> Run: ...
    def log_artifacts(self, local_dir: Path, artifact_path: str | None = None) -> list[ArtifactEntry]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelInfo:
    """A model logged to a run: where it is (``uri``) and what it is (``manifest``).

    .. versionadded:: 0.1
    """

    uri: str
    run_id: str
    artifact_path: str
    manifest: Manifest
    manifest_digest: str  # the SHA-256 of slipway.yaml as stored; a registry pins a version to it


def lineage_of(run: RunSink, store: MetadataStore) -> Lineage:
    """The run id, the datasets the run logged (by digest) and its git commit."""
    datasets = tuple(
        DatasetRef(digest=d.digest, name=d.name, role=d.role) for d in store.get_run_datasets(run.id)
    )
    return Lineage(run_id=run.id, datasets=datasets, git_commit=run.info.tags.get(GIT_COMMIT_TAG))


def log_model(
    model: object,
    artifact_path: str = "model",
    *,
    run: RunSink,
    store: MetadataStore,
    **options: Any,
) -> ModelInfo:
    """Save ``model`` (see :func:`save_model` for ``options``) under ``artifact_path`` in ``run``.

    Raises AlreadyExists if the run already has artifacts under ``artifact_path``: a model's URI
    always loads the model it was returned for.

    .. versionadded:: 0.1
    """
    import tempfile

    artifact_path = validate_artifact_path(artifact_path)
    prefix = artifact_path + "/"
    existing = [
        e.path
        for e in store.list_artifacts(run.id, prefix=artifact_path)
        if e.path == artifact_path or e.path.startswith(prefix)
    ]
    if existing:
        raise AlreadyExists(
            f"run {run.id} already has artifacts under {artifact_path!r} (such as {existing[0]!r}); "
            "a second model there would replace the first behind its URI, so log it under another "
            "artifact_path"
        )
    lineage = options.pop("lineage", None) or lineage_of(run, store)
    with tempfile.TemporaryDirectory(prefix="slipway-model-") as tmp:
        folder = Path(tmp) / "model"
        manifest = save_model(model, folder, lineage=lineage, **options)
        entries = run.log_artifacts(folder, artifact_path)
    digest = next(e.digest for e in entries if e.path == f"{artifact_path}/{MANIFEST_FILE}")
    return ModelInfo(
        uri=str(RunModelUri(run_id=run.id, path=artifact_path)),
        run_id=run.id,
        artifact_path=artifact_path,
        manifest=manifest,
        manifest_digest=digest,
    )
