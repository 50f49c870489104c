"""Real processes: several writers into one folder, a killed writer, a forked writer."""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from tests.predlog._helpers import batch, write_rows

from slipway.artifacts import open_file_tree
from slipway.predlog import PredictionLogWriter, read_predictions

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.artifacts import FileTree

WORKERS = 4
BATCHES = 40
ROWS = 25


@pytest.mark.slow
def test_writers_in_separate_processes_share_a_folder_without_collisions(tmp_path: Path) -> None:
    uri = str(tmp_path / "predlog")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=write_rows, args=(uri, w, BATCHES, ROWS)) for w in range(WORKERS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
        assert w.exitcode == 0

    tree = open_file_tree(uri)
    frame = read_predictions(tree, deployment="shared")
    expected = {f"w{w}-{i}" for w in range(WORKERS) for i in range(BATCHES * ROWS)}
    assert len(frame) == len(expected)  # every row once: no part overwrote another
    assert set(frame["request_id"]) == expected
    parts = tree.list()
    assert len({p.rsplit("-", 2)[1] for p in parts}) == WORKERS  # each part names its process


_CRASHING_WRITER = """
import os, sys, time
sys.path[:0] = {path!r}
from slipway.artifacts import open_file_tree
from slipway.predlog import PredictionLogWriter
from tests.predlog._helpers import batch

writer = PredictionLogWriter(open_file_tree({uri!r}), deployment="d", flush_interval=0.2)
writer.log(batch(["before-1", "before-2"]))
time.sleep(1.0)  # several flush intervals: these rows are on disk by now
writer.log(batch(["after"]))
os._exit(9)  # killed: no close(), no atexit
"""


def test_a_killed_writer_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    uri = str(tmp_path / "predlog")
    code = textwrap.dedent(_CRASHING_WRITER).format(path=sys.path, uri=uri)

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)

    assert result.returncode == 9, result.stderr
    ids = set(read_predictions(open_file_tree(uri))["request_id"])
    assert {"before-1", "before-2"} <= ids
    assert ids <= {"before-1", "before-2", "after"}


_EXITING_WRITER = """
import sys
sys.path[:0] = {path!r}
from slipway.artifacts import open_file_tree
from slipway.predlog import PredictionLogWriter
from tests.predlog._helpers import batch

writer = PredictionLogWriter(open_file_tree({uri!r}), deployment="d", flush_interval=3600)
writer.log(batch(["a", "b"]))
# never closed: interpreter exit closes it
"""


def test_an_unclosed_writer_is_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    uri = str(tmp_path / "predlog")
    code = textwrap.dedent(_EXITING_WRITER).format(path=sys.path, uri=uri)

    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

    assert read_predictions(open_file_tree(uri))["request_id"].tolist() == ["a", "b"]


def _log_in_child(writer: PredictionLogWriter) -> None:
    writer.log(batch(["child"]))  # the child leaves through os._exit: its finalizer flushes


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_a_forked_child_writes_its_own_rows_and_not_its_parents(tree: FileTree) -> None:
    writer = PredictionLogWriter(tree, deployment="d", flush_interval=3600)
    writer.log(batch(["parent-before"]))  # buffered at fork time: written once, by the parent
    child = multiprocessing.get_context("fork").Process(target=_log_in_child, args=(writer,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    writer.log(batch(["parent-after"]))
    writer.close()

    ids = read_predictions(tree)["request_id"].tolist()
    assert sorted(ids) == ["child", "parent-after", "parent-before"]
