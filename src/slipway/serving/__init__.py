"""The inference server: OIP v2 and MLflow scoring, batching, traffic, hot swap, metrics, the log.

Micro-batching only under load, canary/A-B/shadow routing, alias following with hot swap, canary
rollback, Prometheus metrics and the prediction log; docs/serving.md tells how to use it.
"""

from slipway.serving._server import ServeOptions, build_app
from slipway.serving._server import serve as run
from slipway.serving._spec import DeploymentSpec, load_deployments

__all__ = ["DeploymentSpec", "ServeOptions", "build_app", "load_deployments", "run"]
