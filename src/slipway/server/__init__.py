"""The team server: one REST API over a metadata store and a blob store, with bearer-token auth.

``slipway server`` builds it from URLs; tests and embedders call :func:`create_app` with stores
they opened themselves.
"""

from slipway.server._app import create_app
from slipway.server._run import http_implementation, run_server

__all__ = ["create_app", "http_implementation", "run_server"]
