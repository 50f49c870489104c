"""Bearer tokens on every /api/v1 route of a real server; /health stays open."""

from __future__ import annotations

import re
import time
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from tests._team_server import assert_one_line_error

if TYPE_CHECKING:
    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e

_SAMPLE_DIGEST = "0" * 64


def _api_routes(team_server: TeamServer) -> list[tuple[str, str]]:
    spec = httpx.get(f"{team_server.url}/openapi.json").json()
    routes: list[tuple[str, str]] = []
    for path, operations in spec["paths"].items():
        if path.startswith("/api/v1"):
            concrete = re.sub(r"\{digest\}", _SAMPLE_DIGEST, path)
            concrete = re.sub(r"\{[^}]+\}", "some-id", concrete)
            routes.extend((method.upper(), concrete) for method in operations)
    return routes


def test_health_needs_no_token(team_server: TeamServer) -> None:
    answer = httpx.get(f"{team_server.url}/health")

    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"


def test_every_api_route_refuses_a_request_without_a_token(team_server: TeamServer) -> None:
    routes = _api_routes(team_server)
    assert len(routes) >= 15

    for method, path in routes:
        answer = httpx.request(
            method, f"{team_server.url}{path}", json={} if method in ("POST", "PUT") else None
        )
        assert answer.status_code == 401, (method, path, answer.text)
        if method != "HEAD":
            assert "slipway token create" in assert_one_line_error(answer, 401)
        assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "header",
    ["Bearer slw_not-a-token", "Bearer", "Basic dXNlcjpwYXNz", "slw_no-scheme"],
    ids=["unknown", "empty", "basic", "no-scheme"],
)
def test_a_wrong_token_is_refused(team_server: TeamServer, header: str) -> None:
    answer = httpx.get(f"{team_server.url}/api/v1/experiments", headers={"Authorization": header})

    assert_one_line_error(answer, 401)


def test_a_revoked_token_is_refused(team_server: TeamServer) -> None:
    name = f"to-revoke-{uuid.uuid4().hex}"
    secret = team_server.new_token(name)
    listed = team_server.cli("token", "list", "--store", team_server.store_url).stdout
    token_id = next(line.split()[0] for line in listed.splitlines() if line.endswith(name))

    done = team_server.cli("token", "revoke", token_id, "--store", team_server.store_url)

    assert done.returncode == 0, done.stderr
    answer = httpx.get(f"{team_server.url}/api/v1/experiments", headers={"Authorization": f"Bearer {secret}"})
    assert "revoked" in assert_one_line_error(answer, 401)


@pytest.mark.slow
def test_a_token_revoked_while_in_use_stops_working_within_seconds(team_server: TeamServer) -> None:
    secret = team_server.new_token("in-use")
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=f"{team_server.url}/api/v1", headers=headers) as client:
        assert client.get("/experiments").status_code == 200  # now cached by the server
        token_id = client.get("/token").json()["id"]

        team_server.cli("token", "revoke", token_id, "--store", team_server.store_url)

        deadline = time.monotonic() + 10  # the server trusts a verified token for 5 s
        while client.get("/experiments").status_code == 200:
            assert time.monotonic() < deadline, "a revoked token still works after 10 s"
            time.sleep(0.25)
        assert client.get("/experiments").status_code == 401


def test_whoami_names_the_token_and_never_its_secret(team_server: TeamServer) -> None:
    secret = team_server.new_token("whoami")

    answer = httpx.get(f"{team_server.url}/api/v1/token", headers={"Authorization": f"Bearer {secret}"})

    assert answer.status_code == 200
    assert answer.json()["name"] == "whoami"
    assert secret not in answer.text
