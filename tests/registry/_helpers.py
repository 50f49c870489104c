"""Gate results and small helpers shared by the registry tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.validation import CheckResult, GateResult, LatencyCheck, MetricCheck, parse_policy

if TYPE_CHECKING:
    from collections.abc import Collection

    from slipway.registry import Registry
    from slipway.validation import Check

#: A policy with no ``compare`` section: its results never go stale, whoever holds an alias.
POLICY = parse_policy(
    {
        "checks": [
            {"kind": "metric", "metric": "roc_auc", "min": 0.9, "name": "auc_min"},
            {"kind": "latency", "single_row_p95_ms": 20, "name": "latency_p95"},
        ]
    },
    source="gate.yaml",
)


def gate_result(version: int, *, failing: Collection[str] = (), name: str = "churn") -> dict[str, Any]:
    """A result of :data:`POLICY` as ``validate`` records it: ``GateResult.to_dict()`` of the real types.

    The checks named in ``failing`` fail, the others pass.
    """
    unknown = set(failing) - {c.name for c in POLICY.checks}
    assert not unknown, f"not a check of POLICY: {sorted(unknown)}"
    checks = tuple(_check_result(c, passed=c.name not in failing) for c in POLICY.checks)
    return GateResult(
        passed=all(c.passed for c in checks),
        model=name,
        version=version,
        checks=checks,
        task="classification",
        data={
            "source": "holdout.parquet",
            "digest": "0" * 64,
            "rows": 200,
            "columns": 6,
            "target": "churned",
        },
        policy={"source": POLICY.source, "digest": POLICY.digest, "document": POLICY.to_dict()},
        champion=None,
        champion_note="the policy compares with no champion (no `compare.alias`)",
        started_at="2026-11-24T10:45:17.123Z",
    ).to_dict()


def _check_result(check: Check, *, passed: bool) -> CheckResult:
    """What ``metric_check`` and ``latency_check`` return, with made-up numbers on either side of the bar."""
    if isinstance(check, MetricCheck):
        assert check.min is not None
        value = check.min + (0.03 if passed else -0.09)
        verdict = f"is within min {check.min:g}" if passed else f"is below the minimum {check.min:g}"
        return CheckResult(
            name=check.name,
            kind=check.kind,
            passed=passed,
            message=f"{check.metric} {value:.4g} {verdict}",
            value=value,
            threshold={"min": check.min},
            details={"metric": check.metric, "rows": 200},
        )
    assert isinstance(check, LatencyCheck)
    assert check.single_row_p95_ms is not None
    budget = check.single_row_p95_ms
    p95 = budget * (0.2 if passed else 1.5)
    said = f"single row p95 {p95:.3g} ms"
    return CheckResult(
        name=check.name,
        kind=check.kind,
        passed=passed,
        message=f"{said} (within budget)" if passed else f"{said} is over the budget {budget:g} ms",
        value=p95,
        threshold={"single_row_p95_ms": budget},
        details={
            "repetitions": check.repetitions,
            "warmup": check.warmup,
            "single_row_ms": {"p50": p95 / 2, "p95": p95, "max": p95 * 1.2},
        },
    )


PASSED = gate_result(2)


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
