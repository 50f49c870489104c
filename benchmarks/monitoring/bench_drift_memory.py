"""Drift at 100k and 1M rows: wall time and peak memory, slipway beside Evidently, each in a fresh process.

    benchmarks/.venv-evidently/bin/pip install evidently "pandas<3"   # once; Evidently 0.7 needs pandas 2
    .venv/bin/python benchmarks/monitoring/bench_drift_memory.py [--quick]

The reference and current frames (20 numeric + 5 categorical columns, the same generator and seeds
as bench_drift.py, reference and current of the same size) are generated once and written to
Parquet under /tmp/slipway-bench-drift, with the ReferenceSummary a registered model would carry
(``ReferenceSummary.from_frame(reference)``: exact per-column figures and a 50,000-row sample).
Each measurement then runs in its own fresh subprocess, which

1. imports its library (RSS recorded: ``imports_mb``), reads the Parquet files (or the summary's
   bytes), and warms up on 1,000 rows;
2. records its RSS (``VmRSS``) and resets its peak (``echo 5 > /proc/self/clear_refs``, so reading
   the files is not counted in the peak);
3. computes the drift result once, timed with ``perf_counter``, and reads
   ``getrusage(RUSAGE_SELF).ru_maxrss``: the raw peak (data and libraries included) and the
   increment over the RSS after loading (what the computation itself needed).

Measurements:

- ``slipway``: ``dataset_drift(summary, current)``, default mode, the reference being the
  ReferenceSummary loaded from its bytes, as a monitor or a report on a registered model runs it;
- ``slipway-frame``: the same with the raw reference DataFrame (summarised inside the call);
- ``slipway-evidently``: ``dataset_drift(reference_frame, current, mode="evidently")``, every
  reference row kept so the verdicts are Evidently's;
- ``evidently``: ``Report([DataDriftPreset()]).run(current_data=..., reference_data=...)`` in
  benchmarks/.venv-evidently, as Evidently users run it (it builds its plots inside ``run``; no
  HTML is saved).

Three repetitions at 100k rows, one at 1M (Evidently takes about two minutes there); the median
time and the median peak are reported. Results go to benchmarks/results/drift_memory.json.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/tmp/slipway-bench-drift")
EVIDENTLY_PY = ROOT / "benchmarks" / ".venv-evidently" / "bin" / "python"
SLIPWAY_PY = ROOT / ".venv" / "bin" / "python"
SIZES = {100_000: 3, 1_000_000: 1}  # rows -> repetitions
QUICK = {100_000: 1}
TOOLS = ("slipway", "slipway-frame", "slipway-evidently", "evidently")
WARMUP_ROWS = 1_000


def paths(n: int) -> dict[str, Path]:
    return {k: DATA / f"{k}-{n}.parquet" for k in ("reference", "current", "summary")}


# ----------------------------------------------------------------------------- data, once


def generate(n: int) -> dict[str, Any]:
    """Write the frames and the summary for ``n`` rows (same seeds as bench_drift.py's speed rows)."""
    sys.path.insert(0, str(ROOT))
    from tests.monitoring._drift_data import mixed_frame

    from slipway.models import ReferenceSummary

    DATA.mkdir(parents=True, exist_ok=True)
    p = paths(n)
    ref = mixed_frame(n, seed=10_999, n_numeric=20, n_categorical=5)
    cur = mixed_frame(n, seed=20_999, n_numeric=20, n_categorical=5)
    ref.to_parquet(p["reference"], index=False)
    cur.to_parquet(p["current"], index=False)
    start = time.perf_counter()
    summary = ReferenceSummary.from_frame(ref)
    seconds = time.perf_counter() - start
    p["summary"].write_bytes(summary.to_bytes())
    return {"rows": n, "summary_seconds": seconds, "summary_sample_rows": len(summary.sample)}


# ----------------------------------------------------------------------------- one measurement (a child)


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def hwm_kb() -> int:
    """The address space's own peak (VmHWM): unlike ru_maxrss, never kept from an exited thread."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def reset_peak() -> bool:
    """Make the peak RSS the current RSS (Linux >= 4.0); False where the kernel refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def child(tool: str, n: int) -> dict[str, Any]:
    import pandas as pd

    p = paths(n)
    run: Any
    if tool == "evidently":
        from evidently import Report
        from evidently.presets import DataDriftPreset

        def run(ref: Any, cur: Any) -> Any:
            return Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)

        def share(snapshot: Any) -> float:
            for metric in snapshot.dict()["metrics"]:
                if metric["metric_name"].startswith("DriftedColumnsCount"):
                    return float(metric["value"]["share"])
            raise RuntimeError("no DriftedColumnsCount in Evidently's snapshot")

    else:
        from slipway.models import ReferenceSummary
        from slipway.monitoring import dataset_drift

        mode = "evidently" if tool == "slipway-evidently" else "default"

        def run(ref: Any, cur: Any) -> Any:
            return dataset_drift(ref, cur, mode=mode)

        def share(result: Any) -> float:
            return float(result.share)

    imports_kb = rss_kb()
    cur = pd.read_parquet(p["current"])
    if tool == "slipway":
        ref: Any = ReferenceSummary.from_bytes(p["summary"].read_bytes())
        run(ref, cur.head(WARMUP_ROWS))
    else:
        ref = pd.read_parquet(p["reference"])
        run(ref.head(WARMUP_ROWS), cur.head(WARMUP_ROWS))
    gc.collect()
    load_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    loaded_kb = rss_kb()
    reset = reset_peak()
    start = time.perf_counter()
    result = run(ref, cur)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    hwm = hwm_kb()
    return {
        "tool": tool,
        "rows": n,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "imports_mb": imports_kb / 1024,
        "loaded_mb": loaded_kb / 1024,
        "increment_mb": (peak_kb - loaded_kb) / 1024,
        "load_peak_mb": load_peak_kb / 1024,
        "hwm_mb": hwm / 1024,  # equals peak_mb unless ru_maxrss kept a pre-reset peak
        "peak_reset": reset,
        "drift_share": share(result),
    }


# ----------------------------------------------------------------------------- driver


def measure(tool: str, n: int) -> dict[str, Any]:
    python = EVIDENTLY_PY if tool == "evidently" else SLIPWAY_PY
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [str(python), __file__, "--child", tool, str(n)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode:
        sys.exit(f"{tool} at {n:,} rows failed:\n{proc.stderr}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "runs": len(runs),
        "seconds": statistics.median(r["seconds"] for r in runs),
        "peak_mb": statistics.median(r["peak_mb"] for r in runs),
        "increment_mb": statistics.median(r["increment_mb"] for r in runs),
        "loaded_mb": statistics.median(r["loaded_mb"] for r in runs),
        "imports_mb": statistics.median(r.get("imports_mb", 0.0) for r in runs),
        "drift_share": runs[0]["drift_share"],
    }


def main() -> None:
    if "--child" in sys.argv:
        i = sys.argv.index("--child")
        print(json.dumps(child(sys.argv[i + 1], int(sys.argv[i + 2]))))
        return
    sizes = QUICK if "--quick" in sys.argv else SIZES
    tools = [t for t in TOOLS if t != "evidently" or EVIDENTLY_PY.exists()]
    results: dict[str, Any] = {"data": {}, "runs": [], "median": {}}
    for n, reps in sizes.items():
        results["data"][str(n)] = generate(n)
        for rep in range(reps):
            for tool in tools:  # interleaved, so a slow spell on the shared cores hits every tool
                r = measure(tool, n)
                results["runs"].append({**r, "rep": rep})
                print(json.dumps(r), flush=True)
        results["median"][str(n)] = {
            t: summarise([r for r in results["runs"] if r["tool"] == t and r["rows"] == n]) for t in tools
        }
    out = ROOT / "benchmarks" / "results" / "drift_memory.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(
        "\n| rows | measurement | seconds | peak RSS | increment over loaded data "
        "| Evidently ÷ this: time | peak | increment |\n|---|---|---|---|---|---|---|---|"
    )
    for n in sizes:
        med = results["median"][str(n)]
        ev = med.get("evidently")
        for t in tools:
            m = med[t]
            ratios = "– | – | –"
            if ev is not None and t != "evidently":
                ratios = (
                    f"{ev['seconds'] / m['seconds']:.0f}× | {ev['peak_mb'] / m['peak_mb']:.1f}× "
                    f"| {ev['increment_mb'] / max(m['increment_mb'], 1.0):.1f}×"
                )
            print(
                f"| {n:,} | {t} | {m['seconds']:.2f} | {m['peak_mb']:,.0f} MB | {m['increment_mb']:,.0f} MB "
                f"| {ratios} |"
            )


if __name__ == "__main__":
    main()
