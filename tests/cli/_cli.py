"""Running the CLI in-process the way a shell would: exit code, standard output, standard error."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.cli import main

if TYPE_CHECKING:
    import pytest


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
