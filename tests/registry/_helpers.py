"""Gate results and small helpers shared by the registry tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.registry import Registry

PASSED = {"passed": True, "checks": [{"name": "auc_min", "passed": True, "value": 0.93, "threshold": 0.9}]}
FAILED = {
    "passed": False,
    "checks": [
        {"name": "auc_min", "passed": True, "value": 0.93, "threshold": 0.9},
        {"name": "no_regression", "passed": False, "delta": -0.02},
        {"name": "latency_p99", "passed": False, "value_ms": 12.0},
    ],
}


def register_many(registry: Registry, source: str, count: int, name: str = "churn") -> list[int]:
    return [registry.register(source, name, actor="alice").version for _ in range(count)]


def register_at_once(store_url: str, blobs_url: str, source: str, name: str, barrier: Any, out: Any) -> None:
    """A process that opens the stores, waits for the others, registers, and reports the version."""
    from slipway.artifacts import open_blob_store
    from slipway.registry import Registry
    from slipway.store import open_metadata_store

    store = open_metadata_store(store_url)
    try:
        registry = Registry(store, open_blob_store(blobs_url))
        barrier.wait(timeout=60)
        out.put(registry.register(source, name, actor="worker").version)
    except Exception as exc:  # reported to the test, which fails with it
        out.put(repr(exc))
    finally:
        store.close()
