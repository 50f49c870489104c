"""slipway.store's entry points: choosing a backend by URI, and the schema functions, lazily."""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

import slipway.store
from slipway.errors import InvalidInput
from slipway.store._sql import SCHEMA_REVISION

if TYPE_CHECKING:
    from pathlib import Path


def test_upgrade_and_current_are_public_and_work_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db' / 'slipway.db'}"
    assert slipway.store.current(url) is None
    assert not (tmp_path / "db" / "slipway.db").exists()  # current() only looks

    assert slipway.store.upgrade(url) == SCHEMA_REVISION
    assert slipway.store.current(url) == SCHEMA_REVISION


def test_upgrade_of_a_team_server_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="sqlite:// or postgresql://"):
        slipway.store.upgrade("http://127.0.0.1:1")


def test_importing_the_schema_functions_loads_no_sql_library() -> None:
    code = (
        "from slipway.store import current, upgrade; import sys; "
        "print(' '.join(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'alembic')))"
    )
    assert subprocess.check_output([sys.executable, "-c", code], text=True).split() == []


@pytest.mark.postgres
def test_upgrade_and_current_on_postgres(empty_postgres_url: str) -> None:
    assert slipway.store.current(empty_postgres_url) is None
    assert slipway.store.upgrade(empty_postgres_url) == SCHEMA_REVISION
    assert slipway.store.current(empty_postgres_url) == SCHEMA_REVISION
