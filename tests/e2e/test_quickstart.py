"""The README's first command runs the main job end to end: track, register, gate, serve, log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests._team_server import clean_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def test_the_quickstart_tracks_registers_serves_and_logs(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    done = subprocess.run(
        [sys.executable, str(QUICKSTART)],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    out = done.stdout
    assert "registered models:/quickstart-cancer/1; gate passed" in out
    assert "promoted models:/quickstart-cancer/1 to models:/quickstart-cancer@production" in out
    assert "served by version 1: predictions [" in out
    assert "prediction log: 5 rows, 1 with a label" in out
    # the nine size columns were rescaled: all nine, and only they, are caught
    assert "drift on held-out data: 0 of 30 columns; on rescaled sizes: 9 of 30" in out
    assert (tmp_path / "drift.html").read_text().count("<svg") == 30
    assert "monitor quickstart: 1 rule(s) on deployment quickstart-cancer, 1D windows" in out
    assert "rows, drift share 0.00: ok" in out  # yesterday replayed from a file by chunks of rows
    assert "Traceback" not in done.stderr
