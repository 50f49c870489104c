"""`slipway report drift`: HTML and JSON from data files or a registered model's reference."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from tests.cli._cli import cli

import slipway

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("matplotlib")


def _data(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame: pd.DataFrame = pd.DataFrame(
        {
            "tenure": rng.normal(24 + shift, 6, n),
            "plan": rng.choice(["basic", "pro"], n),
            "spend": rng.gamma(2.0, 10.0, n),
        }
    )
    return frame


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    ref, cur = tmp_path / "ref.parquet", tmp_path / "cur.csv"
    _data(3_000, 0.0, 1).to_parquet(ref)
    _data(1_000, 6.0, 2).to_csv(cur, index=False)
    return ref, cur


def test_html_and_json_from_two_files(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, cur = files
    code, out, err = cli(
        capsys, "report", "drift", "-r", str(ref), "-c", str(cur), "-o", "drift.html", "--json", "drift.json"
    )
    assert (code, err) == (0, "")
    assert out.startswith("no dataset drift: 1 of 3 columns drifted (tenure)")  # share below 0.5
    assert (tmp_path / "drift.html").read_text().count("<svg") == 3
    doc = json.loads((tmp_path / "drift.json").read_text())
    assert [c["column"] for c in doc["columns"]] == ["tenure", "plan", "spend"]
    assert doc["columns"][0]["drifted"] is True
    assert doc["columns"][0]["method"] == "ks"


def test_json_to_standard_output_in_evidently_mode(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    ref, cur = files
    code, out, _ = cli(
        capsys, "report", "drift", "-r", str(ref), "-c", str(cur), "--json", "-", "--mode", "evidently"
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["mode"] == "evidently"
    # Evidently's rule for more than 1,000 reference rows: normed Wasserstein distance
    assert doc["columns"][0]["method"] == "wasserstein"


def test_a_registered_models_reference_is_used(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    train = _data(2_000, 0.0, 1)
    with slipway.start_run():
        info = slipway.log_model(
            LinearRegression().fit(train[["tenure", "spend"]], train.spend),
            training_data=train[["tenure", "spend"]],
        )
    slipway.register_model(info.uri, "churn")
    _data(800, 0.0, 4).to_parquet(tmp_path / "cur.parquet")

    code, out, err = cli(
        capsys, "report", "drift", "-r", "models:/churn/1", "-c", "cur.parquet", "-o", "r.html"
    )
    assert (code, err) == (0, "")
    assert out.startswith("no dataset drift: 0 of 2 columns drifted")  # the model's output is not a feature


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "ref.parquet", "-c", "cur.csv"], "give -o FILE.html, --json FILE"),
        (["-r", "ref.parquet", "-c", "nope.csv", "--json", "-"], "nope.csv: no such file"),
        (["-r", "ref.parquet", "-c", "cur.csv", "--json", "-", "--mode", "fast"], "--mode 'fast'"),
        (["-r", "ref.parquet", "-c", "cur.txt", "--json", "-"], "cur.txt: expected a .csv or .parquet file"),
        (["-r", "ref.parquet", "-c", "other.csv", "--json", "-"], "no column in common with the reference"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], args: list[str], message: str
) -> None:
    pd.DataFrame({"x": [1, 2]}).to_csv("other.csv", index=False)
    code, out, err = cli(capsys, "report", "drift", *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err
