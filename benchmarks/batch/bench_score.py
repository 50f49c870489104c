"""Rows per second and peak memory of ``slipway.batch.score`` against plain pandas scoring.

Issue 6's bar: local scoring of a 2M-row Parquet file reaches at least 90% of the rows per second
of a plain ``model.predict`` over the whole DataFrame, with peak memory bounded by the chunk size.
Three ways to score the same file, each in a fresh process so its peak RSS is its own:

- ``predict``: ``model.predict`` over the whole frame already in memory (the read is not timed):
  the issue's literal baseline;
- ``pandas``: the whole job as a notebook writes it: ``pd.read_parquet``, ``model.predict``,
  ``to_parquet`` of the frame with its predictions;
- ``score``: ``slipway.batch.score`` (read, check against the signature, predict, write, in chunks).

Two models: ``hgb`` (HistGradientBoostingClassifier, 100 trees: a model whose predict is the work)
and ``logistic`` (LogisticRegression: predicting 2M rows takes less time than reading them, so
no job that reads and writes the file can reach 90% of predict alone; the job-to-job ratio is the
one that says something there). ``--sizes`` scores larger inputs to show that the peak stays put.

    python benchmarks/batch/bench_score.py [--rows 2000000] [--chunk-rows 100000] [--models hgb logistic]
        [--sizes 2000000 8000000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FEATURES = 10


def _frame(rows: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({f"f{i}": rng.normal(size=rows) for i in range(FEATURES)})


def _make_model(folder: Path, kind: str) -> Path:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    from slipway.models import save_model

    train = _frame(20_000, seed=1)
    y = (train["f0"] + train["f1"] * train["f2"] > 0).astype("int64")
    clf = (
        HistGradientBoostingClassifier(max_iter=100, early_stopping=False)
        if kind == "hgb"
        else LogisticRegression()
    )
    clf.fit(train, y)
    path = folder / f"model-{kind}"
    if path.exists():
        return path
    save_model(clf, path, input_example=train.head(5), reference_rows=0)
    return path


def _make_data(folder: Path, rows: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / f"in-{rows}.parquet"
    with pq.ParquetWriter(path, pa.schema([(f"f{i}", pa.float64()) for i in range(FEATURES)])) as w:
        for start in range(0, rows, 1_000_000):  # written in slices: the script itself stays small
            frame = _frame(min(1_000_000, rows - start), seed=start)
            w.write_table(pa.Table.from_pandas(frame, preserve_index=False), row_group_size=100_000)
    return path


def _child(mode: str, model_dir: str, data: str, out: str, chunk_rows: int) -> None:
    import pandas as pd

    from slipway.batch import score
    from slipway.models import load_model

    model = load_model(model_dir)
    raw = model.raw
    read = 0.0
    if mode == "predict":
        t0 = time.perf_counter()
        frame = pd.read_parquet(data)
        read = time.perf_counter() - t0
        t0 = time.perf_counter()
        raw.predict(frame)  # type: ignore[attr-defined]
        seconds, rows = time.perf_counter() - t0, len(frame)
    elif mode == "pandas":
        t0 = time.perf_counter()
        frame = pd.read_parquet(data)
        frame["prediction"] = raw.predict(frame)  # type: ignore[attr-defined]
        frame.to_parquet(out, index=False)
        seconds, rows = time.perf_counter() - t0, len(frame)
    else:
        t0 = time.perf_counter()
        result = score(model, data, out, chunk_rows=chunk_rows, proba=False, resume=False)
        seconds, rows = time.perf_counter() - t0, result.rows
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "read": read, "peak_mb": rss}))


def _run(mode: str, model_dir: Path, data: Path, out: Path, chunk_rows: int) -> dict[str, float]:
    args = [sys.executable, __file__, "--chunk-rows", str(chunk_rows), "--child", mode]
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
    parser.add_argument("--sizes", nargs="*", type=int, default=[2_000_000, 8_000_000])
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        mode, model_dir, data, out = args.child
        _child(mode, model_dir, data, out, args.chunk_rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = _make_data(folder, args.rows)
        print(f"{args.rows:,} rows x {FEATURES} float features, chunks of {args.chunk_rows:,} rows")
        for kind in args.models:
            model_dir = _make_model(folder, kind)
            rates: dict[str, float] = {}
            for mode in ("predict", "pandas", "score"):
                r = _run(mode, model_dir, data, folder / f"out-{kind}-{mode}.parquet", args.chunk_rows)
                rates[mode] = r["rows"] / r["seconds"]
                note = f"  (read {r['read']:.2f}s not counted)" if mode == "predict" else ""
                vs = (
                    f"{rates[mode] / rates['predict']:6.1%} of predict, "
                    f"{rates[mode] / rates.get('pandas', rates[mode]):6.1%} of the pandas job"
                )
                print(
                    f"{kind:9s} {mode:8s} {rates[mode]:>12,.0f} rows/s  {vs}  peak RSS {r['peak_mb']:5.0f} MB{note}"
                )
        if args.sizes:
            print("peak RSS of score (logistic) by input size, same chunk size:")
            model_dir = _make_model(folder, "logistic")
            for rows in args.sizes:
                data = _make_data(folder, rows)
                r = _run("score", model_dir, data, folder / f"out-size-{rows}.parquet", args.chunk_rows)
                print(
                    f"  {rows:>11,} rows ({data.stat().st_size / 1e6:5.0f} MB file): peak RSS {r['peak_mb']:.0f} MB"
                )
                data.unlink()


if __name__ == "__main__":
    main()
