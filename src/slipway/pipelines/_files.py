"""Content digests of the files steps read, with a stat cache so an unchanged file is not read again.

A 400 MB input costs about a second to hash; a pipeline re-run must not pay that when the file did
not change. So each digest is remembered with the file's size, mtime_ns, ctime_ns and inode (DVC's
approach), in ``<home>/pipelines/file-hashes.json``, and reused while all four still match. Any
write changes mtime or ctime, a replace (``mv new old``) changes the inode; a file rewritten
with identical stat values inside one clock tick is the known blind spot every stat cache has.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.artifacts._digest import hash_file
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["FileHasher"]

_VERSION = 1


class FileHasher:
    """SHA-256 of files and folders, remembered by stat; ``hashed`` counts the files actually read.

    Args:
        cache: the JSON file the stat cache lives in (None: remember in memory only).
    """

    def __init__(self, cache: Path | None) -> None:
        self._cache = cache
        self._entries: dict[str, list[int | str]] | None = None
        self._dirty = False
        self._lock = threading.Lock()
        self.hashed = 0

    def digest(self, path: Path, *, where: str) -> str:
        """The digest of a file, or of a folder (its files' relative paths and digests, sorted)."""
        if path.is_dir():
            listing = [
                f"{file.relative_to(path).as_posix()}\0{self._file(file, where=where)}\n"
                for file in sorted(_files(path))
            ]
            return hashlib.sha256("".join(listing).encode()).hexdigest()
        return self._file(path, where=where)

    def _file(self, path: Path, *, where: str) -> str:
        try:
            st = path.stat()
        except FileNotFoundError:
            raise InvalidInput(f"{where}: {path}: no such file or folder") from None
        key = str(path.resolve())
        stamp: list[int | str] = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        with self._lock:
            entries = self._load()
            known = entries.get(key)
            if known is not None and known[:4] == stamp:
                return str(known[4])
        digest = hash_file(path).digest
        with self._lock:
            self.hashed += 1
            self._load()[key] = [*stamp, digest]
            self._dirty = True
        return digest

    def _load(self) -> dict[str, list[int | str]]:
        if self._entries is None:
            self._entries = {}
            if self._cache is not None:
                try:
                    data = json.loads(self._cache.read_text())
                    if data.get("version") == _VERSION and isinstance(data.get("files"), dict):
                        self._entries = data["files"]
                except (OSError, ValueError, AttributeError):
                    pass  # no cache yet, or a damaged one: hashing again is always correct
        return self._entries

    def save(self) -> None:
        """Write the stat cache if anything was hashed (atomically: readers see old or new)."""
        with self._lock:
            if not self._dirty or self._cache is None or self._entries is None:
                return
            entries = {k: v for k, v in self._entries.items() if os.path.exists(k)}
            self._dirty = False
        self._cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._cache.with_name(f".{self._cache.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps({"version": _VERSION, "files": entries}))
        os.replace(tmp, self._cache)


def _files(folder: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if not name.startswith("."):
                yield Path(dirpath) / name
