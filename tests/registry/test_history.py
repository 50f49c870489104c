"""Alias history replayed from audit events: the rollback stack and a version's alias changes."""

from __future__ import annotations

import itertools

from slipway.core import AuditAction, AuditEvent
from slipway.registry import alias_changes, alias_state

_ids = itertools.count(1)


def move(
    action: AuditAction, version: int | None, previous: int | None, alias: str = "production"
) -> AuditEvent:
    return AuditEvent(
        id=next(_ids),
        at=1_000,
        actor="alice",
        action=action,
        model="churn",
        version=version,
        alias=alias,
        previous_version=previous,
    )


SET, PROMOTE, ROLLBACK, DELETE = (
    AuditAction.ALIAS_SET,
    AuditAction.PROMOTE,
    AuditAction.ROLLBACK,
    AuditAction.ALIAS_DELETE,
)


def test_a_new_alias_has_nothing_to_roll_back_to() -> None:
    state = alias_state([move(SET, 1, None)], "production")
    assert state.holder == 1
    assert state.rollback_target is None


def test_rollbacks_walk_back_as_a_stack() -> None:
    events = [move(SET, 1, None), move(PROMOTE, 2, 1), move(PROMOTE, 3, 2)]
    assert alias_state(events, "production").rollback_target == 2
    events.append(move(ROLLBACK, 2, 3))
    state = alias_state(events, "production")
    assert (state.holder, state.rollback_target) == (2, 1)  # the second goes further back, not to 3
    events.append(move(ROLLBACK, 1, 2))
    state = alias_state(events, "production")
    assert (state.holder, state.rollback_target) == (1, None)


def test_a_move_after_a_rollback_starts_a_new_branch() -> None:
    events = [move(SET, 1, None), move(PROMOTE, 2, 1), move(ROLLBACK, 1, 2), move(PROMOTE, 4, 1)]
    state = alias_state(events, "production")
    assert (state.holder, state.rollback_target) == (4, 1)


def test_moves_to_the_same_holder_and_other_aliases_are_ignored() -> None:
    events = [
        move(SET, 1, None),
        move(SET, 2, 1),
        move(SET, 2, 2),  # no-op
        move(SET, 7, None, alias="staging"),
        move(AuditAction.TAG, 2, None),
    ]
    state = alias_state(events, "production")
    assert (state.holder, state.rollback_target) == (2, 1)


def test_a_deleted_alias_rolls_back_to_its_last_holder() -> None:
    events = [move(SET, 1, None), move(SET, 2, 1), move(DELETE, None, 2)]
    state = alias_state(events, "production")
    assert (state.holder, state.rollback_target) == (None, 2)
    events.append(move(ROLLBACK, 2, None))
    assert alias_state(events, "production").rollback_target == 1


def test_alias_changes_say_what_a_version_took_and_lost() -> None:
    events = [
        move(SET, 1, None),
        move(PROMOTE, 2, 1),
        move(SET, 2, None, alias="staging"),
        move(ROLLBACK, 1, 2),
        move(DELETE, None, 2, alias="staging"),
    ]
    changes = [(c.alias, c.action, c.took, c.other) for c in alias_changes(events, 2)]
    assert changes == [
        ("production", PROMOTE, True, 1),
        ("staging", SET, True, None),
        ("production", ROLLBACK, False, 1),
        ("staging", DELETE, False, None),
    ]
