"""The transport wrapper that sends a response head with its body: what reaches the socket, write by write."""

from __future__ import annotations

from typing import Any

from slipway.serving._protocol import _OneWrite


class _Socket:
    """Stands for the socket's writes: records each one (the real transport is uvloop's, in e2e tests)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n"


def test_a_head_and_its_body_leave_in_one_write() -> None:
    sock = _Socket()
    t = _OneWrite(sock)  # type: ignore[arg-type]
    t.write(HEAD)
    assert sock.writes == []
    t.write(b"{}")
    t.write(HEAD)
    t.write(b"[]")
    assert sock.writes == [HEAD + b"{}", HEAD + b"[]"]


def test_an_interim_answer_goes_out_at_once_and_a_head_without_body_at_its_answers_end() -> None:
    sock = _Socket()
    t = _OneWrite(sock)  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert sock.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    t.write(HEAD)  # the answer to a HEAD request: no body write follows
    t.flush()  # what the protocol does when uvicorn says the answer is complete
    assert sock.writes[-1] == HEAD
    t.flush()
    assert len(sock.writes) == 2


def test_a_large_body_goes_with_its_head_without_being_copied() -> None:
    class _Lines(_Socket):
        def writelines(self, parts: Any) -> None:
            self.writes.append(b"|".join(parts))

    sock = _Lines()
    t = _OneWrite(sock)  # type: ignore[arg-type]
    body = b"x" * 100_000
    t.write(HEAD)
    t.write(body)
    assert sock.writes == [HEAD + b"|" + body]


def test_closing_sends_a_head_still_held_and_other_calls_pass_through() -> None:
    sock = _Socket()
    t = _OneWrite(sock)  # type: ignore[arg-type]
    t.write(HEAD)
    assert not t.is_closing()
    assert t.get_extra_info("peername") == ("127.0.0.1", 1)
    t.close()
    assert sock.writes == [HEAD]
    assert sock.closed
    assert t.is_closing()
