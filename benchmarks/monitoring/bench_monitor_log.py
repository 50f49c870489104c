"""A monitor backfilled over a long prediction log: wall time, windows per second and peak memory.

    .venv/bin/python benchmarks/monitoring/bench_monitor_log.py [--keep] [--sizes 1000000,10000000]
        [--src DIR]   # the monitor from another copy of slipway's src/ (e.g. an older commit's)

Writes a prediction log with ``PredictionLogWriter`` (10 features: 8 numeric, 2 categorical;
outputs ``prediction``, ``proba_0``, ``proba_1``), about 41,667 rows per hour: 1M rows over one
day and 10M rows over ten days. A batch carries one timestamp, so each hour is logged as four
batches of about 10,400 rows (at :00, :15, :30 and :45; batches of 100,000 rows would leave most
1h windows empty), and the writer is let to write each hour before the next is logged, so the
log holds about one part per hour, not one file per day that every window would reread.
Features f0..f5 are shifted by 0.5 sd in the last quarter of the log, so those windows breach
the rule (drift.share above 0.5).

Then, for each log, a fresh subprocess creates a monitor over a new SQLite store (reference: a
100,000-row training frame) and backfills every 1h window of the log (24 windows for 1M rows, 240
for 10M). Each window holds the same number of rows whatever the log's length, so a monitor that
reads the log window by window peaks at the same memory on both logs; one that reads the whole
range first grows with the log.

The logs go to /tmp/slipway-bench-monitor/log-<rows>; ``--keep`` reuses one already written
(a log is complete once its ``done.json`` exists). Results go to benchmarks/results/monitor_log.json
(monitor_log-src.json with ``--src``).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
BASE = Path("/tmp/slipway-bench-monitor")
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
ROWS_PER_HOUR = 10_000_000 / 240  # 41,666.7: 1M rows fill one day, 10M ten
BATCHES_PER_HOUR = 4
DEPLOYMENT = "churn"
NUMERIC = [f"f{i}" for i in range(8)]
CATEGORICAL = ["g0", "g1"]
SHIFTED = NUMERIC[:6]
LEVELS = np.array(["a", "b", "c", "d", "e"])
SHARES = [0.4, 0.2, 0.2, 0.1, 0.1]
REFERENCE_ROWS = 100_000
RULES = {"rules": [{"figure": "drift.share", "above": 0.5}]}
SIZES = (1_000_000, 10_000_000)


def features(n: int, rng: np.random.Generator, shift: float = 0.0) -> pd.DataFrame:
    data: dict[str, Any] = {c: rng.normal(shift if c in SHIFTED else 0.0, 1.0, n) for c in NUMERIC}
    for c in CATEGORICAL:
        data[c] = LEVELS[rng.choice(len(LEVELS), n, p=SHARES)]
    return pd.DataFrame(data)


def outputs(frame: pd.DataFrame) -> dict[str, np.ndarray[Any, Any]]:
    score = frame["f0"].to_numpy() - 0.5 * frame["f1"].to_numpy()
    p1 = 1.0 / (1.0 + np.exp(-score))
    return {"prediction": (p1 > 0.5).astype(np.int64), "proba_0": 1.0 - p1, "proba_1": p1}


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux


# ----------------------------------------------------------------------------- writing the log


def log_dir(rows: int) -> Path:
    return BASE / f"log-{rows}"


def write_log(rows: int) -> dict[str, Any]:
    """``rows`` predictions over ``rows / ROWS_PER_HOUR`` hours from T0, with PredictionLogWriter."""
    from slipway.artifacts import open_file_tree
    from slipway.predlog import PredictionBatch, PredictionLogWriter

    folder = log_dir(rows)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    tree = open_file_tree(str(folder))
    hours = round(rows / ROWS_PER_HOUR)
    bounds = np.linspace(0, rows, hours + 1).round().astype(int)  # the first row of each hour
    rng = np.random.default_rng(rows)
    start = time.perf_counter()
    with PredictionLogWriter(tree, deployment=DEPLOYMENT, flush_interval=0.05) as writer:
        for hour in range(hours):
            first, n = int(bounds[hour]), int(bounds[hour + 1] - bounds[hour])
            frame = features(n, rng, shift=0.5 if hour >= hours * 3 // 4 else 0.0)
            outs = outputs(frame)
            ids = np.char.add("r", np.arange(first, first + n).astype(str)).tolist()
            cuts = np.linspace(0, n, BATCHES_PER_HOUR + 1).round().astype(int)
            for b in range(BATCHES_PER_HOUR):
                lo, hi = int(cuts[b]), int(cuts[b + 1])
                writer.log(
                    PredictionBatch(
                        request_ids=ids[lo:hi],
                        model_name="churn",
                        model_version="1",
                        variant="primary",
                        inputs={c: frame[c].to_numpy()[lo:hi] for c in frame.columns},
                        outputs={k: v[lo:hi] for k, v in outs.items()},
                        latency_ms=2.0,
                        timestamp=T0 + timedelta(hours=hour, minutes=60 * b / BATCHES_PER_HOUR),
                    )
                )
            # One part per hour or so, as a writer flushing every second under steady traffic
            # writes many small ones: the log is not one file per day that each window rereads.
            while writer.buffered_rows:
                time.sleep(0.01)
    seconds = time.perf_counter() - start
    if writer.dropped_rows:
        raise RuntimeError(f"{writer.dropped_rows} rows dropped while writing the log")
    parts = list(folder.rglob("*.parquet"))
    done = {
        "rows": rows,
        "written_rows": writer.written_rows,
        "seconds": seconds,
        "parts": len(parts),
        "bytes": sum(p.stat().st_size for p in parts),
        "hours": hours,
    }
    (folder / "done.json").write_text(json.dumps(done))
    return done


def ensure_log(rows: int, keep: bool) -> dict[str, Any]:
    done = log_dir(rows) / "done.json"
    if keep and done.exists():
        info: dict[str, Any] = json.loads(done.read_text())
        info["reused"] = True
        return info
    print(f"writing a {rows:,}-row log ...", flush=True)
    return write_log(rows)


def reference_file() -> Path:
    path = BASE / "train.parquet"
    if not path.exists():
        BASE.mkdir(parents=True, exist_ok=True)
        features(REFERENCE_ROWS, np.random.default_rng(7)).to_parquet(path)
    return path


# ----------------------------------------------------------------------------- the monitor (in a child)


def timed(obj: Any, name: str) -> list[float] | None:
    """Wrap ``obj.name`` on this instance to add up the seconds spent in it (None: not there)."""
    inner = getattr(obj, name, None)
    if inner is None:
        return None
    total = [0.0]

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - t

    setattr(obj, name, wrapper)
    return total


def monitor_side(rows: int) -> dict[str, Any]:
    from slipway.artifacts import open_blob_store, open_file_tree
    from slipway.monitoring import Monitors
    from slipway.store import open_metadata_store

    info = json.loads((log_dir(rows) / "done.json").read_text())
    hours = int(info["hours"])
    reference = pd.read_parquet(reference_file())
    with tempfile.TemporaryDirectory(prefix="slipway-bench-monitor-") as tmp:
        work = Path(tmp)
        store = open_metadata_store(f"sqlite:///{work / 'slipway.db'}")
        blobs = open_blob_store(str(work / "artifacts"))
        tree = open_file_tree(str(log_dir(rows)))
        monitors = Monitors(store, blobs, tree, cache_dir=work / "cache")
        monitors.create(
            "churn-drift",
            deployment=DEPLOYMENT,
            reference="train.parquet",
            data=reference,
            window="1h",
            rules=RULES,
        )
        del reference
        spent = {
            "reading the log": timed(monitors, "_read"),
            "earlier results (history)": timed(store, "list_monitor_results"),
            "recording results": timed(store, "record_monitor_result"),
        }
        gc.collect()
        before_kb = rss_kb()
        start_ms = int(T0.timestamp() * 1000)
        end_ms = start_ms + hours * 3_600_000
        t = time.perf_counter()
        outcomes = monitors.backfill("churn-drift", start=start_ms, end=end_ms)
        seconds = time.perf_counter() - t
        peak = peak_kb()
        store.close()
    seconds_in = {k: v[0] for k, v in spent.items() if v is not None}
    seconds_in["the rest (drift, quality, rules)"] = seconds - sum(seconds_in.values())
    window_rows = [o.result.rows for o in outcomes]
    return {
        "log_rows": rows,
        "windows": len(outcomes),
        "rows_evaluated": int(sum(window_rows)),
        "rows_per_window": [min(window_rows), max(window_rows)],
        "breached_windows": sum(1 for o in outcomes if o.breaches),
        "seconds": seconds,
        "windows_per_second": len(outcomes) / seconds,
        "rss_before_backfill_mb": before_kb / 1024,
        "peak_rss_mb": peak / 1024,
        "peak_increment_mb": (peak - before_kb) / 1024,
        "seconds_in": seconds_in,
    }


# ----------------------------------------------------------------------------- driver


def main() -> None:
    if "--side" in sys.argv:
        print(json.dumps(monitor_side(int(sys.argv[sys.argv.index("--side") + 1]))))
        return
    keep = "--keep" in sys.argv
    sizes = SIZES
    if "--sizes" in sys.argv:
        sizes = tuple(int(s) for s in sys.argv[sys.argv.index("--sizes") + 1].split(","))
    reference_file()
    results: dict[str, Any] = {"logs": {}, "monitor": {}}
    for rows in sizes:
        results["logs"][str(rows)] = info = ensure_log(rows, keep)
        print(f"log {rows:,} rows: {json.dumps(info)}", flush=True)
    env = dict(os.environ)
    if "--src" in sys.argv:
        env["PYTHONPATH"] = str(Path(sys.argv[sys.argv.index("--src") + 1]).resolve())
    results["src"] = env.get("PYTHONPATH", str(ROOT / "src"))
    for rows in sizes:
        run = subprocess.run(
            [sys.executable, __file__, "--side", str(rows)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if run.returncode:
            sys.exit(f"monitor on the {rows:,}-row log failed:\n{run.stderr}")
        results["monitor"][str(rows)] = out = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"monitor {rows:,} rows: {json.dumps(out)}", flush=True)
    name = "monitor_log-src.json" if "--src" in sys.argv else "monitor_log.json"
    out_file = ROOT / "benchmarks" / "results" / name
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(results, indent=1))
    print(
        "\n| prediction log | windows (1h) | backfill seconds | windows/s | rows/s "
        "| RSS before | peak RSS | peak − before |\n|---|---|---|---|---|---|---|---|"
    )
    for rows in sizes:
        m = results["monitor"][str(rows)]
        print(
            f"| {rows:,} rows, {m['windows'] / 24:.0f} day(s) | {m['windows']} | {m['seconds']:.1f} "
            f"| {m['windows_per_second']:.1f} | {m['rows_evaluated'] / m['seconds']:,.0f} "
            f"| {m['rss_before_backfill_mb']:.0f} MB | {m['peak_rss_mb']:.0f} MB "
            f"| {m['peak_increment_mb']:.0f} MB |"
        )
    for rows in sizes:
        m = results["monitor"][str(rows)]
        spent = ", ".join(f"{k} {v:.1f} s" for k, v in m["seconds_in"].items())
        print(f"\n{rows:,} rows, backfill seconds spent in: {spent}")


if __name__ == "__main__":
    main()
