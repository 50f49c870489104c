"""Monitoring: drift, data quality, measured and estimated performance, monitors, alerts, reports.

The statistics are pure, vectorised functions over two DataFrames (a reference and a current
window) that return JSON-serialisable dataclasses; monitors, alerts and reports are built on them
(docs/monitoring.md).
"""

from slipway.models import ReferenceSummary
from slipway.monitoring._chunks import Chunk, Chunker, ChunkSpan, split
from slipway.monitoring._dle import DLE
from slipway.monitoring._drift import column_drift, dataset_drift, prediction_drift
from slipway.monitoring._estimate import (
    CBPE,
    ChunkEstimate,
    EstimatedMetric,
    PerformanceEstimate,
    fit_estimator,
)
from slipway.monitoring._gauges import prometheus_text
from slipway.monitoring._monitor import Backfill, Monitors, WindowOutcome
from slipway.monitoring._performance import (
    ChunkPerformance,
    MeasuredPerformance,
    MetricValue,
    expected_calibration_error,
    measure_performance,
)
from slipway.monitoring._quality import ColumnQuality, DataQuality, data_quality
from slipway.monitoring._report import drift_report_html, performance_report_html
from slipway.monitoring._results import ColumnDrift, DatasetDrift, MultivariateDrift
from slipway.monitoring._rules import MonitorRules, load_rules, parse_rules
from slipway.monitoring._series import MetricSeries, performance_series
from slipway.monitoring._window import WindowResult, evaluate_window, infer_task

__all__ = [
    "CBPE",
    "DLE",
    "Backfill",
    "Chunk",
    "ChunkEstimate",
    "ChunkPerformance",
    "ChunkSpan",
    "Chunker",
    "ColumnDrift",
    "ColumnQuality",
    "DataQuality",
    "DatasetDrift",
    "EstimatedMetric",
    "MeasuredPerformance",
    "MetricSeries",
    "MetricValue",
    "MonitorRules",
    "Monitors",
    "MultivariateDrift",
    "PerformanceEstimate",
    "ReferenceSummary",
    "WindowOutcome",
    "WindowResult",
    "column_drift",
    "data_quality",
    "dataset_drift",
    "drift_report_html",
    "evaluate_window",
    "expected_calibration_error",
    "fit_estimator",
    "infer_task",
    "load_rules",
    "measure_performance",
    "parse_rules",
    "performance_report_html",
    "performance_series",
    "prediction_drift",
    "prometheus_text",
    "split",
]
