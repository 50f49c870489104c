"""Performance over time, as the reports draw it: measured where labels are, estimated with a band.

The numbers behind a report's "Performance over time" section: :func:`performance_series` cuts the
current rows into windows, measures each where labels have arrived and, given a labelled
reference, estimates each with CBPE or DLE (its band and alert thresholds), so the two can be drawn
on one plot and the estimate checked where both exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slipway.monitoring._results import _ToDict
from slipway.monitoring._window import infer_task

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd

    from slipway.monitoring._chunks import Chunker
    from slipway.monitoring._estimate import EstimatedMetric
    from slipway.monitoring._performance import Task

__all__ = ["MetricSeries", "performance_series"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSeries(_ToDict):
    """One metric over time: realised values, and optionally an estimate with its band.

    ``labels`` name the windows (their start, or a chunk key); None marks a window where the value
    is undefined (no labels yet), drawn as a gap rather than a zero. ``threshold`` is one line to
    hold the metric against (a rule's, say); an estimator's alert band has two, ``lower_threshold``
    and ``upper_threshold``, and ``alerts`` marks the windows whose estimate falls outside them.
    ``estimator`` names what made the estimate (``cbpe``, ``dle``), empty for none.
    """

    metric: str
    labels: Sequence[str]
    realised: Sequence[float | None] = ()
    estimated: Sequence[float | None] = ()
    lower: Sequence[float | None] = ()
    upper: Sequence[float | None] = ()
    threshold: float | None = None
    lower_threshold: float | None = None
    upper_threshold: float | None = None
    alerts: Sequence[bool] = ()
    estimator: str = ""


def performance_series(
    current: pd.DataFrame,
    *,
    chunker: Chunker | str,
    task: Task | None = None,
    label: str = "label",
    reference: pd.DataFrame | None = None,
    pos_label: Any = None,
    metrics: Sequence[str] | None = None,
) -> list[MetricSeries]:
    """Each metric over the windows of ``current``: measured where labels are, estimated with a band.

    The realised values are :func:`measure_performance`'s on each window of ``current`` (when it has
    a ``label`` column with any value). With ``reference`` (a labelled period with the model's
    outputs: ``prediction``, ``proba_<class>``, the label), :class:`CBPE` (binary classifiers) or
    :class:`DLE` (regressors) is fitted on it and estimates every window, with its band and alert
    thresholds; a window that has labels then shows both, so the estimate can be checked. ``task``
    is inferred as monitors do (classification when there are ``proba_`` columns or the predictions
    are not floats). ``metrics`` default to the estimator's, then the measured ones.

    The estimator's alert thresholds come from the reference cut into windows of the current
    windows' median size (thresholds from bigger windows would be too narrow), so the reference
    needs no timestamp or chunking column of its own.
    """
    from slipway.errors import InvalidInput
    from slipway.monitoring._chunks import as_chunker

    chunks = as_chunker(chunker)
    if task is None:
        outputs = () if reference is None else tuple(map(str, reference.columns))
        task = infer_task(current, outputs)
    elif task not in ("classification", "regression"):
        raise InvalidInput(f"task {task!r}: expected classification or regression")
    labelled = label in current.columns and bool(current[label].notna().any())
    if not labelled and reference is None:
        raise InvalidInput(
            f"current: no labels in column {label!r} and no estimation reference; "
            "give labelled rows or a labelled reference with the model's outputs"
        )
    estimated = {}
    if reference is not None:
        estimated = _estimated(current, reference, chunks, task, label, pos_label, metrics)
    wanted = list(metrics) if metrics is not None else list(estimated)
    measured: dict[str, list[float | None]] = {}
    keys = [c.key for c in chunks.split(current)]
    if labelled:
        asked = None if metrics is None else wanted
        measured, keys = _measured(current, chunks, task, label, pos_label, asked)
        wanted += [m for m in measured if m not in wanted]
    unknown = [m for m in wanted if m not in measured and m not in estimated]
    if unknown:
        raise InvalidInput(
            f"metric {unknown[0]!r}: cannot be estimated without labels; "
            f"expected one of {', '.join(estimated) or 'the estimated metrics'}"
        )
    out = []
    for name in wanted:
        est = estimated.get(name, [])
        out.append(
            MetricSeries(
                metric=name,
                labels=keys,
                realised=measured.get(name, ()),
                estimated=[m.value for m in est],
                lower=[m.lower for m in est],
                upper=[m.upper for m in est],
                lower_threshold=est[0].lower_threshold if est else None,
                upper_threshold=est[0].upper_threshold if est else None,
                alerts=[m.alert for m in est],
                estimator=("cbpe" if task == "classification" else "dle") if est else "",
            )
        )
    return out


def _measured(
    current: pd.DataFrame,
    chunks: Chunker,
    task: Task,
    label: str,
    pos_label: Any,
    metrics: Sequence[str] | None,
) -> tuple[dict[str, list[float | None]], list[str]]:
    from slipway.monitoring._performance import measure_performance

    proba = [c for c in map(str, current.columns) if c.startswith("proba_")]
    result = measure_performance(
        current,
        task=task,
        label=label,
        prediction="prediction" if "prediction" in current.columns else None,
        proba=proba[0] if len(proba) == 1 else None,  # one column: the positive class's
        pos_label=pos_label,
        metrics=metrics,
        chunker=chunks,
    )
    values = {name: [c.value(name) for c in result.chunks] for name in result.metrics}
    return values, [c.chunk.key for c in result.chunks]


def _estimated(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    chunks: Chunker,
    task: Task,
    label: str,
    pos_label: Any,
    metrics: Sequence[str] | None,
) -> dict[str, list[EstimatedMetric]]:
    """Every estimable metric's estimate per window: CBPE for a binary classifier, DLE for a regressor."""
    import numpy as np

    from slipway.monitoring._chunks import Chunker
    from slipway.monitoring._estimate import estimable, fit_estimator

    names = estimable(task, metrics)
    if not names:
        return {}
    sizes = [c.n_rows for c in chunks.split(current) if c.n_rows]
    if not sizes:
        return {name: [] for name in names}
    # the alert thresholds come from reference windows of the current windows' size (windows under
    # the estimators' 50 rows are not estimated, so no thresholds are needed for them)
    windows = Chunker.by_rows(max(50, int(np.median(sizes))), incomplete="append")
    estimator = fit_estimator(
        reference, task=task, label=label, pos_label=pos_label, chunker=windows, metrics=names
    )
    result = estimator.estimate(current, chunker=chunks)
    return {name: [c.metric(name) for c in result.chunks] for name in result.metrics}
