"""Tracking speed, slipway beside MLflow on the same machine in one run, reported as ratios.

    python benchmarks/bench_tracking.py            # all: import, log_metric on SQLite and via server

Targets (issue 2): log_metric from a training loop ≥ 100× MLflow's per-call rate on SQLite and
through the team server; `import slipway` ≤ 1/10 of `import mlflow`. The slipway rate counts the
whole run, including the final flush of the background writer, so nothing is hidden in a buffer.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    ANCHOR_PYTHON,
    free_port,
    median_wall,
    python_env,
    require_anchor,
    run_json,
    save,
    wait_http,
)

SLIPWAY_LOOP = """
import json, sys, time
import slipway
n = int(sys.argv[1])
with slipway.start_run(experiment="bench") as run:
    t0 = time.perf_counter()
    for i in range(n):
        slipway.log_metric("loss", 1.0 / (i + 1), step=i)
    loop = time.perf_counter() - t0
total = time.perf_counter() - t0
hist = len(slipway.get_run(run.id).metrics)  # the run is readable after the flush
print(json.dumps({"calls": n, "loop_s": loop, "total_s": total, "calls_per_s": n / total,
                  "loop_calls_per_s": n / loop}))
"""


def bench_import(repeats: int) -> dict[str, Any]:
    py = sys.executable
    bare = median_wall([py, "-c", "pass"], repeats=repeats)
    slip = median_wall([py, "-c", "import slipway"], repeats=repeats)
    bare_a = median_wall([str(ANCHOR_PYTHON), "-c", "pass"], repeats=repeats)
    mlf = median_wall([str(ANCHOR_PYTHON), "-c", "import mlflow"], repeats=repeats)
    count = lambda p, m: int(  # noqa: E731
        subprocess.check_output([p, "-c", f"import {m}, sys; print(len(sys.modules))"], text=True)
    )
    return {
        "slipway_s": slip - bare,
        "mlflow_s": mlf - bare_a,
        "slipway_modules": count(py, "slipway"),
        "mlflow_modules": count(str(ANCHOR_PYTHON), "mlflow"),
        "ratio_mlflow_over_slipway": (mlf - bare_a) / max(slip - bare, 1e-6),
    }


def slipway_loop(n: int, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    return run_json([sys.executable, "-c", SLIPWAY_LOOP, str(n)], env=env, cwd=cwd)


def mlflow_loop(uri: str, n: int, cwd: Path) -> dict[str, Any]:
    return run_json(
        [str(ANCHOR_PYTHON), str(Path(__file__).parent / "_mlflow_side.py"), "log_metric", uri, str(n)],
        env=python_env(),
        cwd=cwd,
    )


def bench_sqlite(n_slipway: int, n_mlflow: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        s = slipway_loop(n_slipway, python_env(SLIPWAY_HOME=str(d / ".slipway")), d)
        m = mlflow_loop(f"sqlite:///{d / 'mlflow.db'}", n_mlflow, d)
    return {"slipway": s, "mlflow": m, "ratio": s["calls_per_s"] / m["calls_per_s"]}


def bench_server(n_slipway: int, n_mlflow: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        sp, mp = free_port(), free_port()
        slip = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "slipway",
                "server",
                "--store",
                f"sqlite:///{d / 's.db'}",
                "--artifacts",
                str(d / "s-art"),
                "--host",
                "127.0.0.1",
                "--port",
                str(sp),
                "--no-auth",
            ],
            env=python_env(),
            cwd=d,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        mlf = subprocess.Popen(
            [
                str(ANCHOR_PYTHON),
                "-m",
                "mlflow",
                "server",
                "--backend-store-uri",
                f"sqlite:///{d / 'm.db'}",
                "--default-artifact-root",
                str(d / "m-art"),
                "--host",
                "127.0.0.1",
                "--port",
                str(mp),
                "--workers",
                "1",
            ],
            env=python_env(),
            cwd=d,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_http(f"http://127.0.0.1:{sp}/health", proc=slip)
            wait_http(f"http://127.0.0.1:{mp}/health", proc=mlf, timeout=120)
            s = slipway_loop(n_slipway, python_env(SLIPWAY_TRACKING_URI=f"http://127.0.0.1:{sp}"), d)
            m = mlflow_loop(f"http://127.0.0.1:{mp}", n_mlflow, d)
        finally:
            for p in (slip, mlf):
                p.terminate()
                p.wait(timeout=30)
    return {"slipway": s, "mlflow": m, "ratio": s["calls_per_s"] / m["calls_per_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", nargs="*", default=["import", "sqlite", "server"])
    ap.add_argument("--calls", type=int, default=300_000, help="slipway log_metric calls per run")
    ap.add_argument("--mlflow-calls", type=int, default=1_500, help="MLflow calls on SQLite")
    ap.add_argument("--mlflow-server-calls", type=int, default=300, help="MLflow calls through its server")
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args()
    require_anchor()
    results: dict[str, Any] = {}
    if "import" in args.which:
        r = results["import"] = bench_import(args.repeats)
        print(
            f"import: slipway {r['slipway_s'] * 1000:.0f} ms ({r['slipway_modules']} modules), "
            f"mlflow {r['mlflow_s'] * 1000:.0f} ms ({r['mlflow_modules']} modules): "
            f"slipway is {r['ratio_mlflow_over_slipway']:.1f}x faster (target >= 10x)"
        )
    for name, fn, n_m in (
        ("sqlite", bench_sqlite, args.mlflow_calls),
        ("server", bench_server, args.mlflow_server_calls),
    ):
        if name in args.which:
            r = results[f"log_metric_{name}"] = fn(args.calls, n_m)
            print(
                f"log_metric via {name}: slipway {r['slipway']['calls_per_s']:,.0f} calls/s "
                f"(loop alone {r['slipway']['loop_calls_per_s']:,.0f}/s), mlflow {r['mlflow']['calls_per_s']:,.1f} "
                f"calls/s: ratio {r['ratio']:,.0f}x (target >= 100x)"
            )
    print(f"saved {save('tracking', results)}")


if __name__ == "__main__":
    main()
