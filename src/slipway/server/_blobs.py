"""The artifact proxy: blobs go through the server, so clients need no cloud credentials.

An upload is addressed by the SHA-256 the client claims for it. The server hashes the body as it
arrives and stores nothing unless the two agree, so a truncated or altered upload can never sit in
the store under the digest of the real file. Bodies are spooled to a temporary file beyond a few
megabytes, so memory stays bounded whatever the artifact's size. Downloads are verified by the
blob store on the way out and again by the client on the way in.
"""

import hashlib
import shutil
import tempfile
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Annotated, BinaryIO

from fastapi import APIRouter, Path, Request
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from slipway.errors import IntegrityViolation, InvalidInput
from slipway.server._routes import json_answer
from slipway.store._wire import DIGEST_PATTERN, BlobWire

if TYPE_CHECKING:
    from slipway.artifacts import BlobStore

#: Bodies up to this size are hashed and stored from memory; larger ones go through a temp file.
_IN_MEMORY = 8 * 1024 * 1024

Digest = Annotated[str, Path(pattern=DIGEST_PATTERN, description="lowercase hex SHA-256 of the bytes")]


def blob_router(blobs: "BlobStore") -> APIRouter:
    router = APIRouter(tags=["blobs"])

    @router.head("/blobs/{digest}", status_code=200, responses={404: {"description": "no such blob"}})
    def blob_exists(digest: Digest) -> Response:
        """200 with the stored copy's size as Content-Length, or 404.

        Clients compare that size with their file's and upload again when they differ, so a
        torn copy is repaired by the next upload, as the blob store repairs it by the next put.
        """
        size = blobs.stored_size(digest)
        if size is None:
            return Response(status_code=404)
        return Response(status_code=200, headers={"Content-Length": str(size)})

    @router.get(
        "/blobs/{digest}",
        response_class=FileResponse,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    def get_blob(digest: Digest) -> Response:
        """The blob's bytes, streamed; the store verified them against the digest first."""
        folder = FilePath(tempfile.mkdtemp(prefix="slipway-blob-"))
        try:
            path = blobs.download(digest, folder / digest)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return FileResponse(
            path,
            media_type="application/octet-stream",
            background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
        )

    @router.put(
        "/blobs/{digest}",
        response_model=BlobWire,
        status_code=201,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {}}}}
        },
    )
    async def put_blob(digest: Digest, request: Request) -> Response:
        """Store the raw body under its digest; 400 and nothing stored when the bytes do not match."""
        hasher = hashlib.sha256()
        buffer = bytearray()
        spool: BinaryIO | None = None
        folder: FilePath | None = None
        try:
            async for chunk in request.stream():
                hasher.update(chunk)
                if spool is None and len(buffer) + len(chunk) <= _IN_MEMORY:
                    buffer += chunk
                    continue
                if spool is None:
                    folder = FilePath(tempfile.mkdtemp(prefix="slipway-upload-"))
                    spool = (folder / "body").open("wb")
                    spool.write(buffer)
                    buffer.clear()
                spool.write(chunk)
            actual = hasher.hexdigest()
            if actual != digest:
                raise InvalidInput(
                    f"blob upload {digest}: the body's SHA-256 is {actual}; expected the digest in the URL "
                    "(nothing was stored)"
                )
            if spool is None:
                blob = await run_in_threadpool(blobs.put_bytes, bytes(buffer))
            else:
                spool.close()
                assert folder is not None
                blob = await run_in_threadpool(blobs.put_file, folder / "body")
        finally:
            if spool is not None:
                spool.close()
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        if blob.digest != digest:  # pragma: no cover - a blob store that hashes differently is a bug
            raise IntegrityViolation(f"blob {digest}: the blob store filed it as {blob.digest}")
        return json_answer(BlobWire(digest=blob.digest, size=blob.size), status=201)

    return router
