"""Running the app under uvicorn the way FIELD-NOTES asks: one process, the fastest HTTP parser.

Several uvicorn workers leave TCP_NODELAY off on Linux, and every request on a kept-alive
connection then waits ~44 ms for a delayed ACK; one process answers without that stall, and one
event loop with a thread pool is plenty for a metadata API whose calls are batched.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def http_implementation() -> str:
    """Httptools when installed (its C parser costs a fraction of h11's per request), else h11."""
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def run_server(app: FastAPI, *, host: str, port: int, access_log: bool = False) -> None:
    """Serve ``app`` until interrupted (SIGINT/SIGTERM stop it gracefully)."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        http=http_implementation(),
        workers=1,
        access_log=access_log,
        server_header=False,
        log_level="info",
        timeout_keep_alive=30,
    )
