"""Reading Parquet inputs: hive partitions become columns, and the reader never runs ahead."""

from __future__ import annotations

import io
import uuid
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.batch._batch_data import make_frame

from slipway.batch import score
from slipway.batch._read import open_source

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.models import Model


def test_a_hive_partitioned_parquet_folder_keeps_its_partition_column(model: Model, tmp_path: Path) -> None:
    frame = make_frame(900)
    folder = tmp_path / "in"
    for day, start in enumerate(range(0, 900, 300)):
        (folder / f"day={day}").mkdir(parents=True)
        frame.iloc[start : start + 300].to_parquet(folder / f"day={day}" / "part.parquet", index=False)
    result = score(model, folder, tmp_path / "out.parquet", chunk_rows=250)
    got = pd.read_parquet(tmp_path / "out.parquet")
    assert result.scored == 900
    assert list(got["day"]) == [0] * 300 + [1] * 300 + [2] * 300
    pd.testing.assert_frame_equal(got[["age", "income", "tickets"]], frame)
    assert (got["prediction"] == model.predict(frame)).all()


def test_a_column_missing_from_one_file_is_null_there(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_parquet(folder / "0.parquet", index=False)
    pd.DataFrame({"a": [5.0]}).to_parquet(folder / "1.parquet", index=False)
    tables = list(open_source(folder).chunks(10))
    assert len(tables) == 1
    assert tables[0].to_pydict() == {"a": [1.0, 2.0, 5.0], "b": [3.0, 4.0, None]}


def test_the_reader_holds_about_one_chunk_however_slow_the_consumer(tmp_path: Path) -> None:
    # 40 row groups of 50k rows: a reader that runs ahead of its consumer holds many of them.
    path = tmp_path / "big.parquet"
    frame = pd.concat([make_frame(50_000, seed=i) for i in range(40)], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=50_000)
    chunk_bytes = 50_000 * 3 * 8
    held = 0
    rows = 0
    for table in open_source(path).chunks(50_000):
        held = max(held, pa.total_allocated_bytes())
        rows += table.num_rows
        sum(range(200_000))  # a consumer slower than the reader
    assert rows == 2_000_000
    assert held < 8 * chunk_bytes, f"held {held / 1e6:.0f} MB for {chunk_bytes / 1e6:.1f} MB chunks"


def test_skipped_chunks_are_the_same_rows_as_a_full_read(tmp_path: Path) -> None:
    frame = make_frame(600).assign(note=[f"line {i}\nsecond" if i % 7 == 0 else f"n{i}" for i in range(600)])
    csv, parquet = tmp_path / "csv", tmp_path / "parquet"
    csv.mkdir()
    parquet.mkdir()
    for name, lo, hi in (("a", 0, 250), ("b", 250, 290), ("c", 290, 600)):  # b lies within one chunk
        frame.iloc[lo:hi].to_csv(csv / f"{name}.csv", index=False)
        frame.iloc[lo:hi].to_parquet(parquet / f"{name}.parquet", index=False, row_group_size=70)
    for folder in (csv, parquet):
        source = open_source(folder)
        whole = [_pandas(c) for c in source.chunks(100)]
        assert [len(c) for c in whole] == [100] * 6
        for skip in (1, 3, 5, 6):
            tail = [_pandas(c) for c in source.chunks(100, skip=skip)]
            assert len(tail) == 6 - skip
            for got, want in zip(tail, whole[skip:], strict=True):
                pd.testing.assert_frame_equal(got, want)


def _pandas(chunk: pa.Table | pd.DataFrame) -> pd.DataFrame:
    return chunk.to_pandas() if isinstance(chunk, pa.Table) else chunk


@pytest.mark.parametrize("where", ["local", "memory"])
def test_hidden_and_underscore_paths_are_left_out(model: Model, tmp_path: Path, where: str) -> None:
    from fsspec.core import url_to_fs

    frame = make_frame(300)
    buffers = {"all": frame, "day1": frame.iloc[:200], "day2": frame.iloc[200:]}
    data = {}
    for key, part in buffers.items():
        buffer = io.BytesIO()
        part.to_parquet(buffer, index=False)
        data[key] = buffer.getvalue()
    files = {
        "day=1/part-0.parquet": data["day1"],
        "day=2/part-0.parquet": data["day2"],
        "_temporary/0/day=3/part-0.parquet": data["all"],  # a Spark job still writing
        "day=1/.ipynb_checkpoints/part-0.parquet": data["all"],
        "_SUCCESS": b"",
        ".ipynb_checkpoints/notes.csv": b"x,y\n",
    }
    root = (tmp_path / "in").as_posix() if where == "local" else f"memory://read-{uuid.uuid4().hex}/in"
    fs, base = url_to_fs(root)
    for name, content in files.items():
        fs.makedirs(f"{base}/{name}".rsplit("/", 1)[0], exist_ok=True)
        fs.pipe_file(f"{base}/{name}", content)

    source = open_source(root)
    assert [name for name, *_ in source.fingerprint()] == ["day=1/part-0.parquet", "day=2/part-0.parquet"]
    result = score(model, root, tmp_path / "out.parquet", chunk_rows=128)
    got = pd.read_parquet(tmp_path / "out.parquet")
    assert result.scored == 300
    assert list(got["day"]) == [1] * 200 + [2] * 100
