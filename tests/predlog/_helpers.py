"""Code run in child processes (spawned, so it must be importable)."""

from __future__ import annotations

from typing import Any

import numpy as np

from slipway.artifacts import open_file_tree
from slipway.predlog import PredictionBatch, PredictionLogWriter

#: The columns every prediction row has, in order (docs/predictions.md).
CONTRACT = ["request_id", "timestamp", "deployment", "model_name", "model_version", "variant", "latency_ms"]


def batch(ids: list[str], *, variant: str = "primary", version: str = "1", **inputs: Any) -> PredictionBatch:
    features = inputs or {"x": np.arange(len(ids), dtype=np.float64)}
    return PredictionBatch(
        request_ids=ids,
        model_name="churn",
        model_version=version,
        variant=variant,
        inputs=features,
        outputs={"prediction": np.ones(len(ids))},
        latency_ms=1.0,
    )


def write_rows(uri: str, worker: int, batches: int, rows: int) -> None:
    """Log ``batches`` batches of ``rows`` rows with ids ``w<worker>-<i>``, flushing often, then close."""
    tree = open_file_tree(uri)
    with PredictionLogWriter(tree, deployment="shared", flush_interval=0.02) as writer:
        for b in range(batches):
            writer.log(batch([f"w{worker}-{b * rows + i}" for i in range(rows)]))
