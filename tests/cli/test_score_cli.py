"""`slipway score` end to end: a registered model over a Parquet file, into the project's log."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from tests.batch._batch_data import make_frame
from tests.cli._cli import cli

import slipway
from slipway.models import save_model

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def registered(tmp_path: Path) -> Path:
    """Version 1 of model churn (a real LogisticRegression), and its folder."""
    from sklearn.linear_model import LogisticRegression

    train = make_frame(300, seed=1)
    clf = LogisticRegression(max_iter=500).fit(train, (train["tickets"] > 4).astype("int64"))
    folder = tmp_path / "churn-model"
    save_model(clf, folder, input_example=train.head(5), reference_rows=0)
    slipway.register_model(folder, "churn")
    return folder


def test_score_a_registered_model_into_parts_rejects_and_the_log(
    capsys: pytest.CaptureFixture[str], registered: Path, tmp_path: Path
) -> None:
    frame = make_frame(1_000).astype({"tickets": object})
    frame.loc[17, "tickets"] = "many"
    frame.to_csv(tmp_path / "in.csv", index=False)
    code, out, err = cli(
        capsys,
        "score",
        "models:/churn/1",
        "--input",
        str(tmp_path / "in.csv"),
        "--output",
        str(tmp_path / "scored.parquet"),
        "--chunk-rows",
        "300",
    )
    assert code == 0, err
    assert "scored 999 rows to" in out
    assert "rejected 1 rows to" in out
    assert "logged 999 rows as deployment churn, variant batch" in out
    scored = pd.read_parquet(tmp_path / "scored.parquet")
    good = make_frame(1_000).drop(index=17).reset_index(drop=True)
    model = slipway.load_model(registered)
    np.testing.assert_array_equal(scored["prediction"].to_numpy(), model.predict(good))
    assert list(scored.columns) == ["age", "income", "tickets", "prediction", "proba_0", "proba_1"]
    rejects = pd.read_parquet(tmp_path / "scored.rejects.parquet")
    assert rejects[["row", "reason"]].to_dict("records") == [
        {"row": 17, "reason": "column 'tickets': expected int64, got many"}
    ]
    logged = slipway.read_predictions("churn")
    assert len(logged) == 999
    assert set(logged["variant"]) == {"batch"}
    assert set(logged["model_version"]) == {"1"}


def test_no_log_and_a_rerun_of_a_finished_job(
    capsys: pytest.CaptureFixture[str], registered: Path, tmp_path: Path
) -> None:
    make_frame(50).to_parquet(tmp_path / "in.parquet")
    argv = (
        "score",
        str(registered),
        "-i",
        str(tmp_path / "in.parquet"),
        "-o",
        str(tmp_path / "out.csv"),
        "--no-log",
    )
    assert cli(capsys, *argv)[0] == 0
    code, out, _ = cli(capsys, *argv)
    assert code == 0
    assert "scored 50 rows" in out
    assert "logged" not in out
    assert len(pd.read_csv(tmp_path / "out.csv")) == 50


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models:/nope/1", "-i", "{in}", "-o", "{tmp}/o.parquet"), "nope"),
        (("{model}", "-i", "{tmp}/missing.parquet", "-o", "{tmp}/o.parquet"), "no such file"),
        (("{model}", "-i", "{bad}", "-o", "{tmp}/o.parquet", "--strict"), "row 3: column 'age'"),
        (("{model}", "-i", "{in}", "-o", "{tmp}/taken.csv"), "is not an earlier run of this job"),
    ],
)
def test_bad_input_is_exit_2_and_one_line(
    capsys: pytest.CaptureFixture[str], registered: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    make_frame(20).to_parquet(tmp_path / "in.parquet")
    bad = make_frame(20).astype({"age": object})
    bad.loc[3, "age"] = "x"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    (tmp_path / "taken.csv").write_text("a,b\n")
    values = {
        "in": tmp_path / "in.parquet",
        "tmp": tmp_path,
        "model": registered,
        "bad": tmp_path / "bad.csv",
    }
    code, _, err = cli(capsys, "score", *(a.format(**values) for a in args))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_rows_the_prediction_log_could_not_take_are_a_warning_on_stderr(
    capsys: pytest.CaptureFixture[str], registered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("slipway.batch._log._LOG_WAIT", 0.2)  # seconds, not the minute a job waits
    monkeypatch.setattr("slipway.batch._log._LOG_CLOSE", 0.3)
    (tmp_path / "file").write_text("a file where the log's folder should be")
    monkeypatch.setenv("SLIPWAY_PREDLOG_URI", str(tmp_path / "file" / "log"))
    make_frame(50).to_parquet(tmp_path / "in.parquet")
    code, out, err = cli(capsys, "score", str(registered), "-i", str(tmp_path / "in.parquet"), "-o", "o")
    assert code == 0, err
    assert "scored 50 rows" in out
    assert "logged 0 rows" in out
    assert "warning: 50 scored rows are not in the prediction log" in err


def test_a_resumed_job_reports_the_rate_of_this_run_on_a_clean_stdout(
    capsys: pytest.CaptureFixture[str], registered: Path, tmp_path: Path
) -> None:
    from slipway.batch import ScoreProgress, score

    make_frame(1_000).to_parquet(tmp_path / "in.parquet", row_group_size=200)

    def stop(p: ScoreProgress) -> None:
        if p.chunk == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score(
            slipway.load_model(registered),
            tmp_path / "in.parquet",
            tmp_path / "o",
            chunk_rows=200,
            progress=stop,
        )
    argv = ("score", str(registered), "-i", str(tmp_path / "in.parquet"), "-o", str(tmp_path / "o"))
    code, out, err = cli(capsys, *argv, "--chunk-rows", "200", "--no-log")
    assert code == 0, err
    assert out.startswith("scored 1000 rows to ")  # no progress bar, no blank line on stdout
    assert "resumed at chunk 4: 200 rows at " in out  # chunk 3 was being written when it stopped
    code, out, err = cli(capsys, *argv, "--chunk-rows", "200", "--no-log")
    assert "(finished before; nothing to do)" in out
