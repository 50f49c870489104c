"""The team server's REST payloads, shared by the HTTP client and the server.

Both sides import this module and never each other (STYLE B.3), so a payload cannot drift between
what the client sends and what the server expects. Each model converts to and from its core entity;
nothing outside ``store._http`` and ``server`` sees these classes.

JSON has no NaN or infinity, but metric values may be either (a diverging loss is data worth
keeping). They travel as the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` and come back as
the same floats; finite floats use the shortest repr that round-trips, so values are bit-exact.
Dataset profiles are free-form JSON computed by the tracking layer; their non-finite numbers are
written as the JSON5 tokens ``NaN``/``Infinity``, which both sides' parsers accept, because a string
there could not be told apart from a real string statistic on the way back.

Requests refuse unknown fields, so a typo is a 400 naming the field rather than a silent default;
responses ignore them, so an older client keeps working against a newer server.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from slipway.core import (
    MAX_VALUE_LENGTH,
    ArtifactEntry,
    DatasetRecord,
    Experiment,
    Metric,
    Page,
    Run,
    RunStatus,
    TokenInfo,
)

API_PREFIX = "/api/v1"
#: lowercase hex SHA-256, the address of a blob
DIGEST_PATTERN = r"^[0-9a-f]{64}$"
_DIGEST = re.compile(DIGEST_PATTERN)


def _no_nul(text: str) -> str:
    # PostgreSQL cannot store NUL in text; refusing it here keeps it a 400 instead of a driver error.
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed")
    return text


#: any string a client sends: bounded by the one limit the stores also apply, storable everywhere
_Str = Annotated[str, Field(max_length=MAX_VALUE_LENGTH), AfterValidator(_no_nul)]
#: every integer a client sends fits the database's BIGINT
_Int = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
_Count = Annotated[int, Field(ge=0, le=2**63 - 1)]
_INT64 = range(-(2**63), 2**63)


def is_digest(text: str) -> bool:
    return bool(_DIGEST.match(text))


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="strings", frozen=True)


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="strings", frozen=True)


# ------------------------------------------------------------------------------------ entities


class ExperimentWire(_Response):
    id: str
    name: str
    created_at: int
    tags: dict[str, str] = {}

    @classmethod
    def from_core(cls, e: Experiment) -> ExperimentWire:
        return cls(id=e.id, name=e.name, created_at=e.created_at, tags=dict(e.tags))

    def to_core(self) -> Experiment:
        return Experiment(id=self.id, name=self.name, created_at=self.created_at, tags=dict(self.tags))


class RunWire(_Response):
    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None = None
    user: str = ""
    parent_run_id: str | None = None
    heartbeat_at: int | None = None
    params: dict[str, str] = {}
    tags: dict[str, str] = {}
    metrics: dict[str, float] = {}

    @classmethod
    def from_core(cls, r: Run) -> RunWire:
        return cls(
            id=r.id,
            experiment_id=r.experiment_id,
            name=r.name,
            status=r.status,
            start_time=r.start_time,
            end_time=r.end_time,
            user=r.user,
            parent_run_id=r.parent_run_id,
            heartbeat_at=r.heartbeat_at,
            params=dict(r.params),
            tags=dict(r.tags),
            metrics=dict(r.metrics),
        )

    def to_core(self) -> Run:
        return Run(
            id=self.id,
            experiment_id=self.experiment_id,
            name=self.name,
            status=self.status,
            start_time=self.start_time,
            end_time=self.end_time,
            user=self.user,
            parent_run_id=self.parent_run_id,
            heartbeat_at=self.heartbeat_at,
            params=dict(self.params),
            tags=dict(self.tags),
            metrics=dict(self.metrics),
        )


class DatasetWire(BaseModel):
    # Used in both directions; "constants" keeps a NaN statistic a number (see the module docstring).
    model_config = ConfigDict(
        extra="forbid", ser_json_inf_nan="constants", frozen=True, populate_by_name=True
    )

    digest: _Str
    name: _Str
    source: _Str
    num_rows: _Count
    num_columns: _Count
    # `schema` is a BaseModel attribute, hence the alias.
    schema_: dict[_Str, _Str] = Field(alias="schema")
    profile: dict[_Str, Any]
    role: _Str = ""

    @classmethod
    def from_core(cls, d: DatasetRecord) -> DatasetWire:
        return cls(
            digest=d.digest,
            name=d.name,
            source=d.source,
            num_rows=d.num_rows,
            num_columns=d.num_columns,
            schema=dict(d.schema),
            profile=dict(d.profile),
            role=d.role,
        )

    def to_core(self) -> DatasetRecord:
        return DatasetRecord(
            digest=self.digest,
            name=self.name,
            source=self.source,
            num_rows=self.num_rows,
            num_columns=self.num_columns,
            schema=dict(self.schema_),
            profile=dict(self.profile),
            role=self.role,
        )


class ArtifactEntryWire(_Request):
    path: _Str
    digest: Annotated[str, Field(pattern=DIGEST_PATTERN)]
    size: _Count

    @classmethod
    def from_core(cls, a: ArtifactEntry) -> ArtifactEntryWire:
        return cls(path=a.path, digest=a.digest, size=a.size)

    def to_core(self) -> ArtifactEntry:
        return ArtifactEntry(path=self.path, digest=self.digest, size=self.size)


class TokenInfoWire(_Response):
    id: str
    name: str
    created_at: int
    revoked: bool = False

    @classmethod
    def from_core(cls, t: TokenInfo) -> TokenInfoWire:
        return cls(id=t.id, name=t.name, created_at=t.created_at, revoked=t.revoked)

    def to_core(self) -> TokenInfo:
        return TokenInfo(id=self.id, name=self.name, created_at=self.created_at, revoked=self.revoked)


class BlobWire(_Response):
    digest: str
    size: int


# ------------------------------------------------------------------------------------ requests


class CreateExperimentRequest(_Request):
    name: _Str
    tags: dict[_Str, _Str] | None = None


class CreateRunRequest(_Request):
    experiment_id: _Str
    name: _Str | None = None
    user: _Str = ""
    parent_run_id: _Str | None = None
    tags: dict[_Str, _Str] | None = None
    start_time: _Int | None = None


class EndRunRequest(_Request):
    status: RunStatus
    end_time: _Int | None = None


class HeartbeatRequest(_Request):
    at: _Int | None = None


class MarkDeadRequest(_Request):
    heartbeat_before: _Int


class LogBatchRequest(_Request):
    # The core dataclass itself: validating straight into it is twice as fast as a model per
    # metric and a conversion, and a batch holds thousands (unknown keys are still refused).
    metrics: list[Metric] = []
    params: dict[_Str, _Str] | None = None
    tags: dict[_Str, _Str] | None = None
    #: makes a resend after a timeout harmless (checked by the store: see MetadataStore.log_batch)
    batch_id: _Str | None = None

    @model_validator(mode="after")
    def _steps_fit_the_database(self) -> LogBatchRequest:
        for i, m in enumerate(self.metrics):
            if m.step not in _INT64 or m.timestamp not in _INT64:
                raise ValueError(f"metrics.{i}: step and timestamp must fit in 64 bits")
        return self


class SearchRunsRequest(_Request):
    experiment_ids: list[_Str] = []
    filter: _Str | None = None
    order_by: _Str | list[_Str] | None = None
    max_results: _Int = 100
    page_token: _Str | None = None


class RecordArtifactsRequest(_Request):
    entries: list[ArtifactEntryWire]


# ------------------------------------------------------------------------------------ responses


class ExperimentsResponse(_Response):
    experiments: list[ExperimentWire]


class RunIdsResponse(_Response):
    run_ids: list[str]


class MetricsResponse(_Response):
    metrics: list[Metric]


class RunsPageResponse(_Response):
    runs: list[RunWire]
    next_page_token: str | None = None

    @classmethod
    def from_core(cls, page: Page[Run]) -> RunsPageResponse:
        return cls(runs=[RunWire.from_core(r) for r in page.items], next_page_token=page.next_token)

    def to_core(self) -> Page[Run]:
        return Page(items=[r.to_core() for r in self.runs], next_token=self.next_page_token)


class DatasetsResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="constants", frozen=True)
    datasets: list[DatasetWire]


class ArtifactsResponse(_Response):
    entries: list[ArtifactEntryWire]


class ErrorResponse(_Response):
    """Every non-2xx answer: a one-line message and the stable code of the :mod:`slipway.errors` class."""

    error: str
    code: str = "internal"


class HealthResponse(_Response):
    status: str = "ok"
    version: str


# ------------------------------------------------------------------------------------ fast paths


# log_batch carries thousands of metrics per call: serialising the core dataclasses in one typed
# pass is several times cheaper than building a model per metric, and yields the same JSON.
_METRICS_JSON: TypeAdapter[list[Metric]] = TypeAdapter(
    list[Metric], config=ConfigDict(ser_json_inf_nan="strings")
)


def encode_log_batch(
    metrics: list[Metric],
    *,
    params: dict[str, str] | None,
    tags: dict[str, str] | None,
    batch_id: str | None = None,
) -> bytes:
    """The JSON body of a log-batch call, as :class:`LogBatchRequest` reads it."""
    parts = [b'{"metrics":', _METRICS_JSON.dump_json(metrics)]
    fields: tuple[tuple[str, object], ...] = (("params", params), ("tags", tags), ("batch_id", batch_id))
    for name, value in fields:
        if value is not None:
            parts.append(f',"{name}":'.encode())
            parts.append(json.dumps(value).encode())
    parts.append(b"}")
    return b"".join(parts)
