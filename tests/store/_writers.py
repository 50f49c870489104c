"""Code that runs in child processes of the reliability tests (importable by spawned workers)."""

from __future__ import annotations

import os
from typing import Any

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


def register_at_once(url: str, token: str | None, name: str, barrier: Any, results: Any) -> None:
    """Open the store, wait for every other worker, register one version, then move one alias to it.

    Puts ``(version, audit event id of the alias move)`` on ``results``, or the error's repr.
    """
    from slipway.core import ArtifactEntry
    from slipway.store import open_metadata_store

    store = open_metadata_store(url, token=token)
    try:
        store.search_audit(model=name, max_results=1)  # connected and warm: the next calls collide
        barrier.wait(timeout=120)
        mv = store.create_model_version(
            name=name,
            source=f"runs:/{os.getpid()}/model",
            manifest_digest=f"{os.getpid():064x}",
            files=[ArtifactEntry(path="slipway.yaml", digest=f"{os.getpid():064x}", size=1)],
            actor=f"worker-{os.getpid()}",
        )
        barrier.wait(timeout=120)
        event = store.set_alias(name=name, alias="production", version=mv.version, actor="worker")
        results.put((mv.version, event.id))
    except BaseException as exc:  # reported to the parent: a worker's failure must fail the test
        results.put(repr(exc))
    finally:
        store.close()
