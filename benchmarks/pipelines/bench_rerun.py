"""A pipeline re-run with nothing changed: 5 steps over a 400 MB input, as a whole command.

What is timed is ``slipway pipeline run train.py:pipeline`` as a fresh process (interpreter start,
``import slipway``, the CLI, opening the store, hashing code, checking the input by its stat cache,
five cache lookups and the pipeline run with its five nested runs), median of ``--repeat`` runs
after a first run that did the work. ``slipway --help`` is timed the same way, as the floor any
command pays.

With ``--dvc`` the same five stages run as ``dvc repro`` (each stage a script reading and writing
``.npy`` files, the 400 MB file a dependency of the first), from a separate virtualenv so DVC's
dependencies never enter slipway's:

    python3 -m venv benchmarks/.venv-dvc && benchmarks/.venv-dvc/bin/pip install dvc
    python benchmarks/pipelines/bench_rerun.py [--mb 400] [--repeat 7] [--dvc]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
SLIPWAY = Path(sys.executable).with_name("slipway")
DVC = ROOT / "benchmarks" / ".venv-dvc" / "bin" / "dvc"

# The steps import NumPy inside themselves, as the docs advise, so that a re-run that runs nothing
# imports nothing heavy.
PIPELINE = '''
from pathlib import Path

import slipway


@slipway.step
def load(path: Path):
    """A byte histogram of the whole file, as 100 rows of features."""
    import numpy as np

    counts = np.zeros(256, dtype=np.int64)
    with path.open("rb") as f:
        while chunk := f.read(16 << 20):
            counts += np.bincount(np.frombuffer(chunk, dtype=np.uint8), minlength=256)
    rng = np.random.default_rng(int(counts[0]) % 2**32)
    return rng.normal(size=(100_000, 16)) + counts[:16] / counts.sum()


@slipway.step
def clean(x):
    import numpy as np

    return x[np.isfinite(x).all(axis=1)]


@slipway.step
def features(x):
    return (x - x.mean(axis=0)) / x.std(axis=0)


@slipway.step
def train(x, alpha: float = 1.0):
    import numpy as np

    y = x[:, 0] * 2.0 + x[:, 1]
    return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)


@slipway.step
def evaluate(x, w):
    y = x[:, 0] * 2.0 + x[:, 1]
    return {"mse": float(((x @ w - y) ** 2).mean())}


@slipway.pipeline
def pipeline(data: Path = Path("data.bin"), alpha: float = 1.0):
    x = features(clean(load(data)))
    evaluate(x, train(x, alpha=alpha))
'''

# The same five stages for DVC: one script each, reading and writing .npy files.
STAGES = {
    "load": ("data.bin", "load.npy"),
    "clean": ("load.npy", "clean.npy"),
    "features": ("clean.npy", "features.npy"),
    "train": ("features.npy", "train.npy"),
    "evaluate": ("features.npy train.npy", "evaluate.json"),
}
STAGE_CODE = {
    "load": """
        counts = np.zeros(256, dtype=np.int64)
        with open("data.bin", "rb") as f:
            while chunk := f.read(16 << 20):
                counts += np.bincount(np.frombuffer(chunk, dtype=np.uint8), minlength=256)
        rng = np.random.default_rng(int(counts[0]) % 2**32)
        np.save("load.npy", rng.normal(size=(100_000, 16)) + counts[:16] / counts.sum())
    """,
    "clean": """
        x = np.load("load.npy")
        np.save("clean.npy", x[np.isfinite(x).all(axis=1)])
    """,
    "features": """
        x = np.load("clean.npy")
        np.save("features.npy", (x - x.mean(axis=0)) / x.std(axis=0))
    """,
    "train": """
        x = np.load("features.npy")
        y = x[:, 0] * 2.0 + x[:, 1]
        np.save("train.npy", np.linalg.solve(x.T @ x + np.eye(x.shape[1]), x.T @ y))
    """,
    "evaluate": """
        x, w = np.load("features.npy"), np.load("train.npy")
        y = x[:, 0] * 2.0 + x[:, 1]
        json.dump({"mse": float(((x @ w - y) ** 2).mean())}, open("evaluate.json", "w"))
    """,
}


def make_input(folder: Path, mb: int) -> Path:
    import numpy as np

    path = folder / "data.bin"
    rng = np.random.default_rng(0)
    with path.open("wb") as f:
        for _ in range(mb):
            f.write(rng.integers(0, 256, size=1 << 20, dtype=np.uint8).tobytes())
    return path


def timed(argv: list[str], cwd: Path) -> float:
    t0 = time.perf_counter()
    out = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return seconds


def median(argv: list[str], cwd: Path, repeat: int) -> tuple[float, list[float]]:
    times = [timed(argv, cwd) for _ in range(repeat)]
    return statistics.median(times), times


def bench_slipway(folder: Path, repeat: int) -> dict[str, object]:
    (folder / "train.py").write_text(PIPELINE)
    run = [str(SLIPWAY), "pipeline", "run", "train.py:pipeline"]
    first = timed(run, folder)
    out = subprocess.run([*run, "--json"], cwd=folder, capture_output=True, text=True, check=True)
    statuses = [s["status"] for s in json.loads(out.stdout)["steps"]]
    assert statuses == ["cached"] * 5, statuses
    rerun, times = median(run, folder, repeat)
    help_floor, _ = median([str(SLIPWAY), "--help"], folder, repeat)
    store_floor, _ = median([str(SLIPWAY), "runs", "list"], folder, repeat)
    return {
        "first_run_s": first,
        "rerun_median_s": rerun,
        "rerun_s": times,
        "help_median_s": help_floor,  # any command: interpreter, import slipway, the CLI
        "runs_list_median_s": store_floor,  # any command that opens the metadata store
    }


def bench_dvc(folder: Path, repeat: int) -> dict[str, object]:
    python = sys.executable  # the stages need NumPy, which slipway's environment has
    stages = {}
    for name, (deps, out) in STAGES.items():
        script = f"{name}.py"
        code = "import json\nimport numpy as np\n" + textwrap.dedent(STAGE_CODE[name])
        (folder / script).write_text(code)
        stages[name] = {"cmd": f"{python} {script}", "deps": [script, *deps.split()], "outs": [out]}
    (folder / "dvc.yaml").write_text(json.dumps({"stages": stages}, indent=1))  # JSON is valid YAML
    subprocess.run([str(DVC), "init", "--no-scm", "-q"], cwd=folder, check=True)
    repro = [str(DVC), "repro", "-q"]
    first = timed(repro, folder)
    rerun, times = median(repro, folder, repeat)
    version = subprocess.run(
        [str(DVC), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {"dvc": version, "first_run_s": first, "rerun_median_s": rerun, "rerun_s": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=400, help="size of the input file")
    parser.add_argument("--repeat", type=int, default=7, help="re-runs timed (the median is reported)")
    parser.add_argument("--dvc", action="store_true", help=f"also time dvc repro ({DVC})")
    args = parser.parse_args()
    result: dict[str, object] = {"input_mb": args.mb, "steps": 5, "repeat": args.repeat}
    result["load_average_before"] = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-rerun-") as tmp:
        folder = Path(tmp) / "slipway"
        folder.mkdir()
        make_input(folder, args.mb)
        result["slipway"] = bench_slipway(folder, args.repeat)
        print(json.dumps(result["slipway"]), flush=True)
        if args.dvc:
            if not DVC.exists():
                raise SystemExit(f"{DVC} not found: python3 -m venv benchmarks/.venv-dvc && pip install dvc")
            other = Path(tmp) / "dvc"
            other.mkdir()
            (folder / "data.bin").rename(other / "data.bin")
            result["dvc"] = bench_dvc(other, args.repeat)
            print(json.dumps(result["dvc"]), flush=True)
    result["load_average_after"] = os.getloadavg()[0]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pipelines_rerun.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
