"""REST routes over the metadata store: one route per port method, payloads from ``store._wire``.

Handlers are plain ``def`` functions: the store is synchronous, and FastAPI runs them in its thread
pool so that a slow query does not stall other requests. Answers are serialised by the wire models
themselves (``ser_json_inf_nan``) rather than by FastAPI, whose encoder would refuse a NaN metric.
"""

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Body, Query
from fastapi.responses import Response

from slipway.core import now_ms, validate_artifact_path
from slipway.errors import InvalidInput
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
    LogBatchRequest,
    MarkDeadRequest,
    MetricsResponse,
    RecordArtifactsRequest,
    RunIdsResponse,
    RunsPageResponse,
    RunWire,
    SearchRunsRequest,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic import BaseModel

    from slipway.artifacts import BlobStore
    from slipway.core import ArtifactEntry
    from slipway.store import MetadataStore

_NO_CONTENT = 204


def json_answer(model: "BaseModel", *, status: int = 200) -> Response:
    return Response(model.model_dump_json(by_alias=True), status_code=status, media_type="application/json")


def metadata_router(store: "MetadataStore", *, dead_after: float = 60.0) -> APIRouter:
    """Routes for experiments, runs, metrics, datasets and artifact listings.

    ``dead_after`` (seconds) is the server's policy for marking runs DIED: no client cutoff may be
    later than ``now - dead_after``.
    """
    dead_after_ms = round(dead_after * 1000)
    router = APIRouter()

    # ---------------------------------------------------------------- experiments

    @router.post("/experiments", response_model=ExperimentWire, status_code=201, tags=["experiments"])
    def create_experiment(body: CreateExperimentRequest) -> Response:
        """Create an experiment; 409 when the name is taken."""
        created = store.create_experiment(name=body.name, tags=body.tags)
        return json_answer(ExperimentWire.from_core(created), status=201)

    @router.get("/experiments", response_model=ExperimentsResponse, tags=["experiments"])
    def list_experiments(
        name: Annotated[str | None, Query(description="only the experiment with this exact name")] = None,
    ) -> Response:
        """All experiments, or the one with ``name`` (an empty list when there is none)."""
        if name is not None:
            found = store.get_experiment_by_name(name)
            items = [found] if found is not None else []
        else:
            items = store.list_experiments()
        return json_answer(ExperimentsResponse(experiments=[ExperimentWire.from_core(e) for e in items]))

    @router.get("/experiments/{experiment_id}", response_model=ExperimentWire, tags=["experiments"])
    def get_experiment(experiment_id: str) -> Response:
        return json_answer(ExperimentWire.from_core(store.get_experiment(experiment_id)))

    # ---------------------------------------------------------------- runs

    @router.post("/runs", response_model=RunWire, status_code=201, tags=["runs"])
    def create_run(body: CreateRunRequest) -> Response:
        run = store.create_run(
            experiment_id=body.experiment_id,
            name=body.name,
            user=body.user,
            parent_run_id=body.parent_run_id,
            tags=body.tags,
            start_time=body.start_time,
        )
        return json_answer(RunWire.from_core(run), status=201)

    @router.post("/runs/search", response_model=RunsPageResponse, tags=["runs"])
    def search_runs(body: SearchRunsRequest) -> Response:
        """Runs matching a filter such as ``metrics.auc > 0.9 and params.lr = '0.1'``, one page at a time."""
        page = store.search_runs(
            experiment_ids=body.experiment_ids,
            filter=body.filter,
            order_by=body.order_by,
            max_results=body.max_results,
            page_token=body.page_token,
        )
        return json_answer(RunsPageResponse.from_core(page))

    @router.post("/runs/mark-dead", response_model=RunIdsResponse, tags=["runs"])
    def mark_dead_runs(body: MarkDeadRequest) -> Response:
        """Mark RUNNING runs whose heartbeat stopped before the cutoff as DIED.

        The cutoff is clamped to the server's clock and policy (``now - dead_after``), so that no
        client, whatever its clock or setting, marks a run dead sooner than the server would.
        """
        cutoff = min(body.heartbeat_before, now_ms() - dead_after_ms)
        return json_answer(RunIdsResponse(run_ids=store.mark_dead_runs(heartbeat_before=cutoff)))

    @router.get("/runs/{run_id}", response_model=RunWire, tags=["runs"])
    def get_run(run_id: str) -> Response:
        return json_answer(RunWire.from_core(store.get_run(run_id)))

    @router.post("/runs/{run_id}/end", response_model=RunWire, tags=["runs"])
    def end_run(run_id: str, body: EndRunRequest) -> Response:
        return json_answer(
            RunWire.from_core(store.end_run(run_id, status=body.status, end_time=body.end_time))
        )

    @router.post("/runs/{run_id}/heartbeat", status_code=_NO_CONTENT, tags=["runs"])
    def heartbeat(run_id: str, body: Annotated[HeartbeatRequest | None, Body()] = None) -> Response:
        store.heartbeat(run_id, at=body.at if body is not None else None)
        return Response(status_code=_NO_CONTENT)

    @router.post("/runs/{run_id}/log-batch", status_code=_NO_CONTENT, tags=["runs"])
    def log_batch(run_id: str, body: LogBatchRequest) -> Response:
        """Write metrics, params and tags in one transaction; all or nothing.

        A ``batch_id`` already applied to the run makes the call a no-op (safe to resend).
        """
        store.log_batch(
            run_id,
            metrics=body.metrics,
            params=body.params,
            tags=body.tags,
            batch_id=body.batch_id,
        )
        return Response(status_code=_NO_CONTENT)

    @router.get("/runs/{run_id}/metric-history", response_model=MetricsResponse, tags=["runs"])
    def get_metric_history(
        run_id: str, key: Annotated[str, Query(description="the metric's key")]
    ) -> Response:
        history = store.get_metric_history(run_id, key)
        return json_answer(MetricsResponse(metrics=history))

    # ---------------------------------------------------------------- datasets and artifact listings

    @router.post("/runs/{run_id}/datasets", status_code=_NO_CONTENT, tags=["datasets"])
    def log_dataset(run_id: str, body: DatasetWire) -> Response:
        store.log_dataset(run_id, body.to_core())
        return Response(status_code=_NO_CONTENT)

    @router.get("/runs/{run_id}/datasets", response_model=DatasetsResponse, tags=["datasets"])
    def get_run_datasets(run_id: str) -> Response:
        found = store.get_run_datasets(run_id)
        return json_answer(DatasetsResponse(datasets=[DatasetWire.from_core(d) for d in found]))

    @router.get("/runs/{run_id}/artifacts", response_model=ArtifactsResponse, tags=["artifacts"])
    def list_artifacts(run_id: str, prefix: str = "") -> Response:
        found = store.list_artifacts(run_id, prefix=prefix)
        return json_answer(ArtifactsResponse(entries=[ArtifactEntryWire.from_core(e) for e in found]))

    return router


def artifact_records_router(store: "MetadataStore", *, blobs: "BlobStore") -> APIRouter:
    """Recording a run's artifacts: the one metadata route that consults the blob store too."""
    router = APIRouter()

    @router.post("/runs/{run_id}/artifacts", status_code=_NO_CONTENT, tags=["artifacts"])
    def record_artifacts(run_id: str, body: RecordArtifactsRequest) -> Response:
        """Record which blob each path of the run holds; upload the blobs first (``PUT /blobs/{digest}``).

        All or nothing: an entry whose blob is not stored with the size it claims is a 400 naming
        its path and digest, and nothing of the request is recorded.
        """
        entries = [e.to_core() for e in body.entries]
        _check_blobs_are_stored(blobs, entries)
        store.record_artifacts(run_id, entries)
        return Response(status_code=_NO_CONTENT)

    return router


def _check_blobs_are_stored(blobs: "BlobStore", entries: "Sequence[ArtifactEntry]") -> None:
    """Refuse the whole request when an entry names a blob not stored with the size it claims.

    Paths are checked first, so a bad path is reported as such whatever its blob.
    """
    for entry in entries:
        validate_artifact_path(entry.path)
    sizes: dict[str, int | None] = {}
    refused = []
    for entry in entries:
        if entry.digest not in sizes:
            sizes[entry.digest] = blobs.stored_size(entry.digest)
        if sizes[entry.digest] != entry.size:
            refused.append(entry)
    if not refused:
        return
    first, stored = refused[0], sizes[refused[0].digest]
    found = "is not stored" if stored is None else f"is stored with {stored} bytes, not {first.size}"
    more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
    raise InvalidInput(
        f"artifact {first.path!r}: blob sha256:{first.digest} {found}{more}; upload it first "
        f"(PUT /api/v1/blobs/{first.digest}); nothing was recorded"
    )
