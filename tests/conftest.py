"""Hermetic tests: no SLIPWAY_* setting leaks in from the shell, and each test works in its own folder.

PostgreSQL: ``postgres_url`` is a fresh, migrated database on the server that
``SLIPWAY_TEST_POSTGRES_URL`` names (CI sets it; a dead URL fails the run) or, when unset, on
``127.0.0.1:5432`` if anything answers there (else the tests that need it are skipped).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

_LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

# `team_server`: a real `slipway server` process for the HTTP adapter and end-to-end tests.
pytest_plugins = ["tests._team_server"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("SLIPWAY_") and not key.startswith("SLIPWAY_TEST_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def _server_problem(url: str) -> str | None:
    """Why the PostgreSQL server at ``url`` cannot be used, or None when it answers."""
    import sqlalchemy as sa

    from slipway.store._sql._engine import normalize_url

    try:
        engine = sa.create_engine(normalize_url(url), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        engine.dispose()
    except Exception as exc:  # any failure means "cannot use it"; the message says which
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """A URL of a reachable PostgreSQL server (its database is only used to create others)."""
    given = os.environ.get("SLIPWAY_TEST_POSTGRES_URL")
    if given:
        problem = _server_problem(given)
        if problem is not None:
            from slipway.store._sql._errors import masked

            pytest.fail(f"SLIPWAY_TEST_POSTGRES_URL={masked(given)} does not answer: {problem}")
        return given
    if _server_problem(_LOCAL_POSTGRES) is not None:
        pytest.skip("no PostgreSQL: SLIPWAY_TEST_POSTGRES_URL unset and nothing answers on 127.0.0.1:5432")
    return _LOCAL_POSTGRES


@contextlib.contextmanager
def temporary_database(server_url: str) -> Iterator[str]:
    """Create an empty database ``slipway_test_<hex>`` on the server; drop it afterwards."""
    import sqlalchemy as sa

    from slipway.store._sql._engine import normalize_url

    server = sa.make_url(normalize_url(server_url))
    name = f"slipway_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database for this test session, migrated to the current schema; dropped at the end."""
    from slipway.store._sql import upgrade

    with temporary_database(postgres_server_url) as url:
        upgrade(url)
        yield url


@pytest.fixture
def empty_postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A database with no schema at all, for the tests of migrations."""
    with temporary_database(postgres_server_url) as url:
        yield url
