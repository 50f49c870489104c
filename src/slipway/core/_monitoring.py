"""Monitoring entities: monitors, the result of each evaluated window, and the alerts they raised.

A :class:`Monitor` is the stored definition of what to watch (a deployment's prediction log against
a reference, window by window, under rules). Its ``cursor`` is the end of the last window evaluated,
so ``slipway monitor run`` knows where to resume. Each evaluated window is one
:class:`MonitorResult`, recorded at most once (a re-run of the same window changes nothing), and
each alert delivered, suppressed or failed is an :class:`AlertEvent`, so deduplication and cooldown
can be decided from the store alone, by any process.

Times are integer milliseconds since the epoch (UTC); a window is ``[window_start, window_end)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from slipway.core._names import validate_deployment_name
from slipway.errors import InvalidInput

#: the longest window text (a pandas offset alias like ``1h``, or a chunker's text form)
MAX_WINDOW_LENGTH = 250


class AlertStatus(str, enum.Enum):
    """What became of one alert: sent, held back (deduplicated or in cooldown), or not delivered."""

    FIRED = "fired"
    SUPPRESSED = "suppressed"
    FAILED = "failed"

    @classmethod
    def of(cls, value: str | AlertStatus) -> AlertStatus:
        """The status ``value`` names; anything else is InvalidInput listing the statuses."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise InvalidInput(f"alert status {value!r:.60}: expected one of {names}") from None


def validate_monitor_name(name: object) -> str:
    """A monitor's name: 1-128 letters, digits, ``_ . -``, starting with a letter or a digit.

    The rule of deployment names: a monitor's name becomes a URL segment, a Prometheus label and
    a file name, so nothing that needs escaping may pass.
    """
    return validate_deployment_name(name, kind="monitor name")


def validate_window(window: object) -> str:
    """A monitor's window as text (``1h``, ``rows:10000`` …): non-empty, without outer spaces.

    Only the text is checked here; what it means is the monitoring package's to parse, which
    keeps the core free of pandas.
    """
    if (
        not isinstance(window, str)
        or not window.strip()
        or window != window.strip()
        or len(window) > MAX_WINDOW_LENGTH
    ):
        raise InvalidInput(
            f"monitor window {window!r:.60}: expected non-empty text of at most {MAX_WINDOW_LENGTH} "
            "characters without outer spaces, such as '1h' or '1D'"
        )
    return window


@dataclass(frozen=True, slots=True, kw_only=True)
class Monitor:
    """A stored monitor definition and where its evaluation has got to.

    ``reference`` is what the windows are compared with: a model URI (``models:/churn@production``,
    whose reference summary was saved with the model) or a data file's path or URI. ``rules``,
    ``actions`` and ``options`` are the parsed rules file as JSON (the monitoring package owns
    their meaning; the store keeps them verbatim). ``reference_digest`` is the SHA-256 of the
    reference summary blob the monitor was evaluated against, so a moved alias is noticed.

    ``created_at`` and ``updated_at`` are the store's: what a caller passes is ignored.
    ``cursor`` is the end (ms, exclusive) of the last evaluated window; None before the first run.
    """

    name: str
    deployment: str
    reference: str
    window: str
    rules: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0
    updated_at: int = 0
    cursor: int | None = None
    reference_digest: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorResult:
    """One evaluated window of a monitor: ``[window_start, window_end)`` in ms.

    ``figures`` are the window's flat named numbers (``drift.share``,
    ``drift.column.age.score``, ``performance.roc_auc`` …; None where the window could not say,
    e.g. no labels yet), the values rules are judged on and dashboards plot. ``breaches`` names the
    rules the window breached; ``result`` is the full JSON result and ``rows`` the rows evaluated.
    ``created_at`` 0 asks the store to stamp the time it records the result.
    """

    monitor: str
    window_start: int
    window_end: int
    figures: dict[str, float | None] = field(default_factory=dict)
    breaches: list[str] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    rows: int = 0
    created_at: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertEvent:
    """One alert of one rule of a monitor, on the window ending at ``window_end``, and its fate.

    ``channel`` is how it was (to be) sent: ``webhook``, ``slack``, ``log`` or ``action`` (a
    triggered pipeline). ``at`` is when it was recorded; ``id`` is the store's and increases.
    """

    id: int
    monitor: str
    rule: str
    window_end: int
    at: int
    status: AlertStatus
    channel: str
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
