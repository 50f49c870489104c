"""The artifact store port: content-addressed blobs.

A blob's address is the SHA-256 of its bytes, so the same file logged twice is stored once, and a
reader can always tell whether what it got is what was written: every read verifies the digest and
raises IntegrityViolation on a mismatch, and the read that finds a corrupt copy removes it, so the
next put of those bytes stores them again. Names (the paths users see) live in the metadata store; the
blob store knows only digests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Blob:
    digest: str  # lowercase hex SHA-256
    size: int


@runtime_checkable
class BlobStore(Protocol):
    def put_bytes(self, data: bytes) -> Blob: ...
    def put_file(self, path: Path) -> Blob:
        """Stream a file in, hashing as it goes; memory stays bounded whatever the file's size."""
        ...

    def get_bytes(self, digest: str) -> bytes: ...  # ArtifactNotFound, IntegrityViolation
    def download(self, digest: str, dest: Path) -> Path:
        """Write the blob to ``dest``; the file appears only once its digest has been verified."""
        ...

    def exists(self, digest: str) -> bool: ...
    def stored_size(self, digest: str) -> int | None:
        """The size of the stored copy in bytes, or None when there is none; not verified.

        A put skips only a blob stored with the right size, and the team server records an
        artifact only for a blob of the size it claims.

        .. versionadded:: 0.1
        """
        ...
