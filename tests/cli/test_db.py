"""``slipway db upgrade`` and ``slipway db current``, in-process and as a real process."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from slipway.cli._main import _register_groups, app
from slipway.store._sql import SCHEMA_REVISION, SqlMetadataStore

if TYPE_CHECKING:
    from pathlib import Path

_register_groups()


def _cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _slipway(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slipway", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_upgrade_then_current_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'slipway.db'}"

    assert "no slipway schema; run `slipway db upgrade" in _cli("db", "current", "--store", url)
    assert not (tmp_path / "db").exists()  # looking creates nothing

    assert f"upgraded from nothing to revision {SCHEMA_REVISION}" in _cli("db", "upgrade", "--store", url)
    assert f"already at revision {SCHEMA_REVISION}" in _cli("db", "upgrade", "--store", url)
    assert f"revision {SCHEMA_REVISION} (current)" in _cli("db", "current", "--store", url)
    SqlMetadataStore.connect(url).close()


def test_default_store_comes_from_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _cli("db", "upgrade")  # the autouse fixture made tmp_path the project folder
    assert (tmp_path / ".slipway" / "slipway.db").is_file()

    other = tmp_path / "elsewhere.db"
    monkeypatch.setenv("SLIPWAY_TRACKING_URI", f"sqlite:///{other}")
    assert str(other) in _cli("db", "upgrade")
    assert other.is_file()


def test_current_names_an_out_of_date_schema(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    _cli("db", "upgrade", "--store", url)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '0000'")

    out = _cli("db", "current", "--store", url)

    assert f"revision 0000, this slipway needs {SCHEMA_REVISION}" in out
    assert "slipway db upgrade --store" in out


def test_a_server_url_is_refused_in_one_line() -> None:
    done = _slipway("db", "upgrade", "--store", "http://127.0.0.1:5000")
    assert done.returncode == 2
    assert "team server migrates its own database" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_database_is_one_line_without_the_password() -> None:
    done = _slipway("db", "current", "--store", "postgresql://ada:s3cret@127.0.0.1:1/slipway")
    assert done.returncode == 2
    assert "unavailable" in done.stderr
    assert "s3cret" not in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.postgres
def test_upgrade_a_new_postgres_database(empty_postgres_url: str) -> None:
    url = empty_postgres_url
    done = _slipway("db", "current", "--store", url)
    assert done.returncode == 0, done.stderr
    assert "no slipway schema" in done.stdout

    done = _slipway("db", "upgrade", "--store", url)
    assert done.returncode == 0, done.stderr
    assert f"revision {SCHEMA_REVISION}" in done.stdout
    assert "(current)" in _cli("db", "current", "--store", url)
    SqlMetadataStore.connect(url).close()
