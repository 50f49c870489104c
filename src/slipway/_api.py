"""The fluent tracking API (``slipway.start_run``, ``slipway.log_metric`` …) for scripts and notebooks.

This is an edge: it resolves :class:`~slipway.config.Settings` once per process, opens the two
stores they name, and hands both to a :class:`~slipway.tracking.TrackingClient`. The runs this
code is inside of form a stack kept in a ``contextvars.ContextVar``, not a module global, so that
threads and asyncio tasks each see their own current run; ``start_run`` inside an active run
creates a nested run.

A ``log_*`` call with no active run starts one in the ``Default`` experiment (as MLflow does); it
ends with the process, FINISHED, or FAILED/KILLED if an exception ended the program.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import os
import threading
from typing import TYPE_CHECKING, Any

from slipway.core import RunStatus

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from datetime import date, datetime
    from pathlib import Path

    import pandas as pd

    from slipway.artifacts import FileTree
    from slipway.core import ArtifactEntry, DatasetRecord, ModelVersion, Page, Run, Signature
    from slipway.models import ExtraColumns, Flavor, Model, ModelInfo
    from slipway.tracking import ActiveRun, TrackingClient
    from slipway.validation import GateResult, Policy

__all__ = [
    "active_run",
    "autolog",
    "client",
    "end_run",
    "get_run",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dataset",
    "log_dict",
    "log_feedback",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "read_predictions",
    "register_model",
    "search_runs",
    "seed",
    "set_tag",
    "set_tags",
    "start_run",
    "validate",
]

_stack: contextvars.ContextVar[tuple[ActiveRun, ...]] = contextvars.ContextVar(
    "slipway_active_runs", default=()
)
_client: TrackingClient | None = None
_client_lock = threading.Lock()
#: The client of the code :func:`bind` runs: a trial or a pipeline step in a worker, per thread.
_bound: contextvars.ContextVar[TrackingClient | None] = contextvars.ContextVar(
    "slipway_bound_client", default=None
)
#: Tags every run of this process gets, from SLIPWAY_RUN_TAGS (a JSON object); parsed on first use.
_RUN_TAGS_VARIABLE = "SLIPWAY_RUN_TAGS"
#: The one captured tag SLIPWAY_RUN_TAGS may set: ``slipway reproduce`` marks its re-run with it.
_ENV_RESERVED_TAGS = frozenset({"slipway.reproduces"})
_env_tags: dict[str, str] | None = None


def client() -> TrackingClient:
    """The tracking client: the one :func:`bind` gave this code, else the process's, built on first use."""
    global _client
    bound = _bound.get()
    if bound is not None:
        return bound
    if _client is None:
        with _client_lock:
            if _client is None:
                _client = _build_client()
    return _client


def _build_client() -> TrackingClient:
    from slipway.artifacts import open_blob_store
    from slipway.config import load_settings
    from slipway.store import open_metadata_store
    from slipway.tracking import TrackingClient

    settings = load_settings()  # the stores create the embedded default's folders on first write
    return TrackingClient(
        open_metadata_store(settings.tracking_uri, token=settings.token),
        open_blob_store(settings.artifact_uri, token=settings.token),
        flush_interval=settings.flush_interval,
        heartbeat_interval=settings.heartbeat_interval,
        dead_after=settings.dead_after,
        environ=dict(os.environ),
    )


@contextlib.contextmanager
def bind(client: TrackingClient, run: ActiveRun) -> Iterator[ActiveRun]:
    """Inside the block, ``slipway.log_*`` and ``slipway.client()`` go to ``run`` through ``client``.

    For code that runs in a worker on another run's behalf (a sweep's trial, a pipeline step):
    the binding is this thread's (or asyncio task's) only, so several threads of one Dask worker
    each log to their own run through their own stores. ``run`` is not ended on leaving.
    """
    bound = _bound.set(client)
    stacked = _stack.set((*_stack.get(), run))
    try:
        yield run
    finally:
        _stack.reset(stacked)
        _bound.reset(bound)


def _reset_for_tests() -> None:
    """End every run this context started, close the stores and forget the settings."""
    global _client, _env_tags
    _env_tags = None
    for run in reversed(_stack.get()):
        if not run.ended:
            run.end(RunStatus.KILLED)
    _stack.set(())
    with _client_lock:
        if _client is not None:
            _client.close()
        _client = None


# ---------------------------------------------------------------------- runs


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    tags: Mapping[str, object] | None = None,
    nested: bool = True,
) -> ActiveRun:
    """Start a run and make it the active one; use it as a context manager.

    Inside an active run the new run is nested under it (and defaults to its experiment), unless
    ``nested=False``.
    """
    stack = _stack.get()
    parent = stack[-1] if stack and nested else None
    extra = _environment_tags()  # before the run exists: a bad value starts nothing
    run = client().start_run(experiment=experiment, name=name, parent=parent, tags=tags, on_end=[_pop])
    _stack.set((*stack, run))
    if extra:
        run._set_tags(extra)  # checked by _environment_tags: user tags and slipway.reproduces only
    return run


def _environment_tags() -> dict[str, str]:
    """SLIPWAY_RUN_TAGS as tags, for every run this process starts.

    A JSON object of strings; ``slipway.*`` keys other than ``slipway.reproduces`` are refused,
    as ``set_tags`` refuses them.
    """
    global _env_tags
    if _env_tags is None:
        from slipway.errors import InvalidInput

        raw = os.environ.get(_RUN_TAGS_VARIABLE, "").strip()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise InvalidInput(
                f'{_RUN_TAGS_VARIABLE}: expected a JSON object of strings, like {{"team": "risk"}}'
            )
        for key in parsed:
            if key.lower().startswith("slipway.") and key not in _ENV_RESERVED_TAGS:
                raise InvalidInput(
                    f"{_RUN_TAGS_VARIABLE}: tag {key!r}: "
                    "the 'slipway.' namespace is reserved for captured tags"
                )
        _env_tags = parsed
    return _env_tags


def _pop(run: ActiveRun) -> None:
    stack = _stack.get()
    if run in stack:
        _stack.set(tuple(r for r in stack if r is not run))


def active_run() -> ActiveRun | None:
    """The innermost run this code is inside of, or None."""
    stack = _stack.get()
    return stack[-1] if stack else None


def _run() -> ActiveRun:
    stack = _stack.get()
    return stack[-1] if stack else start_run()


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> Run | None:
    """End the active run (flushing its metrics); no-op without one.

    ``status`` is FINISHED, FAILED or KILLED, as a :class:`RunStatus` or its name in any case.
    """
    run = active_run()
    return run.end(status) if run is not None else None


def get_run(run_id: str) -> Run:
    return client().get_run(run_id)


def search_runs(
    experiment: str | Sequence[str] = (),
    *,
    filter: str | None = None,
    order_by: str | Sequence[str] | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> Page[Run]:
    """Runs matching ``filter`` (e.g. ``"metrics.auc > 0.9 and params.penalty = 'l2'"``)."""
    return client().search_runs(
        experiments=experiment,
        filter=filter,
        order_by=order_by,
        max_results=max_results,
        page_token=page_token,
    )


# ---------------------------------------------------------------------- logging


def log_param(key: str, value: object) -> None:
    _run().log_param(key, value)


def log_params(params: Mapping[str, object]) -> None:
    _run().log_params(params)


def set_tag(key: str, value: object) -> None:
    _run().set_tag(key, value)


def set_tags(tags: Mapping[str, object]) -> None:
    _run().set_tags(tags)


def log_metric(key: str, value: float, step: int | None = None, *, timestamp: int | None = None) -> None:
    """Buffer one metric value on the active run; costs about a microsecond, never waits on the store."""
    stack = _stack.get()
    (stack[-1] if stack else start_run()).log_metric(key, value, step, timestamp=timestamp)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, *, timestamp: int | None = None
) -> None:
    _run().log_metrics(metrics, step, timestamp=timestamp)


def log_artifact(local_path: str | Path, artifact_path: str | None = None) -> list[ArtifactEntry]:
    return _run().log_artifact(local_path, artifact_path)


def log_artifacts(local_dir: str | Path, artifact_path: str | None = None) -> list[ArtifactEntry]:
    return _run().log_artifacts(local_dir, artifact_path)


def log_figure(figure: Any, artifact_file: str) -> ArtifactEntry:
    return _run().log_figure(figure, artifact_file)


def log_text(text: str, artifact_file: str) -> ArtifactEntry:
    return _run().log_text(text, artifact_file)


def log_dict(data: Mapping[str, Any], artifact_file: str) -> ArtifactEntry:
    return _run().log_dict(data, artifact_file)


def log_dataset(
    data: object, *, name: str | None = None, role: str = "", source: str | None = None
) -> DatasetRecord:
    """Record a DataFrame, array or Parquet/CSV path by content digest, schema and profile."""
    return _run().log_dataset(data, name=name, role=role, source=source)


def log_model(
    model: object,
    artifact_path: str = "model",
    *,
    signature: Signature | None = None,
    input_example: object = None,
    training_data: object = None,
    flavor: str | Flavor | None = None,
    requirements: Sequence[str] | None = None,
    extra_requirements: Sequence[str] = (),
    code_paths: Sequence[str | os.PathLike[str]] = (),
    metadata: Mapping[str, Any] | None = None,
    flavor_options: Mapping[str, Any] | None = None,
) -> ModelInfo:
    """Save a model into the active run's artifacts (see ``slipway.models.save_model``).

    Its lineage is the run: the run id, the datasets it logged and its git commit.
    """
    from slipway.models import log_model as _log_model

    return _log_model(
        model,
        artifact_path,
        run=_run(),
        store=client().store,
        signature=signature,
        input_example=input_example,
        training_data=training_data,
        flavor=flavor,
        requirements=requirements,
        extra_requirements=extra_requirements,
        code_paths=code_paths,
        metadata=metadata,
        flavor_options=flavor_options,
    )


def load_model(
    model_uri: str | os.PathLike[str], *, strict_env: bool = False, extra_columns: ExtraColumns = "drop"
) -> Model:
    """Load a model folder, ``runs:/RUN_ID/PATH`` or ``models:/NAME/VERSION|@ALIAS|/latest``, verified.

    A run's or a registered version's model is downloaded once, into ``<home>/cache/models`` keyed
    by its files' digests; a version's manifest must have the digest the registry recorded for it.
    """
    from slipway.models import load_model as _load_model

    if str(model_uri).startswith("models:"):
        from slipway.config import load_settings
        from slipway.registry import Registry

        tracking = client()
        return Registry(tracking.store, tracking.blobs).load(
            str(model_uri),
            cache_dir=load_settings().home / "cache" / "models",
            strict_env=strict_env,
            extra_columns=extra_columns,
        )
    if not str(model_uri).startswith("runs:/"):
        return _load_model(model_uri, strict_env=strict_env, extra_columns=extra_columns)
    from slipway.config import load_settings

    tracking = client()
    return _load_model(
        model_uri,
        strict_env=strict_env,
        extra_columns=extra_columns,
        store=tracking.store,
        blobs=tracking.blobs,
        cache_dir=load_settings().home / "cache" / "models",
    )


def register_model(
    model_uri: str | os.PathLike[str],
    name: str,
    *,
    description: str = "",
    tags: Mapping[str, str] | None = None,
    reason: str = "",
) -> ModelVersion:
    """Register the next version of ``name`` from ``runs:/RUN_ID/PATH`` or a model folder.

    The actor recorded in the audit log is the local user (a team server records its token's name).
    """
    from slipway.registry import Registry

    actor = _actor()
    tracking = client()
    return Registry(tracking.store, tracking.blobs).register(
        model_uri, name, description=description, tags=tags, actor=actor, reason=reason
    )


def validate(
    model_uri: str,
    data: pd.DataFrame | str | os.PathLike[str],
    *,
    target: str,
    policy: Policy | Mapping[str, Any] | str | os.PathLike[str],
    reason: str = "",
    record: bool = True,
) -> GateResult:
    """Run a gate policy on a registered version, scored on ``data``, and record the result on it.

    ``data`` is a DataFrame or a Parquet/CSV path holding the ``target`` column; ``policy`` a
    ``gate.yaml`` path, a mapping in its format or a ``Policy`` (see ``slipway.validation.validate``).
    ``promote`` then moves an alias to the version only if the result passed.
    """
    from slipway.config import load_settings
    from slipway.registry import Registry
    from slipway.validation import validate as _validate

    actor = _actor()
    tracking = client()
    return _validate(
        model_uri,
        data,
        target=target,
        policy=policy,
        registry=Registry(tracking.store, tracking.blobs),
        cache_dir=load_settings().home / "cache" / "models",
        actor=actor,
        reason=reason,
        record=record,
    )


def log_feedback(
    deployment: str,
    request_ids: str | Sequence[str],
    labels: object,
    *,
    timestamp: datetime | None = None,
) -> int:
    """Record late labels for served (or batch-scored) predictions, by request id.

    ``request_ids`` and ``labels`` are one value each or equal-length sequences; monitoring joins
    them to the prediction log on ``request_id`` (the latest label wins). Returns the rows written.
    """
    from slipway.predlog import log_feedback as _log_feedback

    ids = [request_ids] if isinstance(request_ids, str) else list(request_ids)
    values: Any = [labels] if isinstance(labels, (str, int, float, bool)) else labels
    return _log_feedback(
        _prediction_log(), deployment=deployment, request_ids=ids, labels=values, timestamp=timestamp
    )


def read_predictions(
    deployment: str | None = None,
    *,
    start: datetime | date | None = None,
    end: datetime | date | None = None,
    with_feedback: bool = True,
) -> pd.DataFrame:
    """The prediction log as a DataFrame (oldest first), joined to its feedback labels by default."""
    from slipway.predlog import join_feedback
    from slipway.predlog import read_feedback as _read_feedback
    from slipway.predlog import read_predictions as _read_predictions

    tree = _prediction_log()
    frame = _read_predictions(tree, deployment=deployment, start=start, end=end)
    if not with_feedback:
        return frame
    return join_feedback(frame, _read_feedback(tree, deployment=deployment))


def _prediction_log() -> FileTree:
    from slipway.artifacts import open_file_tree
    from slipway.config import load_settings

    return open_file_tree(load_settings().prediction_log_uri())


def seed(n: int) -> int:
    """Seed random, NumPy (and torch/TensorFlow when imported) and record it on the active run."""
    from slipway.tracking import seed_everything

    seed_everything(n)
    run = active_run()
    if run is not None:
        run._set_tags({"slipway.seed": str(n)})  # a captured tag: users cannot set slipway.* ones
    return n


def autolog(*, disable: bool = False, log_models: bool = True, log_datasets: bool = True) -> None:
    """Log every scikit-learn fit: params, training metrics, dataset fingerprints and the model."""
    from slipway.tracking import autolog as _autolog

    _autolog(
        active_run=active_run,
        start_run=lambda name: start_run(name=name),
        start_nested=lambda parent, name: start_run(name=name),  # parent is the active run: it nests
        disable=disable,
        log_models=log_models,
        log_datasets=log_datasets,
    )


def _actor() -> str:
    """The local user for audit events (a team server records its token's name instead)."""
    from slipway.tracking import local_user

    return local_user() or "unknown"
