"""Gate results and small helpers shared by the registry tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
