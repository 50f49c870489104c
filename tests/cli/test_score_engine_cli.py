"""`slipway score --engine`: a real Dask LocalCluster scores what the in-process job scores."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from tests.batch._batch_data import make_frame
from tests.cli._cli import cli

from slipway.models import save_model

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("distributed")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    from sklearn.linear_model import LogisticRegression

    train = make_frame(300, seed=1)
    clf = LogisticRegression(max_iter=500).fit(train, (train["tickets"] > 4).astype("int64"))
    save_model(clf, tmp_path / "churn", input_example=train.head(5), reference_rows=0)
    return tmp_path / "churn"


def test_engine_dask_writes_what_the_in_process_job_writes(
    capsys: pytest.CaptureFixture[str], model_dir: Path, tmp_path: Path
) -> None:
    make_frame(1_000).to_parquet(tmp_path / "in.parquet", row_group_size=250)
    args = ("score", str(model_dir), "-i", str(tmp_path / "in.parquet"), "--chunk-rows", "250", "--no-log")
    code, out, err = cli(capsys, *args, "-o", str(tmp_path / "here.parquet"))
    assert code == 0, err
    code, out, err = cli(
        capsys, *args, "-o", str(tmp_path / "dask.parquet"), "--engine", "dask", "--workers", "2"
    )
    assert code == 0, err
    assert "scored 1000 rows to" in out
    assert "on dask (2 workers)" in out
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "dask.parquet"), pd.read_parquet(tmp_path / "here.parquet")
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ("--engine", "dask", "--scheduler", "tcp://127.0.0.1:{port}"),
            "scheduler tcp://127.0.0.1:{port}: cannot",
        ),
        (("--engine", "spark"), "engine 'spark': expected one of local, dask"),
        (("--workers", "2"), "workers 2: choose where the work runs with engine='local' or 'dask'"),
        (("--engine", "local", "--scheduler", "tcp://h:8786"), "scheduler 'tcp://h:8786': only the dask"),
        (("--engine", "dask", "--scheduler", "tcp://h:8786"), "prediction log /"),  # workers write it
    ],
)
def test_engine_mistakes_are_exit_2_and_one_line(
    capsys: pytest.CaptureFixture[str],
    model_dir: Path,
    tmp_path: Path,
    options: tuple[str, ...],
    message: str,
) -> None:
    make_frame(20).to_parquet(tmp_path / "in.parquet")
    port = str(_closed_port())
    argv = [a.replace("{port}", port) for a in options]
    code, _, err = cli(
        capsys,
        "score",
        str(model_dir),
        "-i",
        str(tmp_path / "in.parquet"),
        "-o",
        str(tmp_path / "o.parquet"),
        *argv,
    )
    assert code == 2
    assert message.replace("{port}", port) in err
    assert len(err.strip().splitlines()) == 1
