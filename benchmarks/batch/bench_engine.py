"""Rows per second of scoring on an engine against plain pandas and the in-process ``score``.

Issue 6 asks, for the engine, for its overhead over plain pandas on one machine and for how it
scales with workers. The same 2M-row Parquet file (10 float features, row groups of 100k rows, as
``bench_score.py`` makes it) is scored, each way in a fresh process:

- ``predict``: ``model.predict`` over the whole frame already in memory (the read is not timed);
- ``pandas``: ``pd.read_parquet``, ``model.predict``, ``to_parquet``: the job as a notebook does it;
- ``score``: ``slipway.batch.score`` in this process;
- ``dask-1``, ``dask-2``: ``score_distributed`` on a Dask LocalCluster of 1 and 2 worker processes;
- ``local-2``: ``score_distributed`` on ``LocalEngine(2)`` (a process pool, no Dask).

Each way runs ``--repeat`` times (3) and the best time is kept: the machine this was written on is
shared, and the best run is the one least disturbed. On an engine the first job (cold: each worker
imports pandas, pyarrow and scikit-learn and loads the model) is reported apart and not counted;
the warm jobs are the steady state a long job sees. Engine start-up is timed apart too. All jobs
predict only the class (``proba=False``) and write no prediction log, like the pandas job.

``predict`` and ``pandas`` use every core for a model that multithreads (HistGradientBoosting's
OpenMP); an engine's worker, like a Dask worker, gets one thread, so 1 worker is one core.

    python benchmarks/batch/bench_engine.py [--rows 2000000] [--chunk-rows 100000] [--models hgb logistic]
        [--modes predict pandas score dask-1 dask-2 local-2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from bench_score import FEATURES, _make_data, _make_model  # the same file and models

MODES = ("predict", "pandas", "score", "dask-1", "dask-2", "local-2")


def _child(mode: str, model_dir: str, data: str, out: str, chunk_rows: int, repeat: int) -> None:
    import pandas as pd

    from slipway.batch import score, score_distributed
    from slipway.engines import open_engine
    from slipway.models import load_model

    model = load_model(model_dir)
    result: dict[str, float] = {"start": 0.0, "cold": 0.0}
    times: list[float] = []
    if mode in ("predict", "pandas", "score"):
        for i in range(repeat):
            t0 = time.perf_counter()
            if mode == "score":
                rows = score(model, data, f"{out}-{i}", chunk_rows=chunk_rows, proba=False, resume=False).rows
            else:
                frame = pd.read_parquet(data)
                rows = len(frame)
                if mode == "predict":
                    t0 = time.perf_counter()  # the read is not timed
                    model.raw.predict(frame)  # type: ignore[attr-defined]
                else:
                    frame["prediction"] = model.raw.predict(frame)  # type: ignore[attr-defined]
                    frame.to_parquet(f"{out}-{i}", index=False)
            times.append(time.perf_counter() - t0)
    else:
        kind, workers = mode.split("-")
        t0 = time.perf_counter()
        with open_engine(kind, workers=int(workers)) as engine:
            result["start"] = time.perf_counter() - t0
            for i in range(repeat + 1):
                t0 = time.perf_counter()
                rows = score_distributed(
                    model, data, f"{out}-{i}", engine=engine, chunk_rows=chunk_rows, proba=False, resume=False
                ).rows
                times.append(time.perf_counter() - t0)
        result["cold"] = times.pop(0)
    print(json.dumps({"mode": mode, "rows": rows, "seconds": min(times), **result}))


def _run(mode: str, model_dir: Path, data: Path, out: Path, chunk_rows: int, repeat: int) -> dict[str, float]:
    args = [
        sys.executable,
        __file__,
        "--chunk-rows",
        str(chunk_rows),
        "--repeat",
        str(repeat),
        "--child",
        mode,
    ]
    done = subprocess.run(
        [*args, str(model_dir), str(data), str(out)], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--models", nargs="+", default=["hgb", "logistic"], choices=["hgb", "logistic"])
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each way; the best is kept")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        mode, model_dir, data, out = args.child
        _child(mode, model_dir, data, out, args.chunk_rows, args.repeat)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = _make_data(folder, args.rows)
        print(
            f"{args.rows:,} rows x {FEATURES} float features, chunks of {args.chunk_rows:,} rows, "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
        )
        print(f"{'model':9s} {'mode':8s} {'rows/s':>12s}  {'vs pandas':>9s}  {'vs score':>8s}  start  cold")
        for kind in args.models:
            model_dir = _make_model(folder, kind)
            rates: dict[str, float] = {}
            for mode in args.modes:
                r = _run(mode, model_dir, data, folder / f"out-{kind}-{mode}", args.chunk_rows, args.repeat)
                rates[mode] = r["rows"] / r["seconds"]
                pandas = f"{rates[mode] / rates['pandas']:9.2f}" if "pandas" in rates else ""
                local = f"{rates[mode] / rates['score']:8.2f}" if "score" in rates else ""
                start = f"{r['start']:5.1f}s {r['cold']:5.1f}s" if r["start"] else ""
                print(f"{kind:9s} {mode:8s} {rates[mode]:>12,.0f}  {pandas:>9s}  {local:>8s}  {start}")
            if "dask-1" in rates and "dask-2" in rates:
                print(f"{kind:9s} dask 1 -> 2 workers: {rates['dask-2'] / rates['dask-1']:.2f}x rows/s")


if __name__ == "__main__":
    main()
