"""Drift: false alarms, power and time per window, slipway beside real Evidently, in one run.

    benchmarks/.venv-evidently/bin/pip install evidently "pandas<3"   # once; Evidently 0.7 needs pandas 2
    .venv/bin/python benchmarks/monitoring/bench_drift.py [--quick]

slipway runs in this interpreter; Evidently runs in benchmarks/.venv-evidently on the same frames
(both sides rebuild them from the same seeds with tests/monitoring/_drift_data.py). Windows have
20 numeric and 5 categorical columns; reference and current have the same size.
Results go to benchmarks/results/drift.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.monitoring._drift_data import mixed_frame  # noqa: E402

EVIDENTLY_PY = ROOT / "benchmarks" / ".venv-evidently" / "bin" / "python"
FPR_SIZES = {500: 8, 5_000: 4, 50_000: 2, 1_000_000: 1}  # rows -> windows (25 columns each)
POWER = {
    "cat 40%->30%": {"cat_a_share": 0.3},
    "mean +0.05 sd": {"mean_shift": 0.05},
    "mean +0.1 sd": {"mean_shift": 0.1},
    "mean +0.2 sd": {"mean_shift": 0.2},
}
POWER_ROWS, POWER_REPS = 10_000, 4
SPEED_ROWS = (10_000, 100_000)


def frames(n: int, rep: int, **shift: Any) -> tuple[Any, Any]:
    ref = mixed_frame(n, seed=10_000 + rep, n_numeric=20, n_categorical=5)
    cur = mixed_frame(n, seed=20_000 + rep, n_numeric=20, n_categorical=5, **shift)
    return ref, cur


def plan(quick: bool) -> dict[str, Any]:
    sizes = {500: 4, 5_000: 2, 50_000: 1} if quick else FPR_SIZES
    return {"fpr": sizes, "power": POWER, "speed": SPEED_ROWS, "reps": 2 if quick else POWER_REPS}


# ----------------------------------------------------------------------------- the two sides


def flags_slipway(ref: Any, cur: Any, mode: str) -> list[tuple[str, bool]]:
    from slipway.monitoring._drift import dataset_drift

    result = dataset_drift(ref, cur, mode=mode)  # type: ignore[arg-type]
    return [(c.column, c.drifted) for c in result.columns]


def flags_evidently(ref: Any, cur: Any) -> list[tuple[str, bool]]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snap = Report([DataDriftPreset()], include_tests=True).run(current_data=cur, reference_data=ref).dict()
    prefix = "Value Drift for column "
    return [
        (t["name"][len(prefix) :], t["status"] == "FAIL")
        for t in snap["tests"]
        if t["name"].startswith(prefix)
    ]


def side(name: str, p: dict[str, Any]) -> dict[str, Any]:
    """Every measurement for one tool: ``slipway``, ``slipway-evidently`` or ``evidently``."""

    def flags(ref: Any, cur: Any) -> list[tuple[str, bool]]:
        if name == "evidently":
            return flags_evidently(ref, cur)
        return flags_slipway(ref, cur, "evidently" if name == "slipway-evidently" else "default")

    out: dict[str, Any] = {"fpr": {}, "power": {}, "seconds": {}}
    for n, reps in p["fpr"].items():
        hits = [f for rep in range(int(reps)) for _, f in flags(*frames(int(n), rep))]
        out["fpr"][str(n)] = sum(hits) / len(hits)
    for label, shift in p["power"].items():
        cols = "c" if "cat" in label else "x"
        hits = [
            f
            for rep in range(p["reps"])
            for c, f in flags(*frames(POWER_ROWS, 100 + rep, **shift))
            if c.startswith(cols)
        ]
        out["power"][label] = sum(hits) / len(hits)
    for n in p["speed"]:
        ref, cur = frames(int(n), 999)
        if name != "evidently":
            from slipway.models._reference import ReferenceSummary

            ref = ReferenceSummary.from_frame(
                ref, max_rows=len(ref) if name == "slipway-evidently" else 50_000
            )
        flags(ref, cur.head(100))  # imports
        start = time.perf_counter()
        flags(ref, cur)
        out["seconds"][str(n)] = time.perf_counter() - start
    return out


# ----------------------------------------------------------------------------- driver


def main() -> None:
    if "--side" in sys.argv:
        p = json.loads(sys.argv[sys.argv.index("--plan") + 1])
        print(json.dumps(side(sys.argv[sys.argv.index("--side") + 1], p)))
        return
    p = plan("--quick" in sys.argv)
    results: dict[str, Any] = {}
    for name in ("slipway", "slipway-evidently"):
        results[name] = side(name, p)
        print(name, json.dumps(results[name]), flush=True)
    if EVIDENTLY_PY.exists():
        run = subprocess.run(
            [str(EVIDENTLY_PY), __file__, "--side", "evidently", "--plan", json.dumps(p)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        results["evidently"] = json.loads(run.stdout.strip().splitlines()[-1])
        print("evidently", json.dumps(results["evidently"]), flush=True)
    out = ROOT / "benchmarks" / "results" / "drift.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    tools = list(results)
    print("\n| measure | " + " | ".join(tools) + " |\n|---|" + "---|" * len(tools))
    for n in p["fpr"]:
        print(
            f"| columns flagged, no drift, {int(n):,} rows | "
            + " | ".join(f"{results[t]['fpr'][str(n)]:.1%}" for t in tools)
            + " |"
        )
    for label in p["power"]:
        print(
            f"| power, {label}, {POWER_ROWS:,} rows | "
            + " | ".join(f"{results[t]['power'][label]:.0%}" for t in tools)
            + " |"
        )
    for n in p["speed"]:
        print(
            f"| seconds per window, {int(n):,} rows × 25 columns | "
            + " | ".join(f"{results[t]['seconds'][str(n)]:.2f}" for t in tools)
            + " |"
        )


if __name__ == "__main__":
    main()
