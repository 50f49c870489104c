"""uvicorn's httptools protocol, with each answer leaving in one write instead of two.

uvicorn writes a response's status line and headers to the socket as soon as the app sends
``http.response.start``, and the body in a second write when ``http.response.body`` follows: two
``send`` system calls and two TCP segments for every answer, and a client that wakes up for the
first finds only headers and sleeps again. The server's answers are started and finished in one go
(:func:`slipway.serving._app._send` sends both messages without yielding in between), so the
protocol here hands uvicorn a transport that keeps a response head until the next write and sends
the two together.

uvicorn writes a body after every head except for a HEAD request and an interim ``100 Continue``;
those heads go out at once. Closing the connection sends a head still held (uvicorn closes it when an
app returns without finishing its answer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    import asyncio

__all__ = ["OneWriteHttpToolsProtocol"]


class _OneWrite:
    """A transport that sends a response head with the write that follows it.

    Everything but ``write`` and ``close`` passes through to the real transport; the methods
    uvicorn calls on every request are bound here once, not looked up through ``__getattr__``.
    """

    __slots__ = (
        "_head",
        "_transport",
        "get_extra_info",
        "hold",
        "is_closing",
        "pause_reading",
        "resume_reading",
    )

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self.hold = True  # False while the request being answered is a HEAD: no body write follows
        self.is_closing = transport.is_closing
        self.get_extra_info = transport.get_extra_info
        self.pause_reading = transport.pause_reading
        self.resume_reading = transport.resume_reading

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head + data)
        elif self.hold and data[:5] == b"HTTP/" and data[9:10] != b"1" and data[-4:] == b"\r\n\r\n":
            self._head = bytes(data)  # a final answer's status line and headers: its body follows
        else:
            self._transport.write(data)

    def close(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`_OneWrite` transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneWrite(transport))  # type: ignore[arg-type]  # a duck-typed Transport

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self.transport.hold = self.scope["method"] != "HEAD"  # type: ignore[attr-defined]
