"""Start `slipway serve` as a real process on 127.0.0.1 and talk to it over sockets."""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from tests._team_server import clean_env, free_port, serving

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path


@dataclass
class Server:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | list[Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> tuple[int, dict[str, str], bytes]:
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
        except urllib.error.HTTPError as e:
            with e:
                return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()

    def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        status, _, raw = self.request(method, path, body, **kw)
        return status, json.loads(raw) if raw else None


@contextlib.contextmanager
def slipway_serve(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    ready: bool = True,
    timeout: float = 90,
) -> Iterator[Server]:
    """`slipway serve ARGS --port P`; with ``ready``, wait until /v2/health/ready answers 200."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "slipway", "serve", *args, "--port", str(port)]
    log = cwd / f"serve-{port}.log"
    with serving(
        argv, ready=url + "/v2/health/live", log=log, cwd=cwd, env=env or clean_env(), timeout=timeout
    ) as proc:
        server = Server(url, proc, log)
        deadline = time.monotonic() + timeout
        while ready and server.request("GET", "/v2/health/ready")[0] != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"slipway serve never became ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.05)
        yield server
