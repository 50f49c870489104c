"""Blobs through a team server's proxy (``/api/v1/blobs/{digest}``): no cloud credentials needed.

The server checks every upload against the digest in its URL and every stored blob before sending
it; this client checks again on arrival, because a proxy, a disk or a bug in between is exactly
what content addressing is there to catch. Files stream both ways, so memory stays bounded.

It shares nothing with ``store._http`` but the protocol: the two are siblings (STYLE B.3), and the
few lines of client setup are repeated rather than moved somewhere both may import.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from slipway._version import __version__
from slipway.artifacts._digest import CHUNK, changed, check_digest, chunks, hash_file, mismatch
from slipway.artifacts._port import Blob
from slipway.errors import (
    ArtifactNotFound,
    InvalidInput,
    SlipwayError,
    StoreUnavailable,
    Unauthorized,
    error_from_code,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

__all__ = ["HttpContentStore"]

_TIMEOUT = httpx.Timeout(120.0, connect=5.0, pool=30.0)


class HttpContentStore:
    """:class:`~slipway.artifacts.BlobStore` over a ``slipway server``."""

    def __init__(self, client: httpx.Client, *, server: str) -> None:
        self._client = client
        self._server = server

    @classmethod
    def connect(cls, uri: str, *, token: str | None = None) -> HttpContentStore:
        """Open no connection yet; the first call connects."""
        server = uri.rstrip("/")
        headers = {"User-Agent": f"slipway/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        client = httpx.Client(
            base_url=f"{server}/api/v1",
            headers=headers,
            timeout=_TIMEOUT,
            transport=httpx.HTTPTransport(retries=2),  # connection setup only; never a replayed PUT
        )
        return cls(client, server=server)

    def __repr__(self) -> str:
        return f"HttpContentStore({self._server!r})"

    def close(self) -> None:
        self._client.close()

    # -------------------------------------------------------------------- writes

    def put_bytes(self, data: bytes) -> Blob:
        blob = Blob(digest=hashlib.sha256(data).hexdigest(), size=len(data))
        self._upload(blob, content=data)
        return blob

    def put_file(self, path: Path) -> Blob:
        """Hash first, then upload only what the server lacks (a re-logged model costs one HEAD)."""
        path = Path(path)
        blob = hash_file(path)
        if self.exists(blob.digest):
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
        self._call("PUT", f"/blobs/{blob.digest}", content=content, headers=headers).close()

    # -------------------------------------------------------------------- reads

    def exists(self, digest: str) -> bool:
        check_digest(digest)
        response = self._call("HEAD", f"/blobs/{digest}", missing_ok=True)
        return response.status_code != 404

    def get_bytes(self, digest: str) -> bytes:
        check_digest(digest)
        data = self._call("GET", f"/blobs/{digest}").content
        found = hashlib.sha256(data).hexdigest()
        if found != digest:
            raise mismatch(digest, found, len(data), self._server)
        return data

    def download(self, digest: str, dest: Path) -> Path:
        """Stream into a temporary file beside ``dest``; rename over it only once verified."""
        check_digest(digest)
        dest = Path(dest)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:12]}.part")
        request = self._client.build_request("GET", f"/blobs/{digest}")
        response = self._send(request, stream=True)
        try:
            _raise_for_answer(response, server=self._server)
            dest.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            size = 0
            try:
                with tmp.open("xb") as out:
                    for chunk in response.iter_bytes(CHUNK):
                        h.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            except httpx.TransportError as exc:
                raise StoreUnavailable(
                    f"team server {self._server}: the download of sha256:{digest} broke off ({exc})"
                ) from None
            if h.hexdigest() != digest:
                raise mismatch(digest, h.hexdigest(), size, self._server)
            tmp.replace(dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            response.close()
        return dest

    # -------------------------------------------------------------------- plumbing

    def _call(self, method: str, path: str, *, missing_ok: bool = False, **kwargs: Any) -> httpx.Response:
        response = self._send(self._client.build_request(method, path, **kwargs), stream=False)
        if not (missing_ok and response.status_code == 404):
            _raise_for_answer(response, server=self._server)
        return response

    def _send(self, request: httpx.Request, *, stream: bool) -> httpx.Response:
        try:
            return self._client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise StoreUnavailable(
                f"team server {self._server} did not answer {request.method} {request.url.path} in time "
                f"({type(exc).__name__})"
            ) from None
        except httpx.LocalProtocolError as exc:  # nothing was sent: e.g. a token with a newline in it
            raise InvalidInput(
                f"request to team server {self._server} cannot be sent: {exc} (check SLIPWAY_TOKEN)"
            ) from None
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"team server {self._server} is unreachable ({exc or type(exc).__name__}); "
                "is `slipway server` running?"
            ) from None


def _raise_for_answer(response: httpx.Response, *, server: str) -> None:
    if response.is_success:
        return
    response.read()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str) and isinstance(body.get("code"), str):
        raise error_from_code(body["code"], body["error"])
    where = f"team server {server}: {response.request.method} {response.request.url.path}"
    status = response.status_code
    if status == 404:
        raise ArtifactNotFound(f"{where}: not found")
    if status in (401, 403):
        raise Unauthorized(f"{where}: the bearer token was refused (set SLIPWAY_TOKEN)")
    if status < 500:
        raise InvalidInput(f"{where}: HTTP {status}")
    if status == 503:
        raise StoreUnavailable(f"{where}: HTTP {status}")
    raise SlipwayError(f"{where}: HTTP {status}")
