"""score_distributed on a real 2-worker Dask LocalCluster and on LocalEngine: score()'s job, same files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.batch._batch_data import make_frame, recorded, write_csv

from slipway.artifacts import open_file_tree
from slipway.batch import ScoreProgress, score, score_distributed
from slipway.batch._distributed import _parquet_tasks
from slipway.batch._read import open_source
from slipway.engines import DaskEngine, LocalEngine
from slipway.errors import InvalidInput
from slipway.predlog import read_predictions

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.models import Model

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask() -> Iterator[DaskEngine]:
    with DaskEngine.start(2) as engine:
        yield engine


class Stop(Exception):
    """Stands for a crash: raised from the progress callback after a given chunk."""


def _partitioned(folder: Path, rows: int) -> pd.DataFrame:
    """A hive-partitioned folder whose row groups (1,000 rows) straddle the 300-row chunks."""
    frame = make_frame(rows)
    for day, start in enumerate(range(0, rows, 1_300)):
        (folder / f"day={day}").mkdir(parents=True)
        frame.iloc[start : start + 1_300].to_parquet(
            folder / f"day={day}" / "x.parquet", row_group_size=1_000
        )
    return frame


def _same_files(got: Path, want: Path) -> None:
    got_parts = sorted(p.name for p in got.glob("part-*"))
    assert got_parts == sorted(p.name for p in want.glob("part-*"))
    for name in got_parts:
        assert pq.read_table(got / name).equals(pq.read_table(want / name), check_metadata=True)


def test_parquet_on_dask_writes_what_score_writes_and_logs_every_row(
    dask: DaskEngine, model: Model, tmp_path: Path
) -> None:
    _partitioned(tmp_path / "in", 3_000)
    tree = open_file_tree(str(tmp_path / "log"))
    score(model, tmp_path / "in", tmp_path / "local.parquet", chunk_rows=300)
    seen: list[ScoreProgress] = []
    got = score_distributed(
        model,
        tmp_path / "in",
        tmp_path / "dask.parquet",
        engine=dask,
        chunk_rows=300,
        log=tree,
        model_name="churn",
        progress=seen.append,
    )
    _same_files(tmp_path / "dask.parquet", tmp_path / "local.parquet")
    assert "day" in pq.read_table(tmp_path / "dask.parquet").column_names  # the hive partition kept
    assert (got.rows, got.scored, got.rejected, got.chunks, got.rejects) == (3_000, 3_000, 0, 10, None)
    assert [p.chunk for p in seen] == list(range(-1, 10))
    assert seen[-1].rows == seen[-1].total_rows == 3_000
    assert got.logged == 3_000
    logged = read_predictions(tree, deployment="churn", variant="batch")
    assert sorted(logged["request_id"]) == sorted(f"{got.job}-{i}" for i in range(3_000))


def test_csv_rejects_and_strict_match_score(dask: DaskEngine, model: Model, tmp_path: Path) -> None:
    frame = make_frame(1_000).astype({"age": object})
    frame.loc[[5, 720], "age"] = "bad"
    frame.loc[[333], "age"] = None
    frame.to_csv(tmp_path / "in.csv", index=False)
    want = score(model, tmp_path / "in.csv", tmp_path / "local.csv", chunk_rows=150)
    got = score_distributed(model, tmp_path / "in.csv", tmp_path / "dask.csv", engine=dask, chunk_rows=150)
    assert (got.scored, got.rejected, got.chunks) == (997, 3, 7)
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()
    assert got.rejects == tmp_path / "dask.rejects.csv"
    assert want.rejects == tmp_path / "local.rejects.csv"
    assert got.rejects.read_bytes() == want.rejects.read_bytes()
    assert list(pd.read_csv(got.rejects)["row"]) == [5, 333, 720]

    with pytest.raises(InvalidInput, match=r"in.csv: row 5: column 'age': expected int64, got bad"):
        score_distributed(
            model, tmp_path / "in.csv", tmp_path / "strict.parquet", engine=dask, chunk_rows=150, strict=True
        )


def test_an_interrupted_job_resumes_without_redoing_finished_parts(
    dask: DaskEngine, model: Model, tmp_path: Path
) -> None:
    make_frame(2_000).to_parquet(tmp_path / "in.parquet", row_group_size=250)
    score(model, tmp_path / "in.parquet", tmp_path / "whole.parquet", chunk_rows=250)

    def stop_after_2(p: ScoreProgress) -> None:
        if p.chunk == 2:
            raise Stop

    target = tmp_path / "out.parquet"
    with pytest.raises(Stop):
        score_distributed(
            model, tmp_path / "in.parquet", target, engine=dask, chunk_rows=250, progress=stop_after_2
        )
    kept = {p.name: p.stat().st_mtime_ns for p in sorted(target.glob("part-*"))[:3]}
    assert sorted(kept) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    result = score_distributed(model, tmp_path / "in.parquet", target, engine=dask, chunk_rows=250)
    assert result.resumed_from >= 3  # and any chunk finished before the job stopped
    assert (result.rows, result.scored, result.chunks) == (2_000, 2_000, 8)
    assert {name: (target / name).stat().st_mtime_ns for name in kept} == kept
    _same_files(target, tmp_path / "whole.parquet")
    again = score(model, tmp_path / "in.parquet", target, chunk_rows=250)  # the same job, done
    assert (again.resumed_from, again.chunks, again.job) == (8, 8, result.job)


def test_local_engine_scores_the_same_and_workers_keep_the_model_loaded(
    dask: DaskEngine, model: Model, tmp_path: Path
) -> None:
    make_frame(1_200).to_parquet(tmp_path / "in.parquet", row_group_size=200)
    score(model, tmp_path / "in.parquet", tmp_path / "local.parquet", chunk_rows=200)
    with LocalEngine(2) as local:
        got = score_distributed(
            model, tmp_path / "in.parquet", tmp_path / "pool.parquet", engine=local, chunk_rows=200
        )
    assert got.chunks == 6
    _same_files(tmp_path / "pool.parquet", tmp_path / "local.parquet")

    first = score_distributed(
        model, tmp_path / "in.parquet", tmp_path / "a.parquet", engine=dask, chunk_rows=200
    )
    before = dask.client.run(_loaded)
    score_distributed(model, tmp_path / "in.parquet", tmp_path / "b.parquet", engine=dask, chunk_rows=200)
    after = dask.client.run(_loaded)
    assert first.chunks == 6
    assert after == before  # the same model objects: loaded once per worker, not per task or job
    assert all(len(models) <= 1 for models in after.values())


def _loaded() -> list[int]:
    from slipway.batch import _distributed

    return [id(m) for m in _distributed._models.values()]


@pytest.mark.parametrize(
    ("row_group", "tasks"),
    [
        (1_000, [(0, 0, 1_200), (4, 200, 900), (7, 100, 245)]),  # big row groups: decoded once each
        (100, [(i, 0, min(300, 2_345 - 300 * i)) for i in range(8)]),  # small ones: a task per chunk
    ],
)
def test_parquet_tasks_follow_row_groups(
    tmp_path: Path, row_group: int, tasks: list[tuple[int, int, int]]
) -> None:
    make_frame(2_345).to_parquet(tmp_path / "in.parquet", row_group_size=row_group)
    planned = _parquet_tasks(open_source(tmp_path / "in.parquet"), 300, 0)
    assert [(first, span.skip, span.take) for first, span in planned] == tasks


@pytest.mark.s3
@pytest.mark.usefixtures("aws_env")
def test_object_storage_in_and_out_with_workers_reading_their_own_row_groups(
    model: Model, s3_endpoint: str, s3_prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)  # the workers start after this: they see it
    frame = make_frame(1_000)
    frame.to_parquet(tmp_path / "in.parquet", row_group_size=250)
    parent, _, name = f"{s3_prefix}/in/day=1/x.parquet".rpartition("/")
    open_file_tree(parent).write_atomic(name, (tmp_path / "in.parquet").read_bytes())
    score(model, f"{s3_prefix}/in", tmp_path / "local.parquet", chunk_rows=250)

    with LocalEngine(2) as engine:
        got = score_distributed(model, f"{s3_prefix}/in", f"{s3_prefix}/out", engine=engine, chunk_rows=250)
    assert (got.scored, got.chunks, got.output) == (1_000, 4, f"{s3_prefix}/out")
    tree = open_file_tree(f"{s3_prefix}/out")
    assert tree.list() == [f"part-{i:05d}.parquet" for i in range(4)]
    for part in tree.list():
        assert pq.read_table(tree.open(part)).equals(pq.read_table(tmp_path / "local.parquet" / part))


def test_a_csv_that_turns_unreadable_keeps_the_chunks_sent_before(
    dask: DaskEngine, model: Model, tmp_path: Path
) -> None:
    # More than twice the header's fields in row 500 (chunk 3): the line cannot be read at all.
    write_csv(tmp_path / "in.csv", make_frame(800), extra={500: ",1,2,3,4,5,6,7"})
    out = tmp_path / "out.parquet"
    with pytest.raises(InvalidInput, match=r"in.csv: cannot read it"):
        score_distributed(model, tmp_path / "in.csv", out, engine=dask, chunk_rows=150)
    assert recorded(out) == 3  # the chunks sent before the bad line, not lost with it
    assert sorted(p.name for p in out.glob("part-*")) == [f"part-{i:05d}.parquet" for i in range(3)]
