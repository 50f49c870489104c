"""Registry speed: register a version, then move an alias to it; slipway beside MLflow, one run.

    python benchmarks/bench_registry.py            # both: on SQLite and through each tool's server

Target (issue 3): register + set alias at most one fifth of MLflow's time, on SQLite and through
the server. slipway is measured at the metadata-store level (``create_model_version`` with the
model's file list, then ``set_alias``, each one transaction with its audit event); the registry
service adds its own work on top. MLflow registers from a logged run with
``MlflowClient().create_model_version`` and moves the alias with ``set_registered_model_alias``.
The slipway server runs with authentication (a token, as a team would); MLflow's has none.
Each side warms up first and reports the median of many calls.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import ANCHOR_PYTHON, free_port, python_env, require_anchor, run_json, save, wait_http

SLIPWAY_SIDE = """
import hashlib, json, statistics, sys, time
from slipway.core import ArtifactEntry
from slipway.store import open_metadata_store

uri, n, token = sys.argv[1], int(sys.argv[2]), sys.argv[3] or None
store = open_metadata_store(uri, token=token)
run = store.create_run(experiment_id=store.create_experiment(name="bench").id)
files = [
    ArtifactEntry(path=p, digest=hashlib.sha256(p.encode()).hexdigest(), size=1000)
    for p in ("slipway.yaml", "model.pkl", "requirements.txt", "input_example.json", "conda.yaml")
]
register, alias = [], []
for i in range(n + 5):
    t0 = time.perf_counter()
    mv = store.create_model_version(
        name="churn", source=f"runs:/{run.id}/model", manifest_digest=hashlib.sha256(str(i).encode()).hexdigest(),
        files=files, run_id=run.id, lineage={"run_id": run.id}, actor="bench",
    )
    t1 = time.perf_counter()
    store.set_alias(name="churn", alias="production", version=mv.version, actor="bench", reason="bench")
    t2 = time.perf_counter()
    if i >= 5:  # warm-up: connections, caches, the first transaction of each kind
        register.append(t1 - t0)
        alias.append(t2 - t1)
assert store.get_version_by_alias("churn", "production").version == n + 5
store.close()
print(json.dumps({"calls": n, "register_ms": statistics.median(register) * 1000,
                  "alias_ms": statistics.median(alias) * 1000}))
"""

MLFLOW_SIDE = """
import json, os, statistics, sys, tempfile, time
import mlflow
from mlflow import MlflowClient

uri, n = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("bench")
folder = tempfile.mkdtemp()
with open(os.path.join(folder, "MLmodel"), "w") as f:
    f.write("flavors: {}\\n")
with mlflow.start_run() as run:
    mlflow.log_artifacts(folder, "model")
client = MlflowClient()
client.create_registered_model("churn")
register, alias = [], []
for i in range(n + 3):
    t0 = time.perf_counter()
    mv = client.create_model_version("churn", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    t1 = time.perf_counter()
    client.set_registered_model_alias("churn", "production", mv.version)
    t2 = time.perf_counter()
    if i >= 3:
        register.append(t1 - t0)
        alias.append(t2 - t1)
print(json.dumps({"calls": n, "register_ms": statistics.median(register) * 1000,
                  "alias_ms": statistics.median(alias) * 1000}))
"""


def _side(python: str, code: str, *args: str, cwd: Path) -> dict[str, Any]:
    result = run_json([python, "-c", code, *args], env=python_env(), cwd=cwd)
    result["total_ms"] = result["register_ms"] + result["alias_ms"]
    return result


def _compare(s: dict[str, Any], m: dict[str, Any]) -> dict[str, Any]:
    return {"slipway": s, "mlflow": m, "fraction_of_mlflow": s["total_ms"] / m["total_ms"]}


def bench_sqlite(n_slipway: int, n_mlflow: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        s = _side(sys.executable, SLIPWAY_SIDE, f"sqlite:///{d / 's.db'}", str(n_slipway), "", cwd=d)
        m = _side(str(ANCHOR_PYTHON), MLFLOW_SIDE, f"sqlite:///{d / 'm.db'}", str(n_mlflow), cwd=d)
    return _compare(s, m)


def _token(store_url: str, cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "slipway", "token", "create", "--name", "bench", "--store", store_url],
        capture_output=True,
        text=True,
        check=True,
        env=python_env(),
        cwd=cwd,
    ).stdout
    return next(line.split("=", 1)[1].strip() for line in out.splitlines() if "SLIPWAY_TOKEN=" in line)


def _serve(argv: list[str], *, health: str, cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        argv, env=python_env(), cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_http(health, proc=proc, timeout=120)
    except BaseException:
        proc.terminate()
        proc.wait(timeout=30)
        raise
    return proc


def bench_server(n_slipway: int, n_mlflow: int) -> dict[str, Any]:
    """One server at a time: MLflow 3's server starts job-consumer processes that use CPU when idle."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        port = free_port()
        store_url = f"sqlite:///{d / 's.db'}"
        token = _token(store_url, d)
        argv = [sys.executable, "-m", "slipway", "server", "--store", store_url]
        argv += ["--artifacts", str(d / "s-art"), "--host", "127.0.0.1", "--port", str(port)]
        server = _serve(argv, health=f"http://127.0.0.1:{port}/health", cwd=d)
        try:
            s = _side(sys.executable, SLIPWAY_SIDE, f"http://127.0.0.1:{port}", str(n_slipway), token, cwd=d)
        finally:
            server.terminate()
            server.wait(timeout=30)

        port = free_port()
        argv = [
            str(ANCHOR_PYTHON),
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{d / 'm.db'}",
        ]
        argv += ["--default-artifact-root", str(d / "m-art"), "--host", "127.0.0.1", "--port", str(port)]
        argv += ["--workers", "1"]
        server = _serve(argv, health=f"http://127.0.0.1:{port}/health", cwd=d)
        try:
            m = _side(str(ANCHOR_PYTHON), MLFLOW_SIDE, f"http://127.0.0.1:{port}", str(n_mlflow), cwd=d)
        finally:
            server.terminate()
            server.wait(timeout=30)
    return _compare(s, m)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", nargs="*", default=["sqlite", "server"])
    ap.add_argument("--calls", type=int, default=300, help="slipway register + alias pairs")
    ap.add_argument("--mlflow-calls", type=int, default=60, help="MLflow pairs on SQLite")
    ap.add_argument("--mlflow-server-calls", type=int, default=30, help="MLflow pairs through its server")
    args = ap.parse_args()
    require_anchor()
    results: dict[str, Any] = {}
    for name, fn, n_m in (
        ("sqlite", bench_sqlite, args.mlflow_calls),
        ("server", bench_server, args.mlflow_server_calls),
    ):
        if name in args.which:
            r = results[name] = fn(args.calls, n_m)
            s, m = r["slipway"], r["mlflow"]
            print(
                f"register + set alias via {name}: slipway {s['register_ms']:.2f} + {s['alias_ms']:.2f} ms, "
                f"mlflow {m['register_ms']:.1f} + {m['alias_ms']:.1f} ms: slipway takes "
                f"{r['fraction_of_mlflow']:.3f} of MLflow's time (target <= 0.2)"
            )
    print(f"saved {save('registry', results)}")


if __name__ == "__main__":
    main()
