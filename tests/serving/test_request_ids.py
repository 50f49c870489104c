"""Ids the server makes for requests that bring none: unique, unguessable, and never shared by a fork."""

from __future__ import annotations

import os

from slipway.serving._app import _new_request_id


def test_ids_are_128_bit_hex_and_unique_across_blocks_read_from_the_os() -> None:
    ids = [_new_request_id() for _ in range(1000)]  # about four blocks of 256
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_a_forked_process_does_not_draw_the_ids_its_parent_draws_next() -> None:
    _new_request_id()  # the parent now holds part of a block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        try:
            os.write(write, _new_request_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != _new_request_id()
