"""Searching 100k runs with 10 metrics each, by a metric filter and order, on SQLite and PostgreSQL.

    python benchmarks/bench_search.py [--runs 100000] [--postgres URL]

Target (issue 2): under 50 ms median on both. The runs are bulk-inserted straight into the SQL
tables (a benchmark may use internals; going through log_batch would only make setup slower), then
`store.search_runs` — the public path, including loading params, tags and metrics of the page — is
timed. PostgreSQL runs in a database created for the benchmark and dropped afterwards.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _common import save

from slipway.core import new_id
from slipway.store import open_metadata_store
from slipway.store._sql import _tables as t
from slipway.store._sql import upgrade

QUERIES = {
    "filter+order same metric": dict(filter="metrics.auc > 0.9", order_by="metrics.auc desc"),
    "filter one, order another": dict(filter="metrics.m3 > 0.5", order_by="metrics.m7 desc"),
    "filter metric and param": dict(
        filter="metrics.auc > 0.5 and params.model = 'rf'", order_by="metrics.auc desc"
    ),
}


def populate(url: str, n_runs: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    store = open_metadata_store(url)
    exp = store.create_experiment(name=f"bench-{uuid.uuid4().hex[:8]}")
    engine = store._engine  # type: ignore[attr-defined]
    keys = ["auc", *[f"m{i}" for i in range(1, 10)]]
    batch = 5_000
    t0 = time.perf_counter()
    for start in range(0, n_runs, batch):
        run_rows, latest, params = [], [], []
        for i in range(start, min(start + batch, n_runs)):
            rid = new_id()
            run_rows.append(
                dict(
                    id=rid,
                    experiment_id=exp.id,
                    name=f"run-{i}",
                    status="FINISHED",
                    start_time=1_700_000_000_000 + i,
                    end_time=None,
                    user_name="bench",
                    parent_run_id=None,
                    heartbeat_at=None,
                )
            )
            for k in keys:
                latest.append(
                    dict(run_id=rid, key=k, experiment_id=exp.id, value=rng.random(), step=0, timestamp=0)
                )
            params.append(dict(run_id=rid, key="model", value=rng.choice(["rf", "lr", "gb"])))
        with engine.begin() as c:
            c.execute(sa.insert(t.runs), run_rows)
            c.execute(sa.insert(t.latest_metrics), latest)
            c.execute(sa.insert(t.params), params)
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(sa.text("ANALYZE"))
        else:
            c.execute(sa.text("ANALYZE"))
    print(f"  populated {n_runs:,} runs x {len(keys)} metrics in {time.perf_counter() - t0:.1f} s")
    store.close()
    return exp.id


def measure(url: str, experiment_id: str, repeats: int) -> dict[str, Any]:
    store = open_metadata_store(url)
    out: dict[str, Any] = {}
    for name, q in QUERIES.items():
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            page = store.search_runs(experiment_ids=[experiment_id], max_results=100, **q)
            times.append((time.perf_counter() - t0) * 1000)
        assert len(page.items) == 100
        assert len(page.items[0].metrics) == 10
        values = [r.metrics["auc"] for r in page.items]
        if q["order_by"] == "metrics.auc desc":
            assert values == sorted(values, reverse=True)
        out[name] = {
            "median_ms": statistics.median(times),
            "p95_ms": sorted(times)[int(0.95 * len(times)) - 1],
        }
        print(f"  {name:28s} median {out[name]['median_ms']:6.1f} ms   p95 {out[name]['p95_ms']:6.1f} ms")
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help="a server where the benchmark may create and drop a database ('' to skip)",
    )
    args = ap.parse_args()
    results: dict[str, Any] = {"runs": args.runs}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        print("SQLite")
        results["sqlite"] = measure(url, populate(url, args.runs), args.repeats)
    if args.postgres:
        admin = sa.create_engine(
            args.postgres.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT"
        )
        name = f"slipway_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(sa.text(f"CREATE DATABASE {name}"))
        url = sa.make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            print("PostgreSQL")
            results["postgres"] = measure(url, populate(url, args.runs), args.repeats)
        finally:
            with admin.connect() as c:
                c.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    print(f"saved {save('search', results)}")


if __name__ == "__main__":
    main()
