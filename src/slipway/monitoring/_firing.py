"""Firing a monitor's alerts: deliveries with a cooldown per rule, and the action a breach starts.

Every delivery, suppressed one and action is recorded as an alert in the metadata store; the
action's trigger is written to the audit log before it starts.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import TYPE_CHECKING, Any

from slipway.core import AlertStatus, AuditAction
from slipway.monitoring._alerts import deliver, payload

if TYPE_CHECKING:
    from collections.abc import Mapping

    from slipway.core import Monitor
    from slipway.monitoring._alerts import Verdict
    from slipway.monitoring._rules import MonitorRules
    from slipway.store import MetadataStore

__all__ = ["fire"]


def fire(
    store: MetadataStore,
    monitor: Monitor,
    rules: MonitorRules,
    fires: list[Verdict],
    lo: int,
    hi: int,
    *,
    now: int,
    actor: str,
) -> list[tuple[str, str, str]]:
    """Tell every channel about each rule that fired on ``[lo, hi)`` (unless in cooldown), start the action.

    Returns ``(rule, channel, status)`` for each delivery; every one is recorded as an alert.
    """
    sent: list[tuple[str, str, str]] = []
    started = False
    for verdict in fires:
        rule = verdict.rule.name
        body = payload(
            monitor=monitor.name,
            deployment=monitor.deployment,
            verdict=verdict,
            window_start=lo,
            window_end=hi,
        )
        last = store.list_alerts(monitor=monitor.name, rule=rule, status="fired", max_results=1)
        if last and now - last[0].at < rules.cooldown_s * 1000:
            store.record_alert(
                monitor=monitor.name,
                rule=rule,
                window_end=hi,
                status=AlertStatus.SUPPRESSED,
                channel="cooldown",
                message=f"{body['message']} (in cooldown since {last[0].at})",
                details=body,
            )
            sent.append((rule, "cooldown", "suppressed"))
            continue
        for channel in rules.alerts:
            status, why = deliver(channel, body)
            store.record_alert(
                monitor=monitor.name,
                rule=rule,
                window_end=hi,
                status=status,
                channel=channel.kind,
                message=why or body["message"],
                details=body,
            )
            sent.append((rule, channel.kind, status))
        action = rules.action
        if action is not None and not started and (not action.rules or rule in action.rules):
            started = True  # one action per window, however many rules it answers
            sent.append((rule, "action", _start(store, monitor, action.command, body, actor)))
    return sent


def _start(
    store: MetadataStore, monitor: Monitor, command: tuple[str, ...], body: Mapping[str, Any], actor: str
) -> str:
    """Start the action in the background, and write the trigger to the audit log first."""
    store.record_audit_event(
        model=_model_name(monitor),
        action=AuditAction.MONITOR_TRIGGER,
        actor=actor,
        reason=str(body["message"]),
        details={"monitor": monitor.name, "command": list(command), "window": body["window"]},
    )
    env = {
        **os.environ,  # noqa: TID251  # the child inherits the environment; no setting is read
        "SLIPWAY_MONITOR": monitor.name,
        "SLIPWAY_MONITOR_RULE": str(body["rule"]),
        "SLIPWAY_MONITOR_WINDOW_END": str(body["window"]["end"]),
    }
    try:
        child = subprocess.Popen(list(command), env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        status, message = AlertStatus.FAILED, f"action {command[0]}: {exc.strerror or exc}"
    else:
        # reaped by a thread, so the action outlives this call without becoming a zombie
        threading.Thread(target=child.wait, name=f"action-{monitor.name}", daemon=True).start()
        status, message = AlertStatus.FIRED, f"started: {' '.join(command)}"
    store.record_alert(
        monitor=monitor.name,
        rule=str(body["rule"]),
        window_end=_end_ms(body),
        status=status,
        channel="action",
        message=message,
        details=dict(body),
    )
    return status.value


def _end_ms(body: Mapping[str, Any]) -> int:
    import pandas as pd

    return int(pd.Timestamp(body["window"]["end"]).value // 1_000_000)


def _model_name(monitor: Monitor) -> str:
    """The registered model a monitor's audit events belong to (its deployment for a file reference)."""
    from slipway.core import parse_model_uri

    if monitor.reference.startswith("models:"):
        ref = parse_model_uri(monitor.reference)
        return str(getattr(ref, "name", monitor.deployment))
    return monitor.deployment
