"""HTTP plumbing shared by the team server's clients, ``store._http`` and ``artifacts._http``.

What the two adapters have in common lives here once, so that they cannot drift apart:

- :class:`Connection` keeps one keep-alive :class:`httpx.Client` per process for one server, with
  the bearer token; a client inherited across ``fork()`` is never reused (its sockets are shared
  with the parent), the child builds its own on first use.
- Transport failures become :class:`~slipway.errors.StoreUnavailable` naming the server's URL,
  or :class:`~slipway.errors.InvalidInput` when the request cannot even be sent.
- :func:`raise_for_answer` turns a non-2xx answer into the :mod:`slipway.errors` class the server
  named in ``{"error": ..., "code": ...}``. An answer without a code is mapped by its status, and
  every 5xx among those is StoreUnavailable: a slipway server always sends a code (``internal``
  for its own bugs), so a codeless 5xx comes from something in between (a proxy, a load balancer,
  a server restarting), and trying again later is the right advice.

httpx is imported here and in the two adapters only (import-linter checks it).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import httpx

from slipway._version import __version__
from slipway.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    SlipwayError,
    StoreUnavailable,
    Unauthorized,
    error_from_code,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["DEFAULT_TIMEOUT", "Connection", "build_client", "raise_for_answer"]

#: Connecting should be quick or not at all; a large log-batch or search may take a while to answer.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0, pool=30.0)

API_PREFIX = "/api/v1"

#: What an answer without a ``code`` means, by status: every 5xx and these are StoreUnavailable
#: (try again later), a 404 is NotFound (or the adapter's subclass), any other 4xx InvalidInput.
_STATUS_ERRORS: dict[int, type[SlipwayError]] = {
    401: Unauthorized,
    403: Unauthorized,
    408: StoreUnavailable,
    409: Conflict,
    429: StoreUnavailable,
}


def build_client(
    server: str,
    *,
    token: str | None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A keep-alive client for the API of the server at ``server`` (``http(s)://host:port``)."""
    headers = {"User-Agent": f"slipway/{__version__}"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # Retries cover connection setup only (a server restarting); a request that reached the server
    # is never replayed, so neither a log-batch nor an upload is sent twice.
    return httpx.Client(
        base_url=server.rstrip("/") + API_PREFIX,
        headers=headers,
        timeout=timeout,
        transport=transport if transport is not None else httpx.HTTPTransport(retries=2),
        follow_redirects=False,
    )


def raise_for_answer(response: httpx.Response, *, server: str, not_found: type[NotFound] = NotFound) -> None:
    """Turn a non-2xx answer into the slipway error the server meant.

    Args:
        response: read or streamed; a streamed body is read here (error bodies are small).
        server: the server's URL, named in messages.
        not_found: the class for a 404 without a code, for an adapter whose every route names
            one kind of thing (the blob proxy: ``ArtifactNotFound``).
    """
    if response.is_success:
        return
    response.read()
    message, code = "", None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        message = body["error"]
        code = body["code"] if isinstance(body.get("code"), str) else None
    if code is not None:
        raise error_from_code(code, message)
    status = response.status_code
    request = response.request
    where = f"team server {server} answered HTTP {status} to {request.method} {request.url.path}"
    message = f"{where}: {message}" if message else where
    if status in (401, 403):
        message += " (the bearer token was refused: check SLIPWAY_TOKEN)"
    if status >= 500:
        raise StoreUnavailable(message)
    if status == 404:
        raise not_found(message)
    if status in _STATUS_ERRORS:
        raise _STATUS_ERRORS[status](message)
    raise InvalidInput(message) if status >= 400 else SlipwayError(message)


def _checked_url(server: str) -> str:
    server = server.rstrip("/")
    try:
        httpx.URL(server)  # parsing only: a port that is not a number fails now, not on first use
    except httpx.InvalidURL as exc:
        raise InvalidInput(
            f"team server URL {server!r}: not a valid URL ({exc}); expected http(s)://HOST[:PORT]"
        ) from None
    return server


class Connection:
    """The calls of one process to one team server, over one keep-alive client.

    Nothing is opened until the first call. The client is built per process: after ``fork()``
    the child builds its own instead of sharing the parent's sockets, whose answers would
    otherwise go to whichever process reads first.

    Args:
        server: ``http(s)://host:port``, named in every error.
        token: the bearer token, or None for a server without auth.
        timeout: per-request limits.
        transport: an httpx transport (tests); the default retries connection setup twice.
    """

    def __init__(
        self,
        server: str,
        *,
        token: str | None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._server = _checked_url(server)
        self._token = token
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None
        self._inherited: httpx.Client | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._lock_pid = os.getpid()

    def __repr__(self) -> str:
        return f"Connection({self._server!r})"

    @property
    def server(self) -> str:
        return self._server

    @property
    def client(self) -> httpx.Client:
        """This process's client: the one built here, never one inherited across ``fork()``."""
        pid = os.getpid()
        client = self._client
        if client is not None and self._pid == pid:
            return client
        if self._lock_pid != pid:  # a lock inherited across fork may be held by a thread that is gone
            self._lock, self._lock_pid = threading.Lock(), pid
        with self._lock:
            if self._client is None or self._pid != pid:
                if self._client is not None:
                    # The parent's client is set aside, never closed nor collected: its sockets are
                    # the parent's connections, and closing them must stay the parent's business.
                    self._inherited = self._client
                self._client = build_client(
                    self._server, token=self._token, timeout=self._timeout, transport=self._transport
                )
                self._pid = pid
            return self._client

    def send(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> httpx.Response:
        """Send one request; a transport failure is StoreUnavailable naming the server.

        The answer's status is not checked (see :meth:`call`). With ``stream=True`` the caller
        reads the body (:meth:`iter_bytes`) and closes the response.
        """
        client = self.client
        request = client.build_request(method, path, **kwargs)
        try:
            return client.send(request, stream=stream)
        except httpx.TimeoutException as exc:
            raise StoreUnavailable(
                f"team server {self._server} did not answer {method} {request.url.path} in time "
                f"({type(exc).__name__})"
            ) from None
        except httpx.LocalProtocolError as exc:  # nothing was sent: e.g. a token with a newline in it
            raise InvalidInput(
                f"request to team server {self._server} cannot be sent: {exc} (check SLIPWAY_TOKEN)"
            ) from None
        except httpx.TransportError as exc:
            raise StoreUnavailable(
                f"team server {self._server} is unreachable ({exc or type(exc).__name__}); "
                "is `slipway server` running?"
            ) from None

    def call(
        self, method: str, path: str, *, not_found: type[NotFound] = NotFound, **kwargs: Any
    ) -> httpx.Response:
        """Send one request and read the answer; anything but a 2xx raises (:func:`raise_for_answer`)."""
        response = self.send(method, path, **kwargs)
        raise_for_answer(response, server=self._server, not_found=not_found)
        return response

    def iter_bytes(self, response: httpx.Response, *, chunk_size: int) -> Iterator[bytes]:
        """The body of a streamed answer; a connection that breaks off is StoreUnavailable."""
        try:
            yield from response.iter_bytes(chunk_size)
        except httpx.TransportError as exc:
            request = response.request
            raise StoreUnavailable(
                f"team server {self._server}: the answer to {request.method} {request.url.path} "
                f"broke off ({exc or type(exc).__name__})"
            ) from None

    def close(self) -> None:
        """Close this process's client; one inherited across ``fork()`` is left to its owner."""
        client, self._client = self._client, None
        if client is not None and self._pid == os.getpid():
            client.close()
