"""Monitoring entities: names and windows checked at the edge of the store, alert statuses as text."""

from __future__ import annotations

import dataclasses

import pytest

from slipway.core import (
    AlertStatus,
    AuditAction,
    Monitor,
    MonitorResult,
    validate_monitor_name,
    validate_window,
)
from slipway.errors import InvalidInput


@pytest.mark.parametrize("name", ["churn-drift", "a", "m.1_x-2", "9" * 128])
def test_monitor_names_like_deployment_names_pass(name: str) -> None:
    assert validate_monitor_name(name) == name


@pytest.mark.parametrize("name", ["", "-x", ".x", "a b", "a/b", "..", "é", "x" * 129, "x\n", 3])
def test_other_monitor_names_are_invalid_and_named(name: object) -> None:
    with pytest.raises(InvalidInput, match="monitor name"):
        validate_monitor_name(name)


@pytest.mark.parametrize("window", ["1h", "15min", "1D", "rows:10000", "column:month"])
def test_windows_are_any_non_empty_text(window: str) -> None:
    assert validate_window(window) == window


@pytest.mark.parametrize("window", ["", "   ", " 1h", "1h\n", "x" * 251, None, 3600])
def test_empty_padded_long_or_non_text_windows_are_invalid(window: object) -> None:
    with pytest.raises(InvalidInput, match="monitor window"):
        validate_window(window)


def test_alert_statuses_are_their_text() -> None:
    assert AlertStatus.of("fired") is AlertStatus.FIRED
    assert AlertStatus.of(AlertStatus.FAILED) is AlertStatus.FAILED
    assert isinstance(AlertStatus.SUPPRESSED, str)
    assert AlertStatus.SUPPRESSED.value == "suppressed"
    with pytest.raises(InvalidInput, match="fired, suppressed, failed"):
        AlertStatus.of("sent")


def test_only_the_monitor_trigger_is_an_external_audit_action() -> None:
    assert [a for a in AuditAction if a.external] == [AuditAction.MONITOR_TRIGGER]
    assert not AuditAction.MONITOR_TRIGGER.moves_alias


def test_entities_are_frozen_values_with_the_store_filling_times() -> None:
    m = Monitor(name="m", deployment="d", reference="models:/churn@production", window="1h")
    r = MonitorResult(monitor="m", window_start=0, window_end=1)

    assert (m.created_at, m.updated_at, m.cursor, m.rules, m.actions, m.options) == (0, 0, None, [], [], {})
    assert (r.figures, r.breaches, r.result, r.rows, r.created_at) == ({}, [], {}, 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.cursor = 3  # type: ignore[misc]
