"""Start the inference server: bind once, run one or several uvicorn worker processes.

The listening socket is made here, with ``IPPROTO_TCP`` and ``TCP_NODELAY`` set on it, and handed to
uvicorn (one process) or to uvicorn's multiprocess supervisor (``--workers N``). Letting uvicorn bind
for several workers leaves Nagle's algorithm on for accepted connections (uvicorn issue 3149): every
keep-alive request then waits ~40 ms for a delayed ACK. Linux copies TCP_NODELAY from the listening
socket to each accepted one, and asyncio sets it itself for a socket whose protocol is IPPROTO_TCP.

Each worker builds its app from a JSON description (the supervisor spawns fresh interpreters),
loads each model once, and writes its own prediction-log files. The description holds the bearer
token, so it is not put in the environment, where ``/proc/<pid>/environ`` would show it for the
process's whole life (removing a variable does not erase the environment the process started
with) and every subprocess would inherit it: it is written to a file only its user can read, in the
server's private runtime folder, and ``SLIPWAY_SERVE_CONFIG`` names that file. A worker takes the
variable out of its environment as it reads it, and the supervisor when it stops.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.serving._app import ServingApp
    from slipway.serving._spec import DeploymentSpec

__all__ = ["ServeOptions", "app_factory", "build_app", "serve"]

CONFIG_ENV = "SLIPWAY_SERVE_CONFIG"
log = logging.getLogger("slipway.serving")


@dataclass
class ServeOptions:
    """How to serve: network, workers, limits, auth, and the stores the models come from."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    token: str | None = field(default=None, repr=False)
    max_body_size: int = 32 * 1024 * 1024
    graceful_timeout: float = 30.0
    settings: dict[str, Any] = field(default_factory=dict)  # slipway.config overrides (tracking_uri…)
    log_predictions: bool = True
    control_file: str | None = None


def serve(specs: list[DeploymentSpec], options: ServeOptions, *, on_bound: Any = None) -> None:
    """Serve until SIGINT/SIGTERM; then stop accepting, finish in-flight requests, flush the log."""
    import uvicorn

    sock = _listen(options.host, options.port)
    host, port = sock.getsockname()[:2]
    runtime_dir = Path(tempfile.mkdtemp(prefix="slipway-serve-"))
    control = Path(options.control_file) if options.control_file else runtime_dir / "reload"
    control.touch()
    config = {
        "deployments": [s.model_dump() for s in specs],
        "options": {**asdict(options), "control_file": str(control)},
    }
    # Spawned workers start from a fresh interpreter: the environment tells them where their
    # orders are (the folder is mkdtemp's, 0700; the file 0600: it holds the token).
    orders = runtime_dir / "config.json"
    fd = os.open(orders, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out)
    os.environ[CONFIG_ENV] = str(orders)  # noqa: TID251
    if options.workers > 1:
        metrics_dir = runtime_dir / "metrics"
        metrics_dir.mkdir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)  # noqa: TID251 - prometheus-client reads it
    uv = uvicorn.Config(
        "slipway.serving._server:app_factory",
        factory=True,
        loop="uvloop" if _has("uvloop") else "asyncio",
        http=_http_protocol(),
        lifespan="on",
        access_log=False,
        log_level="warning",
        workers=options.workers,
        timeout_graceful_shutdown=int(options.graceful_timeout),
        backlog=4096,
        server_header=False,
        date_header=False,
        proxy_headers=False,  # no proxy in front by default; its middleware costs every request
    )
    if on_bound is not None:
        on_bound(host, port)
    try:
        if options.workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(uv, sockets=[sock]).run()
        else:
            uvicorn.Server(uv).run(sockets=[sock])
    finally:
        os.environ.pop(CONFIG_ENV, None)  # noqa: TID251 - our own orders, no longer needed
        sock.close()
        import shutil

        shutil.rmtree(runtime_dir, ignore_errors=True)


def _listen(host: str, port: int) -> socket.socket:
    from slipway.errors import InvalidInput

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise InvalidInput(f"--host {host} --port {port}: cannot listen there ({e.strerror})") from None
    sock.listen(4096)
    sock.set_inheritable(True)
    return sock


def _http_protocol() -> Any:
    """httptools, each answer in one write (:mod:`slipway.serving._protocol`); h11 without it."""
    if not _has("httptools"):
        return "h11"
    try:  # it subclasses uvicorn's own protocol: a uvicorn that moved it gets the plain one
        from slipway.serving._protocol import OneWriteHttpToolsProtocol
    except ImportError:
        return "httptools"
    return OneWriteHttpToolsProtocol


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def app_factory() -> ServingApp:
    """The worker's app, from the description the parent process wrote to the file it names.

    The variable is taken out of the environment as it is read, so nothing this worker starts
    inherits the way to the bearer token.
    """
    path = os.environ.pop(CONFIG_ENV, None)  # noqa: TID251 - the parent process's orders, not a setting
    if not path:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start the server with `slipway serve`")
    doc = json.loads(Path(path).read_text())
    from slipway.serving._spec import DeploymentSpec

    specs = [DeploymentSpec.model_validate(d) for d in doc["deployments"]]
    return build_app(specs, ServeOptions(**doc["options"]))


def build_app(specs: list[DeploymentSpec], options: ServeOptions) -> ServingApp:
    """Compose the app: settings → stores → model source → deployments → prediction log → app."""
    from slipway import __version__
    from slipway.config import load_settings
    from slipway.serving._app import ServingApp
    from slipway.serving._metrics import ServingMetrics
    from slipway.serving._runtime import DeploymentRuntime
    from slipway.serving._source import ModelSource

    settings = load_settings(options.settings)
    store, blobs = _stores(settings, specs)
    source = ModelSource(
        store=store,
        blobs=blobs,
        cache_dir=settings.home / "cache" / "models",
        actor=f"slipway-serve@{socket.gethostname()}",
    )
    metrics = ServingMetrics()
    predlog = _prediction_log(settings, options, metrics) if options.log_predictions else None
    deployments = [
        DeploymentRuntime(
            spec,
            source=source,
            metrics=metrics,
            log_batch=predlog.log_batch if predlog is not None else None,
        )
        for spec in specs
    ]
    names = [d.name for d in deployments]
    return ServingApp(
        deployments,
        metrics=metrics,
        version=__version__,
        token=options.token,
        max_body_size=options.max_body_size,
        control_file=Path(options.control_file) if options.control_file else None,
        on_close=predlog.close if predlog is not None else None,
        feedback=predlog.feedback if predlog is not None else None,
        openapi=lambda: _openapi(names, __version__),
    )


def _openapi(names: list[str], version: str) -> dict[str, Any]:
    from slipway.serving._openapi import openapi_document

    return openapi_document(names, version=version)


def _stores(settings: Any, specs: list[DeploymentSpec]) -> tuple[Any, Any]:
    """The metadata and blob stores, opened only when a deployment names a registry or run URI."""
    uris = [u for s in specs for u in _uris(s)]
    if not any(u.startswith(("models:/", "runs:/")) for u in uris):
        return None, None
    from slipway.artifacts import open_blob_store
    from slipway.store import open_metadata_store

    store = open_metadata_store(settings.tracking_uri, token=settings.token)
    blobs = open_blob_store(settings.artifact_uri, token=settings.token)
    return store, blobs


def _uris(spec: DeploymentSpec) -> list[str]:
    out = [spec.model] if spec.model else []
    if spec.canary is not None:
        out.append(spec.canary.model)
    if spec.shadow is not None:
        out.append(spec.shadow)
    if spec.ab is not None:
        out.extend(a.model for a in spec.ab.arms.values())
    return out


def _prediction_log(settings: Any, options: ServeOptions, metrics: Any) -> Any:
    from slipway.serving._predlog import ServingLog

    return ServingLog.open(settings, metrics=metrics)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run `slipway serve` instead")
