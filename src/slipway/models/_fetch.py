"""A run's model, downloaded once into a local cache keyed by the digests of its files.

The cache folder's name is the SHA-256 of the model's listing (each path and digest), so the same
model is downloaded once however often it is loaded, and a model logged again with other bytes gets
another folder. A download is written beside its final place and renamed into it: a reader never
sees half a model, and two processes loading at once both end up with one complete copy.
Loading still verifies every file, so a cache edited behind slipway's back is refused.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from typing import TYPE_CHECKING

from slipway.errors import ArtifactNotFound, InvalidInput
from slipway.models._manifest import MANIFEST_FILE

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.artifacts import BlobStore
    from slipway.store import MetadataStore

__all__ = ["fetch_run_model"]


def fetch_run_model(
    store: MetadataStore, blobs: BlobStore, *, run_id: str, path: str, cache_dir: Path
) -> tuple[Path, str]:
    """Return the local folder of the model at ``runs:/run_id/path`` and its manifest's digest."""
    prefix = path.strip("/") + "/"
    entries = [e for e in store.list_artifacts(run_id, prefix=prefix) if e.path.startswith(prefix)]
    if not entries:
        raise ArtifactNotFound(f"runs:/{run_id}/{path}: the run has no artifacts under {path!r}")
    files = {e.path[len(prefix) :]: e.digest for e in entries}
    manifest_digest = files.get(MANIFEST_FILE)
    if manifest_digest is None:
        raise InvalidInput(f"runs:/{run_id}/{path}: not a slipway model (no {MANIFEST_FILE} under {path!r})")
    listing = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(files.items()))
    key = hashlib.sha256(listing.encode()).hexdigest()
    folder = cache_dir / key[:2] / key
    if (folder / MANIFEST_FILE).is_file():
        return folder, manifest_digest
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{key}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        for rel, digest in files.items():
            blobs.download(digest, tmp / rel)  # each blob is verified against its digest
        try:
            os.replace(tmp, folder)
        except OSError:
            if not (folder / MANIFEST_FILE).is_file():  # not "another process finished first"
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder, manifest_digest
