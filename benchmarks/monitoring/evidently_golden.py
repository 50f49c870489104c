"""Run real Evidently on seeded synthetic data and record what its default rules decide.

    benchmarks/.venv-evidently/bin/python benchmarks/monitoring/evidently_golden.py

Writes tests/monitoring/data/evidently_golden.json: per case, the data generator's parameters
(tests/monitoring/_drift_data.py rebuilds the same frames from them) and, per column, Evidently's
chosen test, its statistic (``drift_score``), its threshold and its verdict. The test
tests/monitoring/test_drift.py::test_evidently_mode_matches_the_golden_file holds slipway's
``evidently`` mode to it without importing Evidently.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from evidently import Report  # noqa: E402
from evidently import __version__ as evidently_version  # noqa: E402
from evidently.presets import DataDriftPreset  # noqa: E402
from tests.monitoring._drift_data import golden_case  # noqa: E402

BASE = {"mean": 0.0, "few_p": [0.4, 0.3, 0.2, 0.1], "binary_p": 0.3, "cat_p": [0.4, 0.2, 0.2, 0.1, 0.1]}
SHIFTED = {"mean": 0.25, "few_p": [0.3, 0.3, 0.2, 0.2], "binary_p": 0.4, "cat_p": [0.3, 0.25, 0.2, 0.15, 0.1]}


def cases() -> list[dict[str, object]]:
    """Small (<= 1000 rows) and large references, with and without drift."""
    out: list[dict[str, object]] = []
    for n_ref, n_cur in ((300, 250), (1000, 800), (1001, 900), (5000, 3000)):
        for name, cur in (("same", BASE), ("shifted", SHIFTED)):
            seed = len(out) * 2 + 1
            out.append(
                {
                    "name": f"ref{n_ref}-cur{n_cur}-{name}",
                    "reference": {**BASE, "seed": seed, "n": n_ref},
                    "current": {**cur, "seed": seed + 1, "n": n_cur},
                }
            )
    return out


def run(case: dict[str, object]) -> dict[str, object]:
    reference, current = golden_case(case)
    snapshot = (
        Report([DataDriftPreset()], include_tests=True)
        .run(current_data=current, reference_data=reference)
        .dict()
    )
    verdicts = {
        t["name"].removeprefix("Value Drift for column "): t["status"]
        for t in snapshot["tests"]
        if t["name"].startswith("Value Drift for column ")
    }
    columns = {}
    for metric in snapshot["metrics"]:
        config = metric["config"]
        if config["type"] != "evidently:metric_v2:ValueDrift":
            continue
        column = config["column"]
        columns[column] = {
            "method": config["method"],
            "statistic": metric["value"],
            "threshold": config["threshold"],
            "drifted": verdicts[column] == "FAIL",
        }
    share = next(m for m in snapshot["metrics"] if m["config"]["type"].endswith("DriftedColumnsCount"))[
        "value"
    ]
    return {**case, "columns": columns, "share": share["share"]}


def main() -> None:
    out = ROOT / "tests" / "monitoring" / "data" / "evidently_golden.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    results = [run(c) for c in cases()]
    payload = {
        "evidently": evidently_version,
        "generator": "tests/monitoring/_drift_data.py:golden_case",
        "cases": results,
    }
    out.write_text(json.dumps(payload, indent=1) + "\n")
    for r in results:
        cols = r["columns"]
        assert isinstance(cols, dict)
        print(r["name"], {k: (v["method"], v["drifted"]) for k, v in cols.items()})


if __name__ == "__main__":
    main()
