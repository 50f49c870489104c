"""Audit log export: JSON lines and CSV, one row per event, and a reader for both.

A row holds every field of an :class:`~slipway.core.AuditEvent` plus ``time``, the event's moment
as ISO 8601 in UTC (``at`` stays the exact integer milliseconds). In CSV, empty cells stand for
None and ``details`` is one JSON object per cell, so a file read back gives the same events.
Values are written as they are: a spreadsheet may take a reason starting with ``=`` for a formula,
so open exports in a text-safe way (or use JSON lines) when reasons come from untrusted hands.
"""

from __future__ import annotations

import csv
import datetime
import json
from typing import TYPE_CHECKING, Any, Literal

from slipway.core import AuditAction, AuditEvent
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import TextIO

__all__ = ["AUDIT_FIELDS", "ExportFormat", "audit_record", "iso_utc", "read_audit", "write_audit"]

ExportFormat = Literal["jsonl", "csv"]
AUDIT_FIELDS = (
    "id",
    "time",
    "at",
    "actor",
    "action",
    "model",
    "version",
    "alias",
    "previous_version",
    "reason",
    "details",
)


def iso_utc(ms: int) -> str:
    """``2026-11-24T10:45:17.123Z`` for a time in milliseconds since the epoch."""
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def audit_record(event: AuditEvent) -> dict[str, Any]:
    """One event as a JSON-ready dict with the fields of :data:`AUDIT_FIELDS`, in that order."""
    return {
        "id": event.id,
        "time": iso_utc(event.at),
        "at": event.at,
        "actor": event.actor,
        "action": event.action.value,
        "model": event.model,
        "version": event.version,
        "alias": event.alias,
        "previous_version": event.previous_version,
        "reason": event.reason,
        "details": event.details,
    }


def write_audit(events: Iterable[AuditEvent], out: TextIO, *, format: ExportFormat) -> int:
    """Write ``events`` to ``out`` as JSON lines or CSV (with a header row); return how many.

    Open a CSV file with ``newline=""``, as the :mod:`csv` module asks.
    """
    count = 0
    if format == "jsonl":
        for event in events:
            out.write(json.dumps(audit_record(event), ensure_ascii=False, sort_keys=False) + "\n")
            count += 1
        return count
    if format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(AUDIT_FIELDS)
        for event in events:
            row = audit_record(event)
            row["details"] = json.dumps(row["details"], ensure_ascii=False, sort_keys=True)
            writer.writerow("" if row[k] is None else row[k] for k in AUDIT_FIELDS)
            count += 1
        return count
    raise InvalidInput(f"audit export format {format!r}: expected 'jsonl' or 'csv'")


def read_audit(source: TextIO, *, format: ExportFormat) -> Iterator[AuditEvent]:
    """Read back what :func:`write_audit` wrote; InvalidInput names the line that is not an event."""
    if format == "jsonl":
        for number, line in enumerate(source, start=1):
            if line.strip():
                try:
                    yield _event(json.loads(line))
                except (ValueError, KeyError, TypeError) as exc:
                    raise InvalidInput(f"audit export line {number}: not an audit event: {exc}") from None
        return
    if format == "csv":
        for number, row in enumerate(csv.DictReader(source), start=2):
            try:
                yield _event(
                    {
                        **{k: (v if v != "" else None) for k, v in row.items()},
                        "reason": row.get("reason", ""),
                        "actor": row.get("actor", ""),
                        "details": json.loads(row.get("details") or "{}"),
                    }
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise InvalidInput(f"audit export line {number}: not an audit event: {exc}") from None
        return
    raise InvalidInput(f"audit export format {format!r}: expected 'jsonl' or 'csv'")


def _event(d: dict[str, Any]) -> AuditEvent:
    def opt_int(key: str) -> int | None:
        value = d.get(key)
        return None if value is None else int(value)

    details = d.get("details") or {}
    if not isinstance(details, dict):
        raise TypeError("details must be an object")
    return AuditEvent(
        id=int(d["id"]),
        at=int(d["at"]),
        actor=str(d.get("actor") or ""),
        action=AuditAction(d["action"]),
        model=str(d["model"]),
        version=opt_int("version"),
        alias=d.get("alias"),
        previous_version=opt_int("previous_version"),
        reason=str(d.get("reason") or ""),
        details=details,
    )
