"""The outcome of one check, and the number formatting every check's message shares."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CheckResult", "fmt"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """The outcome of one check: its numbers, the threshold it was held to, and a message.

    .. versionadded:: 0.1
    """

    name: str
    kind: str
    passed: bool
    message: str
    value: float | None = None
    threshold: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "skipped": self.skipped,
            "value": _finite(self.value),
            "threshold": _json(self.threshold),
            "message": self.message,
            "details": _json(self.details),
            "duration_ms": round(self.duration_ms, 3),
        }


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def _finite(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json(value: Any) -> Any:
    """JSON-safe: NumPy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return _finite(value)
