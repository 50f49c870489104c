"""What a slipway sweep costs over plain Optuna, and what --parallel buys on a CPU-bound objective.

Two measurements, each in its own folder so every sweep starts from an empty project:

- ``overhead``: ``trials`` serial trials of a trivial objective (one ``suggest_float``), timed
  as ``optuna.create_study(...).optimize`` with a seeded TPE sampler, once in memory and once on a
  journal file (the storage a sweep uses by default), and as ``slipway.pipelines.sweep`` with the
  same seed (in process: what ``slipway sweep`` runs, without its CLI start-up). The difference
  divided by the trials is what recording each trial as a nested run costs.
- ``parallel``: ``slipway sweep train.py:objective`` as a command (a fresh process, so start-up,
  spawning workers and the journal's file locks all count) on an objective that burns
  ``--work`` seconds of pure Python, with ``--parallel 1`` and ``--parallel 2``.

    python benchmarks/pipelines/bench_sweep.py [--trials 200] [--cpu-trials 12] [--work 0.5] [--repeat 3]
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

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"

CPU_OBJECTIVE = """
import time

def objective(trial, work=0.5):
    x = trial.suggest_float("x", -1.0, 1.0)
    end = time.process_time() + work
    n = 0
    while time.process_time() < end:  # CPU time, so a busy machine stretches the wall time, not the work
        n += 1
    return (x - 0.3) ** 2
"""


def _trivial(trial):  # type: ignore[no-untyped-def]
    return (trial.suggest_float("x", -10.0, 10.0) - 2.0) ** 2


def overhead(trials: int, repeat: int, seed: int = 0) -> dict[str, float]:
    """The fastest of ``repeat`` rounds of each way; a journal's fsyncs vary a lot on a busy disk."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from slipway.pipelines import sweep

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    best: dict[str, float] = {}

    def keep(key: str, took: float) -> None:
        best[key] = min(best.get(key, took), took)

    here = os.getcwd()
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
            study.optimize(_trivial, n_trials=trials)
            keep("optuna_memory_s", time.perf_counter() - t0)

            storage = JournalStorage(JournalFileBackend(str(Path(tmp) / "plain.journal")))
            t0 = time.perf_counter()
            study = optuna.create_study(storage=storage, sampler=optuna.samplers.TPESampler(seed=seed))
            study.optimize(_trivial, n_trials=trials)
            keep("optuna_journal_s", time.perf_counter() - t0)

            os.chdir(tmp)  # the sweep's project: .slipway/ here
            try:
                t0 = time.perf_counter()
                result = sweep(_trivial, trials=trials, seed=seed)
                keep("slipway_s", time.perf_counter() - t0)
            finally:
                os.chdir(here)
            assert result.states["COMPLETE"] == trials
    out = dict(best)
    for base in ("memory", "journal"):
        out[f"overhead_per_trial_vs_{base}_ms"] = (out["slipway_s"] - out[f"optuna_{base}_s"]) / trials * 1000
    return out


def parallel(trials: int, work: float, repeat: int) -> dict[str, float]:
    """The best of ``repeat`` runs of each: on a shared machine the slowest says more about the neighbours."""
    out: dict[str, float] = {}
    slipway = str(Path(sys.executable).with_name("slipway"))
    for _ in range(repeat):
        for workers in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "train.py").write_text(CPU_OBJECTIVE)
                argv = [slipway, "sweep", "train.py:objective", "--trials", str(trials)]
                argv += ["--parallel", str(workers), "--param", f"work={work}", "--json"]
                t0 = time.perf_counter()
                done = subprocess.run(argv, cwd=tmp, capture_output=True, text=True, check=True)
                took = time.perf_counter() - t0
                assert json.loads(done.stdout)["states"]["COMPLETE"] == trials
            key = f"parallel_{workers}_s"
            out[key] = min(out.get(key, took), took)
    out["speedup"] = out["parallel_1_s"] / out["parallel_2_s"]
    out["cpu_seconds_of_work"] = trials * work
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200, help="trials of the trivial objective")
    parser.add_argument("--cpu-trials", type=int, default=12, help="trials of the CPU-bound objective")
    parser.add_argument("--work", type=float, default=0.5, help="CPU seconds per CPU-bound trial")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of each measurement; the fastest counts"
    )
    args = parser.parse_args()
    results = {
        "overhead": overhead(args.trials, args.repeat),
        "parallel": parallel(args.cpu_trials, args.work, args.repeat),
        "load_average": os.getloadavg()[0],
        "trials": args.trials,
        "cpu_trials": args.cpu_trials,
        "cpus": os.cpu_count(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_sweep.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
