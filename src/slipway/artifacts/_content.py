"""A content-addressed blob store over any fsspec filesystem (a folder, memory, S3, GCS).

Layout: ``<root>/sha256/<first 2 hex>/<other 62 hex>``. The two-character fan-out keeps local
folders to at most 256 entries at the top and spreads object-store keys over prefixes.

Writes are atomic. On a local disk a blob is written under a temporary name beside its final one,
flushed, and renamed into place; on object stores one PUT (or one completed multipart upload) is
atomic by itself, and an upload that fails midway is discarded, never completed.

Repair: a put skips a blob already stored with the right size (one stat or HEAD, never a read of
the stored copy), so a copy of the wrong size is rewritten by the next put of those bytes. Reads
always verify the digest, so a torn or tampered copy is refused, never returned, and the read that
finds it deletes it (unless it was replaced meanwhile): a copy damaged without changing its size
is then stored again by the next put.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.artifacts._digest import CHUNK, changed, check_digest, chunks, hash_file, mismatch
from slipway.artifacts._port import Blob
from slipway.errors import ArtifactNotFound

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from fsspec import AbstractFileSystem

# Remote reads and writes go in blocks of this size: bounded memory (s3fs would buffer 50 MB) and
# few round trips; above S3's 5 MB minimum part size.
_BLOCK = 8 * 1024 * 1024

# Fields of fsspec's info() that change when a copy is replaced (local, memory, S3, GCS).
_CHANGE_MARKERS = ("ino", "mtime", "created", "ETag", "LastModified", "generation", "updated")


class ContentStore:
    """Blobs addressed by the SHA-256 of their bytes, on the filesystem it is handed.

    Args:
        fs: an fsspec filesystem; the store never picks one itself (``open_blob_store`` does).
        root: the folder or ``bucket/prefix`` in ``fs``'s own path form. Nothing is created until
            the first write.

    .. versionadded:: 0.1
    """

    def __init__(self, fs: AbstractFileSystem, root: str) -> None:
        self._fs = fs
        self._root = root

    def __repr__(self) -> str:
        return f"ContentStore({self._where()!r})"

    @property
    def fs(self) -> AbstractFileSystem:
        return self._fs

    @property
    def root(self) -> str:
        return self._root

    # -------------------------------------------------------------------- writes

    def put_bytes(self, data: bytes) -> Blob:
        blob = Blob(digest=hashlib.sha256(data).hexdigest(), size=len(data))
        if not self._holds(blob):
            key = self._key(blob.digest)
            if self._is_local():
                self._write_local(key, [data], blob, source="bytes")
            else:
                self._fs.pipe_file(key, data)
        return blob

    def put_file(self, path: Path) -> Blob:
        """Stream a file in; a blob that is already stored is not written again.

        The file is read twice when it is new: once to learn its address (which is all it takes
        when the blob exists), once to copy it while hashing again, so a file that changes
        in between is refused rather than stored under the wrong address.
        """
        path = Path(path)
        blob = hash_file(path)
        if self._holds(blob):
            return blob
        key = self._key(blob.digest)
        with path.open("rb") as f:
            if self._is_local():
                self._write_local(key, chunks(f), blob, source=str(path))
            else:
                self._write_remote(key, chunks(f), blob, source=str(path))
        return blob

    def _write_local(self, key: str, data: Iterable[bytes], blob: Blob, *, source: str) -> None:
        final = Path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Beside the final name, so the rename never crosses a filesystem and stays atomic; the
        # name is unique, so concurrent writers of the same blob never share a temporary file.
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.tmp")
        try:
            h = hashlib.sha256()
            with tmp.open("xb") as out:
                for chunk in data:
                    h.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())  # the rename must not outlive the bytes after a crash
            if h.hexdigest() != blob.digest:
                raise changed(source, blob.digest, h.hexdigest())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _write_remote(self, key: str, data: Iterable[bytes], blob: Blob, *, source: str) -> None:
        # The object appears only when the file is closed (one PUT, or the multipart upload
        # completing), except on the memory filesystem, which is for tests. So the digest is checked
        # before closing, and on any failure the upload is abandoned instead of closed: fsspec's
        # close() would complete it with whatever was written so far.
        out = self._fs.open(key, "wb", block_size=_BLOCK)
        try:
            h = hashlib.sha256()
            for chunk in data:
                h.update(chunk)
                out.write(chunk)
            if h.hexdigest() != blob.digest:
                raise changed(source, blob.digest, h.hexdigest())
        except BaseException:
            self._abandon(out, key)
            raise
        out.close()

    def _abandon(self, out: Any, key: str) -> None:
        from fsspec.spec import AbstractBufferedFile

        if isinstance(out, AbstractBufferedFile):  # S3, GCS, Azure: nothing is visible before close
            out.discard()  # aborts a multipart upload; a one-shot PUT was never sent
            out.closed = True  # so that neither close() nor __del__ completes the upload
        else:  # written in place as it goes (the memory filesystem): remove what was written
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm_file(key)

    # -------------------------------------------------------------------- reads

    def exists(self, digest: str) -> bool:
        return self.stored_size(digest) is not None

    def stored_size(self, digest: str) -> int | None:
        try:
            info = self._fs.info(self._key(check_digest(digest)))
        except FileNotFoundError:
            return None
        return int(info["size"]) if info.get("type") == "file" else None

    def get_bytes(self, digest: str) -> bytes:
        key = self._key(check_digest(digest))
        try:
            seen = self._fs.info(key)
            data: bytes = self._fs.cat_file(key)
        except FileNotFoundError as exc:
            raise self._not_found(digest) from exc
        found = hashlib.sha256(data).hexdigest()
        if found != digest:
            self._discard(key, seen)
            raise mismatch(digest, found, len(data), self._where())
        return data

    def download(self, digest: str, dest: Path) -> Path:
        """Write the blob to ``dest``; the file appears only once its digest has been verified.

        The bytes go to a temporary file beside ``dest`` and are renamed over it only after the
        digest matched, so a reader of ``dest`` sees the old file or the verified new one, and a
        corrupt blob leaves ``dest`` as it was. Not fsynced: the next load verifies again.
        """
        src, discard = self._open_raw(check_digest(digest))
        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")
        try:
            with src:
                dest.parent.mkdir(parents=True, exist_ok=True)
                h = hashlib.sha256()
                size = 0
                with tmp.open("xb") as out:
                    for chunk in chunks(src):
                        h.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            if h.hexdigest() != digest:
                discard()
                raise mismatch(digest, h.hexdigest(), size, self._where())
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest

    def open(self, digest: str) -> io.BufferedReader:
        """A streaming read for blobs too large to hold; it verifies when it reaches the end.

        The read that reaches the end raises IntegrityViolation on a mismatch, so consume it to
        the end before trusting what was read (``shutil.copyfileobj`` does). Not seekable: a
        seek would make the running digest meaningless.
        """
        raw, discard = self._open_raw(check_digest(digest))
        reader = _VerifyingReader(raw, digest, self._where(), on_mismatch=discard)
        return io.BufferedReader(reader, buffer_size=CHUNK)

    # -------------------------------------------------------------------- helpers

    def _key(self, digest: str) -> str:
        return f"{self._root.rstrip('/')}/sha256/{digest[:2]}/{digest[2:]}"

    def _is_local(self) -> bool:
        from fsspec.implementations.local import LocalFileSystem

        return isinstance(self._fs, LocalFileSystem)

    def _holds(self, blob: Blob) -> bool:
        """Whether ``blob`` is stored already; a copy of the wrong size counts as absent.

        One metadata call either way (stat or HEAD), and it heals a truncated upload the next time
        the same bytes are put. A copy of the right size is not read back: the read that finds it
        corrupt deletes it (see :meth:`_discard`).
        """
        return self.stored_size(blob.digest) == blob.size

    def _open_raw(self, digest: str) -> tuple[Any, Callable[[], None]]:
        """The stored copy opened for reading, and what deletes it should it prove corrupt."""
        key = self._key(digest)
        try:
            seen = self._fs.info(key)
            raw = self._fs.open(key, "rb", block_size=_BLOCK)
        except FileNotFoundError as exc:
            raise self._not_found(digest) from exc
        return raw, lambda: self._discard(key, seen)

    def _discard(self, key: str, seen: Mapping[str, Any]) -> None:
        """Delete a copy that a read found corrupt, so that the next put stores the bytes again.

        Only while it is still the copy that was read (``seen``, its info before the read): a
        put that replaced it meanwhile wrote verified bytes, which must stay. A store this process
        may not delete from (read-only credentials) keeps the copy; the read fails either way.
        """
        with contextlib.suppress(OSError):  # gone already, or not ours to delete
            if _same_copy(seen, self._fs.info(key)):
                self._fs.rm_file(key)

    def _not_found(self, digest: str) -> ArtifactNotFound:
        return ArtifactNotFound(f"blob sha256:{digest}: not in the artifact store {self._where()}")

    def _where(self) -> str:
        return str(self._fs.unstrip_protocol(self._root))


def _same_copy(seen: Mapping[str, Any], now: Mapping[str, Any]) -> bool:
    """Whether two infos of one key describe the same stored copy, not a replacement."""
    if seen.get("size") != now.get("size"):
        return False
    return all(seen[k] == now[k] for k in _CHANGE_MARKERS if k in seen and k in now)


class _VerifyingReader(io.RawIOBase):
    """Hashes what passes through and checks the digest when the end is reached."""

    def __init__(self, raw: Any, digest: str, where: str, *, on_mismatch: Callable[[], None]) -> None:
        self._on_mismatch = on_mismatch
        self._raw = raw
        self._digest = digest
        self._where = where
        self._hash = hashlib.sha256()
        self._size = 0
        self._failure: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._failure is not None:
            raise self._failure
        view = memoryview(buffer).cast("B")
        data = self._raw.read(len(view))
        if not data and len(view):
            found = self._hash.hexdigest()
            if found != self._digest:
                # Sticky: every later read fails too, so no caller can mistake a retry for success.
                self._failure = mismatch(self._digest, found, self._size, self._where)
                self._on_mismatch()
                raise self._failure
            return 0
        self._hash.update(data)
        self._size += len(data)
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()
