"""SHA-256 digests: checking what callers pass and hashing what is read, in bounded memory.

Shared by every blob store so that a digest is spelled, checked and reported the same way whether
the bytes came from a folder, a bucket or the team server.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from slipway.artifacts._port import Blob
from slipway.errors import Conflict, IntegrityViolation, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import BinaryIO

# Large enough that hashing, not Python overhead, dominates; small enough to be a rounding error in
# memory whatever the file's size.
CHUNK = 1024 * 1024

_DIGEST = re.compile(r"[0-9a-f]{64}")


def check_digest(digest: object) -> str:
    """Refuse anything but a lowercase hex SHA-256 before it becomes part of a key.

    Lowercase only, so one blob has exactly one address; and because a digest is joined into a
    path, anything else (``..``, ``/``) must never get that far.
    """
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidInput(f"digest {digest!r}: expected 64 lowercase hex characters (a SHA-256)")
    return digest


def chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


def hash_file(path: Path) -> Blob:
    """The blob a local file would become; a missing or unreadable source is the caller's mistake."""
    h = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as f:
            for chunk in chunks(f):
                h.update(chunk)
                size += len(chunk)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise InvalidInput(f"file {str(path)!r}: expected an existing regular file to store") from exc
    return Blob(digest=h.hexdigest(), size=size)


def mismatch(digest: str, found: str, size: int, where: str) -> IntegrityViolation:
    return IntegrityViolation(
        f"blob sha256:{digest} in {where}: its {size} bytes hash to sha256:{found}; "
        "the stored copy is corrupt or was altered, so it was not used"
    )


def changed(source: str, expected: str, found: str) -> Conflict:
    """A file whose bytes changed between hashing it and storing it: nothing was stored."""
    return Conflict(
        f"{source} changed while it was being stored (sha256:{expected}, then sha256:{found}); "
        "nothing was stored: store it again once it is no longer being written"
    )
