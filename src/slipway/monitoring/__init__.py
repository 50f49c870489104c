"""Monitoring: drift, data quality, measured and estimated performance, monitors, alerts, reports.

The statistics are pure, vectorised functions over two DataFrames (a reference and a current
window) that return JSON-serialisable dataclasses; monitors, alerts and reports are built on them.
"""

from slipway.models import ReferenceSummary
from slipway.monitoring._drift import column_drift, dataset_drift, prediction_drift
from slipway.monitoring._report import MetricSeries, drift_report_html
from slipway.monitoring._results import ColumnDrift, DatasetDrift, MultivariateDrift

__all__ = [
    "ColumnDrift",
    "DatasetDrift",
    "MetricSeries",
    "MultivariateDrift",
    "ReferenceSummary",
    "column_drift",
    "dataset_drift",
    "drift_report_html",
    "prediction_drift",
]
