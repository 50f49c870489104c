"""Monitoring: drift, data quality, measured and estimated performance, monitors, alerts, reports.

The statistics are pure, vectorised functions over two DataFrames (a reference and a current
window) that return JSON-serialisable dataclasses; monitors, alerts and reports are built on them.
"""

from slipway.monitoring._results import ColumnDrift, DatasetDrift, MultivariateDrift

__all__ = ["ColumnDrift", "DatasetDrift", "MultivariateDrift"]
