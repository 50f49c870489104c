"""The command's own contract: usage mistakes and errors are short, never tracebacks, exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest


def slipway(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slipway", *argv], capture_output=True, text=True, timeout=60
    )


def test_help_exits_zero_and_lists_the_command_groups() -> None:
    out = slipway("--help")
    assert out.returncode == 0, out.stderr
    for group in ("runs", "experiments", "server", "token", "db"):
        assert group in out.stdout


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["runs", "compare"], "Missing argument"),  # a missing argument
        (["no-such-command"], "No such command"),
        (["runs", "list", "--max-results", "many"], "--max-results"),  # a value of the wrong type
    ],
)
def test_usage_mistakes_exit_2_without_a_traceback(argv: list[str], needle: str) -> None:
    out = slipway(*argv)
    assert out.returncode == 2
    assert needle in out.stderr
    assert "Traceback" not in out.stderr
