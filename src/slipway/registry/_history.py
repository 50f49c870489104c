"""What the audit log says about an alias: its holders over time, and where a rollback goes.

Pure functions over :class:`~slipway.core.AuditEvent` lists (oldest first), so the rules are tested
without a store.

Rollback is an undo stack. Every move that is not a rollback (``alias.set``, ``promote``,
``override``, ``alias.delete``) pushes the holder it replaced; every ``rollback`` pops one. The
rollback target is the top of the stack, so a second rollback walks further back past the states
the first one undid, and a new promotion after a rollback starts a new branch (the undone holder is
not "redone"). A stack whose top is "no holder" (the alias was created there) has nothing to roll
back to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from slipway.core import AuditAction

if TYPE_CHECKING:
    from collections.abc import Iterable

    from slipway.core import AuditEvent

__all__ = ["AliasChange", "AliasState", "alias_changes", "alias_state"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasState:
    """An alias as its audit log left it.

    ``holder`` is its version now (None if it never existed or was deleted); ``undo`` the holders
    a rollback would return to, most recent last (None: the alias did not exist then).
    """

    holder: int | None
    undo: tuple[int | None, ...]

    @property
    def rollback_target(self) -> int | None:
        """The version a rollback moves the alias to; None when there is none."""
        for previous in reversed(self.undo):
            if previous != self.holder:
                return previous
            # a no-op entry (moved to the version it already had): look further back
        return None


def alias_state(events: Iterable[AuditEvent], alias: str) -> AliasState:
    """Replay the events of one model that touch ``alias`` (others are ignored)."""
    holder: int | None = None
    undo: list[int | None] = []
    for event in events:
        moved = _move(event)
        if moved is None or event.alias != alias:
            continue
        old, new = moved
        if event.action is AuditAction.ROLLBACK:
            if undo:
                undo.pop()
        elif old != new:  # a move to the holder it already had changes nothing
            undo.append(old)
        holder = new
    return AliasState(holder=holder, undo=tuple(undo))


def _move(event: AuditEvent) -> tuple[int | None, int | None] | None:
    """(holder before, holder after) of an event that moves or deletes an alias; None otherwise."""
    if event.alias is None:
        return None
    if event.action is AuditAction.ALIAS_DELETE:
        # the deleted holder: previous_version by the port's convention, else the event's version
        return (event.previous_version if event.previous_version is not None else event.version), None
    if event.action.moves_alias:
        return event.previous_version, event.version
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class AliasChange:
    """One move that involved a version: it took ``alias`` (replacing ``other``) or lost it to ``other``.

    ``took`` is True when the version became the alias's holder, False when it stopped being it
    (``other`` is then the new holder, None when the alias was deleted).
    """

    event_id: int
    at: int
    alias: str
    action: AuditAction
    took: bool
    other: int | None
    actor: str
    reason: str


def alias_changes(events: Iterable[AuditEvent], version: int) -> list[AliasChange]:
    """Every alias move in ``events`` (one model's) that gave ``version`` an alias or took one away."""
    out: list[AliasChange] = []
    for e in events:
        moved = _move(e)
        if moved is None or e.alias is None:
            continue
        old, new = moved
        if old == new or version not in (old, new):
            continue
        took = new == version
        out.append(
            AliasChange(
                event_id=e.id,
                at=e.at,
                alias=e.alias,
                action=e.action,
                took=took,
                other=old if took else new,
                actor=e.actor,
                reason=e.reason,
            )
        )
    return out
