"""uvicorn's httptools protocol, with each answer leaving in one write instead of two.

uvicorn writes a response's status line and headers to the socket as soon as the app sends
``http.response.start``, and the body in a second write when ``http.response.body`` follows: two
``send`` system calls and two TCP segments for every answer, and a client that wakes up for the
first finds only headers and sleeps again. The protocol here hands uvicorn a transport that keeps a
response head until the next write and sends the two together.

A head is never kept past its own answer: uvicorn calls ``on_response_complete`` once an answer is
finished (after its last body write, or at once for a HEAD request, which has no body), and the
protocol sends a head still held there; closing the connection sends it too (uvicorn closes when an
app returns without finishing its answer). An interim ``100 Continue`` is not held: the client
waits for it before sending its body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

if TYPE_CHECKING:
    import asyncio

__all__ = ["OneWriteHttpToolsProtocol"]

_COPY_AT_MOST = 16 * 1024  # a larger body goes out with its head by writelines, not a copy


class _OneWrite:
    """A transport that sends a response head with the write that follows it.

    Everything but ``write`` and ``close`` passes through to the real transport; the methods
    uvicorn calls on every request are bound here once, not looked up through ``__getattr__``.
    """

    __slots__ = (
        "_head",
        "_transport",
        "get_extra_info",
        "is_closing",
        "pause_reading",
        "resume_reading",
    )

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self.is_closing = transport.is_closing
        self.get_extra_info = transport.get_extra_info
        self.pause_reading = transport.pause_reading
        self.resume_reading = transport.resume_reading

    def write(self, data: bytes | bytearray | memoryview) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if len(data) <= _COPY_AT_MOST:
                self._transport.write(head + data)
            else:
                self._transport.writelines((head, data))
        elif data[:5] == b"HTTP/" and data[9:10] != b"1" and data[-4:] == b"\r\n\r\n":
            self._head = bytes(data)  # a final answer's status line and headers: its body follows
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Send a head still held (its answer is complete without a body write)."""
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a :class:`_OneWrite` transport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_OneWrite(transport))  # type: ignore[arg-type]  # a duck-typed Transport

    def on_response_complete(self) -> None:
        self.transport.flush()  # type: ignore[attr-defined]  # a HEAD answer's head, say
        super().on_response_complete()
