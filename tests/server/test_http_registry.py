"""The registry over HTTP: the server names the actor, bad input is a one-line 4xx, races stay safe."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from tests._team_server import assert_one_line_error

from slipway.core import ArtifactEntry, AuditAction
from slipway.store._http import HttpMetadataStore

if TYPE_CHECKING:
    from pathlib import Path

    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e

_DIGEST = hashlib.sha256(b"manifest").hexdigest()
_FILES = [{"path": "slipway.yaml", "digest": _DIGEST, "size": 3}]
_MANIFEST = [ArtifactEntry(path="slipway.yaml", digest=_DIGEST, size=3)]


def _version_body(**extra: Any) -> dict[str, Any]:
    return {"source": "runs:/r/model", "manifest_digest": _DIGEST, "files": _FILES, **extra}


# ---------------------------------------------------------------------- who did it


def test_the_server_records_the_tokens_name_whatever_the_client_claims(team_server: TeamServer) -> None:
    token_name = f"alice-{uuid.uuid4().hex[:8]}"
    store = HttpMetadataStore.connect(team_server.url, token=team_server.new_token(token_name))
    name = f"actor-{uuid.uuid4().hex}"
    try:
        mv = store.create_model_version(
            name=name, source="runs:/r/model", manifest_digest=_DIGEST, files=_MANIFEST, actor="mallory"
        )
        moved = store.set_alias(name=name, alias="production", version=1, actor="mallory")
        store.set_model_version_tags(name, 1, {"k": "v"}, actor="mallory")
        deleted = store.delete_alias(name=name, alias="production", actor="mallory")

        assert mv.creator == store.get_model_version(name, 1).creator == token_name
        assert (moved.actor, deleted.actor) == (token_name, token_name)
        events = store.search_audit(model=name).items
        assert {e.actor for e in events} == {token_name}
        assert store.search_audit(model=name, actor="mallory").items == []
    finally:
        store.close()


def test_without_auth_the_clients_actor_is_kept(tmp_path: Path) -> None:
    from slipway.artifacts import open_blob_store
    from slipway.server import create_app
    from slipway.store._sql import SqlMetadataStore

    sql = SqlMetadataStore.connect(f"sqlite:///{tmp_path / 'm.db'}")
    app = create_app(store=sql, blobs=open_blob_store(str(tmp_path / "blobs")), auth=False)

    async def calls() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app/api/v1") as client:
            return [
                await client.post("/models/churn/versions", json=_version_body(actor="ada")),
                await client.put("/models/churn/aliases/production", json={"version": 1, "actor": "bob"}),
                await client.request("DELETE", "/models/churn/aliases/production"),
                await client.get("/audit", params={"model": "churn"}),
            ]

    try:
        registered, moved, deleted, audit = asyncio.run(calls())
        assert registered.status_code == 201, registered.text
        assert registered.json()["creator"] == "ada"
        assert moved.json()["actor"] == "bob"
        assert deleted.json()["actor"] == ""  # a DELETE without a body is allowed
        assert [e["actor"] for e in audit.json()["events"]] == ["ada", "bob", ""]
    finally:
        sql.close()


def test_nan_and_infinity_in_a_gate_result_travel(team_server: TeamServer) -> None:
    import math

    store = HttpMetadataStore.connect(team_server.url, token=team_server.token)
    name = f"nan-{uuid.uuid4().hex}"
    try:
        store.create_model_version(
            name=name,
            source="runs:/r/model",
            manifest_digest=_DIGEST,
            files=[*_MANIFEST, ArtifactEntry(path="m.bin", digest=_DIGEST, size=1)],
            lineage={"metrics": {"loss": math.inf}},
            actor="ci",
        )
        event = store.record_gate_result(name, 1, {"passed": False, "auc": math.nan}, actor="ci")

        gate = store.get_model_version(name, 1).gate
        assert gate is not None
        assert math.isnan(gate["auc"])
        assert math.isnan(event.details["result"]["auc"])
        assert store.get_model_version(name, 1).lineage == {"metrics": {"loss": math.inf}}
    finally:
        store.close()


# ---------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def model(team_server: TeamServer) -> str:
    name = f"bad-input-{uuid.uuid4().hex}"
    headers = {"Authorization": f"Bearer {team_server.token}"}
    with httpx.Client(base_url=f"{team_server.url}/api/v1", headers=headers) as client:
        client.post(f"/models/{name}/versions", json=_version_body()).raise_for_status()
    return name


# (method, path, keyword arguments for httpx, expected status, a fragment of the message)
CASES: list[tuple[str, str, dict[str, Any], int, str]] = [
    ("POST", "/models/bad%20name/versions", {"json": _version_body()}, 400, "model name"),
    ("POST", "/models/{m}/versions", {"json": {"source": "s", "files": []}}, 400, "manifest_digest"),
    ("POST", "/models/{m}/versions", {"json": _version_body(extra=1)}, 400, "extra: unknown field"),
    (
        "POST",
        "/models/{m}/versions",
        {"json": _version_body(files=[{"path": "../x", "digest": _DIGEST, "size": 1}])},
        400,
        "..",
    ),
    (
        "POST",
        "/models/{m}/versions",
        {"json": _version_body(files=[{"path": "x", "digest": "xyz", "size": 1}])},
        400,
        "digest",
    ),
    ("POST", "/models/{m}/versions", {"json": _version_body(lineage=[1])}, 400, "lineage"),
    ("POST", "/models/{m}/versions", {"json": _version_body(tags={"a;b": "v"})}, 400, "tag key"),
    ("POST", "/models/{m}/versions", {"json": _version_body(actor="x" * 251)}, 400, "actor"),
    ("GET", "/models/absent-model-x", {}, 404, "absent-model-x"),
    ("GET", "/models/absent-model-x/versions", {}, 404, "absent-model-x"),
    ("GET", "/models/{m}/versions/99", {}, 404, "99"),
    ("GET", "/models/{m}/versions/abc", {}, 400, "version"),
    ("GET", f"/models/{{m}}/versions/{2**70}", {}, 400, "version"),
    ("GET", "/models/{m}/versions/99/files", {}, 404, "99"),
    ("POST", "/models/{m}/versions/1/tags", {"json": {"tags": {"k": 5}}}, 400, "tags.k"),
    ("POST", "/models/{m}/versions/1/description", {"json": {}}, 400, "description"),
    ("POST", "/models/{m}/versions/1/gate", {"json": {"result": [1]}}, 400, "result"),
    ("POST", "/models/{m}/description", {"json": {"description": 5}}, 400, "description"),
    ("GET", "/models/{m}/aliases/staging", {}, 404, "staging"),
    ("PUT", "/models/{m}/aliases/production", {"json": {"version": 99}}, 404, "99"),
    ("PUT", "/models/{m}/aliases/production", {"json": {}}, 400, "version"),
    ("PUT", "/models/{m}/aliases/production", {"json": {"version": "one"}}, 400, "version"),
    ("PUT", "/models/{m}/aliases/v3", {"json": {"version": 1}}, 400, "alias"),
    ("PUT", "/models/{m}/aliases/production", {"json": {"version": 1, "action": "tag"}}, 400, "action"),
    ("PUT", "/models/{m}/aliases/production", {"json": {"version": 1, "action": "nope"}}, 400, "action"),
    ("PUT", "/models/{m}/aliases/production", {"json": {"version": 1, "action": "promote"}}, 400, "promote"),
    ("PUT", "/models/{m}/aliases/production", {"json": {"version": 1, "action": "override"}}, 400, "promote"),
    (
        "PUT",
        "/models/{m}/aliases/production",
        {"json": {"version": 1, "details": {"gate": 1}}},
        400,
        "details",
    ),
    ("POST", "/models/{m}/aliases/production/promote", {"json": {"version": 1}}, 412, "no gate result"),
    ("POST", "/models/{m}/aliases/production/promote", {"json": {"version": 99}}, 404, "99"),
    (
        "POST",
        "/models/{m}/aliases/production/promote",
        {"json": {"version": 1, "force": True}},
        400,
        "reason",
    ),
    (
        "POST",
        "/models/{m}/aliases/production/promote",
        {"json": {"version": 1, "action": "promote", "details": {"gate": {"passed": True}}}},
        400,
        "action",
    ),
    ("DELETE", "/models/{m}/aliases/staging", {}, 404, "staging"),
    ("GET", "/audit", {"params": {"action": "bogus"}}, 400, "audit action"),
    ("GET", "/audit", {"params": {"max_results": 0}}, 400, "max_results"),
    ("GET", "/audit", {"params": {"since": "yesterday"}}, 400, "since"),
    ("GET", "/audit", {"params": {"until": str(2**70)}}, 400, "until"),
    ("GET", "/audit", {"params": {"page_token": "garbage"}}, 400, "page_token"),
    ("PATCH", "/models/{m}", {}, 405, "PATCH"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "fragment"),
    CASES,
    ids=[f"{c[0]} {c[1]} {c[4]}" for c in CASES],
)
def test_bad_registry_input_is_a_one_line_4xx(
    api: httpx.Client, model: str, method: str, path: str, kwargs: dict[str, Any], status: int, fragment: str
) -> None:
    answer = api.request(method, path.replace("{m}", model), **kwargs)

    message = assert_one_line_error(answer, status)
    assert fragment in message


def test_refused_registry_writes_leave_no_event(api: httpx.Client, model: str) -> None:
    for method, path, kwargs, _, _ in CASES:
        if method != "GET":
            api.request(method, path.replace("{m}", model), **kwargs)

    events = api.get("/audit", params={"model": model}).json()["events"]
    assert [e["action"] for e in events] == [AuditAction.REGISTER.value]
    assert api.get(f"/models/{model}").json()["latest_version"] == 1


def test_a_raw_promotion_cannot_choose_its_action_or_gate(api: httpx.Client, model: str) -> None:
    forged = {"gate": {"passed": True, "checks": []}}
    failed = {"passed": False, "checks": [{"name": "auc >= 0.8", "passed": False}], "champion": None}
    api.post(f"/models/{model}/versions/1/gate", json={"result": failed}).raise_for_status()
    before = api.get("/audit", params={"model": model}).json()["events"]

    tries = [
        ("POST", "promote", {"version": 1, "details": forged}),
        ("POST", "promote", {"version": 1, "action": "promote"}),
        ("PUT", "", {"version": 1, "action": "promote", "details": forged}),
        ("PUT", "", {"version": 1, "action": "override", "reason": "because"}),
    ]
    for method, tail, body in tries:
        path = f"/models/{model}/aliases/production" + (f"/{tail}" if tail else "")
        assert api.request(method, path, json=body).status_code == 400
    assert api.post(f"/models/{model}/aliases/production/promote", json={"version": 1}).status_code == 412

    assert api.get("/audit", params={"model": model}).json()["events"] == before
    assert api.get(f"/models/{model}/aliases/production").status_code == 404

    forced = api.post(
        f"/models/{model}/aliases/production/promote", json={"version": 1, "force": True, "reason": "hotfix"}
    )
    assert forced.status_code == 200
    assert (forced.json()["action"], forced.json()["details"]["gate"]) == (AuditAction.OVERRIDE.value, failed)


# ---------------------------------------------------------------------- many clients at once


@pytest.mark.slow
def test_sixteen_processes_register_through_the_server_and_get_distinct_versions(
    team_server: TeamServer,
) -> None:
    from tests.store.test_sql_registry_reliability import check_registered_at_once

    check_registered_at_once(team_server.url, token=team_server.token)
