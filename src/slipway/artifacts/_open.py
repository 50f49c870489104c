"""Choosing a blob store by URI scheme, lazily, with an error that names the extra to install.

fsspec already resolves its protocols lazily; this table adds only what slipway promises: which
schemes are supported, and which extra installs each one's driver. Nothing is imported, created
or contacted until a store is opened, and a local folder is created only by the first write.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from slipway.artifacts._content import ContentStore
from slipway.errors import InvalidInput, MissingExtra

if TYPE_CHECKING:
    from collections.abc import Mapping

    from slipway.artifacts._port import BlobStore

_HTTP_STORE = "slipway.artifacts._http:HttpContentStore"

_BLOB_STORES: dict[str, tuple[str | None, str | None]] = {  # scheme -> (driver module, extra)
    "file": (None, None),
    "memory": (None, None),
    "s3": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "http": (None, None),
    "https": (None, None),
}


def open_blob_store(
    uri: str,
    *,
    token: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> BlobStore:
    """Open the blob store a URI names.

    Args:
        uri: a folder (``./artifacts``, ``file:///srv/artifacts``), ``memory://name`` (tests),
            ``s3://bucket/prefix``, ``gs://bucket/prefix``, or a team server's ``http(s)://`` URL.
        token: the team server's bearer token; only ``http(s)://`` uses it.
        storage_options: passed to the fsspec filesystem, e.g.
            ``{"client_kwargs": {"endpoint_url": "http://127.0.0.1:9000"}}`` for MinIO. S3 also
            honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` from the environment.

    .. versionadded:: 0.1
    """
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidInput(f"artifact store URI {uri!r}: expected a folder or a URL")
    scheme = urlsplit(uri).scheme.lower()
    options = dict(storage_options or {})
    if len(scheme) <= 1:  # no scheme, or a Windows drive letter: a folder
        return _local(Path(uri), options)
    if scheme not in _BLOB_STORES:
        raise InvalidInput(
            f"artifact store URI {uri!r}: expected a folder or a URL with scheme "
            f"{', '.join(f'{s}://' for s in sorted(_BLOB_STORES))}"
        )
    if scheme in ("http", "https"):
        if options:
            raise InvalidInput(f"artifact store URI {uri!r}: storage_options apply to fsspec backends only")
        module, _, attr = _HTTP_STORE.partition(":")
        store: BlobStore = getattr(importlib.import_module(module), attr).connect(uri, token=token)
        return store
    if scheme == "file":
        return _local(Path(url2pathname(_strip_file_scheme(uri))), options)

    driver, extra = _BLOB_STORES[scheme]
    if driver is not None:
        try:
            # Imported here, not through fsspec's registry, which caches a class once loaded.
            importlib.import_module(driver)
        except ImportError as exc:
            raise MissingExtra(f"{scheme}:// needs: pip install 'slipway[{extra}]'") from exc
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(uri, **options)
    if scheme != "memory" and not root.strip("/"):
        raise InvalidInput(f"artifact store URI {uri!r}: expected {scheme}://BUCKET[/PREFIX]")
    return ContentStore(fs, root)


def _strip_file_scheme(uri: str) -> str:
    rest = uri.split(":", 1)[1]
    if rest.startswith("//"):
        rest = rest[2:]
        if rest.startswith("localhost/"):
            rest = rest[len("localhost") :]
    if not rest:
        raise InvalidInput(f"artifact store URI {uri!r}: expected file:///PATH")
    return rest


def _local(path: Path, options: dict[str, Any]) -> ContentStore:
    from fsspec.implementations.local import LocalFileSystem

    # Made absolute now, at the edge, so a later chdir cannot move the store.
    return ContentStore(LocalFileSystem(**options), path.expanduser().absolute().as_posix())
