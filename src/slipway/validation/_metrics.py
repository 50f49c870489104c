"""Model metrics as vectorised NumPy functions, weighted so that one call scores many bootstrap samples.

Each metric takes the rows' weights as a matrix ``(samples, rows)``: a row of ones is the metric on
the data as given, a row of multinomial counts is the metric on one bootstrap resample. So a paired
bootstrap of 1,000 resamples is a handful of matrix products, not 1,000 calls. The numbers agree
with :mod:`sklearn.metrics` (tested), which is not needed here.

Classification metrics on labels (``accuracy``, ``balanced_accuracy``, ``precision``, ``recall``,
``f1``) are binary for the positive class when there are two classes, and macro averages otherwise
(over the labels each weighting holds among the true or predicted labels, so a bootstrap resample
that misses a rare class averages over the others, as scikit-learn would on those rows); an
undefined precision or recall (nothing predicted, nothing to find) counts as 0, as scikit-learn
does. ``roc_auc`` is one-vs-rest macro for more than two classes, and undefined (NaN) when the target
holds a single class. ``log_loss`` clips probabilities to ``[eps, 1 - eps]``. ``mape`` is a fraction
(0.1 is 10%).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

__all__ = [
    "METRICS",
    "MetricSpec",
    "Predictions",
    "accuracy",
    "balanced_accuracy",
    "brier",
    "f1",
    "log_loss",
    "mae",
    "mape",
    "metric_value",
    "metric_values",
    "mse",
    "precision",
    "r2",
    "recall",
    "rmse",
    "roc_auc",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Predictions:
    """A model's outputs on the data.

    ``labels`` are ``predict``'s output (a classifier's labels, a regressor's values); ``proba`` the
    ``predict_proba`` matrix whose columns are ``classes``; ``pos_label`` the positive class of a
    binary problem (None for more than two classes, unless the policy names one).
    """

    labels: NDArray[Any]
    proba: NDArray[Any] | None = None
    classes: NDArray[Any] | None = None
    pos_label: Any = None

    def score(self) -> NDArray[np.float64]:
        """One number per row: the positive class's probability, or a regressor's value."""
        if self.classes is None:
            return np.asarray(self.labels, dtype=np.float64)
        if self.proba is None:
            raise InvalidInput("this classifier has no predict_proba, so it has no score per row")
        return np.asarray(self.proba[:, _class_index(self.classes, self.pos_label)], dtype=np.float64)


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSpec:
    """What a metric scores (labels, probabilities or values), for which task, and its direction."""

    name: str
    task: Literal["classification", "regression"]
    needs: Literal["labels", "proba", "values"]
    higher_is_better: bool
    fn: Callable[[NDArray[Any], Predictions, NDArray[np.float64]], NDArray[np.float64]]


# ---------------------------------------------------------------------- weights


def _weights(weights: NDArray[Any] | None, n: int) -> NDArray[np.float64]:
    if weights is None:
        return np.ones((1, n))
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 1:
        w = w[None, :]
    if w.ndim != 2 or w.shape[1] != n:
        raise InvalidInput(f"weights of shape {w.shape}: expected ({n},) or (samples, {n})")
    return w


def _ratio(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """``num / den`` with 0 where ``den`` is 0 (scikit-learn's zero_division)."""
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _class_index(classes: NDArray[Any], label: Any) -> int:
    hits = np.flatnonzero(classes == label)
    if len(hits) == 0:
        raise InvalidInput(
            f"positive label {label!r}: not one of the classes {', '.join(map(repr, classes.tolist()))}"
        )
    return int(hits[0])


# ---------------------------------------------------------------------- labels


def _confusion(
    y_true: NDArray[Any], y_pred: NDArray[Any], w: NDArray[np.float64]
) -> tuple[NDArray[Any], NDArray[np.float64]]:
    """The labels seen (sorted) and the weighted confusion matrices ``(samples, true, predicted)``."""
    both = np.concatenate([_comparable(np.asarray(y_true)), _comparable(np.asarray(y_pred))])
    labels, codes = np.unique(both, return_inverse=True)
    k, n = len(labels), len(y_true)
    cell = codes[:n] * k + codes[n:]
    if n * k * k <= 4_000_000:  # small: one matrix product with the one-hot cells
        onehot = np.zeros((n, k * k))
        onehot[np.arange(n), cell] = 1.0
        flat = w @ onehot
    else:
        flat = np.stack([np.bincount(cell, weights=row, minlength=k * k) for row in w])
    return labels, flat.reshape(len(w), k, k)


def _per_class(
    y_true: NDArray[Any], y_pred: NDArray[Any], w: NDArray[np.float64]
) -> tuple[NDArray[Any], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Labels and the per-class weighted true positives, predicted positives and actual positives."""
    labels, cm = _confusion(y_true, y_pred, w)
    tp = np.diagonal(cm, axis1=1, axis2=2)
    return labels, tp, cm.sum(axis=1), cm.sum(axis=2)


def _binary_or_macro(
    kind: str, y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]
) -> NDArray[np.float64]:
    labels, tp, predicted, actual = _per_class(y_true, p.labels, w)
    if kind == "precision":
        per = _ratio(tp, predicted)
    elif kind == "recall":
        per = _ratio(tp, actual)
    else:  # f1 = 2tp / (2tp + fp + fn) = 2tp / (predicted + actual)
        per = _ratio(2 * tp, predicted + actual)
    binary = p.pos_label is not None and (p.classes is None or len(p.classes) <= 2)
    if binary:
        hits = np.flatnonzero(labels == p.pos_label)
        return per[:, hits[0]] if len(hits) else np.zeros(len(w))
    # Macro: the mean over the labels this sample holds (weight > 0 among the true or predicted
    # labels), as scikit-learn does on the rows it is given. A bootstrap resample that misses a rare
    # class leaves it out rather than counting its precision and recall as 0.
    present = (predicted + actual) > 0
    return _ratio((per * present).sum(axis=1), present.sum(axis=1).astype(np.float64))


def _accuracy(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    correct = (np.asarray(y_true) == np.asarray(p.labels)).astype(np.float64)
    return _ratio(w @ correct, w.sum(axis=1))


def _balanced_accuracy(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    _, tp, _, actual = _per_class(y_true, p.labels, w)
    present = actual > 0  # classes that only appear among the predictions are left out
    recall = _ratio(tp, actual)
    return _ratio((recall * present).sum(axis=1), present.sum(axis=1).astype(np.float64))


# ---------------------------------------------------------------------- probabilities


def _proba(p: Predictions) -> tuple[NDArray[np.float64], NDArray[Any]]:
    if p.proba is None or p.classes is None:
        raise InvalidInput("this metric needs class probabilities, and the model has no predict_proba")
    return np.asarray(p.proba, dtype=np.float64), p.classes


def _comparable(values: NDArray[Any]) -> NDArray[Any]:
    """Text arrays as object arrays, so that NumPy compares and sorts them with pandas' str columns."""
    return values.astype(object) if values.dtype.kind in "US" else values


def _target_codes(y_true: NDArray[Any], classes: NDArray[Any]) -> NDArray[np.intp]:
    y_true, classes = _comparable(y_true), _comparable(classes)
    order = np.argsort(classes, kind="stable")
    pos = np.searchsorted(classes[order], y_true)
    pos = np.clip(pos, 0, len(classes) - 1)
    codes = order[pos]
    unknown = classes[codes] != y_true
    if np.any(unknown):
        bad = y_true[np.flatnonzero(unknown)[0]]
        bad = bad.item() if isinstance(bad, np.generic) else bad
        raise InvalidInput(
            f"target value {bad!r}: not one of the model's classes ({', '.join(map(repr, classes.tolist()))})"
        )
    return np.asarray(codes, dtype=np.intp)


def _binary_auc(
    positive: NDArray[np.bool_], score: NDArray[np.float64], w: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Area under the ROC curve, weighted, with tied scores as one threshold (as scikit-learn)."""
    order = np.argsort(-score, kind="mergesort")
    s, y = score[order], positive[order]
    ws = w[:, order]
    tps = np.cumsum(ws * y, axis=1)
    fps = np.cumsum(ws * ~y, axis=1)
    ends = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    zeros = np.zeros((len(w), 1))
    tp = np.hstack([zeros, tps[:, ends]])
    fp = np.hstack([zeros, fps[:, ends]])
    area = np.sum((fp[:, 1:] - fp[:, :-1]) * (tp[:, 1:] + tp[:, :-1]) / 2.0, axis=1)
    total = tp[:, -1] * fp[:, -1]
    out = np.full(len(w), np.nan)
    np.divide(area, total, out=out, where=total > 0)
    return out


def _roc_auc(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    proba, classes = _proba(p)
    codes = _target_codes(y_true, classes)
    if len(classes) == 2:
        pos = _class_index(classes, p.pos_label if p.pos_label is not None else classes[1])
        return _binary_auc(codes == pos, proba[:, pos], w)
    per = [_binary_auc(codes == k, proba[:, k], w) for k in range(len(classes))]
    return np.asarray(np.mean(per, axis=0), dtype=np.float64)


def _log_loss(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    proba, classes = _proba(p)
    eps = np.finfo(proba.dtype).eps
    picked = np.clip(proba[np.arange(len(y_true)), _target_codes(y_true, classes)], eps, 1 - eps)
    return _ratio(w @ -np.log(picked), w.sum(axis=1))


def _brier(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    proba, classes = _proba(p)
    codes = _target_codes(y_true, classes)
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(codes)), codes] = 1.0
    # Binary: the squared error of the positive class's probability; more classes: summed over them.
    per_row = np.sum((proba - onehot) ** 2, axis=1) / (2.0 if len(classes) == 2 else 1.0)
    return _ratio(w @ per_row, w.sum(axis=1))


# ---------------------------------------------------------------------- regression


def _errors(y_true: NDArray[Any], p: Predictions) -> NDArray[np.float64]:
    return np.asarray(y_true, dtype=np.float64) - np.asarray(p.labels, dtype=np.float64).reshape(len(y_true))


def _mae(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    return _ratio(w @ np.abs(_errors(y_true, p)), w.sum(axis=1))


def _mse(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    return _ratio(w @ _errors(y_true, p) ** 2, w.sum(axis=1))


def _rmse(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.sqrt(_mse(y_true, p, w))


def _mape(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    y = np.asarray(y_true, dtype=np.float64)
    per_row = np.abs(_errors(y_true, p)) / np.maximum(np.abs(y), np.finfo(np.float64).eps)
    return _ratio(w @ per_row, w.sum(axis=1))


def _r2(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
    y = np.asarray(y_true, dtype=np.float64)
    y = y - y.mean()  # r2 does not change under a shift; centring keeps the sums below accurate
    total_w = w.sum(axis=1)
    mean = _ratio(w @ y, total_w)
    ss_tot = w @ y**2 - total_w * mean**2
    ss_res = w @ _errors(y_true, p) ** 2
    out = np.where(ss_res == 0, 1.0, 0.0)  # a constant target: 1 if predicted exactly (scikit-learn)
    np.subtract(1.0, ss_res / np.where(ss_tot > 0, ss_tot, 1.0), out=out, where=ss_tot > 0)
    return out


def _spec(
    name: str,
    task: Literal["classification", "regression"],
    needs: Literal["labels", "proba", "values"],
    higher: bool,
    fn: Callable[[NDArray[Any], Predictions, NDArray[np.float64]], NDArray[np.float64]],
) -> MetricSpec:
    return MetricSpec(name=name, task=task, needs=needs, higher_is_better=higher, fn=fn)


def _labels_metric(
    kind: str,
) -> Callable[[NDArray[Any], Predictions, NDArray[np.float64]], NDArray[np.float64]]:
    def fn(y_true: NDArray[Any], p: Predictions, w: NDArray[np.float64]) -> NDArray[np.float64]:
        return _binary_or_macro(kind, y_true, p, w)

    return fn


METRICS: dict[str, MetricSpec] = {
    s.name: s
    for s in (
        _spec("accuracy", "classification", "labels", True, _accuracy),
        _spec("balanced_accuracy", "classification", "labels", True, _balanced_accuracy),
        _spec("precision", "classification", "labels", True, _labels_metric("precision")),
        _spec("recall", "classification", "labels", True, _labels_metric("recall")),
        _spec("f1", "classification", "labels", True, _labels_metric("f1")),
        _spec("roc_auc", "classification", "proba", True, _roc_auc),
        _spec("log_loss", "classification", "proba", False, _log_loss),
        _spec("brier", "classification", "proba", False, _brier),
        _spec("mae", "regression", "values", False, _mae),
        _spec("mse", "regression", "values", False, _mse),
        _spec("rmse", "regression", "values", False, _rmse),
        _spec("r2", "regression", "values", True, _r2),
        _spec("mape", "regression", "values", False, _mape),
    )
}
"""Every metric a policy may name, by name."""


# ---------------------------------------------------------------------- entry points


def metric_values(
    name: str, y_true: NDArray[Any], predictions: Predictions, weights: NDArray[Any] | None = None
) -> NDArray[np.float64]:
    """``name`` under each row of ``weights`` (``(samples, rows)``; None: every row once)."""
    spec = METRICS.get(name)
    if spec is None:
        raise InvalidInput(f"metric {name!r}: unknown; expected one of {', '.join(sorted(METRICS))}")
    y = np.asarray(y_true)
    w = _weights(weights, len(y))
    if len(y) == 0:
        return np.full(len(w), np.nan)
    return np.asarray(spec.fn(y, predictions, w), dtype=np.float64)


def metric_value(
    name: str, y_true: NDArray[Any], predictions: Predictions, weights: NDArray[Any] | None = None
) -> float:
    """``name`` on the data (optionally weighted per row); NaN where it is undefined."""
    if weights is not None and np.ndim(weights) != 1:
        raise InvalidInput("metric_value: expected one weight per row; use metric_values for samples")
    return float(metric_values(name, y_true, predictions, weights)[0])


# Named functions, for use outside a gate (and for the tests that hold them to scikit-learn).


def _label_preds(y_pred: Any, pos_label: Any) -> Predictions:
    return Predictions(labels=np.asarray(y_pred), pos_label=pos_label)


def accuracy(y_true: Any, y_pred: Any, *, weights: Any = None) -> float:
    return metric_value("accuracy", y_true, _label_preds(y_pred, None), weights)


def balanced_accuracy(y_true: Any, y_pred: Any, *, weights: Any = None) -> float:
    return metric_value("balanced_accuracy", y_true, _label_preds(y_pred, None), weights)


def precision(y_true: Any, y_pred: Any, *, pos_label: Any = None, weights: Any = None) -> float:
    """Binary for ``pos_label``; the macro average over the labels seen when ``pos_label`` is None."""
    return metric_value("precision", y_true, _label_preds(y_pred, pos_label), weights)


def recall(y_true: Any, y_pred: Any, *, pos_label: Any = None, weights: Any = None) -> float:
    return metric_value("recall", y_true, _label_preds(y_pred, pos_label), weights)


def f1(y_true: Any, y_pred: Any, *, pos_label: Any = None, weights: Any = None) -> float:
    return metric_value("f1", y_true, _label_preds(y_pred, pos_label), weights)


def _proba_preds(proba: Any, classes: Any, pos_label: Any) -> Predictions:
    p = np.asarray(proba, dtype=np.float64)
    c = np.asarray(classes)
    return Predictions(labels=c[np.argmax(p, axis=1)], proba=p, classes=c, pos_label=pos_label)


def roc_auc(y_true: Any, proba: Any, *, classes: Any, pos_label: Any = None, weights: Any = None) -> float:
    """``proba`` is the ``(rows, classes)`` matrix of ``predict_proba``; one-vs-rest macro for > 2 classes."""
    return metric_value("roc_auc", y_true, _proba_preds(proba, classes, pos_label), weights)


def log_loss(y_true: Any, proba: Any, *, classes: Any, weights: Any = None) -> float:
    return metric_value("log_loss", y_true, _proba_preds(proba, classes, None), weights)


def brier(y_true: Any, proba: Any, *, classes: Any, weights: Any = None) -> float:
    return metric_value("brier", y_true, _proba_preds(proba, classes, None), weights)


def _value_preds(y_pred: Any) -> Predictions:
    return Predictions(labels=np.asarray(y_pred, dtype=np.float64))


def mae(y_true: Any, y_pred: Any, *, weights: Any = None) -> float:
    return metric_value("mae", y_true, _value_preds(y_pred), weights)


def mse(y_true: Any, y_pred: Any, *, weights: Any = None) -> float:
    return metric_value("mse", y_true, _value_preds(y_pred), weights)


def rmse(y_true: Any, y_pred: Any, *, weights: Any = None) -> float:
    return metric_value("rmse", y_true, _value_preds(y_pred), weights)


def r2(y_true: Any, y_pred: Any, *, weights: Any = None) -> float:
    return metric_value("r2", y_true, _value_preds(y_pred), weights)


def mape(y_true: Any, y_pred: Any, *, weights: Any = None) -> float:
    """A fraction: 0.1 means the predictions are off by 10% on average."""
    return metric_value("mape", y_true, _value_preds(y_pred), weights)
