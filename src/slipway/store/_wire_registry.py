"""The team server's registry payloads (models, versions, aliases, the audit log), shared like ``_wire``.

Lineage, gate results and event details are free-form JSON whose numbers may be NaN or infinite (a
gate's metric can be): they travel as the JSON5 tokens ``NaN``/``Infinity``, as dataset profiles
do, and both sides' parsers read them back as floats.

Every request that changes state carries ``actor`` and ``reason``. A server with authentication
records its token's name as the actor, whatever the request says.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from slipway.core import AuditAction, AuditEvent, ModelVersion, Page, RegisteredModel
from slipway.store._wire import ArtifactEntryWire, _Int, _no_nul, _Request, _Str

#: who made a change, as the stores bound it (a server with authentication ignores it)
_Actor = Annotated[str, Field(max_length=250), AfterValidator(_no_nul)]


class _JsonRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", ser_json_inf_nan="constants", frozen=True)


class _JsonResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", ser_json_inf_nan="constants", frozen=True)


class RegisteredModelWire(_JsonResponse):
    name: str
    created_at: int
    description: str = ""
    tags: dict[str, str] = {}
    aliases: dict[str, int] = {}
    latest_version: int | None = None

    @classmethod
    def from_core(cls, m: RegisteredModel) -> RegisteredModelWire:
        return cls(
            name=m.name,
            created_at=m.created_at,
            description=m.description,
            tags=dict(m.tags),
            aliases=dict(m.aliases),
            latest_version=m.latest_version,
        )

    def to_core(self) -> RegisteredModel:
        return RegisteredModel(
            name=self.name,
            created_at=self.created_at,
            description=self.description,
            tags=dict(self.tags),
            aliases=dict(self.aliases),
            latest_version=self.latest_version,
        )


class ModelVersionWire(_JsonResponse):
    name: str
    version: int
    created_at: int
    source: str
    manifest_digest: str
    run_id: str | None = None
    creator: str = ""
    description: str = ""
    tags: dict[str, str] = {}
    aliases: list[str] = []
    lineage: dict[str, Any] = {}
    gate: dict[str, Any] | None = None

    @classmethod
    def from_core(cls, v: ModelVersion) -> ModelVersionWire:
        return cls(
            name=v.name,
            version=v.version,
            created_at=v.created_at,
            source=v.source,
            manifest_digest=v.manifest_digest,
            run_id=v.run_id,
            creator=v.creator,
            description=v.description,
            tags=dict(v.tags),
            aliases=sorted(v.aliases),
            lineage=dict(v.lineage),
            gate=None if v.gate is None else dict(v.gate),
        )

    def to_core(self) -> ModelVersion:
        return ModelVersion(
            name=self.name,
            version=self.version,
            created_at=self.created_at,
            source=self.source,
            manifest_digest=self.manifest_digest,
            run_id=self.run_id,
            creator=self.creator,
            description=self.description,
            tags=dict(self.tags),
            aliases=frozenset(self.aliases),
            lineage=dict(self.lineage),
            gate=None if self.gate is None else dict(self.gate),
        )


class AuditEventWire(_JsonResponse):
    id: int
    at: int
    actor: str
    action: AuditAction
    model: str
    version: int | None = None
    alias: str | None = None
    previous_version: int | None = None
    reason: str = ""
    details: dict[str, Any] = {}

    @classmethod
    def from_core(cls, e: AuditEvent) -> AuditEventWire:
        return cls(
            id=e.id,
            at=e.at,
            actor=e.actor,
            action=e.action,
            model=e.model,
            version=e.version,
            alias=e.alias,
            previous_version=e.previous_version,
            reason=e.reason,
            details=dict(e.details),
        )

    def to_core(self) -> AuditEvent:
        return AuditEvent(
            id=self.id,
            at=self.at,
            actor=self.actor,
            action=self.action,
            model=self.model,
            version=self.version,
            alias=self.alias,
            previous_version=self.previous_version,
            reason=self.reason,
            details=dict(self.details),
        )


class CreateModelVersionRequest(_JsonRequest):
    source: _Str
    manifest_digest: _Str
    files: list[ArtifactEntryWire] = []
    run_id: _Str | None = None
    lineage: dict[_Str, Any] | None = None
    description: _Str = ""
    tags: dict[_Str, _Str] | None = None
    #: who registers; a server with authentication records its token's name instead
    actor: _Actor = ""
    reason: _Str = ""


class DescriptionRequest(_Request):
    description: _Str
    actor: _Actor = ""
    reason: _Str = ""


class ModelVersionTagsRequest(_Request):
    #: a value of null deletes the tag
    tags: dict[_Str, _Str | None]
    actor: _Actor = ""
    reason: _Str = ""


class GateResultRequest(_JsonRequest):
    result: dict[_Str, Any]
    actor: _Actor = ""
    reason: _Str = ""


class SetAliasRequest(_Request):
    version: _Int
    actor: _Actor = ""
    reason: _Str = ""
    #: alias.set (the default) or rollback; a promotion is ``POST …/promote``
    action: AuditAction | None = None
    #: with ``check_holder``, the version the alias must still point at (null: no holder), else 409
    check_holder: bool = False
    expected_version: _Int | None = None


class PromoteRequest(_Request):
    """A promotion: the server reads the version's stored gate result; no action or details travel."""

    version: _Int
    actor: _Actor = ""
    reason: _Str = ""
    force: bool = False


class DeleteAliasRequest(_Request):
    actor: _Actor = ""
    reason: _Str = ""


class ModelsResponse(_JsonResponse):
    models: list[RegisteredModelWire]


class ModelVersionsResponse(_JsonResponse):
    versions: list[ModelVersionWire]


class AuditPageResponse(_JsonResponse):
    events: list[AuditEventWire]
    next_page_token: str | None = None

    @classmethod
    def from_core(cls, page: Page[AuditEvent]) -> AuditPageResponse:
        return cls(events=[AuditEventWire.from_core(e) for e in page.items], next_page_token=page.next_token)

    def to_core(self) -> Page[AuditEvent]:
        return Page(items=[e.to_core() for e in self.events], next_token=self.next_page_token)
