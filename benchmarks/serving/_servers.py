"""The servers under test, one pluggable entry each: how to prepare, start, probe and call it.

Every entry serves the same fitted scikit-learn model (one joblib file, or the slipway folder saved
from the same object) and answers the same single row. To add a server, write a ``prepare`` (one-time
setup in the run's work folder; returns a reason to skip it, or None) and a ``launch`` (the command
for one start on a given port, with its ready URL, request URL, body and how to read the predicted
class from the answer), and add an ``Entry`` to ``ENTRIES``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SLIPWAY = ROOT / ".venv" / "bin" / "slipway"
MLSERVER_VENV = Path(os.environ.get("SLIPWAY_BENCH_MLSERVER_VENV", ROOT / "benchmarks" / ".venv-mlserver"))
BENTOML_VENV = Path(os.environ.get("SLIPWAY_BENCH_BENTOML_VENV", ROOT / "benchmarks" / ".venv-bentoml"))
MODEL_NAME = "bench"


@dataclass(frozen=True, kw_only=True)
class Bench:
    """What every server is given: the work folder, the model in both forms and the row to send."""

    workdir: Path
    joblib_path: Path
    slipway_folder: Path
    row: list[float]
    expected: int  # the model's class for ``row``, predicted in-process
    sklearn_version: str
    slipway_workers: int = 1
    slipway_args: tuple[str, ...] = ()
    slipway_model_name: str = MODEL_NAME


@dataclass(frozen=True, kw_only=True)
class Launch:
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    ready_url: str
    infer_url: str
    body: bytes
    label: Callable[[Any], int]  # the predicted class, read from the decoded JSON answer


@dataclass(kw_only=True)
class Prepared:
    skip: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Entry:
    name: str
    setup: str  # the configuration in one line, for the report
    prepare: Callable[[Bench], Prepared]
    launch: Callable[[Bench, Callable[[], int]], Launch]  # gets the bench and a free-port picker
    optional: bool = False  # run only when asked for (--with or --only)


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLIPWAY_", "MLFLOW_", "VIRTUAL_ENV"))}
    env.update(extra)
    return env


def oip_body(row: list[float]) -> bytes:
    payload = {"inputs": [{"name": "input-0", "shape": [1, len(row)], "datatype": "FP64", "data": row}]}
    return json.dumps(payload).encode()


def oip_label(answer: Any) -> int:
    return int(answer["outputs"][0]["data"][0])


def _versions(python: Path, dists: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys\n"
        "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))"
    )
    out = subprocess.run([str(python), "-c", code, *dists], capture_output=True, text=True, check=True)
    versions: dict[str, str] = json.loads(out.stdout)
    return versions


def _venv_missing(venv: Path) -> str | None:
    if not (venv / "bin" / "python").exists():
        return f"{venv} does not exist: run benchmarks/setup-anchors"
    return None


def _sklearn_mismatch(bench: Bench, versions: dict[str, str]) -> str | None:
    if versions.get("scikit-learn") != bench.sklearn_version:
        return (
            f"scikit-learn {versions.get('scikit-learn')} there, {bench.sklearn_version} in .venv: the "
            "pickled model would differ; run benchmarks/setup-anchors again"
        )
    return None


# ---------------------------------------------------------------- slipway


def _slipway_prepare(bench: Bench) -> Prepared:
    if not SLIPWAY.exists():
        return Prepared(skip=f"{SLIPWAY} does not exist: install the project (.venv) first")
    probe = subprocess.run(
        [str(SLIPWAY), "serve", "--help"], capture_output=True, text=True, env=base_env(), check=False
    )
    if probe.returncode != 0:
        return Prepared(
            skip="`slipway serve` is not available yet (`slipway serve --help` exited "
            f"{probe.returncode}); the MLServer and BentoML numbers stand alone until it lands"
        )
    return Prepared(versions=_versions(ROOT / ".venv" / "bin" / "python", ["slipway", "scikit-learn"]))


def _slipway_launch(bench: Bench, port: Callable[[], int]) -> Launch:
    p = port()
    argv = [str(SLIPWAY), "serve", str(bench.slipway_folder), "--host", "127.0.0.1", "--port", str(p)]
    argv += ["--workers", str(bench.slipway_workers), *bench.slipway_args]
    return Launch(
        argv=argv,
        cwd=bench.workdir,  # its default home (.slipway/: prediction log and so on) lands in the work folder
        env=base_env(),
        ready_url=f"http://127.0.0.1:{p}/v2/health/ready",
        infer_url=f"http://127.0.0.1:{p}/v2/models/{bench.slipway_model_name}/infer",
        body=oip_body(bench.row),
        label=oip_label,
    )


# ---------------------------------------------------------------- MLServer


def _mlserver_prepare(bench: Bench) -> Prepared:
    missing = _venv_missing(MLSERVER_VENV)
    if missing:
        return Prepared(skip=missing)
    versions = _versions(
        MLSERVER_VENV / "bin" / "python", ["mlserver", "mlserver-sklearn", "scikit-learn", "uvloop"]
    )
    mismatch = _sklearn_mismatch(bench, versions)
    if mismatch:
        return Prepared(skip=mismatch, versions=versions)
    model_dir = bench.workdir / "mlserver" / MODEL_NAME
    model_dir.mkdir(parents=True)
    settings = {
        "name": MODEL_NAME,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": str(bench.joblib_path)},
    }
    (model_dir / "model-settings.json").write_text(json.dumps(settings))
    return Prepared(versions=versions)


def _mlserver_launch(bench: Bench, port: Callable[[], int]) -> Launch:
    repo = bench.workdir / "mlserver"
    p = port()
    # defaults otherwise: one inference worker process (parallel_workers=1), no adaptive batching,
    # metrics on their own port; gRPC cannot be turned off, so it gets a free port too
    settings = {"host": "127.0.0.1", "http_port": p, "grpc_port": port(), "metrics_port": port()}
    (repo / "settings.json").write_text(json.dumps(settings))
    return Launch(
        argv=[str(MLSERVER_VENV / "bin" / "mlserver"), "start", str(repo)],
        cwd=repo,
        env=base_env(),
        ready_url=f"http://127.0.0.1:{p}/v2/health/ready",
        infer_url=f"http://127.0.0.1:{p}/v2/models/{MODEL_NAME}/infer",
        body=oip_body(bench.row),
        label=oip_label,
    )


# ---------------------------------------------------------------- BentoML


def _bentoml_home(bench: Bench) -> Path:
    return bench.workdir / "bentoml-home"


def _bentoml_env(bench: Bench) -> dict[str, str]:
    # no usage tracking: there is no internet here, and it is not part of serving a request
    return base_env(BENTOML_HOME=str(_bentoml_home(bench)), BENTOML_DO_NOT_TRACK="True")


def _bentoml_prepare(bench: Bench) -> Prepared:
    missing = _venv_missing(BENTOML_VENV)
    if missing:
        return Prepared(skip=missing)
    python = BENTOML_VENV / "bin" / "python"
    versions = _versions(python, ["bentoml", "scikit-learn"])
    mismatch = _sklearn_mismatch(bench, versions)
    if mismatch:
        return Prepared(skip=mismatch, versions=versions)
    code = (
        f"import sys, joblib, bentoml\nbentoml.sklearn.save_model({MODEL_NAME!r}, joblib.load(sys.argv[1]))"
    )
    subprocess.run(
        [str(python), "-c", code, str(bench.joblib_path)],
        env=_bentoml_env(bench),
        check=True,
        capture_output=True,
    )
    return Prepared(versions=versions)


def _bentoml_launch(bench: Bench, port: Callable[[], int]) -> Launch:
    p = port()
    argv = [str(BENTOML_VENV / "bin" / "bentoml"), "serve", "bentoml_service:Bench"]
    argv += ["--host", "127.0.0.1", "--port", str(p)]
    return Launch(
        argv=argv,
        cwd=HERE,  # where bentoml_service.py lives
        env=_bentoml_env(bench),
        ready_url=f"http://127.0.0.1:{p}/readyz",
        infer_url=f"http://127.0.0.1:{p}/predict",
        body=json.dumps({"input": [bench.row]}).encode(),
        label=lambda answer: int(answer[0]),
    )


# ---------------------------------------------------------------- the floor (a reference, not an anchor)


def _floor_prepare(bench: Bench) -> Prepared:
    return Prepared(versions=_versions(ROOT / ".venv" / "bin" / "python", ["uvicorn", "httptools", "uvloop"]))


def _floor_launch(bench: Bench, port: Callable[[], int]) -> Launch:
    p = port()
    argv = [str(ROOT / ".venv" / "bin" / "python"), "-m", "uvicorn", "floor_app:app", "--host", "127.0.0.1"]
    argv += ["--port", str(p), "--http", "httptools", "--loop", "uvloop", "--no-access-log"]
    return Launch(
        argv=argv,
        cwd=HERE,  # where floor_app.py lives
        env=base_env(BENCH_MODEL=str(bench.joblib_path)),
        ready_url=f"http://127.0.0.1:{p}/v2/health/ready",
        infer_url=f"http://127.0.0.1:{p}/v2/models/{MODEL_NAME}/infer",
        body=oip_body(bench.row),
        label=oip_label,
    )


ENTRIES = [
    Entry(
        name="slipway",
        setup="slipway serve --workers N (default 1) on the saved model folder",
        prepare=_slipway_prepare,
        launch=_slipway_launch,
    ),
    Entry(
        name="mlserver",
        setup="mlserver start, sklearn runtime, defaults (1 inference worker, no batching, metrics on)",
        prepare=_mlserver_prepare,
        launch=_mlserver_launch,
    ),
    Entry(
        name="bentoml",
        setup="bentoml serve, @bentoml.service with a numpy @bentoml.api, defaults (1 worker, no batching)",
        prepare=_bentoml_prepare,
        launch=_bentoml_launch,
    ),
    Entry(
        name="floor",
        setup="bare ASGI handler: uvicorn + httptools + uvloop + orjson, predict only (no features)",
        prepare=_floor_prepare,
        launch=_floor_launch,
        optional=True,
    ),
]
