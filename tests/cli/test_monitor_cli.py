"""`slipway monitor`: create, backfill, show, list, metrics, run and delete, on the project's stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.cli._cli import cli

if TYPE_CHECKING:
    from pathlib import Path


def _rows(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows: pd.DataFrame = pd.DataFrame(
        {"tenure": rng.normal(24 + shift, 6, n), "spend": rng.gamma(2.0, 10.0, n)}
    )
    return rows


@pytest.fixture
def monitor(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    _rows(2_000, 0.0, 1).to_parquet(tmp_path / "train.parquet")
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - {name: tenure-drift, figure: drift.columns.tenure.drifted, above: 0.5}\n"
    )
    args = ["create", "churn-drift", "-d", "churn", "-r", "train.parquet", "--rules", "rules.yaml"]
    code, out, err = cli(capsys, "monitor", *args, "--window", "1D")
    assert (code, err) == (0, ""), err
    assert out.startswith("monitor churn-drift: 1 rule(s) on deployment churn, 1D windows from ")
    return "churn-drift"


def test_backfill_a_file_then_read_results_and_gauges(
    capsys: pytest.CaptureFixture[str], monitor: str, tmp_path: Path
) -> None:
    day0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    history = pd.concat(
        [
            _rows(500, 6.0 * d, seed=d + 2).assign(timestamp=day0 + timedelta(days=d, hours=3))
            for d in range(3)
        ]
    )
    history.to_parquet(tmp_path / "history.parquet")

    code, out, err = cli(
        capsys, "monitor", "backfill", monitor, "--start", "2026-03-01", "--end", "2026-03-04", "--input",
        "history.parquet",
    )  # fmt: skip
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("monitor churn-drift: 2026-03-01 00:00Z to 2026-03-02 00:00Z: 500 rows")
    assert lines[0].endswith(": ok")
    assert lines[1].endswith("BREACHED tenure-drift")

    code, out, _ = cli(capsys, "monitor", "show", monitor, "--json")
    doc = json.loads(out)
    assert [r["breaches"] for r in doc["results"]] == [[], ["tenure-drift"], ["tenure-drift"]]
    assert doc["alerts"] == []  # a backfill replays history; it never alerts

    code, out, _ = cli(capsys, "monitor", "metrics")
    families = {f.name: f for f in text_string_to_metric_families(out)}
    [breach] = families["slipway_monitor_rule_breached"].samples
    assert breach.value == 1.0

    code, out, _ = cli(capsys, "monitor", "list", "--json")
    assert [m["name"] for m in json.loads(out)] == [monitor]


def test_run_with_no_complete_window_yet_says_so(capsys: pytest.CaptureFixture[str], monitor: str) -> None:
    code, out, err = cli(capsys, "monitor", "run", "--metrics-file", "monitors.prom")
    assert (code, err) == (0, "")
    assert out == "monitor churn-drift: no complete window since the last run\n"


def test_delete_removes_the_monitor(capsys: pytest.CaptureFixture[str], monitor: str) -> None:
    assert cli(capsys, "monitor", "delete", monitor)[0] == 0
    code, _, err = cli(capsys, "monitor", "show", monitor)
    assert code == 2
    assert "churn-drift" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["create", "m", "-d", "churn", "-r", "train.parquet", "--rules", "nope.yaml"],
            "nope.yaml: rules file not found",
        ),
        (
            ["create", "m", "-d", "churn", "-r", "missing.csv", "--rules", "rules.yaml"],
            "missing.csv: no such file",
        ),
        (
            [
                "create",
                "m",
                "-d",
                "churn",
                "-r",
                "train.parquet",
                "--rules",
                "rules.yaml",
                "--window",
                "soon",
            ],
            "window 'soon'",
        ),
        (
            ["create", "bad name", "-d", "churn", "-r", "train.parquet", "--rules", "rules.yaml"],
            "monitor name",
        ),
        (["create", "m", "-d", "churn", "-r", "models:/nope/1", "--rules", "rules.yaml"], "nope"),
        (["backfill", "m", "--start", "yesterday", "--end", "2026-01-01"], "--start 'yesterday'"),
        (["backfill", "m", "--by", "column:month"], "--by column:month: expected --input FILE"),
        (["backfill", "m", "--start", "2026-01-01"], "expected --start and --end"),
        (
            ["create", "m", "-d", "churn", "-r", "train.parquet", "--rules", "rules.yaml", "--window", "0h"],
            "window '0h': expected a positive pandas frequency",
        ),
        (
            ["create", "m", "-d", "churn", "-r", "train.parquet", "--rules", "rules.yaml", "--window=-1h"],
            "window '-1h': expected a positive pandas frequency",
        ),
        (["show", "nope"], "nope"),
        (
            [
                "create",
                "m",
                "-d",
                "c",
                "-r",
                "train.parquet",
                "--rules",
                "rules.yaml",
                "--estimation-reference",
                "train.parquet",
            ],
            "estimation reference: no labels in column 'label'",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    _rows(100, 0.0, 1).to_parquet(tmp_path / "train.parquet")
    (tmp_path / "rules.yaml").write_text("rules:\n  - {figure: drift.share, above: 0.5}\n")
    code, out, err = cli(capsys, "monitor", *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_one_broken_monitor_does_not_stop_the_others(
    capsys: pytest.CaptureFixture[str], monitor: str, tmp_path: Path
) -> None:
    from slipway.core import Monitor
    from slipway.store import open_metadata_store

    store = open_metadata_store(f"sqlite:///{tmp_path / '.slipway' / 'slipway.db'}")
    try:
        ok = store.get_monitor(monitor)
        store.set_monitor_cursor(monitor, (ok.cursor or 0) - 2 * 86_400_000)  # two days to evaluate
        store.create_monitor(  # its reference summary is gone: every run of it fails
            Monitor(
                name="a-broken",
                deployment="churn",
                reference="gone.parquet",
                window="1D",
                rules=ok.rules,
                actions=ok.actions,
                options=ok.options,
                cursor=ok.cursor,
                reference_digest=None,
            )
        )
        store.set_monitor_cursor("a-broken", (ok.cursor or 0) - 2 * 86_400_000)
    finally:
        store.close()

    code, out, err = cli(capsys, "monitor", "run", "--metrics-file", "monitors.prom")

    assert code == 2
    assert err == "monitor a-broken: error: monitor a-broken: no reference summary stored; create it again\n"
    assert [line.split(":")[0] for line in out.splitlines()] == ["monitor churn-drift"] * 2
    assert "Traceback" not in out + err
    families = {f.name: f for f in text_string_to_metric_families((tmp_path / "monitors.prom").read_text())}
    [end] = families["slipway_monitor_window_end_timestamp_seconds"].samples
    assert end.labels == {"monitor": "churn-drift"}


def test_gauges_show_the_latest_window_of_a_long_history(
    capsys: pytest.CaptureFixture[str], monitor: str, tmp_path: Path
) -> None:
    from slipway.core import MonitorResult
    from slipway.store import open_metadata_store

    store = open_metadata_store(f"sqlite:///{tmp_path / '.slipway' / 'slipway.db'}")
    minute = 60_000
    start = (store.get_monitor(monitor).cursor or 0) - 86_400_000  # a day of minutes before the cursor
    try:
        for i in range(1_100):  # more windows than one default page of results
            store.record_monitor_result(
                MonitorResult(
                    monitor=monitor,
                    window_start=start + i * minute,
                    window_end=start + (i + 1) * minute,
                    figures={"rows": float(i)},
                    breaches=[],
                    result={},
                    rows=i,
                )
            )
    finally:
        store.close()

    code, out, _ = cli(capsys, "monitor", "metrics")
    assert code == 0
    families = {f.name: f for f in text_string_to_metric_families(out)}
    [end] = families["slipway_monitor_window_end_timestamp_seconds"].samples
    assert end.value == (start + 1_100 * minute) / 1000
    _, out, _ = cli(capsys, "monitor", "show", monitor, "--last", "2", "--json")
    assert [r["rows"] for r in json.loads(out)["results"]] == [1_098, 1_099]


def test_backfill_a_file_by_a_column(
    capsys: pytest.CaptureFixture[str], monitor: str, tmp_path: Path
) -> None:
    history = pd.concat(
        [
            _rows(400, 6.0 * (m == 2), seed=m + 5).assign(
                month=f"2026-0{m + 1}", timestamp=datetime(2026, m + 1, 3, tzinfo=timezone.utc)
            )
            for m in range(3)
        ]
    )
    history.to_parquet(tmp_path / "history.parquet")
    code, out, err = cli(
        capsys, "monitor", "backfill", monitor, "--input", "history.parquet", "--by", "column:month"
    )
    assert (code, err) == (0, "")
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("monitor churn-drift: 2026-01-03 00:00Z to 2026-01-03 00:00Z: 400 rows")
    assert [line.rsplit(": ", 1)[1] for line in lines] == ["ok", "ok", "BREACHED tenure-drift"]
