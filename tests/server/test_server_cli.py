"""`slipway server` and `slipway token` as an operator uses them."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx
import pytest
from tests._team_server import clean_env, free_port, secret_from

from slipway.cli import main

if TYPE_CHECKING:
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


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    argv = [sys.executable, "-m", "slipway", "server", "--port", str(port), *args]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=clean_env(), cwd=tmp_path)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url, log
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start:\n{log.read_text()}")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.e2e
def test_a_server_without_auth_answers_without_a_token_and_says_so(tmp_path: Path) -> None:
    proc, url, log = _start(
        tmp_path,
        "--store",
        f"sqlite:///{tmp_path / 'open.db'}",
        "--artifacts",
        str(tmp_path / "a"),
        "--no-auth",
        "--upgrade-db",
    )
    try:
        answer = httpx.get(f"{url}/api/v1/experiments")
    finally:
        _stop(proc)

    assert answer.status_code == 200
    text = log.read_text()
    assert f"slipway server on {url} (auth OFF" in text
    assert "database schema at revision" in text


@pytest.mark.e2e
def test_a_server_with_auth_and_no_token_says_how_to_create_one(tmp_path: Path) -> None:
    proc, url, log = _start(
        tmp_path, "--store", f"sqlite:///{tmp_path / 'new.db'}", "--artifacts", str(tmp_path)
    )
    try:
        answer = httpx.get(f"{url}/api/v1/experiments")
    finally:
        _stop(proc)

    assert answer.status_code == 401
    text = log.read_text()
    assert "(auth on;" in text
    assert "no token exists yet: create one with `slipway token create --name NAME --store sqlite:///" in text
