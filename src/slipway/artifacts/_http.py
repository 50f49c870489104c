"""Blobs through a team server's proxy (``/api/v1/blobs/{digest}``): no cloud credentials needed.

The server checks every upload against the digest in its URL and every stored blob before sending
it; this client checks again on arrival, because a proxy, a disk or a bug in between is exactly
what content addressing is there to catch. Files stream both ways, so memory stays bounded.

Client setup, error decoding and transport-error translation are ``slipway._transport``'s, shared
with ``store._http``: the two adapters are siblings (STYLE B.3) and import nothing from each other.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from slipway._transport import Connection, raise_for_answer
from slipway.artifacts._digest import CHUNK, changed, check_digest, chunks, hash_file, mismatch
from slipway.artifacts._port import Blob
from slipway.errors import ArtifactNotFound, InvalidInput, StoreUnavailable

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

__all__ = ["HttpContentStore"]

# Blobs can be large: a read may take a while; connecting still has to be quick.
_TIMEOUT = httpx.Timeout(120.0, connect=5.0, pool=30.0)


class HttpContentStore:
    """:class:`~slipway.artifacts.BlobStore` over a ``slipway server``."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    @classmethod
    def connect(cls, uri: str, *, token: str | None = None) -> HttpContentStore:
        """Open no connection yet; the first call connects."""
        return cls(Connection(uri, token=token, timeout=_TIMEOUT))

    def __repr__(self) -> str:
        return f"HttpContentStore({self._conn.server!r})"

    def close(self) -> None:
        self._conn.close()

    # -------------------------------------------------------------------- writes

    def put_bytes(self, data: bytes) -> Blob:
        blob = Blob(digest=hashlib.sha256(data).hexdigest(), size=len(data))
        self._upload(blob, content=data)
        return blob

    def put_file(self, path: Path) -> Blob:
        """Hash first, then upload unless the server holds a copy of this size (one HEAD).

        A copy of another size (a torn upload, a damaged disk) is uploaded over, as a local
        store would rewrite it.
        """
        path = Path(path)
        blob = hash_file(path)
        if self.stored_size(blob.digest) == blob.size:
            return blob
        sent = hashlib.sha256()

        def body(f: BinaryIO) -> Iterator[bytes]:
            for chunk in chunks(f):
                sent.update(chunk)
                yield chunk

        with path.open("rb") as f:
            try:
                self._upload(blob, content=body(f))
            except InvalidInput:
                if sent.hexdigest() == blob.digest:
                    raise
                # The server refused bytes that no longer match the digest: the file changed.
                raise changed(str(path), blob.digest, sent.hexdigest()) from None
        return blob

    def _upload(self, blob: Blob, *, content: bytes | Iterator[bytes]) -> None:
        # A stream goes chunked, without a length: a file that grows or shrinks meanwhile still
        # arrives whole, and the server refuses it for not matching the digest in the URL.
        headers = {"Content-Type": "application/octet-stream"}
        self._conn.call("PUT", f"/blobs/{blob.digest}", content=content, headers=headers)

    # -------------------------------------------------------------------- reads

    def exists(self, digest: str) -> bool:
        return self.stored_size(digest) is not None

    def stored_size(self, digest: str) -> int | None:
        """The size the server reports for its copy (``HEAD``'s Content-Length)."""
        check_digest(digest)
        response = self._conn.send("HEAD", f"/blobs/{digest}")
        if response.status_code == 404:
            return None
        self._raise_for_answer(response)
        length = response.headers.get("Content-Length", "")
        if not length.isdigit():
            raise StoreUnavailable(
                f"team server {self._conn.server}: HEAD /blobs/{digest} answered without a size "
                f"(Content-Length {length!r}); is a proxy in between altering it?"
            )
        return int(length)

    def get_bytes(self, digest: str) -> bytes:
        check_digest(digest)
        data = self._conn.call("GET", f"/blobs/{digest}", not_found=ArtifactNotFound).content
        found = hashlib.sha256(data).hexdigest()
        if found != digest:
            raise mismatch(digest, found, len(data), self._conn.server)
        return data

    def download(self, digest: str, dest: Path) -> Path:
        """Stream into a temporary file beside ``dest``; rename over it only once verified."""
        check_digest(digest)
        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")
        response = self._conn.send("GET", f"/blobs/{digest}", stream=True)
        try:
            self._raise_for_answer(response)
            dest.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            size = 0
            with tmp.open("xb") as out:
                for chunk in self._conn.iter_bytes(response, chunk_size=CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            if h.hexdigest() != digest:
                raise mismatch(digest, h.hexdigest(), size, self._conn.server)
            tmp.replace(dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            response.close()
        return dest

    def _raise_for_answer(self, response: httpx.Response) -> None:
        raise_for_answer(response, server=self._conn.server, not_found=ArtifactNotFound)
