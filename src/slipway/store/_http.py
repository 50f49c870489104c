"""The metadata store as a client of a remote ``slipway server``.

Pointing ``SLIPWAY_TRACKING_URI`` at ``http(s)://host:port`` swaps this adapter in for the SQL one
without code changes, so it must behave exactly like it: the same entities back, the same
:mod:`slipway.errors` classes raised. The server sends ``{"error": message, "code": code}`` on any
failure and :func:`~slipway.errors.error_from_code` rebuilds the class; transport failures become
:class:`~slipway.errors.StoreUnavailable` naming the URL, never an httpx exception.

Client setup, keep-alive, fork safety, error decoding and transport-error translation are
``slipway._transport``'s (:class:`~slipway._transport.Connection`), shared with ``artifacts._http``:
the two adapters are siblings (STYLE B.3) and import nothing from each other.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from slipway._transport import Connection
from slipway.core import AlertStatus, AuditAction, RunStatus, validate_alias, validate_model_name
from slipway.errors import (
    AliasNotFound,
    InvalidInput,
    ModelNotFound,
    MonitorNotFound,
    SlipwayError,
    StoreUnavailable,
    Unauthorized,
)
from slipway.store._wire import (
    ArtifactEntryWire,
    ArtifactsResponse,
    CreateExperimentRequest,
    CreateRunRequest,
    DatasetsResponse,
    DatasetWire,
    EndRunRequest,
    ExperimentsResponse,
    ExperimentWire,
    HeartbeatRequest,
    MarkDeadRequest,
    MetricsResponse,
    RecordArtifactsRequest,
    RunIdsResponse,
    RunsPageResponse,
    RunWire,
    SearchRunsRequest,
    TokenInfoWire,
    encode_log_batch,
)
from slipway.store._wire_monitoring import (
    AlertEventWire,
    AlertsResponse,
    CreateMonitorRequest,
    MonitorCursorRequest,
    MonitorResultsResponse,
    MonitorsResponse,
    MonitorWire,
    RecordAlertRequest,
    RecordAuditEventRequest,
    RecordedResponse,
    RecordMonitorResultRequest,
)
from slipway.store._wire_registry import (
    AuditEventWire,
    AuditPageResponse,
    CreateModelVersionRequest,
    DeleteAliasRequest,
    DescriptionRequest,
    GateResultRequest,
    ModelsResponse,
    ModelVersionsResponse,
    ModelVersionTagsRequest,
    ModelVersionWire,
    PromoteRequest,
    RegisteredModelWire,
    SetAliasRequest,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from types import EllipsisType

    import httpx

    from slipway.core import (
        AlertEvent,
        ArtifactEntry,
        AuditEvent,
        DatasetRecord,
        Experiment,
        Metric,
        ModelVersion,
        Monitor,
        MonitorResult,
        Page,
        RegisteredModel,
        Run,
        TokenInfo,
    )

__all__ = ["HttpMetadataStore"]

M = TypeVar("M", bound=BaseModel)

_JSON = {"Content-Type": "application/json"}


class HttpMetadataStore:
    """:class:`~slipway.store.MetadataStore` over the team server's REST API."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    @classmethod
    def connect(cls, uri: str, *, token: str | None = None, **_: object) -> HttpMetadataStore:
        """Open no connection yet: the first call connects, and a dead server fails it clearly."""
        try:
            connection = Connection(uri, token=token)
        except InvalidInput as exc:  # say which setting holds the bad URL
            raise InvalidInput(f"store URI: {exc}") from None
        return cls(connection)

    def __repr__(self) -> str:
        return f"HttpMetadataStore({self._conn.server!r})"

    # -------------------------------------------------------------------- plumbing

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._conn.call(method, path, **kwargs)

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise StoreUnavailable(
                f"team server {self._conn.server} sent an unexpected {model.__name__} "
                f"({exc.error_count()} problems); are client and server the same slipway version?"
            ) from None

    def _post(self, path: str, body: BaseModel, *, method: str = "POST") -> httpx.Response:
        try:
            content = body.model_dump_json(by_alias=True)
        except PydanticSerializationError as exc:  # free-form JSON holding e.g. a set or an object
            raise InvalidInput(f"{method} {path}: expected JSON values only ({exc})") from None
        return self._call(method, path, content=content, headers=_JSON)

    # -------------------------------------------------------------------- experiments

    def create_experiment(self, *, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        with _checked("experiment"):
            body = CreateExperimentRequest(name=name, tags=dict(tags) if tags is not None else None)
        return self._parse(ExperimentWire, self._post("/experiments", body)).to_core()

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._parse(ExperimentWire, self._call("GET", f"/experiments/{_seg(experiment_id)}")).to_core()

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        found = self._parse(ExperimentsResponse, self._call("GET", "/experiments", params={"name": name}))
        return found.experiments[0].to_core() if found.experiments else None

    def list_experiments(self) -> list[Experiment]:
        found = self._parse(ExperimentsResponse, self._call("GET", "/experiments"))
        return [e.to_core() for e in found.experiments]

    # -------------------------------------------------------------------- runs

    def create_run(
        self,
        *,
        experiment_id: str,
        name: str | None = None,
        user: str = "",
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
    ) -> Run:
        with _checked("run"):
            body = CreateRunRequest(
                experiment_id=experiment_id,
                name=name,
                user=user,
                parent_run_id=parent_run_id,
                tags=dict(tags) if tags is not None else None,
                start_time=start_time,
            )
        return self._parse(RunWire, self._post("/runs", body)).to_core()

    def get_run(self, run_id: str) -> Run:
        return self._parse(RunWire, self._call("GET", f"/runs/{_seg(run_id)}")).to_core()

    def end_run(self, run_id: str, *, status: RunStatus, end_time: int | None = None) -> Run:
        with _checked("end_run"):
            body = EndRunRequest(status=RunStatus.of(status), end_time=end_time)
        return self._parse(RunWire, self._post(f"/runs/{_seg(run_id)}/end", body)).to_core()

    def heartbeat(self, run_id: str, *, at: int | None = None) -> None:
        with _checked("heartbeat"):
            body = HeartbeatRequest(at=at)
        self._post(f"/runs/{_seg(run_id)}/heartbeat", body)

    def mark_dead_runs(self, *, heartbeat_before: int) -> list[str]:
        with _checked("mark_dead_runs"):
            body = MarkDeadRequest(heartbeat_before=heartbeat_before)
        return list(self._parse(RunIdsResponse, self._post("/runs/mark-dead", body)).run_ids)

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        body = encode_log_batch(
            list(metrics),
            params=dict(params) if params is not None else None,
            tags=dict(tags) if tags is not None else None,
            batch_id=batch_id,
        )
        self._call("POST", f"/runs/{_seg(run_id)}/log-batch", content=body, headers=_JSON)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        answer = self._call("GET", f"/runs/{_seg(run_id)}/metric-history", params={"key": key})
        return list(self._parse(MetricsResponse, answer).metrics)

    def search_runs(
        self,
        *,
        experiment_ids: Sequence[str] = (),
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Run]:
        with _checked("search"):
            body = SearchRunsRequest(
                experiment_ids=list(experiment_ids),
                filter=filter,
                order_by=order_by if order_by is None or isinstance(order_by, str) else list(order_by),
                max_results=max_results,
                page_token=page_token,
            )
        return self._parse(RunsPageResponse, self._post("/runs/search", body)).to_core()

    # -------------------------------------------------------------------- datasets and artifacts

    def log_dataset(self, run_id: str, dataset: DatasetRecord) -> None:
        with _checked("dataset"):
            body = DatasetWire.from_core(dataset)
        self._post(f"/runs/{_seg(run_id)}/datasets", body)

    def get_run_datasets(self, run_id: str) -> list[DatasetRecord]:
        found = self._parse(DatasetsResponse, self._call("GET", f"/runs/{_seg(run_id)}/datasets"))
        return [d.to_core() for d in found.datasets]

    def record_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> None:
        with _checked("artifact"):
            body = RecordArtifactsRequest(entries=[ArtifactEntryWire.from_core(e) for e in entries])
        self._post(f"/runs/{_seg(run_id)}/artifacts", body)

    def list_artifacts(self, run_id: str, *, prefix: str = "") -> list[ArtifactEntry]:
        params = {"prefix": prefix} if prefix else None
        found = self._parse(
            ArtifactsResponse, self._call("GET", f"/runs/{_seg(run_id)}/artifacts", params=params)
        )
        return [e.to_core() for e in found.entries]

    # -------------------------------------------------------------------- tokens

    def create_token(self, *, name: str) -> tuple[TokenInfo, str]:
        raise _tokens_are_local(self._conn.server)

    def list_tokens(self) -> list[TokenInfo]:
        raise _tokens_are_local(self._conn.server)

    def revoke_token(self, token_id: str) -> None:
        raise _tokens_are_local(self._conn.server)

    def verify_token(self, secret: str) -> TokenInfo | None:
        """Ask the server who ``secret`` belongs to; None when it does not accept it."""
        if not secret or not secret.isprintable() or secret != secret.strip():
            return None  # could not even travel in a header, so it cannot be a token
        try:
            answer = self._call("GET", "/token", headers={"Authorization": f"Bearer {secret}"})
        except Unauthorized:
            return None
        return self._parse(TokenInfoWire, answer).to_core()

    # -------------------------------------------------------------------- registry

    def create_model_version(
        self,
        *,
        name: str,
        source: str,
        manifest_digest: str,
        files: Sequence[ArtifactEntry],
        run_id: str | None = None,
        lineage: Mapping[str, Any] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str,
        reason: str = "",
    ) -> ModelVersion:
        validate_model_name(name)
        with _checked("model version"):
            body = CreateModelVersionRequest(
                source=source,
                manifest_digest=manifest_digest,
                files=[ArtifactEntryWire.from_core(e) for e in files],
                run_id=run_id,
                lineage=dict(lineage) if lineage is not None else None,
                description=description,
                tags=dict(tags) if tags is not None else None,
                actor=actor,
                reason=reason,
            )
        return self._parse(ModelVersionWire, self._post(f"{_model(name)}/versions", body)).to_core()

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self._parse(RegisteredModelWire, self._call("GET", _model(name))).to_core()

    def list_registered_models(self) -> list[RegisteredModel]:
        return [m.to_core() for m in self._parse(ModelsResponse, self._call("GET", "/models")).models]

    def set_model_description(self, name: str, description: str, *, actor: str, reason: str = "") -> None:
        with _checked("description"):
            body = DescriptionRequest(description=description, actor=actor, reason=reason)
        self._post(f"{_model(name)}/description", body)

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        return self._parse(ModelVersionWire, self._call("GET", _version(name, version))).to_core()

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        found = self._parse(ModelVersionsResponse, self._call("GET", f"{_model(name)}/versions"))
        return [v.to_core() for v in found.versions]

    def list_model_version_files(self, name: str, version: int) -> list[ArtifactEntry]:
        found = self._parse(ArtifactsResponse, self._call("GET", f"{_version(name, version)}/files"))
        return [e.to_core() for e in found.entries]

    def set_model_version_tags(
        self, name: str, version: int, tags: Mapping[str, str | None], *, actor: str, reason: str = ""
    ) -> None:
        with _checked("tags"):
            body = ModelVersionTagsRequest(tags=dict(tags), actor=actor, reason=reason)
        self._post(f"{_version(name, version)}/tags", body)

    def set_model_version_description(
        self, name: str, version: int, description: str, *, actor: str, reason: str = ""
    ) -> None:
        with _checked("description"):
            body = DescriptionRequest(description=description, actor=actor, reason=reason)
        self._post(f"{_version(name, version)}/description", body)

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self._parse(ModelVersionWire, self._call("GET", _alias(name, alias))).to_core()

    def set_alias(
        self,
        *,
        name: str,
        alias: str,
        version: int,
        actor: str,
        reason: str = "",
        action: AuditAction | None = None,
        expected_version: int | EllipsisType | None = ...,
    ) -> AuditEvent:
        validate_alias(alias)
        with _checked("set_alias"):
            check = expected_version is not ...
            body = SetAliasRequest(
                version=version,
                actor=actor,
                reason=reason,
                action=action,
                check_holder=check,
                expected_version=expected_version if isinstance(expected_version, int) else None,
            )
        return self._parse(AuditEventWire, self._post(_alias(name, alias), body, method="PUT")).to_core()

    def promote(
        self,
        *,
        name: str,
        version: int,
        alias: str,
        actor: str,
        force: bool = False,
        reason: str = "",
    ) -> AuditEvent:
        validate_alias(alias)
        with _checked("promote"):
            body = PromoteRequest(version=version, actor=actor, reason=reason, force=force)
        answer = self._post(f"{_alias(name, alias)}/promote", body)
        return self._parse(AuditEventWire, answer).to_core()

    def delete_alias(self, *, name: str, alias: str, actor: str, reason: str = "") -> AuditEvent:
        with _checked("delete_alias"):
            body = DeleteAliasRequest(actor=actor, reason=reason)
        answer = self._post(_alias(name, alias), body, method="DELETE")
        return self._parse(AuditEventWire, answer).to_core()

    def record_gate_result(
        self, name: str, version: int, result: Mapping[str, Any], *, actor: str, reason: str = ""
    ) -> AuditEvent:
        with _checked("gate result"):
            body = GateResultRequest(result=dict(result), actor=actor, reason=reason)
        return self._parse(AuditEventWire, self._post(f"{_version(name, version)}/gate", body)).to_core()

    def search_audit(
        self,
        *,
        model: str | None = None,
        action: AuditAction | None = None,
        alias: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        query = {
            "model": model,
            "action": action.value if isinstance(action, AuditAction) else action,
            "alias": alias,
            "actor": actor,
            "since": since,
            "until": until,
            "max_results": max_results,
            "page_token": page_token,
        }
        params = {k: v for k, v in query.items() if v is not None}
        return self._parse(AuditPageResponse, self._call("GET", "/audit", params=params)).to_core()

    def record_audit_event(
        self,
        *,
        model: str,
        action: AuditAction,
        actor: str,
        reason: str = "",
        version: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        with _checked("audit event"):
            body = RecordAuditEventRequest(
                model=model,
                action=action.value if isinstance(action, AuditAction) else action,
                actor=actor,
                reason=reason,
                version=version,
                details=dict(details) if details is not None else None,
            )
        return self._parse(AuditEventWire, self._post("/audit", body)).to_core()

    # -------------------------------------------------------------------- monitoring

    def create_monitor(self, monitor: Monitor, *, replace: bool = False) -> Monitor:
        with _checked("monitor"):
            body = CreateMonitorRequest.of(monitor, replace=replace)
        return self._parse(MonitorWire, self._post("/monitors", body)).to_core()

    def get_monitor(self, name: str) -> Monitor:
        return self._parse(MonitorWire, self._call("GET", _monitor(name))).to_core()

    def list_monitors(self) -> list[Monitor]:
        found = self._parse(MonitorsResponse, self._call("GET", "/monitors"))
        return [m.to_core() for m in found.monitors]

    def delete_monitor(self, name: str) -> None:
        self._call("DELETE", _monitor(name))

    def set_monitor_cursor(self, name: str, cursor: int | None) -> Monitor:
        with _checked("monitor cursor"):
            body = MonitorCursorRequest(cursor=cursor)
        return self._parse(MonitorWire, self._post(f"{_monitor(name)}/cursor", body, method="PUT")).to_core()

    def record_monitor_result(self, result: MonitorResult) -> bool:
        path = f"{_monitor(result.monitor)}/results"
        with _checked("monitor result"):
            body = RecordMonitorResultRequest.of(result)
        return self._parse(RecordedResponse, self._post(path, body)).recorded

    def list_monitor_results(
        self,
        name: str,
        *,
        since: int | None = None,
        until: int | None = None,
        max_results: int = 1000,
    ) -> list[MonitorResult]:
        query = {"since": since, "until": until, "max_results": max_results}
        params = {k: v for k, v in query.items() if v is not None}
        answer = self._call("GET", f"{_monitor(name)}/results", params=params)
        return [r.to_core() for r in self._parse(MonitorResultsResponse, answer).results]

    def record_alert(
        self,
        *,
        monitor: str,
        rule: str,
        window_end: int,
        status: AlertStatus | str,
        channel: str,
        message: str = "",
        details: Mapping[str, Any] | None = None,
        at: int | None = None,
    ) -> AlertEvent:
        path = f"{_monitor(monitor)}/alerts"
        with _checked("alert"):
            body = RecordAlertRequest(
                rule=rule,
                window_end=window_end,
                status=status.value if isinstance(status, AlertStatus) else status,
                channel=channel,
                message=message,
                details=dict(details) if details is not None else None,
                at=at,
            )
        return self._parse(AlertEventWire, self._post(path, body)).to_core()

    def list_alerts(
        self,
        *,
        monitor: str | None = None,
        rule: str | None = None,
        status: AlertStatus | str | None = None,
        since: int | None = None,
        max_results: int = 1000,
    ) -> list[AlertEvent]:
        query = {
            "monitor": monitor,
            "rule": rule,
            "status": status.value if isinstance(status, AlertStatus) else status,
            "since": since,
            "max_results": max_results,
        }
        params = {k: v for k, v in query.items() if v is not None}
        found = self._parse(AlertsResponse, self._call("GET", "/alerts", params=params))
        return [a.to_core() for a in found.alerts]

    def close(self) -> None:
        self._conn.close()


@contextmanager
def _checked(what: str) -> Iterator[None]:
    """Refuse here what the server's request models would refuse: InvalidInput, as a local store."""
    try:
        yield
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "request"
        raise InvalidInput(f"{what}: {where}: {first.get('msg', 'invalid value')}") from None


def _seg(value: str) -> str:
    """One path segment: an id containing '/' or '..' must not address another route."""
    return quote(value, safe="")


def _routable(segment: object) -> bool:
    # "" and ".." cannot be one path segment; "/" is decoded before routing on the server.
    return isinstance(segment, str) and segment not in ("", ".", "..") and "/" not in segment


def _model(name: str) -> str:
    """The path of a model; a name no route can carry names no model (as a SQL store would say)."""
    if not _routable(name):
        raise ModelNotFound(f"model {name!r} not found")
    return f"/models/{_seg(name)}"


def _monitor(name: str) -> str:
    """The path of a monitor; a name no route can carry names no monitor (as a SQL store would say)."""
    if not _routable(name):
        raise MonitorNotFound(f"monitor {name!r} not found; `slipway monitor create` makes one")
    return f"/monitors/{_seg(name)}"


def _version(name: str, version: int) -> str:
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(f"model version {version!r:.60}: expected an integer")
    return f"{_model(name)}/versions/{version}"


def _alias(name: str, alias: str) -> str:
    path = _model(name)
    if not _routable(alias):
        raise AliasNotFound(f"model {name!r} has no alias {alias!r}")
    return f"{path}/aliases/{_seg(alias)}"


def _tokens_are_local(server: str) -> SlipwayError:
    # Token admin over the network would let any token holder mint more; it stays on the host.
    return InvalidInput(
        f"tokens of the team server {server} are managed on its host: run "
        "`slipway token create --name NAME --store <the server's database URL>` there"
    )
