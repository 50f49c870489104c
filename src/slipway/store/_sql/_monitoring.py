"""Monitoring in the SQL store: monitor definitions and cursors, window results, alert events.

A window's result is written at most once: ``(monitor, window_start, window_end)`` is the primary
key and the insert is ``ON CONFLICT DO NOTHING``, so a re-run of a window (a retried
``slipway monitor run``, two runners racing) changes nothing and exactly one caller learns that it
recorded the window. The cursor moves in the same transaction and only forward. Writers of one
monitor are serialised on its ``monitors`` row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already queues every writer), which also keeps a concurrent delete from
leaving a result or an alert without its monitor.

The store keeps rules, actions, options, figures and results as JSON text, verbatim: what they
mean is the monitoring package's business, checked there before they get here.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.core import (
    MAX_VALUE_LENGTH,
    AlertEvent,
    AlertStatus,
    Monitor,
    MonitorResult,
    now_ms,
    validate_deployment_name,
    validate_monitor_name,
    validate_window,
)
from slipway.errors import AlreadyExists, InvalidInput, MonitorNotFound
from slipway.store._sql._audit import MAX_JSON_LENGTH, to_json
from slipway.store._sql._base import SqlBase, dialect_insert, fits, int64
from slipway.store._sql._tables import alert_events, monitor_results, monitors

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.engine import Connection

_MAX_RESULTS = 10_000
_SHA256 = re.compile(r"[0-9a-f]{64}")

_NAME: sa.BindParameter[str] = sa.bindparam("name")
_LOCK_MONITOR = sa.select(monitors.c.name).where(monitors.c.name == _NAME).with_for_update()
_MONITOR_ROW = sa.select(monitors).where(monitors.c.name == _NAME)
_END: sa.BindParameter[int] = sa.bindparam("window_end_ms")
# Forward only: a window recorded late (a backfill) never moves the cursor back.
_ADVANCE_CURSOR = (
    monitors.update()
    .where(monitors.c.name == sa.bindparam("monitor"))
    .values(
        cursor=sa.case(
            (sa.or_(monitors.c.cursor.is_(None), monitors.c.cursor < _END), _END),
            else_=monitors.c.cursor,
        )
    )
)
_INSERT_ALERT = alert_events.insert()
_DEFINITION = (
    "deployment",
    "reference",
    "window_spec",
    "rules",
    "actions",
    "options",
    "reference_digest",
    "description",
)


@functools.cache
def _insert_result(dialect: str) -> Any:
    """INSERT a window's result unless that window is already recorded.

    On PostgreSQL it returns the row it inserted (psycopg reports rowcount -1 here, as in
    ``_store._first_application``); SQLite reports the rowcount (before 3.35 it has no RETURNING).
    """
    key = [monitor_results.c.monitor, monitor_results.c.window_start, monitor_results.c.window_end]
    stmt = dialect_insert(dialect, monitor_results).on_conflict_do_nothing(index_elements=key)
    return stmt.returning(monitor_results.c.monitor) if dialect == "postgresql" else stmt


def _json_list(what: str, value: object) -> str:
    """A list of JSON objects as JSON text, bounded like every other JSON document."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise InvalidInput(f"{what}: expected a list of mappings, got {type(value).__name__}")
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidInput(f"{what}[{i}]: expected a mapping, got {type(item).__name__}")
        items.append(item)
    try:
        text = json.dumps(items, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what}: expected JSON values only ({exc})") from None
    if len(text) > MAX_JSON_LENGTH:
        raise InvalidInput(f"{what}: {len(text)} characters of JSON; expected at most {MAX_JSON_LENGTH}")
    return text


def _figures(what: str, figures: object) -> str:
    """Figures as JSON text: names to numbers (NaN and infinities kept) or None."""
    if not isinstance(figures, dict):
        raise InvalidInput(f"{what}: expected a mapping of names to numbers, got {type(figures).__name__}")
    clean: dict[str, float | None] = {}
    for key, value in figures.items():
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"{what}: name {key!r:.60}: expected a non-empty string")
        if value is None:
            clean[key] = None
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{what} {key!r:.60}: expected a number or None, got {type(value).__name__}")
        else:
            clean[key] = float(value)
    return to_json(what, clean)


def _breaches(what: str, breaches: object) -> str:
    if isinstance(breaches, (str, bytes)) or not isinstance(breaches, (list, tuple)):
        raise InvalidInput(f"{what}: expected a list of rule names, got {type(breaches).__name__}")
    for rule in breaches:
        fits(f"{what}: rule name", rule, 250)
    return json.dumps(list(breaches))


def _required_text(what: str, value: object, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{what} {value!r:.60}: expected non-empty text")
    return fits(what, value, limit)


def _digest(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise InvalidInput(
            f"reference_digest {value!r:.80}: expected 64 lowercase hex digits (a SHA-256) or None"
        )
    return value


def _count(what: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{what} {value!r:.60}: expected an integer")
    return int64(what, value)


def _definition(monitor: Monitor) -> dict[str, Any]:
    """The checked columns of a monitor's definition (everything but its times and cursor)."""
    if not isinstance(monitor, Monitor):
        raise InvalidInput(f"create_monitor: expected a Monitor, got {type(monitor).__name__}")
    validate_monitor_name(monitor.name)
    return {
        "name": monitor.name,
        "deployment": validate_deployment_name(monitor.deployment),
        "reference": _required_text("monitor reference", monitor.reference, MAX_VALUE_LENGTH),
        "window_spec": validate_window(monitor.window),
        "rules": _json_list("monitor rules", monitor.rules),
        "actions": _json_list("monitor actions", monitor.actions),
        "options": to_json("monitor options", monitor.options),
        "reference_digest": _digest(monitor.reference_digest),
        "description": fits("monitor description", monitor.description, MAX_VALUE_LENGTH),
    }


def _monitor_of(row: Any) -> Monitor:
    return Monitor(
        name=row.name,
        deployment=row.deployment,
        reference=row.reference,
        window=row.window_spec,
        rules=json.loads(row.rules),
        actions=json.loads(row.actions),
        options=json.loads(row.options),
        created_at=row.created_at,
        updated_at=row.updated_at,
        cursor=row.cursor,
        reference_digest=row.reference_digest,
        description=row.description,
    )


def _result_of(row: Any) -> MonitorResult:
    return MonitorResult(
        monitor=row.monitor,
        window_start=row.window_start,
        window_end=row.window_end,
        figures=json.loads(row.figures),
        breaches=json.loads(row.breaches),
        result=json.loads(row.result),
        rows=row.row_count,
        created_at=row.created_at,
    )


def _alert_of(row: Any) -> AlertEvent:
    return AlertEvent(
        id=int(row.id),
        monitor=row.monitor,
        rule=row.rule,
        window_end=row.window_end,
        at=row.at,
        status=AlertStatus(row.status),
        channel=row.channel,
        message=row.message,
        details=json.loads(row.details),
    )


def _max_results(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_RESULTS:
        raise InvalidInput(f"max_results {value!r:.60}: expected 1 to {_MAX_RESULTS}")
    return value


def _not_found(name: str) -> MonitorNotFound:
    return MonitorNotFound(f"monitor {name!r} not found; `slipway monitor create` makes one")


class MonitoringMixin(SqlBase):
    """Monitors, the result of each window they evaluated, and the alerts they raised."""

    @staticmethod
    def _lock_monitor(connection: Connection, name: str) -> None:
        """Lock the monitor's row until commit (PostgreSQL); a missing monitor is MonitorNotFound."""
        if connection.execute(_LOCK_MONITOR, {"name": name}).first() is None:
            raise _not_found(name)

    # ------------------------------------------------------------------ definitions

    def create_monitor(self, monitor: Monitor, *, replace: bool = False) -> Monitor:
        values = _definition(monitor)
        cursor = None if monitor.cursor is None else _count("monitor cursor", monitor.cursor)
        name = values["name"]
        exists = AlreadyExists(
            f"monitor {name!r} already exists; replace it (--replace) to change its definition, "
            "or pick another name"
        )
        at = now_ms()
        row = {**values, "created_at": at, "updated_at": at, "cursor": cursor}
        with self._write(conflict=exists) as connection:
            if replace:
                # One statement: a new monitor is created; an existing one keeps its creation time
                # and its cursor (the windows it evaluated are still evaluated).
                stmt = dialect_insert(connection.dialect.name, monitors).values(**row)
                connection.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[monitors.c.name],
                        set_={column: stmt.excluded[column] for column in (*_DEFINITION, "updated_at")},
                    )
                )
            else:
                if connection.execute(_MONITOR_ROW, {"name": name}).first() is not None:
                    raise exists
                connection.execute(monitors.insert().values(**row))
            return _monitor_of(connection.execute(_MONITOR_ROW, {"name": name}).one())

    def get_monitor(self, name: str) -> Monitor:
        with self._read() as connection:
            row = connection.execute(_MONITOR_ROW, {"name": name}).first()
        if row is None:
            raise _not_found(name)
        return _monitor_of(row)

    def list_monitors(self) -> list[Monitor]:
        with self._read() as connection:
            rows = connection.execute(sa.select(monitors).order_by(monitors.c.name)).all()
        return [_monitor_of(row) for row in rows]

    def delete_monitor(self, name: str) -> None:
        with self._write() as connection:
            self._lock_monitor(connection, name)
            connection.execute(alert_events.delete().where(alert_events.c.monitor == name))
            connection.execute(monitor_results.delete().where(monitor_results.c.monitor == name))
            connection.execute(monitors.delete().where(monitors.c.name == name))

    def set_monitor_cursor(self, name: str, cursor: int | None) -> Monitor:
        value = None if cursor is None else _count("monitor cursor", cursor)
        with self._write() as connection:
            self._lock_monitor(connection, name)
            connection.execute(monitors.update().where(monitors.c.name == name).values(cursor=value))
            return _monitor_of(connection.execute(_MONITOR_ROW, {"name": name}).one())

    # ------------------------------------------------------------------ results

    def record_monitor_result(self, result: MonitorResult) -> bool:
        if not isinstance(result, MonitorResult):
            raise InvalidInput(
                f"record_monitor_result: expected a MonitorResult, got {type(result).__name__}"
            )
        name = result.monitor
        start = _count("window_start", result.window_start)
        end = _count("window_end", result.window_end)
        if end < start:
            raise InvalidInput(
                f"monitor {name!r}: window_end {end} is before window_start {start}; "
                "expected a window [start, end)"
            )
        rows = _count("rows", result.rows)
        if rows < 0:
            raise InvalidInput(f"monitor {name!r}: rows {rows}: expected 0 or more")
        created_at = _count("created_at", result.created_at) or now_ms()
        values = {
            "monitor": name,
            "window_start": start,
            "window_end": end,
            "created_at": created_at,
            "row_count": rows,
            "figures": _figures("figures", result.figures),
            "breaches": _breaches("breaches", result.breaches),
            "result": to_json("result", result.result),
        }
        with self._write() as connection:
            self._lock_monitor(connection, name)
            done = connection.execute(_insert_result(connection.dialect.name), values)
            inserted = done.first() is not None if done.returns_rows else done.rowcount == 1
            # Even a window recorded before counts as evaluated: after a cursor reset, a run that
            # walks over recorded windows catches the cursor up instead of staying behind.
            connection.execute(_ADVANCE_CURSOR, {"monitor": name, "window_end_ms": end})
        return inserted

    def list_monitor_results(
        self,
        name: str,
        *,
        since: int | None = None,
        until: int | None = None,
        max_results: int = 1000,
    ) -> list[MonitorResult]:
        limit = _max_results(max_results)
        conditions = [monitor_results.c.monitor == name]
        if since is not None:
            conditions.append(monitor_results.c.window_start >= _count("since", since))
        if until is not None:
            conditions.append(monitor_results.c.window_start < _count("until", until))
        query = (
            sa.select(monitor_results)
            .where(*conditions)
            .order_by(monitor_results.c.window_start, monitor_results.c.window_end)
            .limit(limit)
        )
        with self._read() as connection:
            if connection.execute(_MONITOR_ROW, {"name": name}).first() is None:
                raise _not_found(name)
            rows = connection.execute(query).all()
        return [_result_of(row) for row in rows]

    # ------------------------------------------------------------------ alerts

    def record_alert(
        self,
        *,
        monitor: str,
        rule: str,
        window_end: int,
        status: AlertStatus | str,
        channel: str,
        message: str = "",
        details: Mapping[str, Any] | None = None,
        at: int | None = None,
    ) -> AlertEvent:
        alert = AlertEvent(
            id=0,  # the store's, below
            monitor=monitor,
            rule=_required_text("alert rule", rule, 250),
            window_end=_count("window_end", window_end),
            at=now_ms() if at is None else _count("alert at", at),
            status=AlertStatus.of(status),
            channel=_required_text("alert channel", channel, 64),
            message=fits("alert message", message, MAX_VALUE_LENGTH),
        )
        text = to_json("alert details", details)
        values = {
            "monitor": alert.monitor,
            "rule": alert.rule,
            "window_end": alert.window_end,
            "at": alert.at,
            "status": alert.status.value,
            "channel": alert.channel,
            "message": alert.message,
            "details": text,
        }
        with self._write() as connection:
            self._lock_monitor(connection, monitor)
            key = connection.execute(_INSERT_ALERT, values).inserted_primary_key
        assert key is not None  # an INSERT of one row always has one
        return dataclasses.replace(alert, id=int(key[0]), details=json.loads(text))

    def list_alerts(
        self,
        *,
        monitor: str | None = None,
        rule: str | None = None,
        status: AlertStatus | str | None = None,
        since: int | None = None,
        max_results: int = 1000,
    ) -> list[AlertEvent]:
        limit = _max_results(max_results)
        conditions = []
        for what, column, value in (
            ("monitor", alert_events.c.monitor, monitor),
            ("rule", alert_events.c.rule, rule),
        ):
            if value is not None:
                if not isinstance(value, str):
                    raise InvalidInput(f"alert filter {what} {value!r:.60}: expected a string")
                conditions.append(column == value)
        if status is not None:
            conditions.append(alert_events.c.status == AlertStatus.of(status).value)
        if since is not None:
            conditions.append(alert_events.c.at >= _count("since", since))
        query = (
            sa.select(alert_events)
            .where(*conditions)
            .order_by(alert_events.c.at.desc(), alert_events.c.id.desc())
            .limit(limit)
        )
        with self._read() as connection:
            rows = connection.execute(query).all()
        return [_alert_of(row) for row in rows]
