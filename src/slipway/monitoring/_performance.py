"""Measured performance: the model's metrics on the rows whose labels have come back.

The input is the prediction log joined to its feedback (:func:`slipway.predlog.join_feedback`): a
``label`` column, the ``prediction`` and, for a classifier, one ``proba_<class>`` column per class.
Metrics are the validation gate's own (:mod:`slipway.validation._metrics`, held to scikit-learn in
its tests), so a model is scored the same way before and after it ships; only the calibration error
is added here. Rows without a label simply do not count, and a window with too few labelled rows is
``not_enough_data``: a monitor must not alert on the accuracy of three rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.monitoring._chunks import Chunk, Chunker, ChunkSpan, as_chunker
from slipway.monitoring._results import Status, _ToDict, finite
from slipway.validation._metrics import METRICS, Predictions, metric_value

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import NDArray

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "ChunkPerformance",
    "MeasuredPerformance",
    "MetricValue",
    "expected_calibration_error",
    "measure_performance",
]

Task = Literal["classification", "regression"]

#: What :func:`measure_performance` computes when no metrics are named (the probability-based ones
#: only when there are probability columns).
CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss", "calibration_error")
REGRESSION_METRICS = ("mae", "rmse", "mape", "r2")

_PROBA_METRICS = frozenset({"roc_auc", "log_loss", "brier", "calibration_error"})
_MISSING_SLICE = "(missing)"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricValue(_ToDict):
    """One metric on one window; ``value`` is None (with a reason) where it is undefined."""

    name: str
    value: float | None
    higher_is_better: bool
    status: Status = "ok"
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkPerformance(_ToDict):
    """The metrics of one window (and one slice of it, when ``slice`` is set).

    ``n_rows`` counts every row of the window, ``n_labelled`` those with a label and every model
    output the metrics need: the rows the metrics are computed on.
    """

    chunk: ChunkSpan
    slice: str | None
    n_rows: int
    n_labelled: int
    metrics: tuple[MetricValue, ...]
    status: Status = "ok"
    message: str = ""

    def value(self, name: str) -> float | None:
        """The metric's value (None when undefined); KeyError if it was not computed."""
        for m in self.metrics:
            if m.name == name:
                return m.value
        raise KeyError(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class MeasuredPerformance(_ToDict):
    """Every window's metrics, the whole frame's, and the same per slice when ``slice_by`` is set.

    ``slices`` holds one entry per (window, slice value), window by window; ``overall_slices`` one
    per slice value over the whole frame. A missing slice value is its own slice, ``(missing)``.
    """

    task: Task
    metrics: tuple[str, ...]
    label: str
    chunker: Chunker
    slice_by: str | None
    overall: ChunkPerformance
    chunks: tuple[ChunkPerformance, ...]
    slices: tuple[ChunkPerformance, ...] = ()
    overall_slices: tuple[ChunkPerformance, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Columns:
    """What the frame's columns mean, resolved once for every window."""

    task: Task
    label: str
    prediction: str | None  # None: derived from the probabilities
    proba: tuple[str, ...]
    classes: tuple[Any, ...]
    pos_label: Any
    numeric_labels: bool


def measure_performance(
    frame: pd.DataFrame,
    *,
    task: Task,
    label: str = "label",
    prediction: str | None = "prediction",
    proba: str | Mapping[Any, str] | None = None,
    pos_label: Any = None,
    metrics: Sequence[str] | None = None,
    chunker: Chunker | str | None = None,
    slice_by: str | None = None,
    min_labelled: int = 10,
    n_bins: int = 10,
) -> MeasuredPerformance:
    """The metrics per window (``chunker``) and per slice (the values of ``slice_by``).

    ``proba`` names the probability columns: a mapping class -> column, one column holding the
    positive class's probability of a binary model, or None for every ``proba_<class>`` column. A
    classifier without a ``prediction`` column is scored on the most probable class (a binary one on
    ``p >= 0.5``). ``pos_label`` is the positive class of a binary model (default: the greater of
    the two, as scikit-learn). Windows with fewer than ``min_labelled`` labelled rows are
    ``not_enough_data``; ``n_bins`` is the number of equal-width bins of the calibration error.
    """
    if task not in ("classification", "regression"):
        raise InvalidInput(f"task {task!r}: expected classification or regression")
    if min_labelled < 1:
        raise InvalidInput(f"min_labelled {min_labelled}: expected at least 1")
    cols = _resolve(frame, task=task, label=label, prediction=prediction, proba=proba, pos_label=pos_label)
    names = _metric_names(cols, metrics)
    if slice_by is not None and slice_by not in frame.columns:
        raise InvalidInput(f"column {slice_by!r}: missing; expected the values to slice by")
    chunks = as_chunker(chunker)

    def score(chunk: Chunk, slice_value: str | None = None) -> ChunkPerformance:
        return _score_rows(chunk.span, chunk.data, cols, names, slice_value, min_labelled, n_bins)

    whole = Chunk(key="all", index=0, start=0, end=len(frame), data=frame)
    windows = chunks.split(frame)
    return MeasuredPerformance(
        task=task,
        metrics=names,
        label=label,
        chunker=chunks,
        slice_by=slice_by,
        overall=score(whole),
        chunks=tuple(score(c) for c in windows),
        slices=tuple(score(s, key) for c in windows for key, s in _slices(c, slice_by)),
        overall_slices=tuple(score(s, key) for key, s in _slices(whole, slice_by)),
    )


def expected_calibration_error(
    y_true: Any, proba: Any, *, classes: Any, pos_label: Any = None, n_bins: int = 10
) -> float:
    """How far predicted probabilities are from observed frequencies, averaged over equal-width bins.

    Binary: the reliability of the positive class's probability, weighted by the rows in each bin;
    the bins are scikit-learn's ``calibration_curve(strategy="uniform")`` ones, closed on the right
    (a score of exactly 0.5 is in the bin below 0.5 when 0.5 is an edge). More classes: the
    top-label version (confidence of the predicted class against whether it was right), as in
    Guo et al. (2017). NaN for no rows.
    """
    p = np.asarray(proba, dtype=np.float64)
    c = np.asarray(classes)
    y = np.asarray(y_true)
    if len(y) == 0:
        return float("nan")
    if p.ndim == 1 or len(c) == 2:
        pos = c[1] if pos_label is None else pos_label
        score = p if p.ndim == 1 else p[:, int(np.flatnonzero(c == pos)[0])]
        hit = (y == pos).astype(np.float64)
    else:
        top = np.argmax(p, axis=1)
        score = p[np.arange(len(p)), top]
        hit = (c[top] == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # scikit-learn's calibration_curve binning: a score on an inner edge falls in the bin below it
    bins = np.searchsorted(edges[1:-1], score, side="left")
    gap = np.bincount(bins, weights=hit - score, minlength=n_bins)
    return float(np.abs(gap).sum() / len(y))


# ---------------------------------------------------------------------- columns


def _resolve(
    frame: pd.DataFrame,
    *,
    task: Task,
    label: str,
    prediction: str | None,
    proba: str | Mapping[Any, str] | None,
    pos_label: Any,
) -> _Columns:
    if label not in frame.columns:
        raise InvalidInput(
            f"column {label!r}: missing; expected the labels (join the feedback with "
            "slipway.predlog.join_feedback first)"
        )
    if task == "regression":
        pred = _require_prediction(frame, prediction)
        for name in (label, pred):
            _numeric(frame[name], name)
        return _Columns(
            task=task, label=label, prediction=pred, proba=(), classes=(), pos_label=None, numeric_labels=True
        )
    proba_cols = _proba_columns(frame, proba)
    for col in proba_cols.values():
        _check_probabilities(frame[col], col)
    if prediction is not None and prediction not in frame.columns and proba_cols:
        prediction = None  # derived from the probabilities
    elif prediction is not None or not proba_cols:
        prediction = _require_prediction(frame, prediction)
    numeric = _numeric_classes(frame, label, prediction)
    if isinstance(proba, str):
        classes, pos = _single_column_classes(frame, label, prediction, numeric, pos_label)
        return _Columns(
            task=task,
            label=label,
            prediction=prediction,
            proba=(proba,),
            classes=classes,
            pos_label=pos,
            numeric_labels=numeric,
        )
    classes = tuple(_class_value(k, numeric) for k in proba_cols)
    if not classes:
        seen = pd.concat([frame[label].dropna(), frame[prediction].dropna()]) if prediction else frame[label]
        classes = tuple(sorted(_as_class(v, numeric) for v in pd.unique(seen)))
    if len(classes) == 2:
        pos = classes[1] if pos_label is None else _as_class(pos_label, numeric)
        if pos not in classes:
            raise InvalidInput(f"pos_label {pos_label!r}: expected one of the classes {list(classes)}")
    else:
        pos = None
    return _Columns(
        task=task,
        label=label,
        prediction=prediction,
        proba=tuple(proba_cols.values()),
        classes=classes,
        pos_label=pos,
        numeric_labels=numeric,
    )


def _require_prediction(frame: pd.DataFrame, prediction: str | None) -> str:
    if prediction is None or prediction not in frame.columns:
        raise InvalidInput(f"column {prediction!r}: missing; expected the model's predictions")
    return prediction


def _numeric(values: pd.Series[Any], name: str) -> None:
    if not (pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype)):
        raise InvalidInput(f"column {name!r}: expected numbers for a regression, got {values.dtype}")


def _proba_columns(frame: pd.DataFrame, proba: str | Mapping[Any, str] | None) -> dict[Any, str]:
    if proba is None:
        return {str(c)[len("proba_") :]: str(c) for c in frame.columns if str(c).startswith("proba_")}
    named = {None: proba} if isinstance(proba, str) else dict(proba)
    for col in named.values():
        if col not in frame.columns:
            raise InvalidInput(f"column {col!r}: missing; expected a class probability")
    return named


def _check_probabilities(values: pd.Series[Any], name: str) -> None:
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise InvalidInput(f"column {name!r}: expected probabilities in [0, 1], got {values.dtype}")
    v = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = (v < 0) | (v > 1)
    if bad.any():
        raise InvalidInput(
            f"column {name!r}: {int(bad.sum())} values outside [0, 1] (e.g. {float(v[bad][0])!r}); "
            "expected probabilities"
        )


def _numeric_classes(frame: pd.DataFrame, label: str, prediction: str | None) -> bool:
    """Whether classes are numbers: labels may come back as text ("1") for a model that predicts 1."""
    if prediction is not None:
        dtype = frame[prediction].dtype
        return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
    dtype = frame[label].dtype
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return True
    return bool(pd.to_numeric(frame[label].dropna(), errors="coerce").notna().all())


def _as_class(value: Any, numeric: bool) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if not numeric or isinstance(value, (int, float)):
        return value
    number = float(value)
    return int(number) if number.is_integer() else number


def _class_value(suffix: Any, numeric: bool) -> Any:
    """The class a ``proba_<suffix>`` column stands for: ``proba_1`` is class 1 for a numeric model."""
    try:
        return _as_class(suffix, numeric)
    except ValueError:
        return suffix


def _single_column_classes(
    frame: pd.DataFrame, label: str, prediction: str | None, numeric: bool, pos_label: Any
) -> tuple[tuple[Any, ...], Any]:
    seen = [frame[label].dropna()] + ([frame[prediction].dropna()] if prediction else [])
    values = sorted({_as_class(v, numeric) for v in pd.unique(pd.concat(seen))})
    if pos_label is not None:
        pos = _as_class(pos_label, numeric)
        others = [v for v in values if v != pos]
        if len(others) > 1:
            raise InvalidInput(f"column {label!r}: more than two classes for one probability column")
        neg = others[0] if others else (0 if pos == 1 else None)
        return (neg, pos), pos
    if set(values) <= {0, 1}:
        return (0, 1), 1
    if len(values) != 2:
        raise InvalidInput(
            f"column {label!r}: classes {values} for one probability column; expected two, or name pos_label"
        )
    return (values[0], values[1]), values[1]


def _metric_names(cols: _Columns, metrics: Sequence[str] | None) -> tuple[str, ...]:
    allowed = {n for n, s in METRICS.items() if s.task == cols.task}
    if cols.task == "classification":
        allowed.add("calibration_error")
    if metrics is None:
        default = CLASSIFICATION_METRICS if cols.task == "classification" else REGRESSION_METRICS
        return tuple(n for n in default if cols.proba or n not in _PROBA_METRICS)
    for name in metrics:
        if name not in allowed:
            raise InvalidInput(
                f"metric {name!r}: expected one of {', '.join(sorted(allowed))} for {cols.task}"
            )
        if name in _PROBA_METRICS and not cols.proba:
            raise InvalidInput(f"metric {name!r}: needs class probabilities; expected proba_<class> columns")
    return tuple(metrics)


# ---------------------------------------------------------------------- scoring


def _slices(chunk: Chunk, slice_by: str | None) -> list[tuple[str, Chunk]]:
    if slice_by is None or chunk.n_rows == 0:
        return []
    values = chunk.data[slice_by]
    keys = values.map(lambda v: str(v.item() if isinstance(v, np.generic) else v)).where(
        values.notna(), _MISSING_SLICE
    )
    return [
        (str(k), Chunk(key=chunk.key, index=chunk.index, start=chunk.start, end=chunk.end, data=rows))
        for k, rows in chunk.data.groupby(keys.to_numpy(), sort=True)
    ]


def _score_rows(
    span: ChunkSpan,
    data: pd.DataFrame,
    cols: _Columns,
    names: tuple[str, ...],
    slice_value: str | None,
    min_labelled: int,
    n_bins: int,
) -> ChunkPerformance:
    used = [cols.label, *([cols.prediction] if cols.prediction else []), *cols.proba]
    usable = data[used].notna().all(axis=1).to_numpy()
    n_labelled = int(usable.sum())
    if n_labelled < min_labelled:
        why = (
            "no labelled rows"
            if n_labelled == 0
            else f"{n_labelled} labelled rows, fewer than {min_labelled}"
        )
        return ChunkPerformance(
            chunk=span,
            slice=slice_value,
            n_rows=len(data),
            n_labelled=n_labelled,
            metrics=tuple(
                MetricValue(
                    name=n, value=None, higher_is_better=_higher(n), status="not_enough_data", message=why
                )
                for n in names
            ),
            status="not_enough_data",
            message=why,
        )
    rows = data.loc[usable] if not usable.all() else data
    y, preds = _arrays(rows, cols)
    values = tuple(_metric(n, y, preds, n_bins) for n in names)
    return ChunkPerformance(
        chunk=span, slice=slice_value, n_rows=len(data), n_labelled=n_labelled, metrics=values
    )


def _arrays(rows: pd.DataFrame, cols: _Columns) -> tuple[NDArray[Any], Predictions]:
    if cols.task == "regression":
        return (
            rows[cols.label].to_numpy(dtype=np.float64),
            Predictions(labels=rows[cols.prediction].to_numpy(dtype=np.float64)),
        )
    y = _labels(rows[cols.label], cols)
    classes = np.asarray(cols.classes, dtype=object if not cols.numeric_labels else None)
    proba: NDArray[np.float64] | None = None
    if cols.proba:
        proba = rows[list(cols.proba)].to_numpy(dtype=np.float64)
        if proba.shape[1] == 1:
            proba = np.column_stack([1.0 - proba[:, 0], proba[:, 0]])
    if cols.prediction is not None:
        labels = _labels(rows[cols.prediction], cols)
    else:
        assert proba is not None
        labels = classes[np.argmax(proba, axis=1)]  # binary: p >= 0.5 wins ties for the first class
        if len(classes) == 2:
            labels = np.where(proba[:, 1] >= 0.5, classes[1], classes[0])
    return y, Predictions(labels=labels, proba=proba, classes=classes, pos_label=cols.pos_label)


def _labels(values: pd.Series[Any], cols: _Columns) -> NDArray[Any]:
    if cols.numeric_labels and not pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.isna().any():
            _unknown_class(values.name, values[numbers.isna()].iloc[0], cols)
        values = numbers
    out = values.to_numpy()
    if cols.proba:
        known = pd.Series(out).isin(list(cols.classes)).to_numpy()
        if not known.all():
            _unknown_class(values.name, out[~known][0], cols)
    return out


def _unknown_class(column: Any, value: Any, cols: _Columns) -> None:
    if isinstance(value, np.generic):
        value = value.item()
    raise InvalidInput(
        f"column {column!r}: value {value!r}; expected one of the classes {list(cols.classes)}"
    )


def _higher(name: str) -> bool:
    return name != "calibration_error" and METRICS[name].higher_is_better


def _metric(name: str, y: NDArray[Any], preds: Predictions, n_bins: int) -> MetricValue:
    if name == "calibration_error":
        assert preds.proba is not None
        raw = expected_calibration_error(
            y, preds.proba, classes=preds.classes, pos_label=preds.pos_label, n_bins=n_bins
        )
    else:
        raw = metric_value(name, y, preds)
    value = finite(raw)
    if value is None:
        return MetricValue(
            name=name,
            value=None,
            higher_is_better=_higher(name),
            status="not_enough_data",
            message=f"{name} is undefined on these rows (e.g. a single class among the labels)",
        )
    return MetricValue(name=name, value=value, higher_is_better=_higher(name))
