"""FileTree: named files, written atomically, listed without the files still being written."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

import pytest
from tests._s3 import BUCKET

from slipway.artifacts import FileTree, open_file_tree
from slipway.artifacts._tree import _unreachable
from slipway.errors import ArtifactNotFound, InvalidInput, MissingExtra, StoreUnavailable

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(params=["folder", "memory"])
def tree(request: pytest.FixtureRequest, tmp_path: Path) -> FileTree:
    if request.param == "folder":
        return open_file_tree(str(tmp_path / "tree"))
    return open_file_tree(f"memory://tree-{uuid.uuid4().hex}")


def test_written_files_read_back_and_list_sorted(tree: FileTree) -> None:
    tree.write_atomic("b/2.bin", b"two")
    tree.write_atomic("a/x/1.bin", b"one")
    tree.write_atomic("a/0.bin", b"zero")

    assert tree.list() == ["a/0.bin", "a/x/1.bin", "b/2.bin"]
    assert tree.list("a") == ["a/0.bin", "a/x/1.bin"]
    assert tree.list("a/") == ["a/0.bin", "a/x/1.bin"]
    assert tree.folders() == ["a", "b"]
    assert tree.folders("a") == ["x"]
    assert tree.read_bytes("a/x/1.bin") == b"one"


def test_a_write_replaces_the_file(tree: FileTree) -> None:
    tree.write_atomic("f", b"old")
    tree.write_atomic("f", b"new")

    assert tree.read_bytes("f") == b"new"
    assert tree.list() == ["f"]


def test_remove_deletes_the_files_named_and_skips_those_already_gone(tree: FileTree) -> None:
    for name in ("out/part-0", "out/part-1", "keep"):
        tree.write_atomic(name, b"x")
    tree.remove(["out/part-1", "out/part-9"])
    assert tree.list() == ["keep", "out/part-0"]
    with pytest.raises(InvalidInput):
        tree.remove(["../outside"])


def test_missing_folders_list_empty_and_a_missing_file_is_not_found(tree: FileTree) -> None:
    assert tree.list() == []
    assert tree.list("nowhere") == []
    assert tree.folders("nowhere") == []
    with pytest.raises(ArtifactNotFound, match=r"file .*nowhere/f: not found"):
        tree.read_bytes("nowhere/f")


def test_temporary_files_are_never_listed(tmp_path: Path) -> None:
    tree = open_file_tree(str(tmp_path))
    tree.write_atomic("p/done.bin", b"x")
    (tmp_path / "p" / ".half.bin.0123.tmp").write_bytes(b"partial")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "f").write_bytes(b"x")

    assert tree.list() == ["p/done.bin"]
    assert tree.folders() == ["p"]


def test_a_failed_local_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tree = open_file_tree(str(tmp_path))

    def broken(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("slipway.artifacts._tree.os.replace", broken)
    with pytest.raises(OSError, match="disk full"):
        tree.write_atomic("p/f.bin", b"data")

    assert list((tmp_path / "p").iterdir()) == []


def test_readers_listing_during_writes_only_ever_see_whole_files(tree: FileTree) -> None:
    """Large files written one after another; every listed file reads back complete."""
    size = 2_000_000
    done = threading.Event()
    seen: set[str] = set()
    problems: list[str] = []

    def reader() -> None:
        while not done.is_set():
            for rel in tree.list("parts"):
                data = tree.read_bytes(rel)
                if len(data) != size or data != bytes([data[0]]) * size:
                    problems.append(rel)
                seen.add(rel)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(20):
            tree.write_atomic(f"parts/{i:03d}.bin", bytes([i]) * size)
    finally:
        done.set()
        thread.join()

    assert problems == []
    assert seen  # the reader did look while files were being written
    assert len(tree.list("parts")) == 20


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "expected a non-empty relative POSIX path"),
        ("a\\b", "expected a non-empty relative POSIX path"),
        ("/etc/passwd", "expected a relative path"),
        ("~/x", "expected a relative path"),
        ("C:/x", "expected a relative path"),
        ("a/../../b", "'..' segments are not allowed"),
        ("a//b", "empty, '.' and '..' segments"),
        ("a/./b", "empty, '.' and '..' segments"),
        ("a/.b.tmp", "reserved for temporary files"),
    ],
)
def test_bad_paths_are_one_line_errors_naming_the_path(tree: FileTree, path: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        tree.write_atomic(path, b"x")
    assert repr(path) in str(info.value)
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidInput, match=message):
        tree.read_bytes(path)


def test_a_folder_uri_is_made_absolute_now(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tree = open_file_tree("logs")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")

    tree.write_atomic("f", b"x")

    assert (tmp_path / "logs" / "f").read_bytes() == b"x"
    assert not (tmp_path / "elsewhere" / "logs").exists()


def test_file_urls_are_folders(tmp_path: Path) -> None:
    tree = open_file_tree(f"file://{tmp_path.as_posix()}")
    tree.write_atomic("f", b"x")

    assert (tmp_path / "f").read_bytes() == b"x"
    assert tree.uri("f") == f"file://{tmp_path.as_posix()}/f"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "expected a folder or a URL"),
        ("http://team:5000", "a team server holds blobs only"),
        ("ftp://host/x", "expected a folder or a URL with scheme"),
        ("s3://", r"s3://BUCKET\[/PREFIX\]"),
    ],
)
def test_bad_uris_are_one_line_errors(uri: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        open_file_tree(uri, anon=True) if uri.startswith("s3") else open_file_tree(uri)


def test_a_missing_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "gcsfs", None)  # an import of it now fails

    with pytest.raises(MissingExtra, match=r"gs:// needs: pip install 'slipway\[gcs\]'"):
        open_file_tree("gs://bucket/prefix")


@pytest.mark.s3
@pytest.mark.usefixtures("aws_env")
def test_s3_round_trip_and_fresh_listings(s3_endpoint: str, s3_prefix: str) -> None:
    writer = open_file_tree(s3_prefix, client_kwargs={"endpoint_url": s3_endpoint})
    reader = open_file_tree(s3_prefix, client_kwargs={"endpoint_url": s3_endpoint})
    writer.write_atomic("d/date=1/a.bin", b"a")
    assert reader.list("d") == ["d/date=1/a.bin"]
    assert reader.folders("d") == ["date=1"]

    writer.write_atomic("d/date=2/b.bin", b"b")

    assert reader.list("d") == ["d/date=1/a.bin", "d/date=2/b.bin"]  # not a cached listing
    assert reader.folders("d") == ["date=1", "date=2"]
    assert reader.read_bytes("d/date=2/b.bin") == b"b"


def test_info_is_dir_and_exists_answer_for_files_folders_and_the_root(tree: FileTree) -> None:
    tree.write_atomic("d/f.bin", b"abc")

    assert tree.info("d/f.bin")["size"] == 3
    assert tree.is_dir("d")
    assert not tree.is_dir("d/f.bin")
    assert tree.exists("d/f.bin")
    assert tree.exists()
    assert not tree.exists("d/nope")
    with pytest.raises(ArtifactNotFound, match=r"file .*d/nope: not found"):
        tree.info("d/nope")


def test_a_tree_opened_on_a_file_reads_that_file_as_its_root(tree: FileTree) -> None:
    tree.write_atomic("data.csv", b"a,b\n1,2\n")
    single = open_file_tree(tree.uri("data.csv"))

    assert not single.is_dir()
    assert single.info()["size"] == 8
    with single.open("") as f:
        assert f.read() == b"a,b\n1,2\n"
    assert single.path() == tree.path("data.csv")


@pytest.mark.parametrize(
    ("error", "kind", "message"),
    [
        ("NoCredentialsError", InvalidInput, "s3://b/k: cannot read: no usable credentials"),
        ("EndpointConnectionError", StoreUnavailable, "s3://b/k: cannot read: the store does not answer"),
        ("ReadTimeoutError", StoreUnavailable, "s3://b/k: cannot read: the store does not answer"),
    ],
)
def test_botocore_failures_become_one_line_errors(error: str, kind: type[Exception], message: str) -> None:
    import botocore.exceptions  # type: ignore[import-untyped]  # no type hints shipped

    exc = getattr(botocore.exceptions, error)(endpoint_url="http://127.0.0.1:1", error="refused")
    got = _unreachable(exc, "s3://b/k: cannot read")

    assert isinstance(got, kind)
    assert str(got).startswith(message)
    assert "\n" not in str(got)
    assert isinstance(_unreachable(PermissionError("Access Denied"), "w"), InvalidInput)
    assert _unreachable(ValueError("something else"), "w") is None


@pytest.mark.s3
@pytest.mark.usefixtures("aws_env")
def test_s3_bucket_missing_no_credentials_and_no_answer_are_one_line_errors(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = {"client_kwargs": {"endpoint_url": s3_endpoint}}
    nobucket = open_file_tree(f"s3://nobucket-{uuid.uuid4().hex[:8]}/out", **endpoint)
    assert nobucket.list() == []
    assert not nobucket.exists()
    with pytest.raises(
        InvalidInput, match=r"s3://nobucket-\w+/out/part-0: cannot write: .*bucket does not exist"
    ):
        nobucket.write_atomic("part-0", b"x")

    down = open_file_tree(
        "s3://b/out",
        client_kwargs={"endpoint_url": "http://127.0.0.1:1"},
        config_kwargs={"retries": {"max_attempts": 1}},
    )
    with pytest.raises(StoreUnavailable, match=r"s3://b/out: cannot list: the store does not answer"):
        down.list()

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    anonymous = open_file_tree(f"s3://{BUCKET}/out", skip_instance_cache=True, **endpoint)
    with pytest.raises(
        InvalidInput, match=rf"s3://{BUCKET}/out/f: cannot write: no usable credentials"
    ) as info:
        anonymous.write_atomic("f", b"x")
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidInput, match=rf"s3://{BUCKET}/out: cannot read: no usable credentials"):
        anonymous.is_dir()
