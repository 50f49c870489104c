"""ContentStore: the conformance suite on a folder, in memory and on S3 (moto), plus what only a
folder can show (layout, atomic temp files, bounded memory) and the verified streaming read."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tracemalloc
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slipway.artifacts import Blob, BlobStore, ContentStore, open_blob_store
from slipway.errors import ArtifactNotFound, Conflict, IntegrityViolation, InvalidInput
from slipway.testing.artifact_contract import BlobStoreContract

if TYPE_CHECKING:
    from collections.abc import Iterator

_MB = 1024 * 1024


def _key(store: ContentStore, digest: str) -> str:
    """The documented layout, spelled out independently of the implementation."""
    return f"{store.root}/sha256/{digest[:2]}/{digest[2:]}"


class _FsspecHooks:
    """Tampering and counting through the store's own filesystem, bypassing the store."""

    def overwrite(self, blobs: BlobStore, digest: str, data: bytes) -> None:
        store = cast("ContentStore", blobs)
        store.fs.pipe_file(_key(store, digest), data)

    def stored_count(self, blobs: BlobStore) -> int:
        store = cast("ContentStore", blobs)
        return len(store.fs.find(store.root))


class TestLocalFolder(_FsspecHooks, BlobStoreContract):
    @pytest.fixture
    def blobs(self, tmp_path: Path) -> BlobStore:
        return open_blob_store(str(tmp_path / "store"))

    def overwrite(self, blobs: BlobStore, digest: str, data: bytes) -> None:
        Path(_key(cast("ContentStore", blobs), digest)).write_bytes(data)  # in place: same inode


class TestMemory(_FsspecHooks, BlobStoreContract):
    @pytest.fixture
    def blobs(self) -> Iterator[BlobStore]:
        store = cast("ContentStore", open_blob_store(f"memory://contract-{uuid.uuid4().hex}"))
        yield store
        if store.fs.exists(store.root):  # the memory filesystem is one per process
            store.fs.rm(store.root, recursive=True)


@pytest.mark.s3
@pytest.mark.usefixtures("aws_env")
class TestS3(_FsspecHooks, BlobStoreContract):
    @pytest.fixture
    def blobs(self, s3_endpoint: str, s3_prefix: str) -> BlobStore:
        return open_blob_store(s3_prefix, storage_options={"client_kwargs": {"endpoint_url": s3_endpoint}})

    @pytest.mark.parametrize("size", [3 * _MB, 9 * _MB], ids=["one-shot-put", "multipart"])
    def test_an_upload_that_fails_midway_leaves_nothing(
        self, blobs: BlobStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, size: int
    ) -> None:
        store = cast("ContentStore", blobs)
        src = tmp_path / "model.bin"
        src.write_bytes(os.urandom(size + _MB))
        _fail_the_copy_after(size, monkeypatch)

        with pytest.raises(OSError, match="the disk went away"):
            store.put_file(src)

        store.fs.invalidate_cache()
        assert store.fs.find(store.root) == []  # fsspec's close() would have completed the upload
        bucket, _, prefix = store.root.partition("/")
        pending = store.fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
        assert pending.get("Uploads", []) == []  # and no part is left to pay for

    def test_a_file_larger_than_a_block_goes_up_in_parts(self, blobs: BlobStore, tmp_path: Path) -> None:
        src = tmp_path / "big.bin"
        src.write_bytes(os.urandom(17 * _MB + 5))  # three 8 MB blocks: a multipart upload

        blob = blobs.put_file(src)

        assert blobs.download(blob.digest, tmp_path / "big.out").read_bytes() == src.read_bytes()


# ---------------------------------------------------------------- what only a folder shows


@pytest.fixture
def folder(tmp_path: Path) -> ContentStore:
    return cast("ContentStore", open_blob_store(str(tmp_path / "store")))


def test_the_folder_layout_is_sha256_with_a_two_level_fan_out(folder: ContentStore, tmp_path: Path) -> None:
    digest = folder.put_bytes(b"hello").digest

    files = [p.relative_to(tmp_path / "store").as_posix() for p in (tmp_path / "store").rglob("*")]

    assert sorted(files) == ["sha256", f"sha256/{digest[:2]}", f"sha256/{digest[:2]}/{digest[2:]}"]


def test_the_root_is_created_by_the_first_write_only(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "later"))
    assert not store.exists(hashlib.sha256(b"x").hexdigest())
    with pytest.raises(ArtifactNotFound):
        store.get_bytes(hashlib.sha256(b"x").hexdigest())
    assert not (tmp_path / "later").exists()

    store.put_bytes(b"x")

    assert (tmp_path / "later").is_dir()


def test_putting_a_stored_file_again_does_not_rewrite_it(folder: ContentStore, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(1000))
    blob = folder.put_file(src)
    stored = Path(_key(folder, blob.digest))
    before = stored.stat()

    folder.put_file(src)
    folder.put_bytes(src.read_bytes())

    after = stored.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_truncated_blob_is_rewritten_by_the_next_put(folder: ContentStore) -> None:
    blob = folder.put_bytes(b"complete contents")
    Path(_key(folder, blob.digest)).write_bytes(b"compl")
    with pytest.raises(IntegrityViolation):
        folder.get_bytes(blob.digest)

    folder.put_bytes(b"complete contents")

    assert folder.get_bytes(blob.digest) == b"complete contents"


@pytest.mark.parametrize("where", ["folder", "memory"])  # a rename, and a write to the final key
def test_a_file_that_changes_while_stored_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    uri = str(tmp_path / "store") if where == "folder" else f"memory://changing-{uuid.uuid4().hex}"
    store = cast("ContentStore", open_blob_store(uri))
    src = tmp_path / "being-written.csv"
    src.write_bytes(b"a,b\n1,2\n")
    holds = store._holds

    def holds_then_change(blob: Blob) -> bool:  # the writer appends between the two reads
        with src.open("ab") as f:
            f.write(b"3,4\n")
        return holds(blob)

    monkeypatch.setattr(store, "_holds", holds_then_change)

    with pytest.raises(Conflict, match=r"being-written\.csv changed"):
        store.put_file(src)

    assert store.fs.find(store.root) == []  # neither the blob nor a temporary file
    assert not store.exists(hashlib.sha256(b"a,b\n1,2\n").hexdigest())


def _fail_the_copy_after(nbytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The copy into the store (the second read of the source) fails after ``nbytes``."""
    import slipway.artifacts._content as content

    calls = 0

    def failing_chunks(stream: io.BufferedIOBase, size: int = _MB) -> Iterator[bytes]:
        nonlocal calls
        calls += 1
        sent = 0
        while chunk := stream.read(size):
            if calls > 1 and sent >= nbytes:
                raise OSError("the disk went away")
            sent += len(chunk)
            yield chunk

    monkeypatch.setattr(content, "chunks", failing_chunks)
    monkeypatch.setattr("slipway.artifacts._digest.chunks", failing_chunks)


def test_an_upload_to_memory_that_fails_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = cast("ContentStore", open_blob_store(f"memory://failing-{uuid.uuid4().hex}"))
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(3 * _MB))
    _fail_the_copy_after(_MB, monkeypatch)

    with pytest.raises(OSError, match="the disk went away"):
        store.put_file(src)

    assert store.fs.find(store.root) == []


def test_a_read_keeps_a_copy_that_a_put_replaced_meanwhile(
    folder: ContentStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    data = b"the weights we trained"
    blob = folder.put_bytes(data)
    key = Path(_key(folder, blob.digest))
    key.write_bytes(bytes(reversed(data)))
    cat_file = folder.fs.cat_file

    def read_then_a_put_repairs_it(path: str, **kwargs: object) -> bytes:
        read: bytes = cat_file(path, **kwargs)
        repaired = tmp_path / "repaired"
        repaired.write_bytes(data)
        os.replace(repaired, key)  # what a concurrent put_file does: a new file renamed into place
        return read

    monkeypatch.setattr(folder.fs, "cat_file", read_then_a_put_repairs_it)

    with pytest.raises(IntegrityViolation):
        folder.get_bytes(blob.digest)

    monkeypatch.undo()
    assert folder.get_bytes(blob.digest) == data


def test_writes_and_downloads_stream_in_bounded_memory(folder: ContentStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    with src.open("wb") as f:
        for _ in range(24):
            f.write(os.urandom(_MB))

    tracemalloc.start()
    try:
        blob = folder.put_file(src)
        folder.download(blob.digest, tmp_path / "big.out")
        with folder.open(blob.digest) as stream, (tmp_path / "big.copy").open("wb") as out:
            shutil.copyfileobj(stream, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert blob.size == 24 * _MB
    assert peak < 8 * _MB, f"peak {peak / _MB:.1f} MB for a 24 MB file"


def test_a_download_to_an_occupied_name_never_exposes_a_partial_file(
    folder: ContentStore, tmp_path: Path
) -> None:
    # The destination is replaced by a rename, so its inode changes in one step.
    old = tmp_path / "dest.bin"
    old.write_bytes(b"old")
    inode = old.stat().st_ino
    blob = folder.put_bytes(b"new")

    folder.download(blob.digest, old)

    assert old.read_bytes() == b"new"
    assert old.stat().st_ino != inode


_HYPOTHESIS_STORE = f"memory://hypothesis-{uuid.uuid4().hex}"


@given(data=st.binary(max_size=4096))
@settings(max_examples=50, deadline=None)
def test_any_bytes_round_trip_in_memory(data: bytes) -> None:
    store = open_blob_store(_HYPOTHESIS_STORE)

    blob = store.put_bytes(data)

    assert blob == Blob(digest=hashlib.sha256(data).hexdigest(), size=len(data))
    assert store.get_bytes(blob.digest) == data


# ---------------------------------------------------------------- the verified streaming read


def test_a_stream_reads_the_whole_blob(folder: ContentStore) -> None:
    data = os.urandom(3 * _MB + 7)
    blob = folder.put_bytes(data)

    with folder.open(blob.digest) as stream:
        assert stream.read() == data


def test_a_stream_of_a_tampered_blob_fails_at_the_end(folder: ContentStore) -> None:
    blob = folder.put_bytes(b"a" * 10_000)
    Path(_key(folder, blob.digest)).write_bytes(b"b" * 10_000)

    with folder.open(blob.digest) as stream:
        assert stream.read(100) == b"b" * 100  # no digest can be known before the end
        with pytest.raises(IntegrityViolation, match=blob.digest):
            stream.read()
        with pytest.raises(IntegrityViolation):  # and it stays failed
            stream.read()
    assert not folder.exists(blob.digest)  # removed, so the next put stores it again


def test_a_stream_cannot_seek(folder: ContentStore) -> None:
    blob = folder.put_bytes(b"abc")

    with folder.open(blob.digest) as stream, pytest.raises(io.UnsupportedOperation):
        stream.seek(1)


def test_a_stream_of_a_missing_or_malformed_digest_fails_at_open(folder: ContentStore) -> None:
    with pytest.raises(ArtifactNotFound):
        folder.open(hashlib.sha256(b"absent").hexdigest())
    with pytest.raises(InvalidInput):
        folder.open("not-a-digest")


def test_the_store_names_where_it_is(folder: ContentStore, tmp_path: Path) -> None:
    assert repr(folder) == f"ContentStore('file://{(tmp_path / 'store').as_posix()}')"
