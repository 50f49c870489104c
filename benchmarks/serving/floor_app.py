"""The floor: a bare ASGI handler (uvicorn with httptools and uvloop, orjson) around ``model.predict``.

No signature check, prediction log or metrics: what a Python server costs on this machine before any
feature, so slipway's overhead can be read against it and the harness is shown to measure a fast
server (wrk must not be the bottleneck). Run by bench_serving.py with ``--with floor``:

    BENCH_MODEL=model.joblib .venv/bin/python -m uvicorn floor_app:app --http httptools --loop uvloop
"""

from __future__ import annotations

import os
from typing import Any

import joblib
import numpy as np
import orjson

MODEL = joblib.load(os.environ["BENCH_MODEL"])
_JSON = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return  # lifespan: nothing to set up
    if scope["method"] == "GET":
        status, body = (200, b"{}") if scope["path"] == "/v2/health/ready" else (404, b"{}")
    else:
        raw, more = b"", True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        tensor = orjson.loads(raw)["inputs"][0]
        x = np.asarray(tensor["data"], dtype=np.float64).reshape(tensor["shape"])
        y = MODEL.predict(x)
        out = {"outputs": [{"name": "predict", "shape": [len(y)], "datatype": "INT64", "data": y.tolist()}]}
        status, body = 200, orjson.dumps(out)
    await send({"type": "http.response.start", "status": status, "headers": _JSON})
    await send({"type": "http.response.body", "body": body})
