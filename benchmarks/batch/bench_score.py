"""Rows per second of ``slipway.batch.score`` against one ``model.predict`` over the whole frame.

Issue 6's bar: local scoring of a 2M-row Parquet file reaches at least 90% of the rows per second
of a plain predict over the whole DataFrame, with peak memory bounded by the chunk size. Each side
runs in a fresh process so its peak RSS is its own. ``score`` reads, checks, predicts and writes;
the plain predict only predicts a frame already in memory (its read is timed separately).

    python benchmarks/batch/bench_score.py [--rows 2000000] [--chunk-rows 100000]
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


def _make(folder: Path, rows: int) -> tuple[Path, Path]:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from slipway.models import save_model

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"f{i}": rng.normal(size=rows) for i in range(10)})
    y = (frame["f0"] + frame["f1"] > 0).astype("int64")
    clf = LogisticRegression().fit(frame.head(10_000), y.head(10_000))
    save_model(clf, folder / "model", input_example=frame.head(5), reference_rows=0)
    frame.to_parquet(folder / "in.parquet", row_group_size=100_000)
    return folder / "model", folder / "in.parquet"


def _child(mode: str, model_dir: str, data: str, out: str, chunk_rows: int) -> None:
    import pandas as pd

    from slipway.batch import score
    from slipway.models import load_model

    model = load_model(model_dir)
    if mode == "plain":
        t0 = time.perf_counter()
        frame = pd.read_parquet(data)
        read = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.raw.predict(frame)  # type: ignore[attr-defined]
        seconds = time.perf_counter() - t0
        rows = len(frame)
    else:
        t0 = time.perf_counter()
        result = score(model, data, out, chunk_rows=chunk_rows, proba=mode == "score+proba", resume=False)
        seconds, rows, read = time.perf_counter() - t0, result.rows, 0.0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "rows": rows, "seconds": seconds, "read": read, "peak_mb": rss}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        mode, model_dir, data, out = args.child
        _child(mode, model_dir, data, out, args.chunk_rows)
        return
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, data = _make(Path(tmp), args.rows)
        plain = None
        for mode in ("plain", "score", "score+proba"):
            out = str(Path(tmp) / f"out-{mode}.parquet")
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--chunk-rows",
                    str(args.chunk_rows),
                    "--child",
                    mode,
                    str(model_dir),
                    str(data),
                    out,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            r = json.loads(done.stdout.strip().splitlines()[-1])
            rate = r["rows"] / r["seconds"]
            plain = plain or rate
            extra = f" (read {r['read']:.2f}s not counted)" if mode == "plain" else ""
            print(
                f"{mode:12s} {rate:>12,.0f} rows/s  {rate / plain:6.1%} of plain  peak RSS {r['peak_mb']:.0f} MB{extra}"
            )


if __name__ == "__main__":
    main()
