"""The append-only audit log of the SQL store: appending events, and searching them.

An event is appended in the transaction of the change it records (:func:`append_event`), so a
change is never committed without its event nor an event without its change. Nothing updates or
deletes a row of ``audit_events``.

Events get their ids in commit order: on PostgreSQL a transaction-scoped advisory lock is taken
just before the insert, so an event with a smaller id is never committed after one with a larger
id. (Registry writes happen at human rates; serialising their last statements costs nothing that
matters.) SQLite's writers are serialised anyway.

Searches page by keyset: a token holds the id of the last event returned, so a page never shifts
when events are appended meanwhile, and a hash of the query it belongs to: passed back with
another query it is InvalidInput.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.core import MAX_VALUE_LENGTH, AuditAction, AuditEvent, Page, now_ms, validate_model_name
from slipway.errors import InvalidInput
from slipway.store._sql._base import SqlBase, fits, int64
from slipway.store._sql._tables import audit_events

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.engine import Connection

#: the largest JSON document (lineage, gate result, event details) a version or event may hold
MAX_JSON_LENGTH = 10 * MAX_VALUE_LENGTH
_MAX_RESULTS = 10_000
#: any constant: the key of PostgreSQL's advisory lock that orders audit-event commits
_AUDIT_LOCK = 0x511B_A7A0
_LOCK_LOG = sa.select(sa.func.pg_advisory_xact_lock(_AUDIT_LOCK))
_INSERT_EVENT = audit_events.insert()  # built once: see _registry's hot-path statements


def to_json(what: str, value: Mapping[str, Any] | None) -> str:
    """``value`` as JSON text: a mapping of JSON values, at most MAX_JSON_LENGTH characters."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        try:
            value = dict(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{what}: expected a mapping, got {type(value).__name__}") from None
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what}: expected JSON values only ({exc})") from None
    if len(text) > MAX_JSON_LENGTH:
        raise InvalidInput(f"{what}: {len(text)} characters of JSON; expected at most {MAX_JSON_LENGTH}")
    return text


def action_of(value: AuditAction | str) -> AuditAction:
    """The action ``value`` names; anything else is InvalidInput listing the actions."""
    try:
        return AuditAction(value)
    except ValueError:
        names = ", ".join(a.value for a in AuditAction)
        raise InvalidInput(f"audit action {value!r:.60}: expected one of {names}") from None


def append_event(
    connection: Connection,
    *,
    at: int,
    actor: str,
    action: AuditAction,
    model: str,
    version: int | None = None,
    alias: str | None = None,
    previous_version: int | None = None,
    reason: str = "",
    details: Mapping[str, Any] | None = None,
    details_json: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction and return it (``details_json``: already JSON)."""
    text = details_json if details_json is not None else to_json("audit details", details)
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_LOG)
    key = connection.execute(
        _INSERT_EVENT,
        {
            "at": at,
            "actor": actor,
            "action": action.value,
            "model": model,
            "version": version,
            "alias": alias,
            "previous_version": previous_version,
            "reason": reason,
            "details": text,
        },
    ).inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    return AuditEvent(
        id=int(key[0]),
        at=at,
        actor=actor,
        action=action,
        model=model,
        version=version,
        alias=alias,
        previous_version=previous_version,
        reason=reason,
        details=json.loads(text),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditQuery:
    model: str | None = None
    action: AuditAction | None = None
    alias: str | None = None
    actor: str | None = None
    since: int | None = None
    until: int | None = None

    @classmethod
    def of(
        cls,
        *,
        model: str | None,
        action: AuditAction | str | None,
        alias: str | None,
        actor: str | None,
        since: int | None,
        until: int | None,
    ) -> AuditQuery:
        for what, text in (("model", model), ("alias", alias), ("actor", actor)):
            if text is not None and not isinstance(text, str):
                raise InvalidInput(f"audit filter {what} {text!r:.60}: expected a string")
        return cls(
            model=model,
            action=None if action is None else action_of(action),
            alias=alias,
            actor=actor,
            since=None if since is None else int64("audit filter since", since),
            until=None if until is None else int64("audit filter until", until),
        )

    def fingerprint(self) -> str:
        text = repr((self.model, self.action, self.alias, self.actor, self.since, self.until))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def where(self) -> list[Any]:
        columns = audit_events.c
        conditions: list[Any] = []
        for column, value in (
            (columns.model, self.model),
            (columns.action, None if self.action is None else self.action.value),
            (columns.alias, self.alias),
            (columns.actor, self.actor),
        ):
            if value is not None:
                conditions.append(column == value)
        if self.since is not None:
            conditions.append(columns.at >= self.since)
        if self.until is not None:
            conditions.append(columns.at < self.until)
        return conditions


def encode_token(last_id: int, *, query: AuditQuery) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}:{query.fingerprint()}".encode()).decode().rstrip("=")


def decode_token(token: str | None, *, query: AuditQuery) -> int:
    """The id after which the page starts (0 for the first page)."""
    if token is None or token == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        label, number, issued_for = text.split(":")
        after = int(number)
        if label != "after" or not 0 <= after < 2**63:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            f"page_token {token!r:.80}: not a token this store issued; pass next_token back"
        ) from None
    if issued_for != query.fingerprint():
        raise InvalidInput(
            f"page_token {token!r:.80}: the page token belongs to another audit search (other "
            "filters); pass it back only with the search that returned it"
        )
    return after


def _event_of(row: Any) -> AuditEvent:
    return AuditEvent(
        id=int(row.id),
        at=row.at,
        actor=row.actor,
        action=AuditAction(row.action),
        model=row.model,
        version=row.version,
        alias=row.alias,
        previous_version=row.previous_version,
        reason=row.reason,
        details=json.loads(row.details),
    )


def external_action(value: AuditAction | str) -> AuditAction:
    """The action of an event appended on its own; an action the store writes itself is refused.

    Registration, alias moves, gate results, descriptions and tags are logged by the methods that
    make those changes, in the same transaction: appending one by hand would record a change
    that never happened.
    """
    action = action_of(value)
    if not action.external:
        allowed = ", ".join(a.value for a in AuditAction if a.external)
        raise InvalidInput(
            f"record_audit_event action {action.value!r}: expected one of {allowed}; a "
            f"{action.value} event is written by the method that makes that change"
        )
    return action


class AuditMixin(SqlBase):
    """Reading the audit log and appending events of outside happenings; nothing edits or deletes one."""

    def record_audit_event(
        self,
        *,
        model: str,
        action: AuditAction,
        actor: str,
        reason: str = "",
        version: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append an event that records something outside the store (a monitor's trigger)."""
        action = external_action(action)
        validate_model_name(model)
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise InvalidInput(f"model version {version!r:.60}: expected an integer")
        version = None if version is None else int64("model version", version)
        fits("actor", actor, 250)
        fits("reason", reason, MAX_VALUE_LENGTH)
        text = to_json("audit details", details)
        with self._write() as connection:
            return append_event(
                connection,
                at=now_ms(),
                actor=actor,
                action=action,
                model=model,
                version=version,
                reason=reason,
                details_json=text,
            )

    def search_audit(
        self,
        *,
        model: str | None = None,
        action: AuditAction | None = None,
        alias: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        """Events oldest first; ``since`` is inclusive and ``until`` exclusive (ms since the epoch)."""
        if isinstance(max_results, bool) or not isinstance(max_results, int):
            raise InvalidInput(f"max_results {max_results!r}: expected 1 to {_MAX_RESULTS}")
        if not 1 <= max_results <= _MAX_RESULTS:
            raise InvalidInput(f"max_results {max_results!r}: expected 1 to {_MAX_RESULTS}")
        query = AuditQuery.of(model=model, action=action, alias=alias, actor=actor, since=since, until=until)
        after = decode_token(page_token, query=query)
        select = (
            sa.select(audit_events)
            .where(audit_events.c.id > after, *query.where())
            .order_by(audit_events.c.id)
            .limit(max_results + 1)
        )
        with self._read() as connection:
            rows = connection.execute(select).all()
        items = [_event_of(row) for row in rows[:max_results]]
        more = len(rows) > max_results
        return Page(items=items, next_token=encode_token(items[-1].id, query=query) if more else None)
