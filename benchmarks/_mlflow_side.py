"""The MLflow half of the tracking benchmarks; runs inside the anchors' venv.

Prints one JSON object so the harness can compare both tools in the same run.
"""

from __future__ import annotations

import json
import sys
import time


def log_metric(uri: str, n: int) -> dict[str, float]:
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench")
    with mlflow.start_run():
        t0 = time.perf_counter()
        for i in range(n):
            mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
        loop = time.perf_counter() - t0
    total = time.perf_counter() - t0
    return {"calls": n, "loop_s": loop, "total_s": total, "calls_per_s": n / total}


if __name__ == "__main__":
    mode, uri, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(log_metric(uri, n)))
