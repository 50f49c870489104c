"""A model's files downloaded once into a local cache keyed by their digests; one helper for all.

Both ``runs:/`` loads and the registry's ``models:/`` loads go through :func:`cached_folder`. The
cache folder's name is the SHA-256 of the listing (each relative path and digest), so the same
model is downloaded once however often it is loaded, and a model logged again with other bytes gets
another folder. A download is written beside its final place and renamed into it: a reader never
sees half a model, and two processes loading at once both end up with one complete copy.

Nothing in the listing is trusted: it may come from a server. Each path must be a plain relative
artifact path (``slipway.core.validate_artifact_path``, already normalised) before anything is
written, so ``../x`` or ``/etc/x`` cannot land outside the cache. A cached folder is checked file by
file against the listing on every use; one that differs (edited, truncated, an extra file) is moved
aside and downloaded once more, so a damaged cache repairs itself instead of failing every load.
Loading still verifies every file against the manifest afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from typing import TYPE_CHECKING

from slipway.core import validate_artifact_path
from slipway.errors import ArtifactNotFound, IntegrityViolation, InvalidInput
from slipway.models._integrity import sha256_file, walk_files
from slipway.models._manifest import MANIFEST_FILE

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from slipway.artifacts import BlobStore
    from slipway.store import MetadataStore

__all__ = ["cached_folder", "fetch_run_model"]


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
    folder = cached_folder(blobs, files, cache_dir=cache_dir, where=f"runs:/{run_id}/{path}")
    return folder, manifest_digest


def cached_folder(
    blobs: BlobStore, files: Mapping[str, str], *, cache_dir: Path, where: str = "model"
) -> Path:
    """The local folder holding ``files`` (relative path -> digest), downloading what is missing.

    Raises IntegrityViolation naming ``where`` and the path if the listing holds a path that is not
    a plain relative one; a cached copy that no longer matches the listing is replaced.

    .. versionadded:: 0.1
    """
    for rel in files:
        try:
            safe = validate_artifact_path(rel)
        except InvalidInput as e:
            raise IntegrityViolation(f"{where}: the file listing holds an unsafe path; {e}") from None
        if safe != rel:
            raise IntegrityViolation(
                f"{where}: the file listing holds the path {rel!r}, which is not in normal form "
                f"({safe!r}); refusing to download it"
            )
    if MANIFEST_FILE not in files:
        raise InvalidInput(f"{where}: not a slipway model (no {MANIFEST_FILE} in its files)")
    listing = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(files.items()))
    key = hashlib.sha256(listing.encode()).hexdigest()
    folder = cache_dir / key[:2] / key
    if folder.exists() or folder.is_symlink():
        if _matches(folder, files):
            return folder
        _move_aside(folder, key)  # damaged: download once more
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
    return folder


def _matches(folder: Path, files: Mapping[str, str]) -> bool:
    """Whether ``folder`` holds exactly ``files``, each with its digest (no links, nothing extra)."""
    if folder.is_symlink() or not folder.is_dir():
        return False
    try:
        found = walk_files(folder)
    except IntegrityViolation:  # a symbolic link inside
        return False
    if set(found) != set(files):
        return False
    try:
        return all(sha256_file(found[rel]) == digest for rel, digest in files.items())
    except OSError:
        return False


def _move_aside(folder: Path, key: str) -> None:
    aside = folder.with_name(f".{key}.{uuid.uuid4().hex[:12]}.damaged")
    try:
        os.replace(folder, aside)
    except FileNotFoundError:  # another process moved it first
        return
    if aside.is_symlink():
        with contextlib.suppress(OSError):
            aside.unlink()
    else:
        shutil.rmtree(aside, ignore_errors=True)
