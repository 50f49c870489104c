"""REST routes of monitoring: one route per monitoring method of the store port.

Monitors, their window results and their alerts live in the team's store, so every runner of
``slipway monitor run`` (a laptop, a cron job, ``slipway watch``) resumes from the same cursor and
deduplicates against the same alerts. Recording a window is idempotent here as in the store: the
answer says whether this call recorded it. Names in paths are checked by the store, which answers
404 for a monitor it does not know.
"""

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from slipway.server._routes import json_answer
from slipway.store._wire_monitoring import (
    AlertEventWire,
    AlertsResponse,
    CreateMonitorRequest,
    MonitorCursorRequest,
    MonitorResultsResponse,
    MonitorResultWire,
    MonitorsResponse,
    MonitorWire,
    RecordAlertRequest,
    RecordedResponse,
    RecordMonitorResultRequest,
)

if TYPE_CHECKING:
    from slipway.store import MetadataStore

_NO_CONTENT = 204


def monitoring_router(store: "MetadataStore") -> APIRouter:
    """Routes for monitors, their window results and alerts."""
    router = APIRouter(tags=["monitoring"])

    # ---------------------------------------------------------------- monitors

    @router.post("/monitors", response_model=MonitorWire, status_code=201)
    def create_monitor(body: CreateMonitorRequest) -> Response:
        """Store a monitor (409 if the name is taken, unless ``replace``, which keeps the cursor)."""
        created = store.create_monitor(body.to_core(), replace=body.replace)
        return json_answer(MonitorWire.from_core(created), status=201)

    @router.get("/monitors", response_model=MonitorsResponse)
    def list_monitors() -> Response:
        found = store.list_monitors()
        return json_answer(MonitorsResponse(monitors=[MonitorWire.from_core(m) for m in found]))

    @router.get("/monitors/{name}", response_model=MonitorWire)
    def get_monitor(name: str) -> Response:
        return json_answer(MonitorWire.from_core(store.get_monitor(name)))

    @router.delete("/monitors/{name}", status_code=_NO_CONTENT)
    def delete_monitor(name: str) -> Response:
        """Delete the monitor with its results and alerts."""
        store.delete_monitor(name)
        return Response(status_code=_NO_CONTENT)

    @router.put("/monitors/{name}/cursor", response_model=MonitorWire)
    def set_monitor_cursor(name: str, body: MonitorCursorRequest) -> Response:
        """Set where the next run resumes (backfill or reset); recorded results are kept."""
        return json_answer(MonitorWire.from_core(store.set_monitor_cursor(name, body.cursor)))

    # ---------------------------------------------------------------- window results

    @router.post("/monitors/{name}/results", response_model=RecordedResponse)
    def record_monitor_result(name: str, body: RecordMonitorResultRequest) -> Response:
        """Record a window's result once; ``recorded`` is false when the window already was.

        The cursor moves forward to the window's end in the same transaction, never back.
        """
        recorded = store.record_monitor_result(body.to_core(name))
        return json_answer(RecordedResponse(recorded=recorded))

    @router.get("/monitors/{name}/results", response_model=MonitorResultsResponse)
    def list_monitor_results(
        name: str,
        since: Annotated[int | None, Query(description="window_start, ms since the epoch, inclusive")] = None,
        until: Annotated[int | None, Query(description="window_start, ms since the epoch, exclusive")] = None,
        max_results: int = 1000,
    ) -> Response:
        """Results oldest first by window start."""
        found = store.list_monitor_results(name, since=since, until=until, max_results=max_results)
        return json_answer(MonitorResultsResponse(results=[MonitorResultWire.from_core(r) for r in found]))

    # ---------------------------------------------------------------- alerts

    @router.post("/monitors/{name}/alerts", response_model=AlertEventWire, status_code=201)
    def record_alert(name: str, body: RecordAlertRequest) -> Response:
        """Record an alert of a rule and what became of it (fired, suppressed or failed)."""
        alert = store.record_alert(
            monitor=name,
            rule=body.rule,
            window_end=body.window_end,
            status=body.status,
            channel=body.channel,
            message=body.message,
            details=body.details,
            at=body.at,
        )
        return json_answer(AlertEventWire.from_core(alert), status=201)

    @router.get("/alerts", response_model=AlertsResponse)
    def list_alerts(
        monitor: str | None = None,
        rule: str | None = None,
        status: Annotated[str | None, Query(description="fired, suppressed or failed")] = None,
        since: Annotated[int | None, Query(description="ms since the epoch, inclusive")] = None,
        max_results: int = 1000,
    ) -> Response:
        """Alerts newest first, filtered."""
        found = store.list_alerts(
            monitor=monitor, rule=rule, status=status, since=since, max_results=max_results
        )
        return json_answer(AlertsResponse(alerts=[AlertEventWire.from_core(a) for a in found]))

    return router
