"""Registry entities: named models, their versions, aliases, and the append-only audit log.

A version is immutable once registered: its files (content digests) and its manifest digest, the
trust anchor that every load checks, never change. What moves is aliases (``production``,
``champion``, any name), and every move is an :class:`AuditEvent` written in the same transaction.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class AuditAction(str, enum.Enum):
    """What an audit event records. The log is append-only: nothing edits or deletes an entry."""

    REGISTER = "register"  # a new version
    ALIAS_SET = "alias.set"  # an alias moved (or was created) by hand
    ALIAS_DELETE = "alias.delete"
    PROMOTE = "promote"  # an alias moved because the version's gate passed
    OVERRIDE = "override"  # an alias moved with --force although the gate did not pass
    ROLLBACK = "rollback"  # an alias moved back to its previous holder
    VALIDATE = "validate"  # a gate result recorded on a version
    DESCRIBE = "describe"  # a description changed
    TAG = "tag"  # a tag set or deleted
    MONITOR_TRIGGER = "monitor.trigger"  # a breached monitor started an action (e.g. retraining)

    @property
    def external(self) -> bool:
        """Whether the event records something that happened outside the store.

        Such events are appended with ``record_audit_event``. Every other action is written by the
        store itself, in the transaction of the change it records, so the log cannot claim a
        registration, a tag or an alias move that did not happen.
        """
        return self is AuditAction.MONITOR_TRIGGER

    @property
    def moves_alias(self) -> bool:
        return self in (
            AuditAction.ALIAS_SET,
            AuditAction.PROMOTE,
            AuditAction.OVERRIDE,
            AuditAction.ROLLBACK,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisteredModel:
    name: str
    created_at: int
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)  # alias -> version
    latest_version: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelVersion:
    """One registered version.

    ``source`` is where it was registered from (``runs:/RUN/model`` or a folder); ``lineage`` holds
    the run, the datasets (digests, names, roles), the code commit and the version it replaced;
    ``gate`` the latest validation result recorded on it (None until validated).
    """

    name: str
    version: int
    created_at: int
    source: str
    manifest_digest: str
    run_id: str | None = None
    creator: str = ""
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: frozenset[str] = frozenset()
    lineage: dict[str, Any] = field(default_factory=dict)
    gate: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditEvent:
    """One change of state that matters to a regulator: who, when, what, why.

    ``previous_version`` is the alias's holder before the move (None for a new alias or for
    events that move no alias), so a rollback can be computed from the log alone.
    """

    id: int
    at: int
    actor: str
    action: AuditAction
    model: str
    version: int | None = None
    alias: str | None = None
    previous_version: int | None = None
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)


_MOVES = frozenset({AuditAction.ALIAS_SET, AuditAction.PROMOTE, AuditAction.OVERRIDE, AuditAction.ROLLBACK})
