"""The audit-log search of the SQL store: its query, page tokens and rows read back as events.

Pages are keyset pages: a token holds the id of the last event returned, so a page never shifts
when events are appended meanwhile (the log is append-only and ids grow in commit order). A token
also holds a hash of the query it belongs to: passed back with another query it is InvalidInput.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from slipway.core import AuditAction, AuditEvent
from slipway.errors import InvalidInput
from slipway.store._sql._base import int64


def action_of(value: AuditAction | str) -> AuditAction:
    """The action ``value`` names; anything else is InvalidInput listing the actions."""
    try:
        return AuditAction(value)
    except ValueError:
        names = ", ".join(a.value for a in AuditAction)
        raise InvalidInput(f"audit action {value!r:.60}: expected one of {names}") from None


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


def event_of(row: Any) -> AuditEvent:
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
