"""Content-addressed artifact storage: blobs keyed by the SHA-256 of their bytes, verified on every read.

``open_blob_store(uri)`` picks the backend from the URI (a folder, ``s3://``, ``gs://``, ``memory://``
or a team server's ``http(s)://``); every backend passes ``slipway.testing.artifact_contract``.
"""

from slipway.artifacts._content import ContentStore
from slipway.artifacts._open import open_blob_store
from slipway.artifacts._port import Blob, BlobStore

__all__ = ["Blob", "BlobStore", "ContentStore", "open_blob_store"]
