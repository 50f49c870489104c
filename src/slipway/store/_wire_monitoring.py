"""The team server's monitoring payloads (monitors, window results, alerts), shared like ``_wire``.

Figures may be NaN or infinite (a KL divergence can be): like gate results they travel as the JSON5
tokens ``NaN``/``Infinity``, which both sides' parsers read back as floats. Rules, actions, options,
results and alert details are free-form JSON that the store keeps verbatim.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from slipway.core import AlertEvent, AlertStatus, Monitor, MonitorResult

# pydantic resolves field annotations at run time: these must be real imports
from slipway.store._wire import _Int, _Str  # noqa: TC001
from slipway.store._wire_registry import _Actor  # noqa: TC001


class _JsonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants", frozen=True)


class _JsonResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="constants", frozen=True)


class MonitorWire(_JsonResponse):
    name: str
    deployment: str
    reference: str
    window: str
    rules: list[dict[str, Any]] = []
    actions: list[dict[str, Any]] = []
    options: dict[str, Any] = {}
    created_at: int = 0
    updated_at: int = 0
    cursor: int | None = None
    reference_digest: str | None = None
    description: str = ""

    @classmethod
    def from_core(cls, m: Monitor) -> MonitorWire:
        return cls(
            name=m.name,
            deployment=m.deployment,
            reference=m.reference,
            window=m.window,
            rules=[dict(r) for r in m.rules],
            actions=[dict(a) for a in m.actions],
            options=dict(m.options),
            created_at=m.created_at,
            updated_at=m.updated_at,
            cursor=m.cursor,
            reference_digest=m.reference_digest,
            description=m.description,
        )

    def to_core(self) -> Monitor:
        return Monitor(
            name=self.name,
            deployment=self.deployment,
            reference=self.reference,
            window=self.window,
            rules=[dict(r) for r in self.rules],
            actions=[dict(a) for a in self.actions],
            options=dict(self.options),
            created_at=self.created_at,
            updated_at=self.updated_at,
            cursor=self.cursor,
            reference_digest=self.reference_digest,
            description=self.description,
        )


class MonitorResultWire(_JsonResponse):
    monitor: str
    window_start: int
    window_end: int
    figures: dict[str, float | None] = {}
    breaches: list[str] = []
    result: dict[str, Any] = {}
    rows: int = 0
    created_at: int = 0

    @classmethod
    def from_core(cls, r: MonitorResult) -> MonitorResultWire:
        return cls(
            monitor=r.monitor,
            window_start=r.window_start,
            window_end=r.window_end,
            figures=dict(r.figures),
            breaches=list(r.breaches),
            result=dict(r.result),
            rows=r.rows,
            created_at=r.created_at,
        )

    def to_core(self) -> MonitorResult:
        return MonitorResult(
            monitor=self.monitor,
            window_start=self.window_start,
            window_end=self.window_end,
            figures=dict(self.figures),
            breaches=list(self.breaches),
            result=dict(self.result),
            rows=self.rows,
            created_at=self.created_at,
        )


class AlertEventWire(_JsonResponse):
    id: int
    monitor: str
    rule: str
    window_end: int
    at: int
    status: AlertStatus
    channel: str
    message: str = ""
    details: dict[str, Any] = {}

    @classmethod
    def from_core(cls, a: AlertEvent) -> AlertEventWire:
        return cls(
            id=a.id,
            monitor=a.monitor,
            rule=a.rule,
            window_end=a.window_end,
            at=a.at,
            status=a.status,
            channel=a.channel,
            message=a.message,
            details=dict(a.details),
        )

    def to_core(self) -> AlertEvent:
        return AlertEvent(
            id=self.id,
            monitor=self.monitor,
            rule=self.rule,
            window_end=self.window_end,
            at=self.at,
            status=self.status,
            channel=self.channel,
            message=self.message,
            details=dict(self.details),
        )


# ------------------------------------------------------------------------------------ requests


class CreateMonitorRequest(_JsonRequest):
    """A monitor's definition; ``replace`` changes an existing one (keeping its cursor)."""

    name: _Str
    deployment: _Str
    reference: _Str
    window: _Str
    rules: list[dict[_Str, Any]] = []
    actions: list[dict[_Str, Any]] = []
    options: dict[_Str, Any] = {}
    #: where a new monitor starts (ignored by a replacement, which keeps the stored cursor)
    cursor: _Int | None = None
    reference_digest: _Str | None = None
    description: _Str = ""
    replace: bool = False

    @classmethod
    def of(cls, m: Monitor, *, replace: bool) -> CreateMonitorRequest:
        # As given, not copied into shape: a malformed value must fail validation, as in a store.
        return cls(
            name=m.name,
            deployment=m.deployment,
            reference=m.reference,
            window=m.window,
            rules=m.rules,
            actions=m.actions,
            options=m.options,
            cursor=m.cursor,
            reference_digest=m.reference_digest,
            description=m.description,
            replace=replace,
        )

    def to_core(self) -> Monitor:
        return Monitor(
            name=self.name,
            deployment=self.deployment,
            reference=self.reference,
            window=self.window,
            rules=[dict(r) for r in self.rules],
            actions=[dict(a) for a in self.actions],
            options=dict(self.options),
            cursor=self.cursor,
            reference_digest=self.reference_digest,
            description=self.description,
        )


class MonitorCursorRequest(_JsonRequest):
    #: ms since the epoch; null starts the next run from the beginning
    cursor: _Int | None


class RecordMonitorResultRequest(_JsonRequest):
    """One evaluated window; the monitor is the one in the path."""

    window_start: _Int
    window_end: _Int
    figures: dict[_Str, float | None] = {}
    breaches: list[_Str] = []
    result: dict[_Str, Any] = {}
    rows: _Int = 0
    #: 0: the server's clock
    created_at: _Int = 0

    @classmethod
    def of(cls, r: MonitorResult) -> RecordMonitorResultRequest:
        # As given, not copied into shape: a malformed value must fail validation, as in a store.
        return cls(
            window_start=r.window_start,
            window_end=r.window_end,
            figures=r.figures,
            breaches=r.breaches,
            result=r.result,
            rows=r.rows,
            created_at=r.created_at,
        )

    def to_core(self, monitor: str) -> MonitorResult:
        return MonitorResult(
            monitor=monitor,
            window_start=self.window_start,
            window_end=self.window_end,
            figures=dict(self.figures),
            breaches=list(self.breaches),
            result=dict(self.result),
            rows=self.rows,
            created_at=self.created_at,
        )


class RecordAlertRequest(_JsonRequest):
    """One alert of a rule of the monitor in the path, and what became of it."""

    rule: _Str
    window_end: _Int
    #: fired, suppressed or failed (checked by the store, which names them)
    status: _Str
    channel: _Str
    message: _Str = ""
    details: dict[_Str, Any] | None = None
    #: null: the server's clock
    at: _Int | None = None


class RecordAuditEventRequest(_JsonRequest):
    """An event of something outside the store (``monitor.trigger``); other actions are a 400."""

    model: _Str
    #: monitor.trigger (checked by the store, which names the actions it takes)
    action: _Str
    actor: _Actor = ""
    reason: _Str = ""
    version: _Int | None = None
    details: dict[_Str, Any] | None = None


# ------------------------------------------------------------------------------------ responses


class MonitorsResponse(_JsonResponse):
    monitors: list[MonitorWire]


class MonitorResultsResponse(_JsonResponse):
    results: list[MonitorResultWire]


class RecordedResponse(_JsonResponse):
    """Whether this call recorded the window (false: it was already recorded, nothing changed)."""

    recorded: bool


class AlertsResponse(_JsonResponse):
    alerts: list[AlertEventWire]
