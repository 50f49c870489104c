"""Serving a small scikit-learn model: slipway beside MLServer and BentoML, in one run, as ratios.

    .venv/bin/python benchmarks/serving/bench_serving.py [--quick] [--rounds N] [--only NAME ...] [--with floor]

Every server serves the same fitted LogisticRegression (8 float features; about 0.1 ms per
``predict`` of one row) and is sent the same single row as JSON. For each server, started fresh in
each round (rounds interleave the servers, so drift on a shared machine hits them alike):

- ready: seconds from spawning the process to the first 200 from its readiness endpoint;
- a check that it answers the row with the class the model predicts in-process;
- latency: wrk with 1 connection (keep-alive): median, p99 and max of what the requests took
  (timed in the Lua script; wrk's own percentiles add synthetic samples after every stall, so its
  p99 is reported apart);
- throughput: wrk with 32 connections (keep-alive), requests per second;
- server CPU per request: utime + stime of the server process and all its children from
  /proc/<pid>/stat, before and after each load, divided by the requests served (both loads).

wrk runs with one thread (``-t1``) on the same 2 cores as the servers; it used about 0.1 core at
4,000 requests/s, and its CPU is reported with each run. Each load also records the CPU other
processes used meanwhile (a run on a busy machine is flagged NOISY), and the full mode waits for a
quiet machine before each start. The baseline is the raw in-process ``model.predict`` of one row,
timed just before each server (and slipway's own ``Model.predict``, which checks the signature).
Medians over rounds, and every round, go to benchmarks/results/serving.json.

Targets (issue 4, slipway with signature checks, prediction log and metrics on): server CPU per
request <= 0.4 ms (checked at both loads); throughput at 32 connections >= 3x MLServer's and >= 5x
BentoML's; median latency at 1 connection within 0.5 ms of the raw predict; ready within 2 s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import _load
from _servers import ENTRIES, MODEL_NAME, Bench, Entry, Prepared

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/, for _common
from _common import free_port, save

FEATURES = 8
PROFILES = {  # seconds of each wrk run, rounds (each server started afresh per round), and how
    # long to wait, before each start, for other processes to leave the machine quiet
    "quick": {"warmup": 1.0, "latency": 3.0, "load": 3.0, "rounds": 1, "quiet_wait": 0.0},
    "full": {"warmup": 3.0, "latency": 10.0, "load": 10.0, "rounds": 3, "quiet_wait": 60.0},
}
TARGETS = {"cpu_ms": 0.4, "vs_mlserver": 3.0, "vs_bentoml": 5.0, "latency_over_raw_ms": 0.5, "ready_s": 2.0}


def build_model(workdir: Path, args: argparse.Namespace) -> tuple[Bench, Any]:
    import joblib
    import numpy as np
    import sklearn
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, FEATURES))
    y = (X @ rng.normal(size=FEATURES) + 0.3 * rng.normal(size=2000) > 0).astype(np.int64)
    model = LogisticRegression().fit(X, y)
    joblib_path = workdir / "model.joblib"
    joblib.dump(model, joblib_path)
    folder = workdir / MODEL_NAME
    try:
        from slipway.models import save_model

        save_model(model, folder, input_example=X[:5])
    except ImportError:
        folder = workdir / "no-slipway"  # the slipway entry skips itself anyway
    bench = Bench(
        workdir=workdir,
        joblib_path=joblib_path,
        slipway_folder=folder,
        row=[float(v) for v in X[0]],
        expected=int(model.predict(X[:1])[0]),
        sklearn_version=sklearn.__version__,
        slipway_workers=args.workers,
        slipway_args=tuple(args.slipway_arg),
        slipway_model_name=args.slipway_model_name,
    )
    return bench, model


def per_call_ms(fn: Any, *, calls: int = 2000, repeats: int = 7) -> float:
    """The median over ``repeats`` batches of the mean time of one call, in milliseconds."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        times.append((time.perf_counter() - t0) / calls)
    return 1000 * statistics.median(times)


def baselines(bench: Bench, model: Any) -> dict[str, Any]:
    """Callables timing one row in-process: the raw ``model.predict``, and slipway's ``Model.predict``."""
    import numpy as np

    x = np.asarray([bench.row])
    out: dict[str, Any] = {"raw_predict_ms": lambda: per_call_ms(lambda: model.predict(x))}
    if bench.slipway_folder.exists():
        from slipway.models import load_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = load_model(bench.slipway_folder)
        out["slipway_model_predict_ms"] = lambda: per_call_ms(lambda: loaded.predict(x))
    return out


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, then SIGKILL to whatever of its tree is left.

    The tree is listed before the signal: BentoML's process manager starts each worker in a session
    of its own, out of the group's reach, and a worker whose manager is gone is reparented to init.
    """
    tree = {pid: _load.start_ticks(pid) for pid in _load.tree_pids(proc.pid)}
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:  # MLServer 1.7 waits on "background tasks" for minutes
        print(f"    (pid {proc.pid} still running 5 s after SIGTERM; killing its tree)")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while True:
        left = [pid for pid, ticks in tree.items() if ticks is not None and _load.start_ticks(pid) == ticks]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)  # workers shutting down on their own after the manager's SIGTERM
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def measure(entry: Entry, bench: Bench, profile: dict[str, float], round_no: int) -> dict[str, Any]:
    launch = entry.launch(bench, free_port)
    body_file = bench.workdir / f"{entry.name}-body.json"
    body_file.write_bytes(launch.body)
    log_path = bench.workdir / f"{entry.name}-{round_no}.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            launch.argv, cwd=launch.cwd, env=launch.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            ready_s = _load.wait_ready(launch.ready_url, proc=proc, started=started, timeout=120)
            status, answer = _load.post_json(launch.infer_url, launch.body)
            if status != 200:
                raise RuntimeError(f"POST {launch.infer_url} answered {status}: {str(answer)[:500]}")
            if launch.label(answer) != bench.expected:
                raise RuntimeError(f"predicted {answer!r}, expected class {bench.expected}")
            url, run = launch.infer_url, _load.loaded
            run(proc.pid, url, body_file=body_file, connections=1, seconds=profile["warmup"])
            # one connection before 32: a batcher that learned a wait under a burst would keep it
            one = run(
                proc.pid, url, body_file=body_file, connections=1, seconds=profile["latency"], timing=True
            )
            many = run(proc.pid, url, body_file=body_file, connections=32, seconds=profile["load"])
            processes = len(_load.tree_pids(proc.pid))
        except Exception:
            tail = log_path.read_text(errors="replace")[-3000:]
            print(f"    {entry.name} failed; the end of {log_path}:\n{tail}")
            raise
        finally:  # also on Ctrl-C: no server outlives the run
            stop(proc)
    return {
        "ready_s": ready_s,
        "p50_ms": one["raw_p50_us"] / 1000,
        "p99_ms": one["raw_p99_us"] / 1000,
        "max_ms": one["raw_max_us"] / 1000,
        "p99_wrk_ms": one["p99_us"] / 1000,
        "rps_1": one["rps"],
        "cpu_ms_1": one["cpu_ms_per_req"],
        "rps_32": many["rps"],
        "p50_ms_32": many["p50_us"] / 1000,
        "cpu_ms_32": many["cpu_ms_per_req"],
        "requests": one["requests"] + many["requests"],
        "wrk_cores_32": many["wrk_cores"],
        "other_cores": max(one["other_cores"], many["other_cores"]),
        "steal_cores": max(one["steal_cores"], many["steal_cores"]),
        "processes": processes,
    }


ROWS = [  # key, label, format, whether a slipway/anchor ratio means anything
    ("ready_s", "ready (s)", "{:.2f}", True),
    ("p50_ms", "median latency, 1 conn (ms)", "{:.3f}", True),
    ("over_raw_ms", "  minus raw predict, timed beside it (ms)", "{:.3f}", True),
    ("p99_ms", "p99 latency, 1 conn (ms)", "{:.3f}", True),
    ("max_ms", "max latency, 1 conn (ms)", "{:.1f}", True),
    ("p99_wrk_ms", "  p99 as wrk corrects it (ms)", "{:.3f}", True),
    ("rps_32", "throughput, 32 conns (req/s)", "{:,.0f}", True),
    ("p50_ms_32", "median latency, 32 conns, wrk (ms)", "{:.2f}", True),
    ("cpu_ms_32", "server CPU / request, 32 conns (ms)", "{:.3f}", True),
    ("cpu_ms_1", "server CPU / request, 1 conn (ms)", "{:.3f}", True),
    ("rps_1", "throughput, 1 conn (req/s)", "{:,.0f}", True),
    ("wrk_cores_32", "wrk's CPU, 32 conns (cores)", "{:.2f}", False),
    ("other_cores", "other processes' CPU, worst load (cores)", "{:.2f}", False),
    ("steal_cores", "stolen by the hypervisor (cores)", "{:.2f}", False),
    ("raw_predict_ms", "raw predict, timed beside it (ms)", "{:.3f}", False),
]
BUSY = 0.25  # cores used by other processes during a load above which the run is flagged as noisy


def medians(rounds: list[dict[str, Any]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rounds) for key, *_ in ROWS}


def report(summary: dict[str, dict[str, float]], base: dict[str, float]) -> dict[str, Any]:
    names = list(summary)
    anchors = [n for n in names if n != "slipway"]
    head = ["", *names] + ([f"slipway/{a}" for a in anchors] if "slipway" in summary else [])
    lines = [head]
    for key, label, fmt, ratio in ROWS:
        line = [label, *(fmt.format(summary[n][key]) for n in names)]
        if "slipway" in summary:
            line += [f"{summary['slipway'][key] / summary[a][key]:.2f}" if ratio else "" for a in anchors]
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(head))]
    for row in lines:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    busy = [n for n in names if summary[n]["other_cores"] > BUSY]
    if busy:
        print(
            f"NOISY: other processes used more than {BUSY} cores during the loads of {', '.join(busy)}; "
            "their figures are inflated (compare rounds in the JSON, or run again on a quiet machine)"
        )
    print(f"raw model.predict, one row, in-process (median): {base['raw_predict_ms']:.3f} ms", end="")
    if "slipway_model_predict_ms" in base:
        print(f"; slipway Model.predict (signature checked): {base['slipway_model_predict_ms']:.3f} ms")
    else:
        print()
    ratios = {
        f"slipway/{a}": {k: summary["slipway"][k] / summary[a][k] for k, _, _, ratio in ROWS if ratio}
        for a in anchors
        if "slipway" in summary
    }
    checks: dict[str, Any] = {}
    if "slipway" in summary:
        s = summary["slipway"]
        # the issue names no load for it: held at both, since light traffic is where batching cannot help
        checks["server CPU per request <= 0.4 ms, 32 conns"] = s["cpu_ms_32"] <= TARGETS["cpu_ms"]
        checks["server CPU per request <= 0.4 ms, 1 conn"] = s["cpu_ms_1"] <= TARGETS["cpu_ms"]
        if "mlserver" in summary:
            checks["throughput >= 3x MLServer"] = (
                s["rps_32"] >= TARGETS["vs_mlserver"] * summary["mlserver"]["rps_32"]
            )
        if "bentoml" in summary:
            checks["throughput >= 5x BentoML"] = (
                s["rps_32"] >= TARGETS["vs_bentoml"] * summary["bentoml"]["rps_32"]
            )
        checks["median latency - raw predict <= 0.5 ms"] = s["over_raw_ms"] <= TARGETS["latency_over_raw_ms"]
        checks["ready <= 2 s"] = s["ready_s"] <= TARGETS["ready_s"]
        print("targets (issue 4):")
        for name, ok in checks.items():
            print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return {"ratios": ratios, "targets": checks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds per server, one round")
    parser.add_argument("--rounds", type=int, help="rounds (fresh start of every server in each)")
    names = [e.name for e in ENTRIES]
    parser.add_argument("--only", nargs="+", choices=names, help="run only these servers")
    parser.add_argument(
        "--with", dest="extra", nargs="+", default=[], choices=[e.name for e in ENTRIES if e.optional],
        help="add optional entries: floor = a bare ASGI handler around predict (what Python costs)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=1, help="slipway serve --workers (default 1)")
    parser.add_argument(
        "--slipway-arg", action="append", default=[], metavar="ARG",
        help="extra argument for `slipway serve` (repeat; write flags as --slipway-arg=--flag)",
    )  # fmt: skip
    parser.add_argument("--slipway-model-name", default=MODEL_NAME, help="<name> in /v2/models/<name>/infer")
    parser.add_argument(
        "--quiet-wait", type=float, metavar="SECONDS",
        help=f"before each start, wait up to this long for other processes to use < {BUSY} cores "
        "(full: 60, quick: 0)",
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, model, settings)")
    args = parser.parse_args()
    profile = dict(PROFILES["quick" if args.quick else "full"])
    if args.rounds:
        profile["rounds"] = args.rounds
    if args.quiet_wait is not None:
        profile["quiet_wait"] = args.quiet_wait
    if _load.wrk_path() is None:
        sys.exit("wrk is not installed: apt-get install wrk, or run benchmarks/setup-anchors")

    workdir = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    try:
        bench, model = build_model(workdir, args)
        wanted = set(args.only) if args.only else {e.name for e in ENTRIES if not e.optional}
        entries = [e for e in ENTRIES if e.name in wanted | set(args.extra)]
        prepared: dict[str, Prepared] = {}
        for e in entries:
            prepared[e.name] = e.prepare(bench)
            skip = prepared[e.name].skip
            print(f"{e.name}: {'SKIPPED: ' + skip if skip else e.setup} {prepared[e.name].versions or ''}")
        active = [e for e in entries if prepared[e.name].skip is None]
        timers = baselines(bench, model)
        base_rounds: list[dict[str, float]] = []
        rounds: dict[str, list[dict[str, Any]]] = {e.name: [] for e in active}
        failures: dict[str, list[str]] = {e.name: [] for e in active}
        for r in range(int(profile["rounds"])):
            base_rounds.append({})
            # rotate the order, so no server is always the first start of a round (cold page cache)
            for e in active[r % len(active) :] + active[: r % len(active)]:
                print(f"round {r + 1}/{profile['rounds']:g}: {e.name} ...", flush=True)
                if profile["quiet_wait"]:
                    busy = _load.wait_quiet(threshold=BUSY, timeout=profile["quiet_wait"])
                    if busy >= BUSY:
                        print(f"    (machine still busy after {profile['quiet_wait']:g} s: {busy:.2f} cores)")
                # the baseline is timed next to each server, so both meet the same neighbours
                raw = timers["raw_predict_ms"]()
                if not base_rounds[-1]:
                    base_rounds[-1] = {name: timer() for name, timer in timers.items()}
                try:
                    result = measure(e, bench, profile, r)
                except Exception as exc:  # one bad start must not lose the other servers' numbers
                    print(f"    FAILED (round left out): {exc}")
                    failures[e.name].append(f"round {r + 1}: {str(exc)[:800]}")
                    continue
                result["raw_predict_ms"] = raw
                result["over_raw_ms"] = result["p50_ms"] - raw
                print(
                    f"    {json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()})}"
                )
                rounds[e.name].append(result)
        summary = {name: medians(rs) for name, rs in rounds.items() if rs}
        base = {k: statistics.median(b[k] for b in base_rounds) for k in timers}
        print()
        for name, failed in failures.items():
            if failed:
                kept = f"medians over its other {len(rounds[name])}" if rounds[name] else "left out"
                print(f"{name}: {len(failed)} failed round(s), {kept}; see the log above and the JSON")
        verdict = report(summary, base)
        path = save(
            "serving",
            {
                "profile": profile,
                "cores": os.cpu_count(),
                "load": "wrk -t1, keep-alive, one JSON row per request",
                "baseline": {"median": base, "rounds": base_rounds},
                "servers": {
                    e.name: {
                        "setup": e.setup,
                        "versions": prepared[e.name].versions,
                        "skipped": prepared[e.name].skip,
                        "rounds": rounds.get(e.name, []),
                        "failures": failures.get(e.name, []),
                        "median": summary.get(e.name),
                    }
                    for e in entries
                },
                **verdict,
            },
        )
        print(f"\nwritten to {path}")
    finally:
        if args.keep:
            print(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
