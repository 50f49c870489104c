"""`slipway server` and `slipway token` as an operator uses them."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

import httpx
import pytest
from tests._team_server import free_port, secret_from, serving

from slipway.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.mark.parametrize(
    ("option", "value"),
    [("--store", "http://127.0.0.1:5000"), ("--artifacts", "https://team.example.com")],
)
def test_the_server_refuses_another_server_as_its_store(
    capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    code, _, err = _run(capsys, "server", option, value)

    assert code == 2
    assert err.count("\n") == 1
    assert option in err
    assert "not another server" in err


def test_token_create_list_revoke(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'server.db'}"

    code, out, _ = _run(capsys, "token", "create", "--name", "ci", "--store", store)
    assert code == 0
    secret = secret_from(out)
    assert secret.startswith("slw_")
    assert "shown only this once" in out

    code, out, _ = _run(capsys, "token", "list", "--store", store)
    assert code == 0
    assert secret not in out
    token_id, state, *_ = out.split()
    assert state == "active"

    code, out, _ = _run(capsys, "token", "revoke", token_id, "--store", store)
    assert code == 0
    code, out, _ = _run(capsys, "token", "list", "--store", store)
    assert "revoked" in out


def test_revoking_an_unknown_token_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = _run(capsys, "token", "revoke", "nope", "--store", f"sqlite:///{tmp_path / 's.db'}")

    assert code == 2
    assert err.count("\n") == 1
    assert "nope" in err


def test_token_admin_through_a_server_url_says_where_to_do_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "token", "list", "--store", "http://127.0.0.1:9")

    assert code == 2
    assert "slipway token create" in err


@contextlib.contextmanager
def _server(tmp_path: Path, *args: str) -> Iterator[tuple[str, Path]]:
    """``slipway server ARGS`` on a free port: its URL and log, until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    argv = [sys.executable, "-m", "slipway", "server", "--port", str(port), *args]
    with serving(argv, ready=f"{url}/health", log=log, cwd=tmp_path):
        yield url, log


@pytest.mark.e2e
def test_a_server_without_auth_answers_without_a_token_and_says_so(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'open.db'}"
    args = ("--store", store, "--artifacts", str(tmp_path / "a"), "--no-auth", "--upgrade-db")
    with _server(tmp_path, *args) as (url, log):
        answer = httpx.get(f"{url}/api/v1/experiments")

    assert answer.status_code == 200
    text = log.read_text()
    assert f"slipway server on {url} (auth OFF" in text
    assert "database schema at revision" in text


@pytest.mark.e2e
def test_a_server_with_auth_and_no_token_says_how_to_create_one(tmp_path: Path) -> None:
    args = ("--store", f"sqlite:///{tmp_path / 'new.db'}", "--artifacts", str(tmp_path))
    with _server(tmp_path, *args) as (url, log):
        answer = httpx.get(f"{url}/api/v1/experiments")

    assert answer.status_code == 401
    text = log.read_text()
    assert "(auth on;" in text
    assert "no token exists yet: create one with `slipway token create --name NAME --store sqlite:///" in text
