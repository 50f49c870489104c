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

from slipway._transport import Connection
from slipway.core import RunStatus
from slipway.errors import InvalidInput, SlipwayError, StoreUnavailable, Unauthorized
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

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    import httpx

    from slipway.core import ArtifactEntry, DatasetRecord, Experiment, Metric, Page, Run, TokenInfo

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

    def _post(self, path: str, body: BaseModel) -> httpx.Response:
        return self._call("POST", path, content=body.model_dump_json(by_alias=True), headers=_JSON)

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


def _tokens_are_local(server: str) -> SlipwayError:
    # Token admin over the network would let any token holder mint more; it stays on the host.
    return InvalidInput(
        f"tokens of the team server {server} are managed on its host: run "
        "`slipway token create --name NAME --store <the server's database URL>` there"
    )
