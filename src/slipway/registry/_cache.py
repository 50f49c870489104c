"""A registered version's files, downloaded once into a local cache keyed by their digests.

The folder's name is the SHA-256 of the listing (each relative path and digest), the same key a
``runs:/`` load uses, so a version registered from a run shares the cache folder of that run's
model. A download is written beside its final place and renamed into it: a reader never sees half
a model, and two processes loading at once both end up with one complete copy. The cache is not
trusted: every load checks the manifest against the version's recorded digest and every file
against the manifest.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from typing import TYPE_CHECKING

from slipway.models import MANIFEST_FILE

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from slipway.artifacts import BlobStore

__all__ = ["cached_folder"]


def cached_folder(blobs: BlobStore, files: Mapping[str, str], *, cache_dir: Path) -> Path:
    """The local folder holding ``files`` (relative path -> digest), downloading what is missing."""
    listing = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(files.items()))
    key = hashlib.sha256(listing.encode()).hexdigest()
    folder = cache_dir / key[:2] / key
    if (folder / MANIFEST_FILE).is_file():
        return folder
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
