"""What a registration records: the files of a model (path, digest, size), its manifest and lineage.

Two kinds of source:

* ``runs:/RUN/PATH``: the run's artifact entries under ``PATH`` are the version's files, by the
  digests the run recorded; nothing is uploaded or re-hashed. The manifest (a few KB) is read to
  check that the listing is exactly the model the manifest describes and to take its lineage.
* a local model folder: its manifest is parsed (which checks the manifest's own digest) and the
  folder verified as loading would (``slipway.models.verify_folder``: a changed, missing or unlisted
  file or a symbolic link refuses it) before anything is uploaded; each file is then streamed to
  the blob store and must still have the digest the manifest lists.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slipway.core import GIT_COMMIT_TAG, GIT_DIRTY_TAG, ArtifactEntry, RunModelUri
from slipway.errors import ArtifactNotFound, IntegrityViolation, InvalidInput, NotFound, RunNotFound
from slipway.models import MANIFEST_FILE, Manifest, parse_manifest, verify_folder

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.artifacts import BlobStore
    from slipway.core import Run
    from slipway.store import MetadataStore

__all__ = ["Source", "from_folder", "from_run"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """A model ready to be registered: ``files`` includes the manifest itself."""

    uri: str
    files: tuple[ArtifactEntry, ...]
    manifest: Manifest
    manifest_digest: str
    run: Run | None

    def lineage(self) -> dict[str, Any]:
        """The run, datasets and commit from the manifest; the dirty flag and commit from the run."""
        recorded = self.manifest.lineage
        run_id = recorded.run_id if recorded is not None else None
        commit = recorded.git_commit if recorded is not None else None
        dirty: bool | None = None
        if self.run is not None:
            run_id = run_id or self.run.id
            commit = commit or self.run.tags.get(GIT_COMMIT_TAG)
            flag = self.run.tags.get(GIT_DIRTY_TAG)
            dirty = None if flag is None else flag == "true"
        return {
            "run_id": run_id,
            "datasets": [d.to_dict() for d in recorded.datasets] if recorded is not None else [],
            "git_commit": commit,
            "git_dirty": dirty,
            "flavor": self.manifest.flavor,
        }


def from_run(store: MetadataStore, blobs: BlobStore, ref: RunModelUri) -> Source:
    """The model logged at ``runs:/RUN/PATH``, by the run's own artifact entries."""
    run = store.get_run(ref.run_id)  # RunNotFound names the run
    prefix = ref.path.strip("/") + "/"
    entries = [e for e in store.list_artifacts(run.id, prefix=prefix) if e.path.startswith(prefix)]
    if not entries:
        raise ArtifactNotFound(f"{ref}: the run has no artifacts under {ref.path!r}")
    files = tuple(ArtifactEntry(path=e.path[len(prefix) :], digest=e.digest, size=e.size) for e in entries)
    by_path = {f.path: f.digest for f in files}
    manifest_digest = by_path.get(MANIFEST_FILE)
    if manifest_digest is None:
        raise InvalidInput(f"{ref}: not a slipway model (no {MANIFEST_FILE} under {ref.path!r})")
    manifest = parse_manifest(blobs.get_bytes(manifest_digest), where=f"{ref}/{MANIFEST_FILE}")
    listed = dict(manifest.files)
    for rel, digest in sorted(by_path.items()):
        if rel == MANIFEST_FILE:
            continue
        expected = listed.pop(rel, None)
        if expected is None:
            raise IntegrityViolation(
                f"{ref}: file {rel!r} is not listed in the model's manifest; "
                "the model would not load, so it was not registered"
            )
        if expected != digest:
            raise IntegrityViolation(
                f"{ref}: file {rel!r} was recorded with another digest than its manifest lists "
                f"(run sha256:{digest[:16]}…, manifest sha256:{expected[:16]}…); not registered"
            )
    if listed:
        raise IntegrityViolation(
            f"{ref}: file {sorted(listed)[0]!r} listed in the model's manifest is missing from the run; "
            "not registered"
        )
    return Source(uri=str(ref), files=files, manifest=manifest, manifest_digest=manifest_digest, run=run)


def from_folder(store: MetadataStore, blobs: BlobStore, folder: Path) -> Source:
    """A local model folder, checked against its manifest and uploaded to the blob store."""
    if not folder.is_dir():
        raise NotFound(f"model folder {str(folder)!r} does not exist")
    try:
        data = (folder / MANIFEST_FILE).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{folder}: not a slipway model folder (no {MANIFEST_FILE})") from None
    manifest = parse_manifest(data, where=str(folder / MANIFEST_FILE))
    verify_folder(folder, manifest, skip=MANIFEST_FILE)  # every file, before a byte is uploaded
    files: list[ArtifactEntry] = []
    for rel, expected in sorted(manifest.files.items()):
        blob = blobs.put_file(folder / rel)
        if blob.digest != expected:  # changed between the check and the upload
            raise IntegrityViolation(
                f"model folder {folder}: file {rel!r} changed while it was uploaded "
                f"(recorded sha256:{expected[:16]}…, uploaded sha256:{blob.digest[:16]}…); not registered"
            )
        files.append(ArtifactEntry(path=rel, digest=blob.digest, size=blob.size))
    stored = blobs.put_bytes(data)
    files.append(ArtifactEntry(path=MANIFEST_FILE, digest=stored.digest, size=stored.size))
    run: Run | None = None
    if manifest.lineage is not None and manifest.lineage.run_id is not None:
        try:
            run = store.get_run(manifest.lineage.run_id)
        except RunNotFound:  # saved against another store: the manifest's lineage is what we have
            run = None
    return Source(
        uri=str(folder.resolve()),
        files=tuple(files),
        manifest=manifest,
        manifest_digest=hashlib.sha256(data).hexdigest(),
        run=run,
    )
