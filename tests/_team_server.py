"""A real ``slipway server`` process on 127.0.0.1, started once per session (loaded by conftest.py).

It is started exactly as a user would: a token created with ``slipway token create`` against a
SQLite file, then ``python -m slipway server --store … --artifacts …`` on a free port. Tests talk
to it over sockets only, so what passes here is what a team gets.

:func:`serving` is the one way tests start a server process (this one, the moto S3 server, the
servers of ``test_server_cli``) and wait until it answers.
"""

from __future__ import annotations

import contextlib
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
    from collections.abc import Iterator, Mapping, Sequence
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


def answers(url: str) -> bool:
    """Whether anything answers HTTP at ``url`` (an error status is an answer too)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError as answer:
        answer.close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def serving(
    argv: Sequence[str],
    *,
    ready: str,
    log: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 60,
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` with its output in ``log``, wait until ``ready`` (a URL) answers, stop it after.

    A process that exits or does not answer within ``timeout`` seconds fails the test with the end
    of its log. On the way out it is terminated, and killed if it has not stopped within 15 s.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=dict(env or clean_env())
        )
    try:
        deadline = time.monotonic() + timeout
        while not answers(ready):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{' '.join(argv[:4])} did not answer {ready}:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
    argv = [sys.executable, "-m", "slipway", "server", "--store", store_url, "--artifacts", str(artifacts)]
    argv += ["--host", "127.0.0.1", "--port", str(port)]
    with serving(argv, ready=f"{url}/health", log=log, cwd=root):
        yield TeamServer(url=url, token=token, store_url=store_url, artifacts=artifacts, log=log)


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
