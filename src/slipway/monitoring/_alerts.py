"""Judging a window's figures against the rules, and telling someone when a rule is breached.

A rule is judged only on windows that can say something: enough rows, and the figure defined (a
window without labels has no measured performance). ``consecutive: 3`` fires on the third judged
breach in a row; windows that were not judged neither count nor break the run, so a quiet night
does not reset a slow drift.

Delivery never raises: a webhook that is down is an alert with status ``failed`` and the reason,
recorded like any other, so one bad URL cannot stop a monitor run or hide the other channels.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from slipway.monitoring._rules import Channel, Rule

__all__ = ["Breach", "Verdict", "deliver", "iso", "judge", "payload"]

log = logging.getLogger("slipway.monitoring")


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """One rule on one window: ``state`` is ``breached``, ``ok`` or ``not_judged`` (and why)."""

    rule: Rule
    state: Literal["breached", "ok", "not_judged"]
    value: float | None
    run: int = 0  # judged breaches in a row, this window included
    message: str = ""

    @property
    def fires(self) -> bool:
        return self.state == "breached" and self.run >= self.rule.consecutive


Breach = Verdict  # a verdict that fires


def _value(figures: Mapping[str, float | None], rule: Rule) -> float | None:
    value = figures.get(rule.figure)
    if value is None:
        return None
    value = float(value)
    return value if value == value else None  # NaN is undefined


def _judged(rule: Rule, figures: Mapping[str, float | None]) -> tuple[bool, float | None]:
    rows = figures.get("rows") or 0
    value = _value(figures, rule)
    return (value is not None and rows >= rule.min_rows), value


def judge(
    rules: Sequence[Rule],
    figures: Mapping[str, float | None],
    history: Sequence[Mapping[str, float | None]] = (),
) -> list[Verdict]:
    """Each rule's verdict on ``figures``; ``history`` holds earlier windows' figures, newest first."""
    verdicts: list[Verdict] = []
    for rule in rules:
        judged, value = _judged(rule, figures)
        if not judged or value is None:
            rows = int(figures.get("rows") or 0)
            why = (
                f"{rule.figure} is undefined in this window"
                if value is None
                else f"{rows} rows, fewer than min_rows {rule.min_rows}"
            )
            verdicts.append(Verdict(rule=rule, state="not_judged", value=value, message=why))
            continue
        if not rule.breached_by(value):
            verdicts.append(Verdict(rule=rule, state="ok", value=value, message=rule.describe(value)))
            continue
        run = 1
        for earlier in history:
            if run >= rule.consecutive:
                break
            was_judged, before = _judged(rule, earlier)
            if not was_judged or before is None:
                continue
            if not rule.breached_by(before):
                break
            run += 1
        message = rule.describe(value)
        if rule.consecutive > 1:
            message += f" ({run} of {rule.consecutive} windows in a row)"
        verdicts.append(Verdict(rule=rule, state="breached", value=value, run=run, message=message))
    return verdicts


def payload(
    *, monitor: str, deployment: str, verdict: Verdict, window_start: int, window_end: int
) -> dict[str, Any]:
    """The JSON body a webhook receives (and the fields the Slack text is made of)."""
    rule = verdict.rule
    return {
        "monitor": monitor,
        "deployment": deployment,
        "rule": rule.name,
        "figure": rule.figure,
        "value": verdict.value,
        "above": rule.above,
        "below": rule.below,
        "severity": rule.severity,
        "window": {"start": iso(window_start), "end": iso(window_end)},
        "message": f"monitor {monitor} ({deployment}): rule {rule.name} breached: {verdict.message}",
    }


def iso(ms: int) -> str:
    """``ms`` since the epoch as ISO 8601 UTC text (``2026-01-01T03:00:00Z``)."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _slack(body: Mapping[str, Any]) -> dict[str, Any]:
    icon = ":rotating_light:" if body["severity"] == "critical" else ":warning:"
    window = body["window"]
    return {
        "text": f"{icon} {body['message']}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{icon} *{body['message']}*"}},
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"window {window['start']} to {window['end']}"},
                ],
            },
        ],
    }


def deliver(channel: Channel, body: Mapping[str, Any], *, timeout: float = 5.0) -> tuple[str, str]:
    """Send ``body`` to ``channel``: ``("fired", "")``, or ``("failed", why)``; never raises.

    The window is recorded before its alerts are sent, so an exception here would lose the alert
    for good: anything that goes wrong (a URL or header the rules check missed, a body that is not
    JSON) is a failed delivery with its reason.
    """
    try:
        return _deliver(channel, body, timeout=timeout)
    except Exception as exc:  # delivery never stops a run; the reason is recorded instead
        return "failed", f"{channel.kind} {channel.url or ''}: {type(exc).__name__}: {exc}".replace(" :", ":")


def _deliver(channel: Channel, body: Mapping[str, Any], *, timeout: float) -> tuple[str, str]:
    if channel.kind == "log":
        log.warning("%s", body["message"])
        return "fired", ""
    import urllib.error
    import urllib.request

    data = _slack(body) if channel.kind == "slack" else dict(body)
    assert channel.url is not None
    request = urllib.request.Request(  # the URL's scheme was checked when the rules were read
        channel.url,
        data=json.dumps(data, allow_nan=False).encode(),
        headers={"content-type": "application/json", **channel.headers},
        method="POST",
    )
    try:
        # urllib, not httpx: the CLI (which runs monitors) stays clear of the HTTP client by contract
        with urllib.request.urlopen(request, timeout=timeout) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return "failed", f"{channel.kind} {channel.url}: {type(exc).__name__}: {reason}"
    if code >= 300:
        return "failed", f"{channel.kind} {channel.url}: HTTP {code}"
    return "fired", ""
