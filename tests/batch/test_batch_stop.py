"""A job that stops early: its error surfaces, finished writes are recorded, no thread is left."""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING

import pytest
from tests.batch._batch_data import make_frame, recorded, write_csv

from slipway.batch import ScoreProgress, score
from slipway.batch._score import _ahead
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.models import Model


def _threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("slipway-score")]


def _parts(output: Path) -> list[str]:
    return sorted(p.name for p in output.glob("part-*"))


def test_a_reader_error_surfaces_after_the_pieces_read_before_it() -> None:
    def pieces() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("bad file")

    got: list[int] = []
    with pytest.raises(ValueError, match="bad file"):
        got.extend(_ahead(pieces()))
    assert got == [1, 2]
    assert _threads() == []


def test_the_reader_thread_ends_when_the_consumer_stops_early() -> None:
    ahead = _ahead(itertools.count())
    assert [next(ahead), next(ahead)] == [0, 1]
    ahead.close()
    assert _threads() == []


def test_a_refused_row_stops_a_strict_job_after_recording_the_chunks_before_it(
    model: Model, tmp_path: Path
) -> None:
    frame = make_frame(700).astype({"age": object})
    frame.loc[470, "age"] = "old"  # chunk 3
    frame.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.parquet"
    with pytest.raises(InvalidInput, match="row 470"):
        score(model, tmp_path / "in.csv", out, chunk_rows=150, strict=True)
    assert recorded(out) == 3  # chunk 2 was still being written: recorded all the same
    assert _parts(out) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert _threads() == []


def test_an_unreadable_line_surfaces_as_the_jobs_error_and_earlier_chunks_stay(
    model: Model, tmp_path: Path
) -> None:
    # More than twice the header's fields in row 200 (chunk 1): the line cannot be read at all.
    write_csv(tmp_path / "in.csv", make_frame(500), extra={200: ",1,2,3,4,5,6,7"})
    out = tmp_path / "out.parquet"
    with pytest.raises(InvalidInput, match=r"in.csv: cannot read it \(.*Expected 6 fields"):
        score(model, tmp_path / "in.csv", out, chunk_rows=150)
    assert recorded(out) == 1
    assert _parts(out) == ["part-00000.parquet"]
    assert _threads() == []


def test_a_failed_write_surfaces_and_nothing_after_it_isrecorded(model: Model, tmp_path: Path) -> None:
    make_frame(600).to_parquet(tmp_path / "in.parquet", row_group_size=100)
    out = tmp_path / "out.parquet"

    def block_part_1(p: ScoreProgress) -> None:
        if p.chunk == -1:  # the job is open: a folder now stands where part 1 must go
            (out / "part-00001.parquet" / "in-the-way").mkdir(parents=True)

    with pytest.raises(OSError, match=r"part-00001\.parquet"):
        score(model, tmp_path / "in.parquet", out, chunk_rows=100, progress=block_part_1)
    assert recorded(out) == 1
    assert _threads() == []


def test_a_worker_that_dies_fails_the_job_in_one_line_and_it_resumes(model: Model, tmp_path: Path) -> None:
    import multiprocessing
    import os
    import signal

    from slipway.batch import score_distributed
    from slipway.engines import LocalEngine

    make_frame(2_000).to_parquet(tmp_path / "in.parquet", row_group_size=100)
    out = tmp_path / "out.parquet"

    before = {child.pid for child in multiprocessing.active_children()}

    def kill_workers(p: ScoreProgress) -> None:
        if p.chunk == 0:  # as `kill -9` would, while the next chunks are being scored
            for child in multiprocessing.active_children():
                if child.pid not in before:  # the engine's worker, started by this job
                    os.kill(child.pid or 0, signal.SIGKILL)

    with LocalEngine(1) as engine, pytest.raises(InvalidInput) as info:
        score_distributed(
            model, tmp_path / "in.parquet", out, engine=engine, chunk_rows=100, progress=kill_workers
        )
    message = str(info.value)
    assert "in.parquet: a worker died or was lost while scoring chunk " in message
    assert "BrokenProcessPool" in message
    assert "\n" not in message
    done = recorded(out)
    assert done >= 1
    resumed = score(model, tmp_path / "in.parquet", out, chunk_rows=100)
    assert (resumed.resumed_from, resumed.rows) == (done, 2_000)
