"""Content-addressed artifact storage: blobs keyed by the SHA-256 of their bytes, verified on every read.

``open_blob_store(uri)`` picks the backend from the URI (a folder, ``s3://``, ``gs://``, ``memory://``
or a team server's ``http(s)://``); every backend passes ``slipway.testing.artifact_contract``.
``open_file_tree(uri)`` opens the named-file area beside it (a folder or an fsspec URL), where files
are found by their path and written atomically: the prediction log lives there.
"""

from slipway.artifacts._content import ContentStore
from slipway.artifacts._open import open_blob_store
from slipway.artifacts._port import Blob, BlobStore
from slipway.artifacts._tree import FileTree, open_file_tree

__all__ = ["Blob", "BlobStore", "ContentStore", "FileTree", "open_blob_store", "open_file_tree"]
