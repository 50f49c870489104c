"""`slipway report drift|performance`: HTML and JSON from data files or a registered model's reference."""

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


def test_too_little_data_says_not_enough_data_never_no_drift(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, cur = files
    data = pd.read_csv(cur)
    data.iloc[:0].to_csv("empty.csv", index=False)  # a header and no rows: a quiet window
    _data(1, 0.0, 1).to_parquet("one.parquet")
    data.assign(tenure=np.nan, spend=np.nan, plan=None).to_parquet("blank.parquet")

    runs = {
        "empty": ["-r", str(ref), "-c", "empty.csv"],
        "one-row reference": ["-r", "one.parquet", "-c", str(cur)],
        "all missing": ["-r", str(ref), "-c", "blank.parquet"],
    }
    for what, args in runs.items():
        code, out, err = cli(capsys, "report", "drift", *args, "-o", "r.html", "--json", "r.json")
        assert (code, err) == (0, ""), what
        assert out.startswith("not enough data: "), what
        assert json.loads((tmp_path / "r.json").read_text())["status"] == "not_enough_data"
        assert "<strong>Not enough data</strong>" in (tmp_path / "r.html").read_text()
    _, out, _ = cli(capsys, "report", "drift", *runs["empty"], "--json", "r.json")
    assert out == "not enough data: the current data has no rows\n"
    _, out, _ = cli(capsys, "report", "drift", *runs["one-row reference"], "--json", "r.json")
    assert "column 'tenure': the reference has 1 value" in out


def test_untested_and_absent_columns_are_named(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, cur = files
    pd.read_csv(cur).assign(tenure=np.nan).drop(columns="spend").to_parquet("part.parquet")

    code, out, err = cli(
        capsys, "report", "drift", "-r", str(ref), "-c", "part.parquet", "-o", "r.html", "--json", "r.json"
    )

    assert (code, err) == (0, "")
    assert out.startswith(
        "no dataset drift: 0 of 1 columns drifted; not tested: tenure (not enough data); "
        "not in the current data: spend; report: r.html"
    )
    assert json.loads((tmp_path / "r.json").read_text())["missing_columns"] == ["spend"]
    assert "not in the current data (not compared): spend" in (tmp_path / "r.html").read_text()


def test_an_empty_reference_is_refused(capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]) -> None:
    _, cur = files
    _data(0, 0.0, 1).to_parquet("none.parquet")

    code, _, err = cli(capsys, "report", "drift", "-r", "none.parquet", "-c", str(cur), "--json", "-")

    assert code == 2
    assert err.strip() == (
        "error: none.parquet: no rows; a reference is the data the model was trained or validated on"
    )


# ---------------------------------------------------------------------- performance over time


def _scored(n: int, seed: int, *, noise: float = 0.0) -> pd.DataFrame:
    """A calibrated binary model's inputs, outputs and labels (a share ``noise`` of labels flipped)."""
    rng = np.random.default_rng(seed)
    tenure = rng.normal(24, 6, n)
    p = 1.0 / (1.0 + np.exp(-(tenure - 24) / 3))
    label = (rng.uniform(size=n) < p).astype(int)
    flip = rng.uniform(size=n) < noise
    frame: pd.DataFrame = pd.DataFrame(
        {
            "tenure": tenure,
            "plan": rng.choice(["basic", "pro"], n),
            "prediction": (p >= 0.5).astype(int),
            "proba_1": p,
            "label": np.where(flip, 1 - label, label),
        }
    )
    return frame


@pytest.fixture
def scored(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A labelled reference, a current period with labels on its first half only, and no labels."""
    ref, cur, unlabelled = (
        tmp_path / "scored_ref.parquet",
        tmp_path / "scored_cur.parquet",
        tmp_path / "nolab.csv",
    )
    _scored(4_000, 1).to_parquet(ref)
    current = _scored(2_000, 2)
    current.loc[1_000:, "label"] = None  # the labels of the latest rows have not come back
    current.to_parquet(cur)
    current.drop(columns="label").to_csv(unlabelled, index=False)
    return ref, cur, unlabelled


def test_performance_report_measures_and_estimates_per_window(
    capsys: pytest.CaptureFixture[str], scored: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ref, cur, _ = scored
    code, out, err = cli(
        capsys,
        "report",
        "performance",
        "-c",
        str(cur),
        "--estimate-reference",
        str(ref),
        "--window",
        "count:4",
        "--metrics",
        "roc_auc,accuracy,log_loss",
        "-o",
        "perf.html",
        "--json",
        "perf.json",
    )
    assert (code, err) == (0, "")
    assert out.startswith("performance over 4 windows: roc_auc, accuracy, log_loss")
    assert "report: perf.html" in out
    page = (tmp_path / "perf.html").read_text()
    assert page.count("<svg") == 3  # one per series
    assert "windows: count:4" in page
    doc = json.loads((tmp_path / "perf.json").read_text())
    assert doc["window"] == "count:4"
    auc, accuracy, log_loss = doc["series"]
    assert auc["metric"] == "roc_auc"
    assert auc["labels"] == ["0:500", "500:1000", "1000:1500", "1500:2000"]
    assert auc["estimator"] == "cbpe"
    assert [v is None for v in auc["realised"]] == [False, False, True, True]  # labels on the first half
    assert all(lo < v < hi for v, lo, hi in zip(auc["estimated"], auc["lower"], auc["upper"], strict=True))
    assert auc["lower_threshold"] < auc["upper_threshold"]
    assert len(accuracy["alerts"]) == 4
    assert (log_loss["estimated"], log_loss["estimator"]) == ([], "")  # measured only


def test_drift_report_adds_performance_when_the_current_data_is_labelled(
    capsys: pytest.CaptureFixture[str], scored: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    ref, cur, _ = scored
    code, out, err = cli(
        capsys,
        "report",
        "drift",
        "-r",
        str(ref),
        "-c",
        str(cur),
        "--columns",
        "tenure,plan",
        "--metrics",
        "accuracy,f1",
        "-o",
        "drift.html",
        "--json",
        "drift.json",
    )
    assert (code, err) == (0, "")
    assert "performance over 10 windows" in out
    page = (tmp_path / "drift.html").read_text()
    assert page.count("<svg") == 2 + 2  # two columns, two metrics
    assert page.index("Performance over time") < page.index("<h2>Columns</h2>")
    doc = json.loads((tmp_path / "drift.json").read_text())
    assert [c["column"] for c in doc["columns"]] == ["tenure", "plan"]  # the drift section as before
    assert doc["performance"]["window"] == "count:10"
    assert [s["metric"] for s in doc["performance"]["series"]] == ["accuracy", "f1"]
    assert doc["performance"]["series"][0]["estimated"] == []  # no estimate reference: measured only


def test_drift_report_estimates_unlabelled_data_from_an_estimate_reference(
    capsys: pytest.CaptureFixture[str], scored: tuple[Path, Path, Path]
) -> None:
    ref, _, unlabelled = scored
    code, out, _ = cli(
        capsys,
        "report",
        "drift",
        "-r",
        str(ref),
        "-c",
        str(unlabelled),
        "--estimate-reference",
        str(ref),
        "-w",
        "rows:500",
        "--json",
        "-",
    )
    assert code == 0
    series = json.loads(out)["performance"]["series"]
    assert [s["metric"] for s in series] == ["roc_auc", "accuracy", "precision", "recall", "f1"]
    assert all(s["realised"] == [] and len(s["estimated"]) == 4 for s in series)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["performance", "-c", "nolab.csv", "--json", "-"],
            "no labels in column 'label' and no estimation reference",
        ),
        (
            ["drift", "-r", "scored_ref.parquet", "-c", "nolab.csv", "--label", "outcome", "--json", "-"],
            "no labels in column 'outcome'",
        ),
        (
            ["performance", "-c", "scored_cur.parquet", "-w", "rows:ten", "--json", "-"],
            "--window: chunker 'rows:ten'",
        ),
        (
            ["performance", "-c", "scored_cur.parquet", "-w", "fortnightly", "--json", "-"],
            "--window: time chunker",
        ),
        (
            ["performance", "-c", "nolab.csv", "--estimate-reference", "nolab.csv", "--json", "-"],
            "nolab.csv: no labels in column 'label'; an estimate reference is a labelled period",
        ),
        (["performance", "-c", "scored_cur.parquet", "--task", "ranking", "--json", "-"], "--task 'ranking'"),
        (["performance", "-c", "scored_cur.parquet"], "give -o FILE.html, --json FILE"),
    ],
)
def test_bad_performance_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], scored: tuple[Path, Path, Path], args: list[str], message: str
) -> None:
    code, out, err = cli(capsys, "report", *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err
