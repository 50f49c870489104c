"""The team server's one table from failure to answer: a status and ``{"error": ..., "code": ...}``.

Every failure a client can cause ends here as a 4xx whose message is one line naming the field or
thing and what was expected; the ``code`` lets :mod:`slipway.store._http` raise the same
:mod:`slipway.errors` class a local store would. Anything else is a bug: it is logged with its
traceback and answered with a bare 500, never the traceback itself.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from slipway.errors import SlipwayError
from slipway.store._wire import ErrorResponse

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.types import ASGIApp, Receive, Scope, Send

_log = logging.getLogger("slipway.server")

#: pydantic's phrases → what the client should send instead
_EXPECTED = (
    ("Input should be ", "expected "),
    ("Field required", "required field is missing"),
    ("Extra inputs are not permitted", "unknown field (not part of the API)"),
    ("Unexpected keyword argument", "unknown field (not part of the API)"),
    ("Missing required argument", "required field is missing"),
    ("Value error, ", ""),
    ("String should match pattern ", "expected to match "),
)


def error_response(
    status: int, message: str, code: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    body = ErrorResponse(error=" ".join(message.split()), code=code).model_dump_json()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def describe_validation(errors: Sequence[Any]) -> str:
    """One line: ``metrics.3.value: expected a valid number``, at most two problems, and a count.

    Unknown fields come first: next to a "required field is missing" they are usually its typo.
    """
    if not errors:
        return "request: invalid input"
    ordered = sorted(errors, key=lambda e: e.get("type") not in _UNKNOWN_FIELD)
    shown = [_describe_one(e) for e in ordered[:2]]
    more = len(errors) - len(shown)
    return "; ".join(shown) + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


_UNKNOWN_FIELD = ("extra_forbidden", "unexpected_keyword_argument")


def _describe_one(error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    kind = error.get("type", "")
    if kind == "model_attributes_type" and loc == ["body"]:
        return "request body: expected a JSON object (send Content-Type: application/json)"
    if kind == "json_invalid":
        detail = error.get("ctx", {}).get("error", "")
        return (
            f"request body: expected valid JSON ({detail})" if detail else "request body: expected valid JSON"
        )
    where = ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    where = where or ("request body" if loc[:1] == ["body"] else "request")
    msg = str(error.get("msg", "invalid value"))
    for phrase, replacement in _EXPECTED:
        msg = msg.replace(phrase, replacement)
    if loc[:1] == ["query"]:
        where = f"query parameter {where!r}"
    elif loc[:1] == ["path"]:
        where = f"path parameter {where!r}"
    return f"{where}: {msg}"


async def _slipway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SlipwayError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if exc.status >= 500:
        _log.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(exc.status, str(exc), exc.code, headers=headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(400, describe_validation(exc.errors()), "invalid_input")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        message = (
            f"no such endpoint: {request.method} {request.url.path} (the API is listed at /openapi.json)"
        )
        code = "not_found"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path} (see /openapi.json)"
        code = "invalid_input"
    elif exc.status_code == 400:  # FastAPI's own body parsing (e.g. JSON nested too deeply)
        message, code = f"request body: expected a JSON document ({exc.detail})", "invalid_input"
    else:
        message, code = str(exc.detail), "invalid_input" if exc.status_code < 500 else "internal"
    return error_response(exc.status_code, message, code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error; the server log has the details", "internal")


class RefuseNul:
    """400 for a NUL in the path or query: PostgreSQL cannot even compare such a string.

    Checked once here, before routing, instead of in every handler that takes an id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and ("\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")):
            response = error_response(400, "request URL: NUL characters are not allowed", "invalid_input")
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SlipwayError, _slipway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    app.add_middleware(RefuseNul)
