"""`slipway data infer-schema` and `slipway data validate`: files, exit codes, JSON, HTML, a run's schema."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import yaml
from tests.cli._cli import cli

import slipway
from slipway.validation import infer_schema, log_schema

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    good = pd.DataFrame({"age": [20, 35, 50, 64] * 5, "plan": ["basic", "gold"] * 10})
    bad = pd.DataFrame({"age": [20, 35, 150, 64], "plan": ["basic", "gold", "team", "basic"], "x": 1})
    good.to_csv(tmp_path / "train.csv", index=False)
    bad.to_parquet(tmp_path / "new.parquet")
    return tmp_path / "train.csv", tmp_path / "new.parquet"


def test_infer_schema_writes_the_yaml_and_prints_a_summary(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    code, out, err = cli(
        capsys, "data", "infer-schema", str(files[0]), "-o", str(tmp_path / "s.yaml"), "--widen", "0.5"
    )

    assert (code, err) == (0, "")
    doc = yaml.safe_load((tmp_path / "s.yaml").read_text())
    assert doc["columns"]["age"] == {
        "kind": "int",
        "min": -2,  # 20..64 widened by half its span of 44
        "max": 86,
        "max_missing": 0.0,
        "allow_constant": False,
    }
    assert doc["columns"]["plan"]["domain"] == ["basic", "gold"]
    assert "│ plan   │ string │ yes      │ basic, gold" in out
    assert f"schema of {files[0]} (20 rows, 2 columns) -> {tmp_path / 's.yaml'}" in out


def test_infer_schema_without_output_prints_the_yaml(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    code, out, _ = cli(
        capsys,
        "data",
        "infer-schema",
        str(files[0]),
        "--name",
        "train",
        "--extra-columns",
        "error",
        "--max-domain-ratio",
        "0.05",
        "--min-rows",
        "10",
    )

    assert code == 0
    doc = yaml.safe_load(out)
    assert (doc["dataset"]["name"], doc["extra_columns"], doc["min_rows"]) == ("train", "error", 10)
    assert "domain" not in doc["columns"]["plan"]  # 2 values in 20 rows is above 5%


def test_validate_exits_1_on_error_anomalies_and_0_when_clean(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    infer_schema(files[0]).save(tmp_path / "s.yaml")

    code, out, err = cli(capsys, "data", "validate", str(files[1]), "--schema", str(tmp_path / "s.yaml"))
    clean, clean_out, _ = cli(capsys, "data", "validate", str(files[0]), "--schema", str(tmp_path / "s.yaml"))

    assert (code, err) == (1, "")
    for row in (
        "ERROR    │ age    │ out_of_range",
        "ERROR    │ plan   │ unknown_categories",
        "WARNING  │ x      │ unexpected_column",
    ):
        assert row in out
    assert f"data FAILED: {files[1]}: 4 rows, 3 columns against s.yaml: 2 errors, 1 warning" in out
    assert clean == 0
    assert f"data PASSED: {files[0]}: 20 rows, 2 columns against s.yaml: no anomalies" in clean_out


def test_warnings_alone_pass(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    infer_schema(files[0]).save(tmp_path / "s.yaml")
    pd.read_csv(files[0]).assign(extra=1).to_csv(tmp_path / "extra.csv", index=False)

    code, out, _ = cli(
        capsys, "data", "validate", str(tmp_path / "extra.csv"), "--schema", str(tmp_path / "s.yaml")
    )

    assert code == 0
    assert "data PASSED" in out
    assert "1 warning" in out


def test_validate_json_and_html(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path], tmp_path: Path
) -> None:
    infer_schema(files[0]).save(tmp_path / "s.yaml")

    code, out, _ = cli(
        capsys,
        "data",
        "validate",
        str(files[1]),
        "--schema",
        str(tmp_path / "s.yaml"),
        "--json",
        "--html",
        str(tmp_path / "reports" / "r.html"),
    )

    assert code == 1
    doc = json.loads(out)
    assert (doc["ok"], doc["errors"], doc["warnings"]) == (False, 2, 1)
    assert [a["kind"] for a in doc["anomalies"]] == [
        "out_of_range",
        "unknown_categories",
        "unexpected_column",
    ]
    assert doc["anomalies"][1]["examples"] == ["team"]
    page = (tmp_path / "reports" / "r.html").read_text()
    assert "<code>unknown_categories</code>" in page
    assert "<code>team</code>" in page


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["data", "validate", "new.parquet", "--schema", "nope.yaml"],
            "error: schema file 'nope.yaml': no such file",
        ),
        (
            ["data", "validate", "nope.csv", "--schema", "bad.yaml"],
            "error: bad.yaml: columns.age.max 'old': expected a number",
        ),
        (
            ["data", "infer-schema", "data.txt"],
            "error: data file 'data.txt': expected a .parquet or .csv file",
        ),
        (
            ["data", "infer-schema", "train.csv", "--extra-columns", "x"],
            "error: --extra-columns 'x': expected error",
        ),
        (
            ["data", "validate", "new.parquet", "--schema", "runs:/0123abcd"],
            "error: run '0123abcd' does not exist",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    files: tuple[Path, Path],
    tmp_path: Path,
    argv: list[str],
    message: str,
) -> None:
    (tmp_path / "bad.yaml").write_text("columns:\n  age: {kind: int, max: old}\n")
    (tmp_path / "data.txt").write_text("a\n1\n")

    code, _, err = cli(capsys, *argv)

    assert code == 2
    assert err.strip().startswith(message), err
    assert len(err.strip().splitlines()) == 1


def test_validate_against_the_schema_logged_with_a_run_and_its_model(
    capsys: pytest.CaptureFixture[str], files: tuple[Path, Path]
) -> None:
    from sklearn.linear_model import LinearRegression

    train = pd.read_csv(files[0])
    with slipway.start_run() as run:
        log_schema(run, infer_schema(train), data=train, role="training")
        slipway.log_model(
            LinearRegression().fit(train[["age"]], train["age"]), input_example=train[["age"]].head(2)
        )
    slipway.register_model(f"runs:/{run.id}/model", "ages")

    by_run, out, _ = cli(capsys, "data", "validate", str(files[1]), "--schema", f"runs:/{run.id[:8]}")
    by_model, model_out, _ = cli(capsys, "data", "validate", str(files[0]), "--schema", "models:/ages/1")

    assert by_run == 1
    assert f"against runs:/{run.id}/schemas/train.yaml: 2 errors, 1 warning" in out
    assert by_model == 0
    assert "no anomalies" in model_out
