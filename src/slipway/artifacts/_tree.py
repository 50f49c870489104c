"""Named files beside the content-addressed store: for data that is found by its path, not its digest.

The prediction log is the first user: Parquet parts under ``predictions/deployment=…/date=…/``,
written by many processes and read while they write. So every write is atomic, and a listing never
shows a file that is still being written:

- in a local folder a file is written under a hidden temporary name in its own folder, flushed to
  disk and renamed over its final name (``os.replace``, atomic within one filesystem);
- on object stores (S3, GCS, memory) one PUT of the whole file is atomic by itself.

Names starting with ``.`` are the tree's own (temporary files): they cannot be written or read, and
listings skip them.

The object store's own failures stop here, as one line naming the URL: missing or refused
credentials and denied access are :class:`~slipway.errors.InvalidInput` (the caller must fix its
setup), an endpoint that does not answer is :class:`~slipway.errors.StoreUnavailable` (retry
later), a file that is not there is :class:`~slipway.errors.ArtifactNotFound`. Never a botocore or
gcsfs traceback.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from slipway.artifacts._content import ContentStore
from slipway.artifacts._open import open_blob_store
from slipway.errors import ArtifactNotFound, InvalidInput, SlipwayError, StoreUnavailable

if TYPE_CHECKING:
    import builtins
    from collections.abc import Iterator

    from fsspec import AbstractFileSystem

__all__ = ["FileTree", "open_file_tree"]


class FileTree:
    """Files addressed by relative POSIX paths under one root of an fsspec filesystem.

    Args:
        fs: an fsspec filesystem; ``open_file_tree`` picks it from a URI.
        root: the folder or ``bucket/prefix`` in ``fs``'s own path form. Nothing is created until
            the first write.

    .. versionadded:: 0.1
    """

    def __init__(self, fs: AbstractFileSystem, root: str) -> None:
        self._fs = fs
        self._root = root.rstrip("/") or "/"

    def __repr__(self) -> str:
        return f"FileTree({self.uri()!r})"

    @property
    def fs(self) -> AbstractFileSystem:
        return self._fs

    @property
    def root(self) -> str:
        return self._root

    def uri(self, relpath: str = "") -> str:
        """The full URL of ``relpath`` (or of the root), for messages and other tools."""
        return str(self._fs.unstrip_protocol(self.path(relpath)))

    def path(self, relpath: str = "") -> str:
        """``relpath`` (or the root) in the filesystem's own form, for a library that takes ``fs`` itself.

        pyarrow reads Parquet through ``fs`` and these paths; everything else goes through the tree.
        """
        return self._key(check_relpath(relpath)) if relpath else self._root

    def info(self, relpath: str = "") -> dict[str, Any]:
        """The store's details of a file or folder (``size``, ``type``, ``mtime`` or ``ETag``...).

        ``relpath`` "" is the root itself: a tree opened on a file's URL describes that file.
        """
        key = self.path(relpath)
        with self._reaching(relpath, "read"):
            try:
                found: dict[str, Any] = self._fs.info(key)
            except FileNotFoundError:
                raise ArtifactNotFound(f"file {self.uri(relpath)}: not found") from None
        return found

    def is_dir(self, relpath: str = "") -> bool:
        """True if ``relpath`` (or the root) is a folder, or a prefix with files below it."""
        key = self.path(relpath)
        with self._reaching(relpath, "read"):
            return bool(self._fs.isdir(key))

    def exists(self, relpath: str = "") -> bool:
        """True if a file or folder is at ``relpath`` (or at the root)."""
        key = self.path(relpath)
        with self._reaching(relpath, "read"):
            return bool(self._fs.exists(key))

    def write_atomic(self, relpath: str, data: bytes) -> None:
        """Write ``data`` to ``relpath``, replacing any file there; readers see all of it or none."""
        key = self._key(check_relpath(relpath))
        if not self._is_local():
            with self._reaching(relpath, "write"):
                try:
                    self._fs.pipe_file(key, bytes(data))
                except FileNotFoundError as exc:  # the bucket is not there
                    raise InvalidInput(f"{self.uri(relpath)}: cannot write: {_line(exc)}") from None
            return
        final = Path(key)
        final.parent.mkdir(parents=True, exist_ok=True)
        # Beside the final name, so the rename never crosses a filesystem; hidden, so list() skips it.
        tmp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}.tmp")
        with self._reaching(relpath, "write"):
            try:
                with tmp.open("xb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())  # the rename must not outlive the bytes after a crash
                os.replace(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise

    def read_bytes(self, relpath: str) -> bytes:
        key = self._key(check_relpath(relpath))
        with self._reaching(relpath, "read"):
            try:
                data: bytes = self._fs.cat_file(key)
            except (FileNotFoundError, IsADirectoryError):
                raise ArtifactNotFound(f"file {self.uri(relpath)}: not found") from None
        return data

    def open(self, relpath: str) -> IO[bytes]:
        """A seekable binary file: a reader can take a Parquet footer without the whole file.

        ``relpath`` "" is the root itself, for a tree opened on a file's URL.
        """
        key = self.path(relpath)
        with self._reaching(relpath, "read"):
            try:
                handle: IO[bytes] = self._fs.open(key, "rb")
            except (FileNotFoundError, IsADirectoryError):
                raise ArtifactNotFound(f"file {self.uri(relpath)}: not found") from None
        return handle

    def remove(self, relpaths: builtins.list[str]) -> None:
        """Delete these files (those already gone are skipped): a job clearing its own old output."""
        keys = [(r, self._key(check_relpath(r))) for r in relpaths]
        for relpath, key in keys:
            with self._reaching(relpath, "remove"):
                try:
                    self._fs.rm_file(key)
                except FileNotFoundError:
                    continue

    def list(self, prefix: str = "") -> list[str]:
        """The relative paths of every file below the folder ``prefix`` (all files for ""), sorted.

        Files still being written (hidden temporary names) are never listed.
        """
        path = self._folder(prefix)
        self._fs.invalidate_cache(path)  # s3fs and gcsfs cache listings; a reader must see new files
        with self._reaching(prefix.rstrip("/"), "list"):
            try:
                found = self._fs.find(path, withdirs=False)
            except FileNotFoundError:
                return []
        base = self._root.rstrip("/") + "/"
        rels = (str(p)[len(base) :] for p in found if str(p).startswith(base))
        return sorted(r for r in rels if r and not any(part.startswith(".") for part in r.split("/")))

    def folders(self, prefix: str = "") -> builtins.list[str]:
        """The names of the folders directly inside the folder ``prefix``, sorted.

        One listing call, not a walk: lets a reader pick partitions (``date=…``) before listing files.
        """
        path = self._folder(prefix)
        self._fs.invalidate_cache(path)
        with self._reaching(prefix.rstrip("/"), "list"):
            try:
                entries: builtins.list[dict[str, Any]] = self._fs.ls(path, detail=True)
            except (FileNotFoundError, NotADirectoryError):
                return []
        names = (
            str(e["name"]).rstrip("/").rsplit("/", 1)[-1] for e in entries if e.get("type") == "directory"
        )
        return sorted(n for n in names if n and not n.startswith("."))

    def _folder(self, prefix: str) -> str:
        prefix = prefix[:-1] if prefix.endswith("/") else prefix
        return self._key(check_relpath(prefix)) if prefix else self._root

    def _key(self, relpath: str) -> str:
        return f"{self._root.rstrip('/')}/{relpath}"

    def _is_local(self) -> bool:
        from fsspec.implementations.local import LocalFileSystem

        return isinstance(self._fs, LocalFileSystem)

    @contextlib.contextmanager
    def _reaching(self, relpath: str, doing: str) -> Iterator[None]:
        """The store's credential, permission and connection failures as one line naming the URL."""
        try:
            yield
        except (SlipwayError, FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise  # already ours, or a missing file each caller answers in its own way
        except Exception as exc:
            error = _unreachable(exc, f"{self.uri(relpath)}: cannot {doing}")
            if error is None:
                raise
            raise error from exc


#: Class names (anywhere in an exception's MRO) of the drivers' connection failures: botocore's
#: ConnectionError and HTTPClientError (timeouts, closed connections), aiohttp's and google-auth's.
_CONNECTION = frozenset({"ConnectionError", "HTTPClientError", "ClientConnectionError", "TransportError"})


def _unreachable(exc: Exception, where: str) -> SlipwayError | None:
    """``exc`` as a SlipwayError when it is about reaching the store at all; None for anything else.

    The drivers are optional extras, so their errors are recognised by class name, not imported:
    botocore's NoCredentialsError and PartialCredentialsError, google-auth's DefaultCredentialsError.
    """
    names = {cls.__name__ for cls in type(exc).__mro__}
    if any("Credential" in name for name in names):
        return InvalidInput(f"{where}: no usable credentials ({_line(exc)})")
    if isinstance(exc, PermissionError):
        return InvalidInput(f"{where}: permission denied ({_line(exc)})")
    if isinstance(exc, (ConnectionError, TimeoutError)) or names & _CONNECTION:
        return StoreUnavailable(f"{where}: the store does not answer ({_line(exc)})")
    return None


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def check_relpath(path: str) -> str:
    """Refuse traversal, absolute paths, empty segments and the tree's own hidden names."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise InvalidInput(f"file tree path {path!r}: expected a non-empty relative POSIX path")
    parts = path.split("/")
    if path.startswith(("/", "~")) or (len(parts[0]) == 2 and parts[0][1] == ":"):
        raise InvalidInput(f"file tree path {path!r}: expected a relative path, not an absolute one")
    if any(part in ("", ".", "..") for part in parts):
        raise InvalidInput(f"file tree path {path!r}: empty, '.' and '..' segments are not allowed")
    if any(part.startswith(".") for part in parts):
        raise InvalidInput(
            f"file tree path {path!r}: names starting with '.' are reserved for temporary files"
        )
    return path


def open_file_tree(uri: str, **storage_options: Any) -> FileTree:
    """Open the file tree a URI names; the same URIs as ``open_blob_store``, except a team server's.

    Args:
        uri: a folder (``./predictions``, ``file:///srv/predictions``), ``memory://name`` (tests),
            ``s3://bucket/prefix`` or ``gs://bucket/prefix``. A team server's ``http(s)://`` URL
            is refused: it holds blobs only.
        storage_options: passed to the fsspec filesystem, e.g.
            ``client_kwargs={"endpoint_url": "http://127.0.0.1:9000"}`` for MinIO.

    .. versionadded:: 0.1
    """
    if isinstance(uri, str) and urlsplit(uri).scheme.lower() in ("http", "https"):
        raise InvalidInput(
            f"file tree URI {uri!r}: a team server holds blobs only; expected a folder or an fsspec URL "
            "(s3://, gs://, file://, memory://)"
        )
    # The blob store's opener already picks the filesystem, names the extra to install and makes a
    # folder absolute: the tree shares its filesystem and root.
    store = open_blob_store(uri, storage_options=storage_options)
    assert isinstance(store, ContentStore)  # every scheme but http(s), refused above
    return FileTree(store.fs, store.root)
