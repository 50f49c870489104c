"""Validation: automated model tests, the promotion gate, and data validation against a schema.

:func:`validate` runs a :class:`Policy` (``gate.yaml``: metric thresholds, no regression against the
champion with an optional paired bootstrap, per-slice thresholds, invariance and directional tests,
latency budgets, signature compatibility) on a registered version, scored on held-out data, and
records the :class:`GateResult` on the version, where ``Registry.promote`` reads it.

:func:`infer_schema` drafts a :class:`DataSchema` (kinds, ranges, domains, missing shares) from
training data, a person edits its YAML, :func:`log_schema` keeps it with the run's dataset, and
:func:`validate_data` holds new data to it: a :class:`DataValidation` of :class:`Anomaly` items.
"""

from slipway.validation._data_infer import infer_schema
from slipway.validation._data_runs import log_schema
from slipway.validation._data_validate import Anomaly, DataValidation, Observed, validate_data
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
from slipway.validation._schema import ColumnSchema, DataSchema, load_schema, parse_schema
from slipway.validation._signatures import compare_signatures

__all__ = [
    "METRICS",
    "Anomaly",
    "Bootstrap",
    "Check",
    "CheckResult",
    "ColumnSchema",
    "DataSchema",
    "DataValidation",
    "DirectionalCheck",
    "GateResult",
    "InvarianceCheck",
    "LatencyCheck",
    "MetricCheck",
    "MetricSpec",
    "NoRegressionCheck",
    "Observed",
    "Policy",
    "Predictions",
    "SignatureCheck",
    "SliceCheck",
    "compare_signatures",
    "infer_schema",
    "load_policy",
    "load_schema",
    "log_schema",
    "metric_value",
    "metric_values",
    "parse_policy",
    "parse_schema",
    "validate",
    "validate_data",
]
