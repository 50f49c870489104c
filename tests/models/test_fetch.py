"""The one download cache: unsafe paths from a server are refused, a damaged copy repairs itself."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest

from slipway.errors import IntegrityViolation
from slipway.models import MANIFEST_FILE, cached_folder
from slipway.registry import _service as registry_service

if TYPE_CHECKING:
    from pathlib import Path


class FakeBlobs:
    """Just enough of a BlobStore: bytes by digest, written where asked (as a real one does)."""

    def __init__(self, *contents: bytes) -> None:
        self.blobs = {hashlib.sha256(c).hexdigest(): c for c in contents}
        self.downloads: list[str] = []

    def download(self, digest: str, dest: Path) -> Path:
        self.downloads.append(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self.blobs[digest])
        return dest


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_the_registry_uses_the_same_helper() -> None:
    assert vars(registry_service)["cached_folder"] is cached_folder  # the registry's loads use it


@pytest.mark.parametrize(
    "bad", ["../escape.txt", "../../escape.txt", "/tmp/escape.txt", "code/../../escape.txt", "a//b", "./a"]
)
def test_an_unsafe_path_is_refused_before_anything_is_written(tmp_path: Path, bad: str) -> None:
    blobs = FakeBlobs(b"manifest", b"evil")
    files = {MANIFEST_FILE: _digest(b"manifest"), bad: _digest(b"evil")}
    cache = tmp_path / "deep" / "er" / "cache"
    with pytest.raises(IntegrityViolation, match=r"runs:/r1/model: the file listing holds"):
        cached_folder(blobs, files, cache_dir=cache, where="runs:/r1/model")  # type: ignore[arg-type]
    assert blobs.downloads == []
    assert not list(tmp_path.rglob("escape.txt"))
    assert not cache.exists()


def test_a_damaged_cached_copy_is_moved_aside_and_downloaded_once_more(tmp_path: Path) -> None:
    blobs = FakeBlobs(b"manifest", b"weights")
    files = {MANIFEST_FILE: _digest(b"manifest"), "model.pkl": _digest(b"weights")}
    folder = cached_folder(blobs, files, cache_dir=tmp_path)  # type: ignore[arg-type]
    assert len(blobs.downloads) == 2
    assert cached_folder(blobs, files, cache_dir=tmp_path) == folder  # type: ignore[arg-type]
    assert len(blobs.downloads) == 2  # intact: not downloaded again

    (folder / "model.pkl").write_bytes(b"tampered")
    (folder / "extra.py").write_text("import os")
    again = cached_folder(blobs, files, cache_dir=tmp_path)  # type: ignore[arg-type]
    assert again == folder
    assert len(blobs.downloads) == 4
    assert (folder / "model.pkl").read_bytes() == b"weights"
    assert not (folder / "extra.py").exists()
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # the damaged copy is gone

    (folder / "model.pkl").unlink()  # a missing file too
    cached_folder(blobs, files, cache_dir=tmp_path)  # type: ignore[arg-type]
    assert (folder / "model.pkl").read_bytes() == b"weights"
