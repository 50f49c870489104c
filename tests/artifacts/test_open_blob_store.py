"""open_blob_store: one URI picks the backend; a missing driver names the extra to install."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import TYPE_CHECKING, Any, ClassVar

import pytest

import slipway.artifacts
from slipway.artifacts import BlobStore, ContentStore, open_blob_store
from slipway.errors import InvalidInput, MissingExtra

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def _content(uri: str, **kwargs: Any) -> ContentStore:
    store = open_blob_store(uri, **kwargs)
    assert isinstance(store, ContentStore)
    return store


def _protocols(store: ContentStore) -> set[str]:
    proto = store.fs.protocol
    return {proto} if isinstance(proto, str) else set(proto)


# ---------------------------------------------------------------- folders


def test_a_plain_path_is_a_local_folder_made_absolute_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    store = _content("artifacts")

    assert "file" in _protocols(store)
    assert store.root == (tmp_path / "artifacts").as_posix()
    assert not (tmp_path / "artifacts").exists()  # nothing is created until the first write


def test_a_later_chdir_does_not_move_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_blob_store("artifacts")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    store.put_bytes(b"x")

    assert (tmp_path / "artifacts" / "sha256").is_dir()


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))

    assert _content("~/blobs").root == (tmp_path / "blobs").as_posix()


@pytest.mark.parametrize("prefix", ["file://", "file:", "file://localhost"])
def test_file_urls_are_local_folders(tmp_path: Path, prefix: str) -> None:
    store = _content(prefix + (tmp_path / "a b").as_posix().replace(" ", "%20"))

    assert "file" in _protocols(store)
    assert store.root == (tmp_path / "a b").as_posix()


def test_a_file_url_without_a_path_is_refused() -> None:
    with pytest.raises(InvalidInput, match="file:///PATH"):
        open_blob_store("file://")


# ---------------------------------------------------------------- fsspec backends


def test_memory_is_the_in_memory_filesystem() -> None:
    store = _content("memory://unit")

    assert "memory" in _protocols(store)
    assert store.root == "/unit"


def test_s3_is_s3fs_with_the_bucket_and_prefix_as_root() -> None:
    store = _content("s3://bucket/some/prefix", storage_options={"anon": True})

    assert "s3" in _protocols(store)
    assert store.root == "bucket/some/prefix"
    assert store.fs.anon is True  # storage options reach the filesystem


def test_s3_needs_a_bucket() -> None:
    with pytest.raises(InvalidInput, match=r"s3://BUCKET\[/PREFIX\]"):
        open_blob_store("s3://")


@pytest.mark.parametrize(
    ("uri", "driver", "extra"),
    [("s3://b/p", "s3fs", "s3"), ("gs://b/p", "gcsfs", "gcs"), ("gcs://b/p", "gcsfs", "gcs")],
)
def test_a_missing_driver_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, uri: str, driver: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, driver, None)  # makes `import driver` fail
    scheme = uri.split(":", 1)[0]

    with pytest.raises(MissingExtra) as caught:
        open_blob_store(uri)

    assert str(caught.value) == f"{scheme}:// needs: pip install 'slipway[{extra}]'"
    assert isinstance(caught.value, ImportError)


# ---------------------------------------------------------------- the team server


class _FakeHttpStore:
    calls: ClassVar[list[tuple[str, str | None]]] = []

    @classmethod
    def connect(cls, uri: str, *, token: str | None = None) -> _FakeHttpStore:
        cls.calls.append((uri, token))
        return cls()


@pytest.mark.parametrize("uri", ["http://team:5000", "https://slipway.example.com/"])
def test_http_urls_go_to_the_team_servers_client(monkeypatch: pytest.MonkeyPatch, uri: str) -> None:
    fake = types.ModuleType("slipway.artifacts._http")
    fake.HttpContentStore = _FakeHttpStore  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "slipway.artifacts._http", fake)
    _FakeHttpStore.calls.clear()

    store = open_blob_store(uri, token="s3cret")

    assert isinstance(store, _FakeHttpStore)
    assert _FakeHttpStore.calls == [(uri, "s3cret")]


def test_the_real_team_server_client_is_loaded_without_connecting() -> None:
    store = open_blob_store("http://127.0.0.1:9", token="t")  # port 9: nothing listens there

    assert type(store).__name__ == "HttpContentStore"
    assert type(store).__module__ == "slipway.artifacts._http"
    assert isinstance(store, BlobStore)


def test_storage_options_do_not_apply_to_the_team_server() -> None:
    with pytest.raises(InvalidInput, match="storage_options"):
        open_blob_store("http://team:5000", storage_options={"anon": True})


# ---------------------------------------------------------------- refusals


@pytest.mark.parametrize("uri", ["ftp://host/x", "hdfs://nn/x", "postgresql://db/x", "zip://a.zip"])
def test_an_unknown_scheme_lists_the_supported_ones(uri: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_blob_store(uri)

    message = str(caught.value)
    assert uri in message
    for scheme in ("file://", "memory://", "s3://", "gs://", "http://", "https://"):
        assert scheme in message


@pytest.mark.parametrize("uri", ["", "   "])
def test_an_empty_uri_is_refused(uri: str) -> None:
    with pytest.raises(InvalidInput, match="artifact store URI"):
        open_blob_store(uri)


# ---------------------------------------------------------------- S3 endpoints


def _round_trip(store: BlobStore) -> None:
    blob = store.put_bytes(b"through the endpoint")
    assert store.get_bytes(blob.digest) == b"through the endpoint"


@pytest.mark.s3
@pytest.mark.usefixtures("aws_env")
@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
def test_s3_honours_the_endpoint_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, s3_endpoint: str, s3_prefix: str, variable: str
) -> None:
    monkeypatch.setenv(variable, s3_endpoint)

    _round_trip(open_blob_store(s3_prefix))


@pytest.mark.s3
@pytest.mark.usefixtures("aws_env")
def test_s3_honours_the_endpoint_from_storage_options(s3_endpoint: str, s3_prefix: str) -> None:
    options: Mapping[str, Any] = {"client_kwargs": {"endpoint_url": s3_endpoint}}

    _round_trip(open_blob_store(s3_prefix, storage_options=options))


# ---------------------------------------------------------------- the package


def test_the_public_names_are_exactly_these() -> None:
    assert sorted(slipway.artifacts.__all__) == [
        "Blob",
        "BlobStore",
        "ContentStore",
        "FileTree",
        "open_blob_store",
        "open_file_tree",
    ]


def test_a_content_store_is_a_blob_store() -> None:
    store: object = _content("memory://protocol-check")

    assert isinstance(store, BlobStore)


def test_importing_artifacts_loads_no_filesystem_driver() -> None:
    code = "import slipway.artifacts, sys; print(' '.join(sys.modules))"
    loaded = {
        m.split(".")[0] for m in subprocess.check_output([sys.executable, "-c", code], text=True).split()
    }

    assert not loaded & {"fsspec", "s3fs", "gcsfs", "botocore", "aiobotocore"}
