"""Object storage in and out: the same job over s3:// (a real moto server) and memory:// URLs."""

from __future__ import annotations

import io
import uuid
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.batch._batch_data import make_frame

from slipway.artifacts import open_file_tree
from slipway.batch import ScoreProgress, score
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.models import Model


def _put_parquet(url: str, frame: pd.DataFrame) -> None:
    parent, _, name = url.rpartition("/")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, row_group_size=250)
    open_file_tree(parent).write_atomic(name, buffer.getvalue())


def _read_parts(url: str) -> pd.DataFrame:
    tree = open_file_tree(url)
    parts = [pq.read_table(tree.open(name)).to_pandas() for name in tree.list()]
    frame: pd.DataFrame = pd.concat(parts, ignore_index=True)
    return frame


def test_memory_urls_in_and_out_resume_after_an_interruption(model: Model) -> None:
    root = f"memory://batch-{uuid.uuid4().hex}"
    frame = make_frame(1_000)
    for day, start in enumerate(range(0, 1_000, 500)):
        _put_parquet(f"{root}/in/day={day}/part.parquet", frame.iloc[start : start + 500])

    def stop_after_two(p: ScoreProgress) -> None:
        if p.chunk == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score(model, f"{root}/in", f"{root}/out", chunk_rows=300, progress=stop_after_two)
    assert {"part-00000.parquet", "part-00001.parquet"} <= set(open_file_tree(f"{root}/out").list())
    result = score(model, f"{root}/in", f"{root}/out", chunk_rows=300)
    assert result.resumed_from == 3  # chunk 2, being written when the job stopped, was recorded
    assert (result.scored, result.chunks) == (1_000, 4)
    assert result.output == f"{root}/out"
    got = _read_parts(f"{root}/out")
    assert list(got["day"]) == [0] * 500 + [1] * 500
    pd.testing.assert_frame_equal(got[["age", "income", "tickets"]], frame)
    assert (got["prediction"] == model.predict(frame)).all()
    assert open_file_tree(root).list() == sorted(
        [f"in/day={d}/part.parquet" for d in (0, 1)]
        + [f"out/part-{i:05d}.parquet" for i in range(4)]
        + ["out.progress.json"]
    )


def test_csv_output_to_object_storage_is_refused_in_one_line(model: Model) -> None:
    root = f"memory://batch-{uuid.uuid4().hex}"
    _put_parquet(f"{root}/in.parquet", make_frame(10))
    with pytest.raises(InvalidInput, match=r"out\.csv: CSV output must be a local file"):
        score(model, f"{root}/in.parquet", f"{root}/out.csv")
    with pytest.raises(InvalidInput, match=r"missing\.parquet: no such file or folder"):
        score(model, f"{root}/missing.parquet", f"{root}/out")


@pytest.mark.s3
@pytest.mark.usefixtures("aws_env")
def test_s3_in_and_out_with_rejects(
    model: Model, s3_endpoint: str, s3_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)  # how a user points at MinIO or moto
    frame = make_frame(600).astype({"age": object})
    frame.loc[[5, 400], "age"] = ["old", "young"]
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False)
    parent, _, name = f"{s3_prefix}/in.csv".rpartition("/")
    open_file_tree(parent).write_atomic(name, buffer.getvalue())

    result = score(model, f"{s3_prefix}/in.csv", f"{s3_prefix}/scored", chunk_rows=250)

    assert (result.scored, result.rejected) == (598, 2)
    assert result.rejects == f"{s3_prefix}/scored.rejects"
    got = _read_parts(f"{s3_prefix}/scored")
    good = make_frame(600).drop(index=[5, 400]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["age", "income", "tickets"]], good)
    rejects = _read_parts(f"{s3_prefix}/scored.rejects")
    assert list(rejects["row"]) == [5, 400]
    assert rejects["reason"].str.contains("column 'age': expected int64").all()
    again = score(model, f"{s3_prefix}/in.csv", f"{s3_prefix}/scored", chunk_rows=250)
    assert again.resumed_from == 3  # finished: nothing redone


@pytest.mark.s3
@pytest.mark.usefixtures("aws_env")
def test_a_missing_bucket_and_missing_credentials_are_one_line_errors(
    model: Model, s3_endpoint: str, s3_prefix: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    make_frame(10).to_parquet(tmp_path / "in.parquet")
    nobucket = f"s3://nobucket-{uuid.uuid4().hex[:8]}"
    with pytest.raises(InvalidInput, match=rf"{nobucket}/out.progress.json: cannot write: .*bucket") as info:
        score(model, tmp_path / "in.parquet", f"{nobucket}/out")
    assert "\n" not in str(info.value)
    with pytest.raises(InvalidInput, match=rf"{nobucket}/in.parquet: no such file or folder"):
        score(model, f"{nobucket}/in.parquet", tmp_path / "out")

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()  # the cached filesystem still holds the credentials
    with pytest.raises(InvalidInput, match=rf"{s3_prefix}/in.parquet: cannot read: no usable credentials"):
        score(model, f"{s3_prefix}/in.parquet", tmp_path / "out")
    with pytest.raises(InvalidInput, match=rf"{s3_prefix}/out: cannot list: no usable credentials"):
        score(model, tmp_path / "in.parquet", f"{s3_prefix}/out")
