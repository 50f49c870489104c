"""Validation: automated model tests and the promotion gate.

:func:`validate` runs a :class:`Policy` (``gate.yaml``: metric thresholds, no regression against the
champion with an optional paired bootstrap, per-slice thresholds, invariance and directional tests,
latency budgets, signature compatibility) on a registered version, scored on held-out data, and
records the :class:`GateResult` on the version, where ``Registry.promote`` reads it.
"""

from slipway.validation._gate import GateResult, validate
from slipway.validation._metrics import METRICS, MetricSpec, Predictions, metric_value, metric_values
from slipway.validation._policy import (
    Bootstrap,
    Check,
    DirectionalCheck,
    InvarianceCheck,
    LatencyCheck,
    MetricCheck,
    NoRegressionCheck,
    Policy,
    SignatureCheck,
    SliceCheck,
    load_policy,
    parse_policy,
)
from slipway.validation._result import CheckResult
from slipway.validation._signatures import compare_signatures

__all__ = [
    "METRICS",
    "Bootstrap",
    "Check",
    "CheckResult",
    "DirectionalCheck",
    "GateResult",
    "InvarianceCheck",
    "LatencyCheck",
    "MetricCheck",
    "MetricSpec",
    "NoRegressionCheck",
    "Policy",
    "Predictions",
    "SignatureCheck",
    "SliceCheck",
    "compare_signatures",
    "load_policy",
    "metric_value",
    "metric_values",
    "parse_policy",
    "validate",
]
