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

_log = logging.getLogger("slipway.server")

#: pydantic's phrases → what the client should send instead
_EXPECTED = (
    ("Input should be ", "expected "),
    ("Field required", "required field is missing"),
    ("Extra inputs are not permitted", "unknown field (not part of the API)"),
    ("Unexpected keyword argument", "unknown field (not part of the API)"),
    ("Missing required argument", "required field is missing"),
    ("String should match pattern ", "expected to match "),
)


def error_response(
    status: int, message: str, code: str, *, headers: Mapping[str, str] | None = None
) -> Response:
    body = ErrorResponse(error=" ".join(message.split()), code=code).model_dump_json()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def describe_validation(errors: Sequence[Any]) -> str:
    """One line for the first problem (``metrics.3.value: expected a valid number``) and a count."""
    if not errors:
        return "request: invalid input"
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ())]
    kind = first.get("type", "")
    if kind == "model_attributes_type" and loc == ["body"]:
        head = "request body: expected a JSON object (send Content-Type: application/json)"
    elif kind == "json_invalid":
        detail = first.get("ctx", {}).get("error", "")
        head = (
            f"request body: expected valid JSON ({detail})" if detail else "request body: expected valid JSON"
        )
    else:
        where = ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
        where = where or ("request body" if loc[:1] == ["body"] else "request")
        msg = str(first.get("msg", "invalid value"))
        for phrase, replacement in _EXPECTED:
            msg = msg.replace(phrase, replacement)
        if loc[:1] == ["query"]:
            where = f"query parameter {where!r}"
        elif loc[:1] == ["path"]:
            where = f"path parameter {where!r}"
        head = f"{where}: {msg}"
    more = len(errors) - 1
    return head + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


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
    else:
        message, code = str(exc.detail), "invalid_input" if exc.status_code < 500 else "internal"
    return error_response(exc.status_code, message, code, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    _log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal server error; the server log has the details", "internal")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(SlipwayError, _slipway_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
