"""REST routes of the model registry: one route per registry method of the store port.

Who did it is the server's to say: with authentication on, every change is recorded with the name
of the token the request was made with, whatever ``actor`` the request claims (a client cannot
act in someone else's name in the audit log). Without authentication (``--no-auth``, a trusted
network) the client's ``actor`` is kept.

Model names and aliases in paths are checked by the store, which answers 404 for one it does not
know and 400 for a malformed one in a write, as a local store does.
"""

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from slipway.errors import Unauthorized
from slipway.server._routes import json_answer
from slipway.store._wire import ArtifactEntryWire, ArtifactsResponse
from slipway.store._wire_monitoring import RecordAuditEventRequest  # noqa: TC001 - FastAPI reads route signatures at run time
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
    from slipway.store import MetadataStore

_NO_CONTENT = 204
#: where the authentication dependency leaves the verified TokenInfo for the handlers
TOKEN_STATE = "slipway_token"


def registry_router(store: "MetadataStore", *, auth: bool) -> APIRouter:
    """Routes for models, versions, aliases, gate results and the audit log."""
    router = APIRouter(tags=["registry"])

    def actor(request: Request, claimed: str) -> str:
        if not auth:
            return claimed
        token = getattr(request.state, TOKEN_STATE, None)
        if token is None:  # the router's dependency always sets it: this is a wiring bug
            raise Unauthorized("the request's token was not verified")
        return str(token.name)

    # ---------------------------------------------------------------- models and versions

    @router.get("/models", response_model=ModelsResponse)
    def list_registered_models() -> Response:
        models = store.list_registered_models()
        return json_answer(ModelsResponse(models=[RegisteredModelWire.from_core(m) for m in models]))

    @router.get("/models/{name}", response_model=RegisteredModelWire)
    def get_registered_model(name: str) -> Response:
        return json_answer(RegisteredModelWire.from_core(store.get_registered_model(name)))

    @router.post("/models/{name}/description", status_code=_NO_CONTENT)
    def set_model_description(name: str, body: DescriptionRequest, request: Request) -> Response:
        store.set_model_description(
            name, body.description, actor=actor(request, body.actor), reason=body.reason
        )
        return Response(status_code=_NO_CONTENT)

    @router.post("/models/{name}/versions", response_model=ModelVersionWire, status_code=201)
    def create_model_version(name: str, body: CreateModelVersionRequest, request: Request) -> Response:
        """Register the next version of ``name`` (creating the model if it is new)."""
        created = store.create_model_version(
            name=name,
            source=body.source,
            manifest_digest=body.manifest_digest,
            files=[f.to_core() for f in body.files],
            run_id=body.run_id,
            lineage=body.lineage,
            description=body.description,
            tags=body.tags,
            actor=actor(request, body.actor),
            reason=body.reason,
        )
        return json_answer(ModelVersionWire.from_core(created), status=201)

    @router.get("/models/{name}/versions", response_model=ModelVersionsResponse)
    def list_model_versions(name: str) -> Response:
        """The versions of ``name``, newest first."""
        found = store.list_model_versions(name)
        return json_answer(ModelVersionsResponse(versions=[ModelVersionWire.from_core(v) for v in found]))

    @router.get("/models/{name}/versions/{version}", response_model=ModelVersionWire)
    def get_model_version(name: str, version: int) -> Response:
        return json_answer(ModelVersionWire.from_core(store.get_model_version(name, version)))

    @router.get("/models/{name}/versions/{version}/files", response_model=ArtifactsResponse)
    def list_model_version_files(name: str, version: int) -> Response:
        found = store.list_model_version_files(name, version)
        return json_answer(ArtifactsResponse(entries=[ArtifactEntryWire.from_core(e) for e in found]))

    @router.post("/models/{name}/versions/{version}/tags", status_code=_NO_CONTENT)
    def set_model_version_tags(
        name: str, version: int, body: ModelVersionTagsRequest, request: Request
    ) -> Response:
        """Set tags of a version; a value of null deletes that tag."""
        store.set_model_version_tags(
            name, version, body.tags, actor=actor(request, body.actor), reason=body.reason
        )
        return Response(status_code=_NO_CONTENT)

    @router.post("/models/{name}/versions/{version}/description", status_code=_NO_CONTENT)
    def set_model_version_description(
        name: str, version: int, body: DescriptionRequest, request: Request
    ) -> Response:
        store.set_model_version_description(
            name, version, body.description, actor=actor(request, body.actor), reason=body.reason
        )
        return Response(status_code=_NO_CONTENT)

    @router.post("/models/{name}/versions/{version}/gate", response_model=AuditEventWire)
    def record_gate_result(name: str, version: int, body: GateResultRequest, request: Request) -> Response:
        """Store a gate result as the version's latest, and log it."""
        event = store.record_gate_result(
            name, version, body.result, actor=actor(request, body.actor), reason=body.reason
        )
        return json_answer(AuditEventWire.from_core(event))

    # ---------------------------------------------------------------- aliases

    @router.get("/models/{name}/aliases/{alias}", response_model=ModelVersionWire)
    def get_version_by_alias(name: str, alias: str) -> Response:
        return json_answer(ModelVersionWire.from_core(store.get_version_by_alias(name, alias)))

    @router.put("/models/{name}/aliases/{alias}", response_model=AuditEventWire)
    def set_alias(name: str, alias: str, body: SetAliasRequest, request: Request) -> Response:
        """Point ``alias`` at a version atomically (alias.set or rollback); the event names the old holder.

        With ``check_holder``, the alias must still point at ``expected_version`` (409 otherwise).
        """
        event = store.set_alias(
            name=name,
            alias=alias,
            version=body.version,
            actor=actor(request, body.actor),
            reason=body.reason,
            action=body.action,
            expected_version=body.expected_version if body.check_holder else ...,
        )
        return json_answer(AuditEventWire.from_core(event))

    @router.post("/models/{name}/aliases/{alias}/promote", response_model=AuditEventWire)
    def promote(name: str, alias: str, body: PromoteRequest, request: Request) -> Response:
        """Move ``alias`` to a version if its stored gate result passed and is not stale (412 if not).

        ``force`` with a reason moves it anyway, logged as ``override``. The gate is the one the
        server holds for the version: no action or details are taken from the request.
        """
        event = store.promote(
            name=name,
            version=body.version,
            alias=alias,
            actor=actor(request, body.actor),
            force=body.force,
            reason=body.reason,
        )
        return json_answer(AuditEventWire.from_core(event))

    @router.delete("/models/{name}/aliases/{alias}", response_model=AuditEventWire)
    def delete_alias(
        name: str, alias: str, request: Request, body: Annotated[DeleteAliasRequest | None, Body()] = None
    ) -> Response:
        body = body if body is not None else DeleteAliasRequest()
        event = store.delete_alias(
            name=name, alias=alias, actor=actor(request, body.actor), reason=body.reason
        )
        return json_answer(AuditEventWire.from_core(event))

    # ---------------------------------------------------------------- the audit log

    @router.get("/audit", response_model=AuditPageResponse)
    def search_audit(
        model: str | None = None,
        action: Annotated[
            str | None, Query(description="register, alias.set, alias.delete, promote, override, …")
        ] = None,
        alias: str | None = None,
        actor: str | None = None,
        since: Annotated[int | None, Query(description="ms since the epoch, inclusive")] = None,
        until: Annotated[int | None, Query(description="ms since the epoch, exclusive")] = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Response:
        """Audit events oldest first, filtered; pass ``next_page_token`` back for the next page.

        The log is append-only: no route edits or deletes an event.
        """
        page = store.search_audit(
            model=model,
            action=action,  # type: ignore[arg-type]  # the store checks it, naming the actions
            alias=alias,
            actor=actor,
            since=since,
            until=until,
            max_results=max_results,
            page_token=page_token,
        )
        return json_answer(AuditPageResponse.from_core(page))

    @router.post("/audit", response_model=AuditEventWire, status_code=201)
    def record_audit_event(body: RecordAuditEventRequest, request: Request) -> Response:
        """Append an event of something outside the store (``monitor.trigger``); others are a 400.

        Changes the store makes itself (registration, alias moves …) are logged by their own
        routes, so this cannot record one that did not happen.
        """
        event = store.record_audit_event(
            model=body.model,
            action=body.action,  # type: ignore[arg-type]  # the store checks it, naming the actions
            actor=actor(request, body.actor),
            reason=body.reason,
            version=body.version,
            details=body.details,
        )
        return json_answer(AuditEventWire.from_core(event), status=201)

    return router
