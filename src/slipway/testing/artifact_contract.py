"""The conformance suite every BlobStore must pass (STYLE §10).

Subclass :class:`BlobStoreContract` in a ``Test…`` class and provide:

- a ``blobs`` fixture returning a fresh, empty store for each test;
- ``overwrite(blobs, digest, data)``: replace the stored bytes of one blob with ``data`` behind the
  store's back (for a folder, write its file; for a bucket, put ``data`` at its key), so the suite
  can check that every read refuses a damaged copy and that the store repairs it;
- ``stored_count(blobs)``: how many blobs the backend holds, so the suite can check that storing
  the same bytes twice stores them once.

::

    class TestMyStore(BlobStoreContract):
        @pytest.fixture
        def blobs(self, tmp_path):
            return MyStore(tmp_path)

        def overwrite(self, blobs, digest, data):
            ...

        def stored_count(self, blobs):
            ...

.. versionchanged:: 0.1
   ``overwrite`` replaces the ``corrupt`` hook, which now defaults to overwriting with other bytes;
   the repair tests need damage of a chosen size.
"""

from __future__ import annotations

import hashlib
import os
import threading
from typing import TYPE_CHECKING

import pytest

from slipway.errors import ArtifactNotFound, IntegrityViolation, InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.artifacts import Blob, BlobStore

__all__ = ["BlobStoreContract"]

_ABSENT = hashlib.sha256(b"never stored by the contract").hexdigest()
_MALFORMED = [
    "",
    "abc",
    _ABSENT[:-1],
    _ABSENT + "0",
    _ABSENT.upper(),
    "g" * 64,
    "../" + _ABSENT[3:],
    "/" + _ABSENT[1:],
    f"sha256:{_ABSENT}",
]
_MB = 1024 * 1024


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


class BlobStoreContract:
    """Every test here must pass for a BlobStore implementation to ship."""

    # ------------------------------------------------------------ hooks subclasses provide

    def overwrite(self, blobs: BlobStore, digest: str, data: bytes) -> None:
        """Replace the stored bytes of ``digest`` with ``data``, bypassing the store."""
        raise NotImplementedError(f"{type(self).__name__} must implement overwrite(blobs, digest, data)")

    def corrupt(self, blobs: BlobStore, digest: str) -> None:
        """Replace the stored bytes of ``digest`` with other bytes, bypassing the store."""
        self.overwrite(blobs, digest, b"altered behind the store's back")

    def stored_count(self, blobs: BlobStore) -> int:
        """How many blobs the backend holds."""
        raise NotImplementedError(f"{type(self).__name__} must implement stored_count(blobs)")

    # ------------------------------------------------------------ round trips

    @pytest.mark.parametrize("data", [b"", b"x", bytes(range(256)) * 41], ids=["empty", "1B", "10kB"])
    def test_bytes_round_trip(self, blobs: BlobStore, data: bytes) -> None:
        blob = blobs.put_bytes(data)

        assert blobs.get_bytes(blob.digest) == data

    def test_the_digest_is_the_sha256_of_the_bytes(self, blobs: BlobStore) -> None:
        data = b"the address is the content"

        blob = blobs.put_bytes(data)

        assert blob.digest == hashlib.sha256(data).hexdigest()
        assert blob.size == len(data)

    @pytest.mark.parametrize("size", [0, 1, 100_003], ids=["empty", "1B", "100kB"])
    def test_file_round_trip(self, blobs: BlobStore, tmp_path: Path, size: int) -> None:
        data = os.urandom(size)
        src = _write(tmp_path / "src" / "model.bin", data)

        blob = blobs.put_file(src)
        out = blobs.download(blob.digest, tmp_path / "out" / "model.bin")

        assert blob.digest == _sha(data)
        assert blob.size == size
        assert out == tmp_path / "out" / "model.bin"
        assert out.read_bytes() == data
        assert blobs.get_bytes(blob.digest) == data

    def test_a_file_of_several_megabytes_streams_through(self, blobs: BlobStore, tmp_path: Path) -> None:
        data = os.urandom(5 * _MB + 12_345)  # not a multiple of any chunk or block size
        src = _write(tmp_path / "big.bin", data)

        blob = blobs.put_file(src)
        out = blobs.download(blob.digest, tmp_path / "big.out")

        assert blob.digest == _sha(data)
        assert blob.size == len(data)
        assert _sha(out.read_bytes()) == blob.digest

    def test_a_file_and_its_bytes_make_the_same_blob(self, blobs: BlobStore, tmp_path: Path) -> None:
        data = b"same bytes, same address"

        from_file = blobs.put_file(_write(tmp_path / "f", data))
        from_bytes = blobs.put_bytes(data)

        assert from_file == from_bytes

    # ------------------------------------------------------------ idempotence

    def test_the_same_bytes_are_stored_once(self, blobs: BlobStore, tmp_path: Path) -> None:
        data = b"logged by every run"

        first = blobs.put_bytes(data)
        again = blobs.put_bytes(data)
        from_a_file = blobs.put_file(_write(tmp_path / "a" / "copy.txt", data))
        from_another = blobs.put_file(_write(tmp_path / "b" / "other-name.txt", data))

        assert first == again == from_a_file == from_another
        assert self.stored_count(blobs) == 1
        assert blobs.get_bytes(first.digest) == data

    def test_distinct_bytes_are_distinct_blobs(self, blobs: BlobStore) -> None:
        a = blobs.put_bytes(b"a")
        b = blobs.put_bytes(b"b")

        assert a.digest != b.digest
        assert self.stored_count(blobs) == 2

    def test_concurrent_puts_of_the_same_bytes_agree(self, blobs: BlobStore) -> None:
        data = os.urandom(64 * 1024)
        results: list[Blob] = []
        errors: list[BaseException] = []

        def put() -> None:
            try:
                results.append(blobs.put_bytes(data))
            except BaseException as exc:  # collected, then asserted on the main thread
                errors.append(exc)

        threads = [threading.Thread(target=put) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert errors == []
        assert {r.digest for r in results} == {_sha(data)}
        assert blobs.get_bytes(_sha(data)) == data
        assert self.stored_count(blobs) == 1

    # ------------------------------------------------------------ exists, missing, malformed

    def test_exists_answers_for_stored_and_absent_blobs(self, blobs: BlobStore) -> None:
        blob = blobs.put_bytes(b"here")

        assert blobs.exists(blob.digest)
        assert not blobs.exists(_ABSENT)

    @pytest.mark.parametrize("size", [0, 1, 10_007], ids=["empty", "1B", "10kB"])
    def test_stored_size_is_the_size_of_the_stored_copy(self, blobs: BlobStore, size: int) -> None:
        blob = blobs.put_bytes(os.urandom(size))

        assert blobs.stored_size(blob.digest) == size
        assert blobs.stored_size(_ABSENT) is None

    def test_stored_size_reports_a_damaged_copy_as_it_is(self, blobs: BlobStore) -> None:
        blob = blobs.put_bytes(b"twelve bytes")
        self.overwrite(blobs, blob.digest, b"twelve")

        assert blobs.stored_size(blob.digest) == 6

    def test_a_missing_blob_is_not_found(self, blobs: BlobStore, tmp_path: Path) -> None:
        dest = tmp_path / "out" / "missing.bin"

        with pytest.raises(ArtifactNotFound, match=_ABSENT):
            blobs.get_bytes(_ABSENT)
        with pytest.raises(ArtifactNotFound, match=_ABSENT):
            blobs.download(_ABSENT, dest)
        assert not dest.exists()

    @pytest.mark.parametrize("digest", _MALFORMED)
    def test_a_malformed_digest_is_invalid_input(self, blobs: BlobStore, tmp_path: Path, digest: str) -> None:
        with pytest.raises(InvalidInput, match="64 lowercase hex"):
            blobs.get_bytes(digest)
        with pytest.raises(InvalidInput, match="64 lowercase hex"):
            blobs.exists(digest)
        with pytest.raises(InvalidInput, match="64 lowercase hex"):
            blobs.stored_size(digest)
        with pytest.raises(InvalidInput, match="64 lowercase hex"):
            blobs.download(digest, tmp_path / "out")
        assert not (tmp_path / "out").exists()

    def test_a_missing_source_file_is_invalid_input(self, blobs: BlobStore, tmp_path: Path) -> None:
        with pytest.raises(InvalidInput, match="no-such-file"):
            blobs.put_file(tmp_path / "no-such-file")

    # ------------------------------------------------------------ download

    def test_download_leaves_only_the_destination(self, blobs: BlobStore, tmp_path: Path) -> None:
        blob = blobs.put_bytes(b"payload")
        dest_dir = tmp_path / "fresh" / "nested"

        blobs.download(blob.digest, dest_dir / "f.bin")

        assert [p.name for p in dest_dir.iterdir()] == ["f.bin"]

    def test_download_replaces_an_existing_file(self, blobs: BlobStore, tmp_path: Path) -> None:
        blob = blobs.put_bytes(b"new contents")
        dest = _write(tmp_path / "f.bin", b"old contents, longer than the new ones")

        blobs.download(blob.digest, dest)

        assert dest.read_bytes() == b"new contents"

    # ------------------------------------------------------------ integrity

    def test_a_tampered_blob_is_refused_by_every_read(self, blobs: BlobStore, tmp_path: Path) -> None:
        blob = blobs.put_bytes(b"the weights we trained")
        self.corrupt(blobs, blob.digest)
        dest = tmp_path / "out" / "weights.bin"

        with pytest.raises(IntegrityViolation, match=blob.digest) as on_get:
            blobs.get_bytes(blob.digest)
        blobs.put_bytes(b"the weights we trained")  # the failed read removed the corrupt copy
        self.corrupt(blobs, blob.digest)
        with pytest.raises(IntegrityViolation, match=blob.digest):
            blobs.download(blob.digest, dest)

        assert not dest.exists()
        assert not dest.parent.exists() or list(dest.parent.iterdir()) == []
        # The message says what was found, not only what was expected.
        assert str(on_get.value).count("sha256:") >= 2

    def test_a_failed_download_keeps_the_previous_file(self, blobs: BlobStore, tmp_path: Path) -> None:
        blob = blobs.put_bytes(b"v2 of the model")
        self.corrupt(blobs, blob.digest)
        dest = _write(tmp_path / "deployed" / "model.bin", b"v1 of the model")

        with pytest.raises(IntegrityViolation):
            blobs.download(blob.digest, dest)

        assert dest.read_bytes() == b"v1 of the model"
        assert [p.name for p in dest.parent.iterdir()] == ["model.bin"]

    # ------------------------------------------------------------ repair

    @pytest.mark.parametrize("put", ["put_bytes", "put_file"])
    def test_a_copy_of_the_wrong_size_is_stored_again_by_the_next_put(
        self, blobs: BlobStore, tmp_path: Path, put: str
    ) -> None:
        data = b"the complete weights, all of them: " + os.urandom(16)  # unique: backends may be shared
        blob = blobs.put_bytes(data)
        self.overwrite(blobs, blob.digest, data[:7])  # a torn upload, never read since

        again = _put(blobs, put, data, tmp_path)

        assert again == blob
        assert blobs.stored_size(blob.digest) == len(data)
        assert blobs.get_bytes(blob.digest) == data

    @pytest.mark.parametrize("put", ["put_bytes", "put_file"])
    @pytest.mark.parametrize("read", ["get_bytes", "download"])
    def test_a_read_removes_a_corrupt_copy_so_the_next_put_stores_it_again(
        self, blobs: BlobStore, tmp_path: Path, put: str, read: str
    ) -> None:
        data = b"the weights we trained: " + os.urandom(16)  # unique: backends may be shared
        blob = blobs.put_bytes(data)
        self.overwrite(blobs, blob.digest, bytes(reversed(data)))  # same size: a put cannot tell

        with pytest.raises(IntegrityViolation, match=blob.digest):
            _read(blobs, read, blob.digest, tmp_path)

        assert not blobs.exists(blob.digest)
        assert _put(blobs, put, data, tmp_path) == blob
        assert blobs.get_bytes(blob.digest) == data
        assert self.stored_count(blobs) == 1


def _put(blobs: BlobStore, how: str, data: bytes, tmp_path: Path) -> Blob:
    if how == "put_bytes":
        return blobs.put_bytes(data)
    return blobs.put_file(_write(tmp_path / "again" / "weights.bin", data))


def _read(blobs: BlobStore, how: str, digest: str, tmp_path: Path) -> bytes:
    if how == "get_bytes":
        return blobs.get_bytes(digest)
    return blobs.download(digest, tmp_path / "out" / "blob.bin").read_bytes()
