"""Bad input over raw HTTP: always a 4xx with a one-line {"error"}, never a 500 or a traceback."""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tests._team_server import assert_one_line_error

if TYPE_CHECKING:
    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e

_JSON = {"Content-Type": "application/json"}
_ABSENT = hashlib.sha256(b"never uploaded").hexdigest()


@pytest.fixture(scope="module")
def run_id(team_server: TeamServer) -> str:
    headers = {"Authorization": f"Bearer {team_server.token}"}
    with httpx.Client(base_url=f"{team_server.url}/api/v1", headers=headers) as client:
        exp = client.post("/experiments", json={"name": f"bad-input-{uuid.uuid4().hex}"}).json()
        run = client.post("/runs", json={"experiment_id": exp["id"]}).json()
        client.post(f"/runs/{run['id']}/log-batch", json={"params": {"lr": "0.1"}}).raise_for_status()
        return str(run["id"])


# (method, path, keyword arguments for httpx, expected status, a fragment of the message)
CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/experiments", {"content": b"{not json", "headers": _JSON}, 400, "expected valid JSON"),
    ("POST", "/experiments", {"content": b"\xff\xfe\x00", "headers": _JSON}, 400, "JSON"),
    ("POST", "/experiments", {"content": b"[" * 50_000 + b"]" * 50_000, "headers": _JSON}, 400, "JSON"),
    ("POST", "/experiments", {"content": b"", "headers": _JSON}, 400, "request body"),
    ("POST", "/experiments", {"content": b'{"name": "x"}'}, 400, "Content-Type"),
    ("POST", "/experiments", {"json": []}, 400, "request body"),
    ("POST", "/experiments", {"json": {"name": 5}}, 400, "name: expected a valid string"),
    ("POST", "/experiments", {"json": {"nme": "x"}}, 400, "nme: unknown field"),
    ("POST", "/experiments", {"json": {"name": ""}}, 400, "name"),
    ("POST", "/experiments", {"json": {"name": "x", "tags": {"a": 1}}}, 400, "tags.a"),
    ("POST", "/experiments", {"json": {"name": "a\x00b"}}, 400, "NUL"),
    ("POST", "/runs", {"json": {"experiment_id": "nope"}}, 404, "nope"),
    ("POST", "/runs", {"json": {"experiment_id": "e", "start_time": 10**30}}, 400, "start_time"),
    ("GET", "/runs/nope", {}, 404, "nope"),
    ("GET", "/runs/a%00b", {}, 400, "NUL"),
    ("GET", "/experiments/nope", {}, 404, "nope"),
    ("POST", "/runs/nope/log-batch", {"json": {"metrics": []}}, 404, "nope"),
    (
        "POST",
        "/runs/{run}/log-batch",
        {"json": {"metrics": [{"key": "a", "value": "abc"}]}},
        400,
        "metrics.0.value",
    ),
    ("POST", "/runs/{run}/log-batch", {"json": {"metrics": [{"value": 1}]}}, 400, "metrics.0.key"),
    ("POST", "/runs/{run}/log-batch", {"json": {"metrics": [{"key": "a", "value": 1, "x": 1}]}}, 400, "x"),
    (
        "POST",
        "/runs/{run}/log-batch",
        {"json": {"metrics": [{"key": "a b!", "value": 1}]}},
        400,
        "metric key",
    ),
    (
        "POST",
        "/runs/{run}/log-batch",
        {"json": {"metrics": [{"key": "a", "value": 1, "step": 2**70}]}},
        400,
        "64 bits",
    ),
    ("POST", "/runs/{run}/log-batch", {"json": {"metrics": {"a": 1}}}, 400, "metrics"),
    ("POST", "/runs/{run}/log-batch", {"json": {"params": {"p": 1}}}, 400, "params.p"),
    ("POST", "/runs/{run}/log-batch", {"json": {"params": {"lr": "0.2"}}}, 409, "lr"),
    ("POST", "/runs/{run}/end", {"json": {"status": "DONE"}}, 400, "status"),
    ("POST", "/runs/{run}/end", {"json": {}}, 400, "status: required"),
    ("POST", "/runs/{run}/heartbeat", {"json": {"at": "now"}}, 400, "at"),
    ("POST", "/runs/mark-dead", {"json": {}}, 400, "heartbeat_before"),
    ("POST", "/runs/search", {"json": {"filter": "metrics.auc >> 1"}}, 400, "filter"),
    ("POST", "/runs/search", {"json": {"filter": "params.lr > 1"}}, 400, "params.lr"),
    ("POST", "/runs/search", {"json": {"order_by": "metrics.auc sideways"}}, 400, "order-by"),
    ("POST", "/runs/search", {"json": {"max_results": "many"}}, 400, "max_results"),
    ("POST", "/runs/search", {"json": {"max_results": -1}}, 400, "max_results"),
    ("POST", "/runs/search", {"json": {"page_token": "garbage"}}, 400, "page_token"),
    ("POST", "/runs/search", {"json": {"experiment_ids": "abc"}}, 400, "experiment_ids"),
    ("GET", "/runs/{run}/metric-history", {}, 400, "query parameter 'key'"),
    (
        "POST",
        "/runs/{run}/artifacts",
        {"json": {"entries": [{"path": "../../etc/passwd", "digest": _ABSENT, "size": 1}]}},
        400,
        "..",
    ),
    (
        "POST",
        "/runs/{run}/artifacts",
        {"json": {"entries": [{"path": "/etc/passwd", "digest": _ABSENT, "size": 1}]}},
        400,
        "absolute",
    ),
    (
        "POST",
        "/runs/{run}/artifacts",
        {"json": {"entries": [{"path": "model.pkl", "digest": "xyz", "size": 1}]}},
        400,
        "digest",
    ),
    (
        "POST",
        "/runs/{run}/artifacts",
        {"json": {"entries": [{"path": "model.pkl", "digest": _ABSENT, "size": -1}]}},
        400,
        "size",
    ),
    (
        "POST",
        "/runs/{run}/datasets",
        {"json": {"digest": "d", "name": "n", "source": "s", "num_rows": -5, "num_columns": 1}},
        400,
        "num_rows",
    ),
    ("PUT", "/blobs/abc", {"content": b"x"}, 400, "digest"),
    ("PUT", "/blobs/" + _ABSENT.upper(), {"content": b"x"}, 400, "digest"),
    ("PUT", "/blobs/" + _ABSENT, {"content": b"other bytes"}, 400, "nothing was stored"),
    ("GET", "/blobs/" + _ABSENT, {}, 404, _ABSENT),
    ("GET", "/blobs/..%2F..%2Fserver.db", {}, 404, "no such endpoint"),
    ("GET", "/blobs/%2E%2E", {}, 400, "digest"),
    ("GET", "/no-such-route", {}, 404, "no such endpoint"),
    ("DELETE", "/runs/{run}", {}, 405, "DELETE"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "fragment"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[4]}" for c in CASES],
)
def test_bad_input_is_a_one_line_4xx(
    api: httpx.Client, run_id: str, method: str, path: str, kwargs: dict[str, Any], status: int, fragment: str
) -> None:
    answer = api.request(method, path.replace("{run}", run_id), **kwargs)

    message = assert_one_line_error(answer, status)
    assert fragment in message


def test_a_refused_batch_writes_nothing(api: httpx.Client, run_id: str) -> None:
    batch = {"metrics": [{"key": "kept", "value": 1}], "params": {"lr": "changed"}}

    assert api.post(f"/runs/{run_id}/log-batch", json=batch).status_code == 409

    assert api.get(f"/runs/{run_id}/metric-history", params={"key": "kept"}).json() == {"metrics": []}
    assert api.get(f"/runs/{run_id}").json()["params"] == {"lr": "0.1"}


def test_the_server_keeps_answering_after_bad_input(api: httpx.Client, run_id: str) -> None:
    for _ in range(3):
        api.post("/experiments", content=b"{", headers=_JSON)

    assert api.get(f"/runs/{run_id}").status_code == 200
