"""score(): outputs equal one predict over the whole frame, chunks are bounded, bad rows rejected."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.batch._batch_data import make_frame, write_csv

from slipway.artifacts import open_file_tree
from slipway.batch import ScoreProgress, score
from slipway.errors import Conflict, InvalidInput
from slipway.predlog import read_predictions

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.models import Model


def _expected(model: Model, frame: pd.DataFrame) -> pd.DataFrame:
    proba = model.predict_proba(frame)
    expected: pd.DataFrame = frame.assign(
        prediction=model.predict(frame), proba_churn=proba[:, 0], proba_stay=proba[:, 1]
    )
    return expected


def test_parquet_output_equals_one_predict_in_bounded_parts(model: Model, tmp_path: Path) -> None:
    frame = make_frame(2_345)
    frame.to_parquet(tmp_path / "in.parquet", row_group_size=1_000)
    seen: list[ScoreProgress] = []
    result = score(
        model, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=500, progress=seen.append
    )
    parts = sorted((tmp_path / "out.parquet").glob("part-*.parquet"))
    assert [p.name for p in parts] == [f"part-{i:05d}.parquet" for i in range(5)]
    assert [pq.read_metadata(p).num_rows for p in parts] == [500, 500, 500, 500, 345]
    got = pd.read_parquet(tmp_path / "out.parquet")
    pd.testing.assert_frame_equal(got, _expected(model, frame))
    assert (result.rows, result.scored, result.rejected, result.chunks) == (2_345, 2_345, 0, 5)
    assert result.rejects is None
    assert [p.chunk for p in seen] == [-1, 0, 1, 2, 3, 4]
    assert seen[-1].rows == seen[-1].total_rows == 2_345


def test_csv_in_csv_out_and_a_partitioned_folder(model: Model, tmp_path: Path) -> None:
    frame = make_frame(1_000)
    folder = tmp_path / "in"
    for i, start in enumerate(range(0, 1_000, 300)):
        (folder / f"day={i}").mkdir(parents=True)
        frame.iloc[start : start + 300].to_csv(folder / f"day={i}" / "data.csv", index=False)
    score(model, folder, tmp_path / "out.csv", chunk_rows=256)
    got = pd.read_csv(tmp_path / "out.csv")
    want = _expected(model, frame)
    pd.testing.assert_frame_equal(got.drop(columns="prediction"), want.drop(columns="prediction"))
    assert (got["prediction"] == want["prediction"]).all()
    assert not list(tmp_path.glob(".out.csv.parts"))


def test_bad_rows_go_to_rejects_with_the_reason(model: Model, tmp_path: Path) -> None:
    frame = make_frame(600).astype({"age": object, "income": object})
    frame.loc[[3, 450], "age"] = ["old", 41.5]
    frame.loc[[7], "income"] = ["unknown"]
    frame.loc[[10], "age"] = None
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = score(model, tmp_path / "in.csv", tmp_path / "out.parquet", chunk_rows=200)
    assert (result.scored, result.rejected) == (596, 4)
    assert result.rejects == tmp_path / "out.rejects.parquet"
    rejects = pd.read_parquet(result.rejects).set_index("row")
    assert list(rejects.index) == [3, 7, 10, 450]
    assert rejects.loc[3, "reason"] == "column 'age': expected int64, got old"
    assert rejects.loc[450, "reason"] == "column 'age': expected int64, got 41.5"
    assert rejects.loc[7, "reason"] == "column 'income': expected float64, got unknown"
    assert rejects.loc[10, "reason"] == "column 'age': expected int64, got a missing value"
    good = make_frame(600).drop(index=[3, 7, 10, 450]).reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), _expected(model, good))


def test_a_missing_column_rejects_every_row_and_strict_names_row_and_column(
    model: Model, tmp_path: Path
) -> None:
    make_frame(50).drop(columns="tickets").to_parquet(tmp_path / "in.parquet")
    result = score(model, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=20)
    assert (result.scored, result.rejected) == (0, 50)
    reasons = pd.read_parquet(tmp_path / "out.rejects.parquet")["reason"]
    assert set(reasons) == {"column 'tickets' is missing (expected int64)"}

    frame = make_frame(50).astype({"income": object})
    frame.loc[33, "income"] = "lots"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InvalidInput, match=r"bad.csv: row 33: column 'income': expected float64, got lots"):
        score(model, tmp_path / "bad.csv", tmp_path / "strict.parquet", chunk_rows=20, strict=True)


def test_prediction_log_rows_have_variant_batch_and_job_row_ids(model: Model, tmp_path: Path) -> None:
    frame = make_frame(300)
    frame.to_parquet(tmp_path / "in.parquet")
    tree = open_file_tree(str(tmp_path / "log"))
    result = score(
        model,
        tmp_path / "in.parquet",
        tmp_path / "out.parquet",
        chunk_rows=128,
        log=tree,
        model_name="churn",
        model_version=3,
    )
    assert result.logged == 300
    logged = read_predictions(tree, deployment="churn", variant="batch").sort_values("request_id")
    assert len(logged) == 300
    assert set(logged["model_version"]) == {"3"}
    rows = logged["request_id"].str.removeprefix(f"{result.job}-").astype(int)
    assert sorted(rows) == list(range(300))
    by_row = logged.assign(row=rows).set_index("row").sort_index()
    np.testing.assert_array_equal(by_row["prediction"].to_numpy(), model.predict(frame))
    np.testing.assert_array_equal(by_row["age"].to_numpy(), frame["age"].to_numpy())


def test_an_output_that_is_not_this_jobs_is_never_overwritten(model: Model, tmp_path: Path) -> None:
    make_frame(10).to_parquet(tmp_path / "in.parquet")
    (tmp_path / "out.csv").write_text("someone else's\n")
    with pytest.raises(Conflict, match=r"out.csv exists and is not an earlier run of this job"):
        score(model, tmp_path / "in.parquet", tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text() == "someone else's\n"


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.parquet", "no such file"), ("data.txt", "expected a .csv or .parquet file")],
)
def test_bad_input_paths_are_one_line_errors(model: Model, tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "data.txt").write_text("x")
    with pytest.raises(InvalidInput, match=message):
        score(model, tmp_path / name, tmp_path / "out.parquet")


def test_csv_columns_whose_type_changes_between_chunks_give_parts_of_one_schema(
    model: Model, tmp_path: Path
) -> None:
    frame = make_frame(400).astype({"age": object}).assign(note=[None] * 200 + ["text"] * 200)
    frame.loc[[10], "age"] = "old"  # rejects: age is text in chunk 0, a number in chunk 1
    frame.loc[[300], "age"] = None
    frame.to_csv(tmp_path / "in.csv", index=False)
    result = score(model, tmp_path / "in.csv", tmp_path / "out.parquet", chunk_rows=200)

    assert (result.scored, result.rejected) == (398, 2)
    got = pd.read_parquet(tmp_path / "out.parquet")  # every part has the same schema
    assert got["note"].isna().sum() == 199
    assert (got["note"].iloc[199:] == "text").all()
    assert got["age"].dtype == "int64"
    rejects = pd.read_parquet(tmp_path / "out.rejects.parquet")
    assert list(rejects["row"]) == [10, 300]
    assert list(rejects["age"].fillna("")) == ["old", ""]


@pytest.mark.parametrize("first", [False, True])
def test_malformed_csv_lines_go_to_rejects_and_strict_names_them(
    model: Model, tmp_path: Path, first: bool
) -> None:
    frame = make_frame(500)
    bad = [0, 301] if first else [301]  # line 0 of the data would become an index in pandas
    write_csv(tmp_path / "in.csv", frame, extra={**dict.fromkeys(bad, ",7,8"), 420: ",9"})
    result = score(model, tmp_path / "in.csv", tmp_path / "out.parquet", chunk_rows=150)

    refused = sorted([*bad, 420])
    assert (result.scored, result.rejected) == (500 - len(refused), len(refused))
    rejects = pd.read_parquet(tmp_path / "out.rejects.parquet")
    assert list(rejects["row"]) == refused
    assert set(rejects.columns) == {"age", "income", "tickets", "row", "reason"}
    assert rejects.set_index("row").loc[301, "reason"] == "expected 3 fields, saw 5"
    assert rejects.set_index("row").loc[420, "reason"] == "expected 3 fields, saw 4"
    good = frame.drop(index=refused).reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), _expected(model, good))

    with pytest.raises(InvalidInput, match=rf"in.csv: row {refused[0]}: expected 3 fields, saw 5"):
        score(model, tmp_path / "in.csv", tmp_path / "strict.parquet", chunk_rows=150, strict=True)

    def stop(p: ScoreProgress) -> None:
        if p.chunk == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # a resume skips into the middle of the malformed file
        score(model, tmp_path / "in.csv", tmp_path / "again.parquet", chunk_rows=150, progress=stop)
    resumed = score(model, tmp_path / "in.csv", tmp_path / "again.parquet", chunk_rows=150)
    assert resumed.resumed_from >= 2
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "again.parquet"), _expected(model, good))


@pytest.mark.parametrize("out_name", ["out.csv", "out.parquet"])
def test_a_job_scoring_no_row_still_writes_its_output(model: Model, tmp_path: Path, out_name: str) -> None:
    make_frame(0).to_csv(tmp_path / "header-only.csv", index=False)
    make_frame(30).astype({"age": object}).assign(age="old").to_parquet(tmp_path / "refused.parquet")
    read = pd.read_csv if out_name.endswith(".csv") else pd.read_parquet
    want = _expected(model, make_frame(5))
    for name in ("header-only.csv", "refused.parquet"):
        target = tmp_path / name.split(".")[0] / out_name
        result = score(model, tmp_path / name, target, chunk_rows=20)
        assert result.scored == 0
        got = read(result.output)
        assert (len(got), list(got.columns)) == (0, list(want.columns))
        if out_name.endswith(".parquet"):  # the outputs typed as when rows are scored
            outputs = ["prediction", "proba_churn", "proba_stay"]
            assert list(got.dtypes[outputs]) == list(want.dtypes[outputs])
        again = score(model, tmp_path / name, target, chunk_rows=20)
        assert again.resumed_from == again.chunks  # complete, with its empty output


def test_rows_the_prediction_log_cannot_take_are_counted_not_lost_silently(
    model: Model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("slipway.batch._log._LOG_WAIT", 0.2)  # seconds, not the minute a job waits
    monkeypatch.setattr("slipway.batch._log._LOG_CLOSE", 0.3)
    make_frame(500).to_parquet(tmp_path / "in.parquet")
    (tmp_path / "file").write_text("a file where the log's folder should be")
    broken = open_file_tree(str(tmp_path / "file" / "log"))
    result = score(model, tmp_path / "in.parquet", tmp_path / "out.parquet", chunk_rows=100, log=broken)
    assert (result.scored, result.logged, result.log_dropped) == (500, 0, 500)
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == 500
