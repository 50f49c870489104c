"""The server documents itself: an OpenAPI document listing every route, and interactive docs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e

ROUTES = {
    ("POST", "/api/v1/experiments"),
    ("GET", "/api/v1/experiments"),
    ("GET", "/api/v1/experiments/{experiment_id}"),
    ("POST", "/api/v1/runs"),
    ("POST", "/api/v1/runs/search"),
    ("POST", "/api/v1/runs/mark-dead"),
    ("GET", "/api/v1/runs/{run_id}"),
    ("POST", "/api/v1/runs/{run_id}/end"),
    ("POST", "/api/v1/runs/{run_id}/heartbeat"),
    ("POST", "/api/v1/runs/{run_id}/log-batch"),
    ("GET", "/api/v1/runs/{run_id}/metric-history"),
    ("POST", "/api/v1/runs/{run_id}/datasets"),
    ("GET", "/api/v1/runs/{run_id}/datasets"),
    ("POST", "/api/v1/runs/{run_id}/artifacts"),
    ("GET", "/api/v1/runs/{run_id}/artifacts"),
    ("HEAD", "/api/v1/blobs/{digest}"),
    ("GET", "/api/v1/blobs/{digest}"),
    ("PUT", "/api/v1/blobs/{digest}"),
    ("GET", "/api/v1/models"),
    ("GET", "/api/v1/models/{name}"),
    ("POST", "/api/v1/models/{name}/description"),
    ("POST", "/api/v1/models/{name}/versions"),
    ("GET", "/api/v1/models/{name}/versions"),
    ("GET", "/api/v1/models/{name}/versions/{version}"),
    ("GET", "/api/v1/models/{name}/versions/{version}/files"),
    ("POST", "/api/v1/models/{name}/versions/{version}/tags"),
    ("POST", "/api/v1/models/{name}/versions/{version}/description"),
    ("POST", "/api/v1/models/{name}/versions/{version}/gate"),
    ("GET", "/api/v1/models/{name}/aliases/{alias}"),
    ("POST", "/api/v1/models/{name}/aliases/{alias}/promote"),
    ("PUT", "/api/v1/models/{name}/aliases/{alias}"),
    ("DELETE", "/api/v1/models/{name}/aliases/{alias}"),
    ("GET", "/api/v1/audit"),
    ("POST", "/api/v1/audit"),
    ("POST", "/api/v1/monitors"),
    ("GET", "/api/v1/monitors"),
    ("GET", "/api/v1/monitors/{name}"),
    ("DELETE", "/api/v1/monitors/{name}"),
    ("PUT", "/api/v1/monitors/{name}/cursor"),
    ("POST", "/api/v1/monitors/{name}/results"),
    ("GET", "/api/v1/monitors/{name}/results"),
    ("POST", "/api/v1/monitors/{name}/alerts"),
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/token"),
    ("GET", "/health"),
}


@pytest.fixture(scope="module")
def spec(team_server: TeamServer) -> dict[str, object]:
    answer = httpx.get(f"{team_server.url}/openapi.json")
    assert answer.status_code == 200
    document: dict[str, object] = answer.json()
    return document


def test_the_document_lists_every_route(spec: dict[str, object]) -> None:
    paths = spec["paths"]
    assert isinstance(paths, dict)

    listed = {(method.upper(), path) for path, operations in paths.items() for method in operations}

    assert listed == ROUTES


def test_the_document_declares_bearer_auth_and_error_bodies(spec: dict[str, object]) -> None:
    components = spec["components"]
    assert isinstance(components, dict)
    assert components["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "ErrorResponse" in components["schemas"]
    log_batch = spec["paths"]["/api/v1/runs/{run_id}/log-batch"]["post"]  # type: ignore[index]
    assert log_batch["security"] == [{"HTTPBearer": []}]
    assert {"400", "401", "404"} <= set(log_batch["responses"])


def test_interactive_docs_are_served(team_server: TeamServer) -> None:
    answer = httpx.get(f"{team_server.url}/docs")

    assert answer.status_code == 200
    assert "openapi.json" in answer.text
