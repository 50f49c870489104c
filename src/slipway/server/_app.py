"""The team server's app factory: pure wiring of stores, routes, auth and error handling.

The factory reads no settings: the CLI (or a test) opens the stores and hands them in, which is
what lets the same app run over SQLite in a test and PostgreSQL plus S3 in production.
"""

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.security import HTTPAuthorizationCredentials  # noqa: TC002 - FastAPI reads route signatures at run time

from slipway._version import __version__
from slipway.errors import InvalidInput
from slipway.server._auth import TokenVerifier, bearer_scheme
from slipway.server._blobs import blob_router
from slipway.server._errors import install_error_handlers
from slipway.server._monitoring_routes import monitoring_router
from slipway.server._registry_routes import TOKEN_STATE, registry_router
from slipway.server._routes import artifact_records_router, json_answer, metadata_router
from slipway.store._wire import API_PREFIX, ErrorResponse, HealthResponse, TokenInfoWire

if TYPE_CHECKING:
    from fastapi.responses import Response

    from slipway.artifacts import BlobStore
    from slipway.store import MetadataStore

_ERRORS: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "bad input: the message names the field and what was expected"),
        (401, "missing, unknown or revoked bearer token"),
        (404, "no such experiment, run, blob, model, model version, alias or monitor"),
        (409, "conflicts with what is stored (a taken name, a param changing value)"),
        (422, "a stored blob no longer matches its digest"),
        (503, "the database or the artifact store does not answer"),
    )
}


def create_app(
    *,
    store: "MetadataStore",
    blobs: "BlobStore",
    auth: bool = True,
    token_cache_seconds: float = 5.0,
    dead_after: float = 60.0,
) -> FastAPI:
    """The REST API over ``store`` and ``blobs``, documented at ``/openapi.json`` and ``/docs``.

    Args:
        store: where experiments, runs and tokens live (a SQL store; the server never proxies
            to another server).
        blobs: where artifact bytes live; clients reach them only through ``/api/v1/blobs``.
        auth: require ``Authorization: Bearer <token>`` on every ``/api/v1`` call.
        token_cache_seconds: how long a verified token is trusted without asking the store again,
            which is also how long a revoked token may keep working.
        dead_after: seconds without a heartbeat after which a run may be marked DIED; clients
            asking to mark runs dead are held to it (their cutoff is clamped to now - dead_after).
    """
    if not 0 <= dead_after < float("inf"):
        raise InvalidInput(f"dead_after {dead_after!r}: expected a finite number of seconds, 0 or more")
    app = FastAPI(
        title="slipway team server",
        version=__version__,
        description=(
            "Experiments, runs, metrics, datasets, artifacts, the model registry and the monitors "
            "of a team, over one REST API."
        ),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    verifier = TokenVerifier(store, ttl=token_cache_seconds)

    async def require_token(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> None:
        # Kept for the handlers: the registry records the token's name as the actor of a change.
        setattr(request.state, TOKEN_STATE, await verifier.verify(credentials))

    api = APIRouter(
        prefix=API_PREFIX, responses=_ERRORS, dependencies=[Depends(require_token)] if auth else []
    )
    api.include_router(metadata_router(store, dead_after=dead_after))
    api.include_router(artifact_records_router(store, blobs=blobs))
    api.include_router(blob_router(blobs))
    api.include_router(registry_router(store, auth=auth))
    api.include_router(monitoring_router(store))
    app.include_router(api)

    # "Who am I" asks the store every time, even with auth off: it is how a client verifies a token,
    # and a token revoked a moment ago must not pass.
    @app.get(f"{API_PREFIX}/token", response_model=TokenInfoWire, responses=_ERRORS, tags=["tokens"])
    async def whoami(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
    ) -> "Response":
        """The token this request was made with (never its secret)."""
        info = await verifier.verify(credentials, fresh=True)
        return json_answer(TokenInfoWire.from_core(info))

    @app.get("/health", response_model=HealthResponse, tags=["health"])
    async def health() -> "Response":
        """Liveness, without a token: for load balancers and start-up scripts."""
        return json_answer(HealthResponse(version=__version__))

    return app
