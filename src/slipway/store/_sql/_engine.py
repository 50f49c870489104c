"""Engines for SQLite and PostgreSQL, the schema check, and the explicit migrations.

SQLite is tuned for several writer processes on one file: WAL (readers never wait for writers), a
30 s busy timeout, ``synchronous=NORMAL`` (a crash may lose the last commits, never corrupt), and
write transactions that start with ``BEGIN IMMEDIATE`` so that writers queue on the busy handler
instead of failing with "database is locked" when a read transaction tries to become a write one.
pysqlite's own transaction handling is switched off (``isolation_level = None``) so that the
``begin`` event below decides how each transaction starts.
"""

from __future__ import annotations

import importlib.util
import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from slipway.errors import InvalidInput, MissingExtra, SchemaOutOfDate
from slipway.store._sql._errors import masked, translated
from slipway.store._sql._tables import SCHEMA_REVISION

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

#: Execution option set on connections that will write; the begin event then takes the write lock.
WRITE = "slipway_write"
_BUSY_TIMEOUT_S = 30.0
_MIGRATIONS = Path(__file__).parent / "migrations"
#: every engine built here, so that a forked child can drop the connections it inherited
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def _forget_inherited_connections() -> None:
    """In a forked child: never use (nor close) the parent's pooled connections; open new ones.

    ``dispose(close=False)`` drops the pool without closing its connections, which stay the
    parent's (closing a PostgreSQL one would end the parent's session). An in-memory SQLite
    database is the one exception: its only connection *is* the database, copied into the child.
    """
    for engine in list(_ENGINES):
        if not isinstance(engine.pool, sa.pool.StaticPool):
            engine.dispose(close=False)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_forget_inherited_connections)


def normalize_url(url: str) -> str:
    """Accept the spellings users type; always use psycopg 3 for PostgreSQL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise InvalidInput(f"store URI {url!r}: expected sqlite:///PATH or postgresql://USER@HOST/DB")
    base = scheme.split("+")[0].lower()
    if base in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    if base == "sqlite":
        return f"sqlite://{rest}" if scheme == "sqlite" else url
    raise InvalidInput(f"store URI {masked(url)!r}: the SQL store takes sqlite:// or postgresql:// URLs")


def parse_url(url: str) -> sa.URL:
    """The normalised URL, parsed; a URL that does not parse is InvalidInput naming it (masked)."""
    normalized = normalize_url(url)
    try:
        return make_url(normalized)
    except (sa.exc.ArgumentError, ValueError) as exc:  # e.g. a port that is not a number
        raise InvalidInput(
            f"store URI {masked(url)!r}: not a valid database URL ({exc}); expected "
            "sqlite:///PATH or postgresql://USER:PASSWORD@HOST:PORT/DB"
        ) from None


def create_engine(url: str) -> Engine:
    """Build (without connecting) the engine for a store URL."""
    parsed = parse_url(url)
    url = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    elif importlib.util.find_spec("psycopg") is None:
        raise MissingExtra(f"{masked(url)}: PostgreSQL needs its driver: pip install 'slipway[postgres]'")
    else:
        engine = sa.create_engine(parsed, pool_size=5, max_overflow=10, pool_pre_ping=True, pool_recycle=1800)
    _ENGINES.add(engine)
    return engine


def _sqlite_engine(parsed: sa.URL) -> Engine:
    database = parsed.database or ""
    memory = database in ("", ":memory:")
    if not memory:
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # PermissionError, a file in the way, a read-only file system
            raise InvalidInput(
                f"metadata store {parsed.render_as_string(hide_password=True)}: cannot create the "
                f"folder {str(folder)!r} for the SQLite file ({exc.strerror or exc}); expected a "
                "path in a folder this user may create and write"
            ) from None
    engine = sa.create_engine(
        parsed,
        connect_args={"timeout": _BUSY_TIMEOUT_S, "check_same_thread": False},
        # One connection for an in-memory database (each connection would see its own empty one).
        poolclass=sa.pool.StaticPool if memory else sa.pool.QueuePool,
        **({} if memory else {"pool_size": 5, "max_overflow": 10}),
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _on_begin)
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            if not memory:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            # LIKE is case-sensitive on PostgreSQL; make SQLite agree (ILIKE stays insensitive).
            cursor.execute("PRAGMA case_sensitive_like = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def schema_revision(connection: Connection) -> str | None:
    """The Alembic revision of the database, or None when it has none (new or foreign)."""
    inspector = sa.inspect(connection)
    if not inspector.has_table("alembic_version"):
        return None
    row = connection.exec_driver_sql("SELECT version_num FROM alembic_version").first()
    return None if row is None else str(row[0])


def has_tables(connection: Connection) -> bool:
    return bool(sa.inspect(connection).get_table_names())


def check_schema(connection: Connection, url: str) -> None:
    """Raise SchemaOutOfDate, naming the command that fixes it, unless the schema is current."""
    revision = schema_revision(connection)
    if revision == SCHEMA_REVISION:
        return
    found = "no slipway schema" if revision is None else f"schema revision {revision}"
    raise SchemaOutOfDate(
        f"metadata store {masked(url)} has {found}, this slipway needs {SCHEMA_REVISION}: "
        f"run `slipway db upgrade --store {masked(url)}`"
    )


def run_upgrade(connection: Connection, *, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` on a connection already inside a write transaction."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def upgrade(url: str) -> str:
    """Migrate the database at ``url`` to the schema this slipway needs; safe to run again.

    Returns the revision the database is at afterwards.
    """
    engine = create_engine(url)
    try:
        with translated(url), engine.connect() as connection:
            connection.execution_options(**{WRITE: True})
            with connection.begin():
                run_upgrade(connection)
                revision = schema_revision(connection)
    finally:
        engine.dispose()
    return revision or SCHEMA_REVISION


def current(url: str) -> str | None:
    """The schema revision of the database at ``url`` (None when it has no slipway schema).

    Only looks: a SQLite file that does not exist is not created.
    """
    parsed = parse_url(url)
    database = parsed.database or ""
    is_file = parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:")
    if is_file and not Path(database).expanduser().exists():
        return None
    engine = create_engine(url)
    try:
        with translated(url), engine.connect() as connection:
            return schema_revision(connection)
    finally:
        engine.dispose()
