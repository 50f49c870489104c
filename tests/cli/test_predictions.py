"""`slipway feedback` and `slipway predictions`, and their Python twins, over the project's log."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from tests.cli._cli import cli

import slipway
from slipway.artifacts import open_file_tree
from slipway.config import load_settings
from slipway.predlog import PredictionBatch, PredictionLogWriter

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def logged() -> list[str]:
    """Three predictions of deployment churn in the project's default prediction log."""
    ids = ["a", "b", "c"]
    tree = open_file_tree(load_settings().prediction_log_uri())
    with PredictionLogWriter(tree, deployment="churn") as writer:
        writer.log(
            PredictionBatch(
                request_ids=ids,
                model_name="churn",
                model_version="3",
                variant="primary",
                inputs={"tenure": np.array([1, 5, 9])},
                outputs={"prediction": np.array([0, 1, 1])},
                latency_ms=1.5,
            )
        )
    return ids


def test_labels_from_the_command_line_and_a_file_are_joined_to_the_predictions(
    capsys: pytest.CaptureFixture[str], logged: list[str], tmp_path: Path
) -> None:
    assert cli(capsys, "feedback", "churn", "--request-id", "a", "--label", "1")[:2] == (
        0,
        "recorded 1 label for deployment churn\n",
    )
    (tmp_path / "labels.csv").write_text("request_id,label\nb,0\nc,1\n")
    assert cli(capsys, "feedback", "churn", "--file", str(tmp_path / "labels.csv"))[0] == 0
    frame = slipway.read_predictions("churn")
    assert dict(zip(frame["request_id"], frame["label"], strict=True)) == {"a": 1, "b": 0, "c": 1}
    code, out, _ = cli(capsys, "predictions", "churn")
    assert code == 0
    assert "3 predictions (3 with a label)" in out
    assert "tenure" not in out  # inputs only in the exported file
    code, out, _ = cli(capsys, "predictions", "churn", "-o", str(tmp_path / "p.parquet"))
    import pandas as pd

    exported = pd.read_parquet(tmp_path / "p.parquet")
    assert list(exported["tenure"]) == [1, 5, 9]
    assert list(exported["label"]) == [1, 0, 1]


def test_the_latest_label_wins_and_python_takes_one_or_many(logged: list[str]) -> None:
    assert slipway.log_feedback("churn", "a", 0) == 1
    assert slipway.log_feedback("churn", ["a", "b"], [1, 1]) == 2
    frame = slipway.read_predictions("churn")
    assert dict(zip(frame["request_id"], frame["label"], strict=True))["a"] == 1
    assert slipway.read_predictions("churn", with_feedback=False).columns.tolist().count("label") == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["feedback", "churn", "--label", "1"], "give --request-id and --label"),
        (["feedback", "churn", "--file", "nope.csv"], "nope.csv: no such file"),
        (["feedback", "churn", "--file", "labels.txt"], "expected a .csv or .parquet file"),
        (["feedback", "churn", "--file", "bad.csv"], "missing column 'label'"),
        (["predictions", "churn", "-o", "out.txt"], "expected a .parquet or .csv file name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], logged: list[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    (tmp_path / "labels.txt").write_text("x")
    (tmp_path / "bad.csv").write_text("request_id,lbl\na,1\n")
    code, out, err = cli(capsys, *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.txt").exists()
