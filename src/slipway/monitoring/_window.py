"""One monitoring window: every figure a rule can hold, computed from the reference and the rows.

A monitor run, a backfill and ``slipway report`` all evaluate windows the same way, here: drift of
the features, drift of the model's outputs, measured performance where labels have arrived, and
the flat ``figures`` mapping (``drift.share``, ``performance.roc_auc``…) that rules, the metadata
store and Prometheus gauges read. A figure that cannot be computed in a window (no labels yet, too
few rows) is absent or None, and the reason is in ``messages``; nothing is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.monitoring._results import _ToDict, finite
from slipway.predlog import JOINED_COLUMNS, RESERVED_COLUMNS

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from slipway.models import ReferenceSummary
    from slipway.monitoring._dle import DLE
    from slipway.monitoring._estimate import CBPE, ChunkEstimate
    from slipway.monitoring._performance import ChunkPerformance, Task
    from slipway.monitoring._quality import DataQuality
    from slipway.monitoring._results import DatasetDrift
    from slipway.monitoring._rules import MonitorRules

__all__ = ["WindowResult", "evaluate_window", "figures_of", "infer_task"]

#: Columns of the prediction log that describe a row rather than the model's inputs or outputs.
LOG_COLUMNS = frozenset(RESERVED_COLUMNS) | frozenset(JOINED_COLUMNS)
_COLUMN_FIGURES = ("score", "statistic", "p_value", "p_adjusted", "effect_size")


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowResult(_ToDict):
    """Everything computed on one window, and its flat figures."""

    rows: int
    labelled_rows: int
    figures: dict[str, float | None]
    drift: DatasetDrift | None = None
    prediction_drift: DatasetDrift | None = None
    quality: DataQuality | None = None
    performance: ChunkPerformance | None = None
    estimated: ChunkEstimate | None = None
    messages: tuple[str, ...] = field(default=())


def infer_task(frame: pd.DataFrame, outputs: Sequence[str] = ()) -> Task:
    """Classification when the model left probabilities or non-float predictions, else regression.

    ``outputs`` adds output columns known from elsewhere (a reference's); the one rule monitors,
    reports and estimators share.
    """
    from pandas.api import types as ptypes

    names = [*map(str, outputs), *map(str, frame.columns)]
    if any(n.startswith("proba_") for n in names):
        return "classification"
    if "prediction" in frame.columns and not ptypes.is_float_dtype(frame["prediction"].dtype):
        return "classification"
    return "regression"


def evaluate_window(
    reference: ReferenceSummary,
    frame: pd.DataFrame,
    rules: MonitorRules,
    *,
    estimator: CBPE | DLE | None = None,
) -> WindowResult:
    """Drift, quality, measured and (with a fitted ``estimator``) estimated performance of ``frame``."""
    messages: list[str] = []
    rows = len(frame)
    label = rules.performance.label
    labelled = int(frame[label].notna().sum()) if label in frame.columns else 0
    if rows == 0:
        return WindowResult(
            rows=0, labelled_rows=0, figures={"rows": 0.0, "labelled_rows": 0.0}, messages=("empty window",)
        )
    opts = rules.drift
    wanted = list(opts.columns) if opts.columns is not None else reference.comparable
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        messages.append(f"not in this window's rows: {', '.join(missing[:10])}")
    features = [c for c in wanted if c in frame.columns and c not in LOG_COLUMNS]
    drift_options: dict[str, Any] = {
        "mode": opts.mode,
        "alpha": opts.alpha,
        "correction": opts.correction,
        "share_threshold": opts.share_threshold,
        "methods": {k: v for k, v in opts.methods.items() if k in features} or None,
        "kinds": {k: v for k, v in opts.kinds.items() if k in features} or None,
        "weights": {k: v for k, v in opts.weights.items() if k in features} or None,
    }
    drift = pred = None
    if features:
        drift = _drift(
            reference, frame, features, {**drift_options, "multivariate": opts.multivariate}, messages
        )
    present_outputs = [c for c in reference.outputs if c in frame.columns]
    if present_outputs:
        own = {"methods": None, "kinds": None, "weights": None}  # the drift options are the features'
        pred = _drift(reference, frame, present_outputs, {**drift_options, **own}, messages, outputs=True)
    quality = _quality(reference, frame, [c for c in wanted if c not in LOG_COLUMNS], messages)
    performance = None
    if labelled:
        performance = _performance(reference, frame, rules, messages)
    estimated = _estimate(estimator, frame, messages) if estimator is not None else None
    figures = figures_of(
        rows=rows,
        labelled_rows=labelled,
        drift=drift,
        prediction_drift=pred,
        quality=quality,
        performance=performance,
        estimated=estimated,
    )
    return WindowResult(
        rows=rows,
        labelled_rows=labelled,
        figures=figures,
        drift=drift,
        prediction_drift=pred,
        quality=quality,
        performance=performance,
        estimated=estimated,
        messages=tuple(messages),
    )


def _drift(
    reference: ReferenceSummary,
    frame: pd.DataFrame,
    columns: list[str],
    options: dict[str, Any],
    messages: list[str],
    *,
    outputs: bool = False,
) -> DatasetDrift | None:
    from slipway.monitoring._drift import dataset_drift, prediction_drift

    try:
        if outputs:  # a two-class model's probabilities count once, not twice
            return prediction_drift(reference, frame, outputs=columns, **options)
        return dataset_drift(reference, frame, columns=columns, **options)
    except InvalidInput as exc:  # a column whose type changed, say: reported, the other figures stand
        messages.append(f"drift: {exc}")
        return None


def _quality(
    reference: ReferenceSummary, frame: pd.DataFrame, columns: list[str], messages: list[str]
) -> DataQuality | None:
    from slipway.monitoring._quality import data_quality

    if not columns:
        return None
    try:
        return data_quality(reference, frame, columns=columns)
    except InvalidInput as exc:
        messages.append(f"quality: {exc}")
        return None


def _estimate(estimator: CBPE | DLE, frame: pd.DataFrame, messages: list[str]) -> ChunkEstimate | None:
    try:
        chunks = estimator.estimate(frame, chunker="all").chunks
    except InvalidInput as exc:
        messages.append(f"estimated performance: {exc}")
        return None
    return chunks[0] if chunks else None


def _performance(
    reference: ReferenceSummary, frame: pd.DataFrame, rules: MonitorRules, messages: list[str]
) -> ChunkPerformance | None:
    from slipway.monitoring._performance import measure_performance

    task = infer_task(frame, reference.outputs)
    try:
        measured = measure_performance(
            frame,
            task=task,
            label=rules.performance.label,
            prediction="prediction" if "prediction" in frame.columns else None,
            pos_label=rules.performance.pos_label,
        )
    except InvalidInput as exc:
        messages.append(f"performance: {exc}")
        return None
    return measured.overall


def figures_of(
    *,
    rows: int,
    labelled_rows: int,
    drift: DatasetDrift | None = None,
    prediction_drift: DatasetDrift | None = None,
    quality: DataQuality | None = None,
    performance: ChunkPerformance | None = None,
    estimated: ChunkEstimate | None = None,
) -> dict[str, float | None]:
    """The flat figures rules are written against (see ``FIGURE_PATTERNS`` in the rules module)."""
    out: dict[str, float | None] = {"rows": float(rows), "labelled_rows": float(labelled_rows)}
    for prefix, result in (("drift", drift), ("prediction_drift", prediction_drift)):
        if result is None:
            continue
        out[f"{prefix}.share"] = finite(result.share)
        out[f"{prefix}.drifted"] = float(result.drifted)
        out[f"{prefix}.drifted_columns"] = float(sum(c.drifted for c in result.columns))
        for col in result.columns:
            base = f"{prefix}.columns.{col.column}"
            for name in _COLUMN_FIGURES:
                out[f"{base}.{name}"] = finite(getattr(col, name))
            out[f"{base}.drifted"] = float(col.drifted) if col.status == "ok" else None
        mv = result.multivariate
        if mv is not None:
            out["multivariate.error"] = finite(mv.error)
            out["multivariate.drifted"] = float(mv.drifted) if mv.status == "ok" else None
    if quality is not None:
        out.update(_quality_figures(quality))
    if performance is not None:
        for metric in performance.metrics:
            out[f"performance.{metric.name}"] = finite(metric.value)
    if estimated is not None:
        for est in estimated.metrics:
            out[f"estimated.{est.name}"] = finite(est.value)
            out[f"estimated.{est.name}.lower"] = finite(est.lower)
            out[f"estimated.{est.name}.upper"] = finite(est.upper)
            out[f"estimated.{est.name}.alert"] = float(est.alert) if est.value is not None else None
    return out


def _quality_figures(quality: DataQuality) -> dict[str, float | None]:
    """Window-wide quality figures are the worst column's (a rule on them fires on any column)."""

    def worst(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return max(known) if known else None

    cols = quality.columns
    out: dict[str, float | None] = {
        "quality.missing_share": worst([c.missing_current for c in cols]),
        "quality.out_of_range_share": worst([c.out_of_range for c in cols]),
        "quality.new_category_share": worst([c.new_categories for c in cols]),
        "quality.duplicated_rows_share": finite(quality.duplicated_rows),
        "quality.schema_violations": float(len(quality.missing_columns) + len(quality.type_mismatches)),
    }
    for c in cols:
        base = f"quality.columns.{c.column}"
        out[f"{base}.missing_share"] = finite(c.missing_current)
        out[f"{base}.missing_share_change"] = finite(c.missing_change)
        out[f"{base}.out_of_range_share"] = finite(c.out_of_range)
        out[f"{base}.new_category_share"] = finite(c.new_categories)
    return out
