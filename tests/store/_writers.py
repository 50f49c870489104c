"""Code that runs in child processes of the reliability tests (importable by spawned workers)."""

from __future__ import annotations

from slipway.core import Metric
from slipway.store._sql import SqlMetadataStore

KEYS_PER_BATCH = 5


def write_batches(url: str, run_id: str, worker: int, batches: int) -> int:
    """Log ``batches`` batches of metrics and params to one run; return how many were written."""
    store = SqlMetadataStore.connect(url)
    try:
        for step in range(batches):
            store.log_batch(
                run_id,
                metrics=[
                    Metric(key=f"w{worker}.m{j}", value=float(step), step=step, timestamp=step)
                    for j in range(KEYS_PER_BATCH)
                ],
                params={f"w{worker}.p{step}": str(step), "shared": "same"},
            )
    finally:
        store.close()
    return batches


def write_forever(url: str, run_id: str) -> None:
    """Log batches until killed; each batch is one step's metrics plus one param, in one transaction."""
    store = SqlMetadataStore.connect(url)
    step = 0
    while True:
        store.log_batch(
            run_id,
            metrics=[Metric(key=f"m{j}", value=float(step), step=step, timestamp=step) for j in range(20)],
            params={f"p{step}": str(step)},
        )
        step += 1
