"""A real ``slipway server`` process on 127.0.0.1, started once per session (loaded by conftest.py).

It is started exactly as a user would: a token created with ``slipway token create`` against a
SQLite file, then ``python -m slipway server --store … --artifacts …`` on a free port. Tests talk
to it over sockets only, so what passes here is what a team gets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@dataclass(frozen=True)
class TeamServer:
    url: str
    token: str
    store_url: str  # the server's own database, for token admin from "the host"
    artifacts: Path  # the server's local blob folder
    log: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``slipway ARGS`` as the server's operator would, on the server's database."""
        return subprocess.run(
            [sys.executable, "-m", "slipway", *args],
            env=clean_env(),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )

    def new_token(self, name: str = "tests") -> str:
        done = self.cli("token", "create", "--name", name, "--store", self.store_url)
        assert done.returncode == 0, done.stderr
        return secret_from(done.stdout)


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("SLIPWAY_") or k.startswith("SLIPWAY_TEST_")
    }
    env.update(extra)
    return env


def secret_from(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.strip().startswith("export SLIPWAY_TOKEN="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"no secret in `slipway token create` output: {stdout!r}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TeamServer]:
    root = tmp_path_factory.mktemp("team-server")
    store_url = f"sqlite:///{root / 'server.db'}"
    artifacts = root / "artifacts"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    created = subprocess.run(
        [sys.executable, "-m", "slipway", "token", "create", "--name", "session", "--store", store_url],
        env=clean_env(),
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    token = secret_from(created.stdout)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "slipway",
                "server",
                "--store",
                store_url,
                "--artifacts",
                str(artifacts),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=clean_env(),
            cwd=root,
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"slipway server did not start on {url}:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield TeamServer(url=url, token=token, store_url=store_url, artifacts=artifacts, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def api(team_server: TeamServer) -> Iterator[httpx.Client]:
    """An authenticated client of the session's server, rooted at ``/api/v1``."""
    with httpx.Client(
        base_url=f"{team_server.url}/api/v1",
        headers={"Authorization": f"Bearer {team_server.token}"},
        timeout=30,
    ) as client:
        yield client


def assert_one_line_error(answer: httpx.Response, status: int | None = None) -> str:
    """A 4xx whose body is ``{"error": one line, "code": ...}``; returns the message."""
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text)
    if status is not None:
        assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert isinstance(body["error"], str), body
    assert body["error"].strip(), body
    assert "\n" not in body["error"], body
    assert "Traceback" not in answer.text
    assert isinstance(body["code"], str)
    return str(body["error"])
