"""What every part of the SQL store shares: the engine, short transactions, and small helpers."""

from __future__ import annotations

import os
import threading
import weakref
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.errors import InvalidInput, RunNotFound, SlipwayError
from slipway.store._sql._engine import WRITE
from slipway.store._sql._errors import translated
from slipway.store._sql._tables import runs

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from sqlalchemy.engine import Connection, Engine

_IN_CHUNK = 500  # ids per IN (...) list: far below every driver's limit on bound parameters


def upsert(connection: Connection, table: sa.Table) -> Any:
    """The dialect's INSERT … ON CONFLICT builder (SQLite and PostgreSQL share its API)."""
    return dialect_insert(connection.dialect.name, table)


def dialect_insert(dialect: str, table: sa.Table) -> Any:
    """:func:`upsert` by dialect name, for statements built once and cached per dialect."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IN_CHUNK):
        yield list(ids[start : start + _IN_CHUNK])


_INT64 = range(-(2**63), 2**63)


def int64(what: str, value: float | str) -> int:
    """An integer for a BIGINT column: anything else, or beyond 64 bits, is InvalidInput naming it."""
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(f"{what} {value!r:.60}: expected an integer") from None
    if number not in _INT64:
        raise InvalidInput(f"{what} {number}: expected an integer between -2**63 and 2**63-1")
    return number


def fits(what: str, value: str, limit: int) -> str:
    """Refuse text longer than its column, or holding NUL, alike on SQLite and PostgreSQL.

    SQLite would store either; PostgreSQL refuses NUL and a string longer than a VARCHAR.
    """
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(f"{what} {value!r:.60}: expected a string of at most {limit} characters")
    if "\x00" in value:
        raise InvalidInput(f"{what} {value!r:.60}: NUL characters are not allowed")
    return value


#: stores whose lock a forked child must replace (a thread of the parent may have held it)
_LOCKED: weakref.WeakSet[SqlBase] = weakref.WeakSet()


def _fresh_locks_in_child() -> None:
    for store in list(_LOCKED):
        store._exclusive = threading.RLock()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_fresh_locks_in_child)


class SqlBase:
    """The engine and the two kinds of transaction every method runs in.

    An in-memory SQLite database lives in one connection that every thread shares (StaticPool):
    a lock then serialises each transaction, or a writer thread's transaction would interleave
    with the main thread's on that one connection and lose writes. A forked child gets its own
    copy of such a database (what it writes stays in the child) and a fresh lock.
    """

    def __init__(self, engine: Engine, *, url: str | None = None) -> None:
        self._engine = engine
        self._url = url if url is not None else engine.url.render_as_string(hide_password=True)
        self._exclusive = threading.RLock() if isinstance(engine.pool, sa.pool.StaticPool) else None
        if self._exclusive is not None:
            _LOCKED.add(self)

    def _turn(self) -> threading.RLock | nullcontext[None]:
        return self._exclusive if self._exclusive is not None else nullcontext()

    def close(self) -> None:
        self._engine.dispose()

    def __repr__(self) -> str:
        return f"SqlMetadataStore({self._url!r})"

    @contextmanager
    def _write(self, *, conflict: SlipwayError | None = None) -> Iterator[Connection]:
        with (
            self._turn(),
            translated(self._url, conflict=conflict),
            self._engine.connect() as connection,
        ):
            connection.execution_options(**{WRITE: True})
            with connection.begin():
                yield connection

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._turn(), translated(self._url), self._engine.connect() as connection, connection.begin():
            yield connection

    @staticmethod
    def _experiment_of(connection: Connection, run_id: str) -> str | None:
        row = connection.execute(sa.select(runs.c.experiment_id).where(runs.c.id == run_id)).first()
        return None if row is None else str(row[0])

    def _require_run(self, connection: Connection, run_id: str) -> str:
        experiment_id = self._experiment_of(connection, run_id)
        if experiment_id is None:
            raise RunNotFound(f"run {run_id!r} not found")
        return experiment_id
