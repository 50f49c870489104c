"""slipway._transport: one rule for both team-server clients, and one client per process."""

from __future__ import annotations

import json
import os
import warnings
from typing import TYPE_CHECKING

import httpx
import pytest
from tests._team_server import free_port

from slipway._transport import Connection, raise_for_answer
from slipway.artifacts._http import HttpContentStore
from slipway.errors import (
    ArtifactNotFound,
    Conflict,
    InvalidInput,
    NotFound,
    RunNotFound,
    SlipwayError,
    StoreUnavailable,
    Unauthorized,
)
from slipway.store._http import HttpMetadataStore

if TYPE_CHECKING:
    from tests._team_server import TeamServer

SERVER = "http://team.example:5000"
_DIGEST = "0" * 64


def _answer(status: int, body: object = None, *, text: str | None = None) -> httpx.Response:
    request = httpx.Request("GET", f"{SERVER}/api/v1/runs/r1")
    if text is not None:
        return httpx.Response(status, text=text, request=request)
    return httpx.Response(status, json=body, request=request)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (500, StoreUnavailable),
        (502, StoreUnavailable),
        (503, StoreUnavailable),
        (504, StoreUnavailable),
        (429, StoreUnavailable),
        (400, InvalidInput),
        (413, InvalidInput),
        (401, Unauthorized),
        (403, Unauthorized),
        (404, NotFound),
        (409, Conflict),
    ],
)
def test_an_answer_without_a_code_is_mapped_by_its_status(status: int, expected: type[SlipwayError]) -> None:
    with pytest.raises(expected) as caught:
        raise_for_answer(_answer(status, text="<html>Bad Gateway</html>"), server=SERVER)

    assert type(caught.value) is expected
    assert SERVER in str(caught.value)
    assert str(status) in str(caught.value)
    assert "/api/v1/runs/r1" in str(caught.value)


def test_a_coded_answer_raises_the_class_the_server_named() -> None:
    with pytest.raises(RunNotFound, match="run r1 does not exist"):
        raise_for_answer(
            _answer(404, {"error": "run r1 does not exist", "code": "run_not_found"}), server=SERVER
        )
    with pytest.raises(SlipwayError) as caught:  # the server's own bug: not worth retrying
        raise_for_answer(_answer(500, {"error": "internal server error", "code": "internal"}), server=SERVER)
    assert type(caught.value) is SlipwayError


def test_an_error_message_without_a_code_is_kept() -> None:
    with pytest.raises(StoreUnavailable, match="upstream is restarting"):
        raise_for_answer(_answer(502, {"error": "upstream is restarting"}), server=SERVER)


def test_a_404_may_name_what_the_adapter_looks_for() -> None:
    with pytest.raises(ArtifactNotFound):
        raise_for_answer(_answer(404, text="nope"), server=SERVER, not_found=ArtifactNotFound)


def test_a_success_raises_nothing() -> None:
    raise_for_answer(_answer(204, text=""), server=SERVER)


# ---------------------------------------------------------------- both adapters, one rule


def _metadata_store(handler: httpx.MockTransport) -> HttpMetadataStore:
    return HttpMetadataStore(Connection(SERVER, token=None, transport=handler))


def _blob_store(handler: httpx.MockTransport) -> HttpContentStore:
    return HttpContentStore(Connection(SERVER, token=None, transport=handler))


@pytest.mark.parametrize("status", [500, 502, 503, 404, 401, 400, 409])
def test_both_team_server_clients_read_a_codeless_answer_alike(status: int) -> None:
    handler = httpx.MockTransport(lambda request: httpx.Response(status, text="from a proxy"))
    raised: list[type[BaseException]] = []
    for call in (
        lambda: _metadata_store(handler).get_run("r1"),
        lambda: _blob_store(handler).get_bytes(_DIGEST),
    ):
        with pytest.raises(SlipwayError) as caught:
            call()
        raised.append(type(caught.value))

    metadata, blobs = raised
    assert issubclass(blobs, metadata)  # the blob proxy may only narrow NotFound to ArtifactNotFound
    assert metadata is not SlipwayError


def test_an_unreachable_server_is_store_unavailable_naming_it() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    connection = Connection(url, token="t")

    with pytest.raises(StoreUnavailable, match=url.replace(".", r"\.")):
        connection.call("GET", "/token")
    connection.close()


def test_the_token_travels_as_a_bearer_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    connection = Connection(SERVER, token="slw_abc", transport=httpx.MockTransport(handler))
    connection.call("GET", "/token")

    assert seen[0].headers["authorization"] == "Bearer slw_abc"
    assert str(seen[0].url) == f"{SERVER}/api/v1/token"


# ---------------------------------------------------------------- fork


def _client_addr(response: httpx.Response) -> list[object]:
    return list(response.extensions["network_stream"].get_extra_info("client_addr"))


@pytest.mark.e2e
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_child_opens_its_own_connection(team_server: TeamServer) -> None:
    connection = Connection(team_server.url, token=team_server.token)
    parent_addr = _client_addr(connection.call("GET", "/token"))
    read_end, write_end = os.pipe()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+: fork() with threads around
        pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        status = 1
        try:
            answer = connection.call("GET", "/token")
            os.write(write_end, json.dumps(_client_addr(answer)).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        reported = pipe.read()
    _, wait_status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(wait_status) == 0
    assert json.loads(reported) != parent_addr  # not the parent's socket
    # The parent's kept-alive connection was neither used nor closed by the child.
    assert _client_addr(connection.call("GET", "/token")) == parent_addr
    connection.close()


@pytest.mark.parametrize("url", ["http://team:port", "http://[::1"])
def test_a_malformed_server_url_is_invalid_input_at_once(url: str) -> None:
    with pytest.raises(InvalidInput, match="expected http"):
        Connection(url, token=None)
    with pytest.raises(InvalidInput, match="expected http"):
        HttpContentStore.connect(url)
    with pytest.raises(InvalidInput, match="expected http"):
        HttpMetadataStore.connect(url)
