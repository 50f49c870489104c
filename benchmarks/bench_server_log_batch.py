"""Metric throughput of the team server: HttpMetadataStore.log_batch against a real `slipway server`.

    python benchmarks/bench_server_log_batch.py [--rounds 20]

The tracking client batches metrics in the background and sends them with ``store.log_batch``;
this measures that call directly, over keep-alive HTTP to a server process on 127.0.0.1 backed by
SQLite, for batches of 1,000 and 5,000 metrics, beside the same calls on the SQL store in-process
(what the HTTP layer costs) and single-metric calls (the unbatched per-call rate). The target is
100× MLflow's ≈ 20 calls/s through its server, i.e. ≥ 2,000 metrics/s.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import free_port, python_env, save, wait_http

from slipway.core import Metric
from slipway.store import MetadataStore, open_metadata_store
from slipway.store._http import HttpMetadataStore


def _batches(size: int, rounds: int) -> list[list[Metric]]:
    now = 1_700_000_000_000
    return [
        [
            Metric(key=f"m{j % 10}", value=random.random(), step=r * size + j, timestamp=now + j)
            for j in range(size)
        ]
        for r in range(rounds)
    ]


def _rate(store: MetadataStore, size: int, rounds: int) -> dict[str, float]:
    run = store.create_run(experiment_id=store.create_experiment(name=f"bench-{time.time_ns()}").id)
    batches = _batches(size, rounds)
    calls = []
    t0 = time.perf_counter()
    for batch in batches:
        t = time.perf_counter()
        store.log_batch(run.id, metrics=batch)
        calls.append(time.perf_counter() - t)
    total = time.perf_counter() - t0
    calls.sort()
    return {
        "metrics_per_s": size * rounds / total,
        "call_p50_ms": calls[len(calls) // 2] * 1000,
        "call_max_ms": calls[-1] * 1000,
    }


def _single_calls(store: MetadataStore, n: int) -> float:
    run = store.create_run(experiment_id=store.create_experiment(name=f"bench-{time.time_ns()}").id)
    t0 = time.perf_counter()
    for i in range(n):
        store.log_batch(run.id, metrics=[Metric(key="loss", value=1.0 / (i + 1), step=i)])
    return n / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = f"sqlite:///{root / 'server.db'}"
        env = python_env()
        created = subprocess.run(
            [sys.executable, "-m", "slipway", "token", "create", "--name", "bench", "--store", db],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        token = next(
            line.split("=", 1)[1] for line in created.stdout.splitlines() if "export SLIPWAY_TOKEN=" in line
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [sys.executable, "-m", "slipway", "server", "--store", db, "--artifacts", str(root / "a")]
        server = subprocess.Popen(
            [*argv, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_http(f"{url}/health", proc=server)
            remote = HttpMetadataStore.connect(url, token=token)
            local = open_metadata_store(f"sqlite:///{root / 'direct.db'}")
            for size in (1000, 5000):
                rounds = max(4, args.rounds * 1000 // size)
                results[f"http_batch_{size}"] = _rate(remote, size, rounds)
                results[f"sql_in_process_batch_{size}"] = _rate(local, size, rounds)
            results["http_single_metric_calls_per_s"] = _single_calls(remote, 500)
            remote.close()
            local.close()
        finally:
            server.terminate()
            server.wait(timeout=15)
    for name, value in results.items():
        if isinstance(value, dict):
            print(
                f"{name:28} {value['metrics_per_s']:>10,.0f} metrics/s   "
                f"p50 {value['call_p50_ms']:6.1f} ms   max {value['call_max_ms']:6.1f} ms"
            )
        else:
            print(f"{name:28} {value:>10,.0f} calls/s")
    print(f"saved {save('server_log_batch', results)}")


if __name__ == "__main__":
    main()
