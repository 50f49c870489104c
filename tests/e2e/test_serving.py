"""tests._team_server.serving: the one helper that starts a server process for tests."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from tests._team_server import answers, free_port, serving

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e


def test_it_waits_until_the_server_answers_and_stops_it_afterwards(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]

    with serving(argv, ready=url, log=tmp_path / "log", cwd=tmp_path) as proc:
        assert answers(url)
        assert proc.poll() is None

    assert proc.poll() is not None
    assert not answers(url)


def test_a_process_that_exits_first_fails_the_test_with_its_log(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "print('cannot bind: address in use'); raise SystemExit(3)"]

    with (
        pytest.raises(pytest.fail.Exception, match="cannot bind: address in use"),
        serving(argv, ready=f"http://127.0.0.1:{free_port()}/", log=tmp_path / "log"),
    ):
        pytest.fail("the block must not run")  # pragma: no cover
