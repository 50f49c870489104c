"""The blob-store contract against a real `slipway server` process, through its artifact proxy."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from fsspec.implementations.local import LocalFileSystem
from tests._team_server import assert_one_line_error

from slipway.artifacts import BlobStore, ContentStore, open_blob_store
from slipway.artifacts._http import HttpContentStore
from slipway.errors import Conflict
from slipway.testing.artifact_contract import BlobStoreContract

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e

# The server's folder is shared by the whole session: counts are taken relative to each test's start.
_baseline: dict[int, int] = {}


def _blob_files(folder: Path) -> int:
    root = folder / "sha256"
    return (
        sum(1 for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")) if root.exists() else 0
    )


class TestHttpBlobs(BlobStoreContract):
    @pytest.fixture
    def blobs(self, team_server: TeamServer) -> Iterator[BlobStore]:
        store = HttpContentStore.connect(team_server.url, token=team_server.token)
        self._folder = team_server.artifacts
        _baseline[id(store)] = _blob_files(team_server.artifacts)
        yield store
        store.close()

    def overwrite(self, blobs: BlobStore, digest: str, data: bytes) -> None:
        path = self._folder / "sha256" / digest[:2] / digest[2:]
        path.write_bytes(data)

    def stored_count(self, blobs: BlobStore) -> int:
        return _blob_files(self._folder) - _baseline[id(blobs)]


def test_open_blob_store_selects_the_proxy_for_a_server_url(team_server: TeamServer) -> None:
    blobs = open_blob_store(team_server.url, token=team_server.token)

    blob = blobs.put_bytes(b"through the proxy")

    assert isinstance(blobs, HttpContentStore)
    assert blobs.get_bytes(blob.digest) == b"through the proxy"
    blobs.close()


def test_an_upload_whose_bytes_do_not_match_its_digest_is_refused_and_not_stored(
    team_server: TeamServer,
) -> None:
    claimed = hashlib.sha256(b"what the client said").hexdigest()
    headers = {"Authorization": f"Bearer {team_server.token}"}

    url = f"{team_server.url}/api/v1/blobs/{claimed}"

    answer = httpx.put(url, content=b"something else", headers=headers)

    assert answer.status_code == 400
    assert claimed in answer.json()["error"]
    assert "nothing was stored" in answer.json()["error"]
    assert httpx.head(url, headers=headers).status_code == 404
    assert not (team_server.artifacts / "sha256" / claimed[:2] / claimed[2:]).exists()


def test_a_file_that_changes_during_upload_is_refused(team_server: TeamServer, tmp_path: Path) -> None:
    blobs = HttpContentStore.connect(team_server.url, token=team_server.token)
    src = tmp_path / "growing.log"
    src.write_bytes(b"first version")
    original_upload = blobs._upload

    def upload_after_a_change(blob, *, content):
        src.write_bytes(b"second version, written while uploading")
        return original_upload(blob, content=content)

    blobs._upload = upload_after_a_change  # type: ignore[method-assign]

    with pytest.raises(Conflict, match="changed while it was being stored"):
        blobs.put_file(src)
    assert not blobs.exists(hashlib.sha256(b"first version").hexdigest())
    blobs.close()


def test_the_proxy_and_a_folder_describe_a_changed_file_in_the_same_words(
    team_server: TeamServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "growing.log"

    def change() -> None:
        src.write_bytes(b"second version, written while storing")

    src.write_bytes(b"first version")
    proxy = HttpContentStore.connect(team_server.url, token=team_server.token)
    upload = proxy._upload

    def upload_after_a_change(blob, *, content):
        change()
        return upload(blob, content=content)

    monkeypatch.setattr(proxy, "_upload", upload_after_a_change)
    with pytest.raises(Conflict) as through_the_proxy:
        proxy.put_file(src)
    proxy.close()

    src.write_bytes(b"first version")
    folder = ContentStore(LocalFileSystem(), (tmp_path / "folder").as_posix())
    holds = folder._holds

    def holds_then_change(blob):
        change()
        return holds(blob)

    monkeypatch.setattr(folder, "_holds", holds_then_change)
    with pytest.raises(Conflict) as in_a_folder:
        folder.put_file(src)

    assert str(through_the_proxy.value) == str(in_a_folder.value)


def test_head_reports_the_size_of_the_stored_copy(team_server: TeamServer) -> None:
    data = b"sized " + os.urandom(16)
    digest = hashlib.sha256(data).hexdigest()
    url = f"{team_server.url}/api/v1/blobs/{digest}"
    headers = {"Authorization": f"Bearer {team_server.token}"}
    assert httpx.put(url, content=data, headers=headers).status_code == 201

    answer = httpx.head(url, headers=headers)

    assert answer.status_code == 200
    assert answer.headers["content-length"] == str(len(data))
    assert answer.content == b""


# ---------------------------------------------------------------- recording artifacts of a run


def _new_run(api: httpx.Client) -> str:
    experiment = api.post("/experiments", json={"name": f"blobs-{uuid.uuid4().hex}"}).json()
    run_id: str = api.post("/runs", json={"experiment_id": experiment["id"]}).json()["id"]
    return run_id


def _stored(api: httpx.Client, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    assert api.put(f"/blobs/{digest}", content=data).status_code == 201
    return {"digest": digest, "size": len(data)}


def test_recording_an_uploaded_blob_lists_it(api: httpx.Client) -> None:
    run_id = _new_run(api)
    blob = _stored(api, b"uploaded first " + os.urandom(8))

    answer = api.post(f"/runs/{run_id}/artifacts", json={"entries": [{"path": "model.bin", **blob}]})

    assert answer.status_code == 204, answer.text
    assert api.get(f"/runs/{run_id}/artifacts").json()["entries"] == [{"path": "model.bin", **blob}]


@pytest.mark.parametrize("problem", ["never uploaded", "another size"])
def test_recording_a_blob_the_server_lacks_records_nothing_of_the_request(
    api: httpx.Client, problem: str
) -> None:
    run_id = _new_run(api)
    good = _stored(api, b"fine " + os.urandom(8))
    if problem == "never uploaded":
        bad = {"digest": hashlib.sha256(os.urandom(8)).hexdigest(), "size": 8}
    else:
        stored = _stored(api, b"twelve bytes" + os.urandom(4))
        bad = {**stored, "size": 12}
    entries = [{"path": "a/first.txt", **good}, {"path": "b/weights.bin", **bad}]

    answer = api.post(f"/runs/{run_id}/artifacts", json={"entries": entries})

    message = assert_one_line_error(answer, 400)
    assert "b/weights.bin" in message
    assert str(bad["digest"]) in message
    assert "nothing was recorded" in message
    if problem == "another size":
        assert "16 bytes" in message
        assert "not 12" in message
    assert api.get(f"/runs/{run_id}/artifacts").json()["entries"] == []  # not even the good entry
