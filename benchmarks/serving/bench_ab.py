"""Server CPU per request of two slipway versions (and the floor), side by side: for small changes.

    .venv/bin/python benchmarks/serving/bench_ab.py --base HEAD~1 [--rounds 16] [--seconds 3] [--connections 1]

``bench_serving.py`` starts each server afresh per round and loads it for 10 s; on a shared machine
the host's noise moves a one-connection figure by ±15% from one load to the next, which hides a
change worth 5%. Here every server is started once and kept up, and the rounds are many short
loads taken in turn (the order rotates each round), so a drift of the machine hits every server in
the same minute. The figure is the median over rounds of (utime + stime of the server's process
tree) / requests, as in ``bench_serving.py``; ``--base REF`` serves the same model with the slipway
source of that git revision (a worktree in the work folder, put first on ``PYTHONPATH``), so the
installed dependencies are the same for both.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _load
from _servers import ENTRIES, Bench, Launch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/, for _common
from _common import free_port
from bench_serving import build_model

ROOT = Path(__file__).resolve().parent.parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD~1", help="git revision to compare with (default HEAD~1)")
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of each load")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--no-floor", action="store_true", help="leave out the bare ASGI floor")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ab-") as tmp:
        work = Path(tmp)
        bench, _ = build_model(
            work, argparse.Namespace(workers=1, slipway_arg=[], slipway_model_name="bench")
        )
        base_src = work / "base"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", str(base_src), args.base],
            check=True,
            capture_output=True,
        )
        try:
            servers = _start(bench, base_src / "src", with_floor=not args.no_floor)
            try:
                _report(_rounds(servers, bench, args), args)
            finally:
                for _, proc, _ in servers:
                    _stop(proc)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_src)], check=False
            )


def _start(
    bench: Bench, base_src: Path, *, with_floor: bool
) -> list[tuple[str, subprocess.Popen[bytes], Launch]]:
    entries = {e.name: e for e in ENTRIES}
    plan: list[tuple[str, Launch]] = []
    current = entries["slipway"].launch(bench, free_port)
    plan.append(("slipway", current))
    base = entries["slipway"].launch(bench, free_port)
    base_env = {**base.env, "PYTHONPATH": str(base_src)}
    plan.append(("slipway@base", dataclasses.replace(base, env=base_env)))
    if with_floor:
        plan.append(("floor", entries["floor"].launch(bench, free_port)))
    servers = []
    for name, launch in plan:
        folder = bench.workdir / name.replace("@", "-")
        folder.mkdir(exist_ok=True)  # each slipway its own prediction log
        with open(folder / "server.log", "wb") as log:  # the child keeps its own copy of the file
            proc = subprocess.Popen(
                launch.argv,
                cwd=folder if name.startswith("slipway") else launch.cwd,
                env=launch.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _load.wait_ready(launch.ready_url, proc=proc, started=time.perf_counter(), timeout=60)
        servers.append((name, proc, launch))
    return servers


def _rounds(
    servers: list[tuple[str, subprocess.Popen[bytes], Launch]], bench: Bench, args: argparse.Namespace
) -> dict[str, list[dict[str, Any]]]:
    body_file = bench.workdir / "body.json"
    body_file.write_bytes(servers[0][2].body)
    for _, proc, launch in servers:  # warm each one up
        _load.loaded(proc.pid, launch.infer_url, body_file=body_file, connections=args.connections, seconds=1)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in servers}
    for r in range(args.rounds):
        k = r % len(servers)
        for name, proc, launch in servers[k:] + servers[:k]:
            run = _load.loaded(
                proc.pid,
                launch.infer_url,
                body_file=body_file,
                connections=args.connections,
                seconds=args.seconds,
            )
            results[name].append(run)
        line = "  ".join(f"{n} {results[n][-1]['cpu_ms_per_req']:.3f}" for n in results)
        print(f"round {r + 1}/{args.rounds}: {line}", flush=True)
    return results


def _report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    medians = {n: statistics.median(x["cpu_ms_per_req"] for x in runs) for n, runs in results.items()}
    other = max(x["other_cores"] for runs in results.values() for x in runs)
    print(
        f"\nserver CPU per request, {args.connections} connection(s), median of {args.rounds} rounds of {args.seconds:g} s"
    )
    print(f"(base: {args.base}; other processes' CPU at worst {other:.2f} cores)")
    first = medians["slipway"]
    for name, value in medians.items():
        rps = statistics.median(x["rps"] for x in results[name])
        print(f"  {name:14s} {value:.4f} ms   {value / first:5.3f}x slipway   {rps:8,.0f} req/s")
    pairs = [
        a["cpu_ms_per_req"] / b["cpu_ms_per_req"]
        for a, b in zip(results["slipway"], results["slipway@base"], strict=True)
    ]
    print(
        f"  slipway / slipway@base, per round: median {statistics.median(pairs):.3f} (min {min(pairs):.3f}, max {max(pairs):.3f})"
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except ProcessLookupError:  # already gone
        pass
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


if __name__ == "__main__":
    main()
