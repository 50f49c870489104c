"""Estimated performance: how well the model does while its labels are still on their way.

Two estimators, after NannyML's, each fitted on a labelled reference period (data the model did not
train on) and then run on unlabelled windows:

- :class:`CBPE` (confidence-based performance estimation) for binary classifiers. If the model's
  probabilities are calibrated, a row predicted positive with probability 0.8 is a true positive
  with probability 0.8: summing these gives each window's expected confusion matrix, hence its
  expected accuracy, precision, recall and F1; the expected true/false positive counts along the
  ranking give the expected ROC curve and its area. Probabilities that are not calibrated are
  calibrated first, by isotonic regression of the reference labels on the scores.
- ``DLE`` (direct loss estimation, in ``_dle.py``) for regressors: a gradient-boosted model
  learns, on the reference, the absolute and the squared error from the features and the
  prediction; a window's estimated MAE is the mean predicted absolute error, its RMSE the root of
  the mean predicted squared error.

Both hold only under covariate shift (the inputs move, the relation between inputs and label does
not); a change of concept is invisible without labels. Each estimate carries a band: the sampling
error of the realised metric on a window of that size (the spread of the metric over bootstrap
resamples of the reference, scaled by the square root of the size ratio), times ``band`` (3, as
NannyML). Alert thresholds come from the realised metric over the reference's own windows: mean
plus or minus ``alert_sigmas`` standard deviations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.monitoring._chunks import Chunker, ChunkSpan, as_chunker
from slipway.monitoring._performance import _check_probabilities
from slipway.monitoring._results import Status, _ToDict, finite
from slipway.validation._metrics import METRICS, Predictions, metric_values

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import NDArray

    from slipway.monitoring._dle import DLE

__all__ = [
    "CBPE",
    "ChunkEstimate",
    "EstimatedMetric",
    "PerformanceEstimate",
    "estimable",
    "fit_estimator",
    "positive_class",
]

CBPE_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")


@dataclass(frozen=True, slots=True, kw_only=True)
class EstimatedMetric(_ToDict):
    """One metric's estimate on one window, with its band, its alert thresholds and its realised value.

    ``realized`` is there when the window's labels are (to hold the estimate against). ``lower``
    and ``upper`` bound the band (``value`` plus or minus ``band`` sampling errors, clipped to the
    metric's range); ``alert`` is ``value`` outside ``[lower_threshold, upper_threshold]``.
    """

    name: str
    value: float | None
    higher_is_better: bool
    sampling_error: float | None = None
    lower: float | None = None
    upper: float | None = None
    lower_threshold: float | None = None
    upper_threshold: float | None = None
    alert: bool = False
    realized: float | None = None
    status: Status = "ok"
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkEstimate(_ToDict):
    """Every estimated metric of one window; ``n_rows`` counts the rows with a model output."""

    chunk: ChunkSpan
    n_rows: int
    metrics: tuple[EstimatedMetric, ...]
    status: Status = "ok"
    message: str = ""

    def metric(self, name: str) -> EstimatedMetric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)

    @property
    def alert(self) -> bool:
        return any(m.alert for m in self.metrics)


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceEstimate(_ToDict):
    """An estimator's windows: ``chunks``, those it was asked about, and ``reference``.

    The reference's windows come with their realised values, for plots. ``calibrated`` says whether
    CBPE recalibrated the probabilities (None for DLE).
    """

    method: Literal["cbpe", "dle"]
    metrics: tuple[str, ...]
    chunker: Chunker
    band: float
    reference: tuple[ChunkEstimate, ...]
    chunks: tuple[ChunkEstimate, ...]
    calibrated: bool | None = None

    @property
    def alerts(self) -> tuple[ChunkEstimate, ...]:
        return tuple(c for c in self.chunks if c.alert)


# ---------------------------------------------------------------------- shared machinery


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fitted:
    """What an estimator learns on the reference for one metric, besides its own model."""

    spread: float | None  # std of the realised metric over bootstrap resamples of ``pool`` rows
    pool: int
    lower_threshold: float | None
    upper_threshold: float | None


def _spread(
    name: str,
    y: NDArray[Any],
    preds: Callable[[NDArray[np.intp]], Predictions],
    rng: np.random.Generator,
    *,
    samples: int = 100,
    pool: int = 20_000,
) -> tuple[float | None, int]:
    """The realised metric's spread over bootstrap resamples: a simulation of its sampling error.

    One weighted pass (``metric_values`` takes every resample as a row of weights); a big
    reference is subsampled to ``pool`` rows first, which is plenty to measure a spread.
    """
    rows = np.arange(len(y)) if len(y) <= pool else np.sort(rng.choice(len(y), pool, replace=False))
    m = len(rows)
    if m < 2:
        return None, m
    weights = rng.multinomial(m, np.full(m, 1.0 / m), size=samples).astype(np.float64)
    values = metric_values(name, y[rows], preds(rows), weights)
    values = values[np.isfinite(values)]
    return (float(np.std(values, ddof=1)) if len(values) > 1 else None), m


def _thresholds(
    values: list[float], sigmas: float, bounds: tuple[float, float]
) -> tuple[float | None, float | None]:
    finite_values = [v for v in values if np.isfinite(v)]
    if len(finite_values) < 2:
        return None, None
    mean, std = float(np.mean(finite_values)), float(np.std(finite_values))
    return max(bounds[0], mean - sigmas * std), min(bounds[1], mean + sigmas * std)


def _estimated(
    name: str,
    value: float | None,
    n: int,
    fitted: _Fitted,
    band: float,
    bounds: tuple[float, float],
    realized: float | None,
) -> EstimatedMetric:
    lo_t, hi_t = fitted.lower_threshold, fitted.upper_threshold
    common: dict[str, Any] = {
        "name": name,
        "higher_is_better": METRICS[name].higher_is_better,
        "lower_threshold": lo_t,
        "upper_threshold": hi_t,
        "realized": finite(realized),
    }
    if value is None or not np.isfinite(value):
        why = f"{name} cannot be estimated on these rows (e.g. no predicted positives)"
        return EstimatedMetric(value=None, status="not_enough_data", message=why, **common)
    se = None if fitted.spread is None else fitted.spread * float(np.sqrt(fitted.pool / n))
    return EstimatedMetric(
        value=float(value),
        sampling_error=se,
        lower=None if se is None else max(bounds[0], value - band * se),
        upper=None if se is None else min(bounds[1], value + band * se),
        alert=bool((lo_t is not None and value < lo_t) or (hi_t is not None and value > hi_t)),
        **common,
    )


def _too_small(span: ChunkSpan, n: int, names: tuple[str, ...], min_rows: int) -> ChunkEstimate:
    why = "no rows" if n == 0 else f"{n} rows, fewer than {min_rows}"
    metrics = tuple(
        EstimatedMetric(
            name=m,
            value=None,
            higher_is_better=METRICS[m].higher_is_better,
            status="not_enough_data",
            message=why,
        )
        for m in names
    )
    return ChunkEstimate(chunk=span, n_rows=n, metrics=metrics, status="not_enough_data", message=why)


def _check_metrics(metrics: Sequence[str], allowed: tuple[str, ...], who: str) -> tuple[str, ...]:
    for name in metrics:
        if name not in allowed:
            raise InvalidInput(f"{who} metric {name!r}: expected one of {', '.join(allowed)}")
    return tuple(metrics)


def _require(frame: pd.DataFrame, column: str, what: str) -> None:
    if column not in frame.columns:
        raise InvalidInput(f"column {column!r}: missing; expected {what}")


def _not_fitted(who: str) -> InvalidInput:
    return InvalidInput(f"{who}: not fitted; call fit(reference) with a labelled reference first")


# ---------------------------------------------------------------------- CBPE


@dataclass(kw_only=True, eq=False)
class CBPE:
    """Confidence-based performance estimation for a binary classifier.

    scikit-learn's protocol: the constructor only stores the options, :meth:`fit` learns on a
    labelled reference and sets the attributes ending in ``_``, :meth:`estimate` runs on new windows.

    ``score`` names the positive class's probability (default ``proba_<pos_label>``) and
    ``prediction`` the predicted class (None, or a missing column: ``score >= threshold``).
    ``calibrate``: True always recalibrates on the reference, False never, ``"auto"`` when the
    reference's labels contradict the scores as probabilities (a calibration error larger than
    calibrated scores would show by chance). Windows with fewer than ``min_rows`` scored rows are
    ``not_enough_data``.
    """

    metrics: Sequence[str] = CBPE_METRICS
    chunker: Chunker | str | None = None
    score: str | None = None
    prediction: str | None = "prediction"
    label: str = "label"
    pos_label: Any = 1
    threshold: float = 0.5
    calibrate: bool | Literal["auto"] = "auto"
    band: float = 3.0
    alert_sigmas: float = 3.0
    min_rows: int = 50
    random_state: int = 0

    def fit(self, reference: pd.DataFrame) -> CBPE:
        """Learn the calibration, the sampling errors and the alert thresholds on labelled rows."""
        self.metrics_ = _check_metrics(self.metrics, CBPE_METRICS, "CBPE")
        self.chunker_ = as_chunker(self.chunker)
        self.score_ = self.score or f"proba_{self.pos_label}"
        _require(reference, self.label, "the reference's labels")
        labelled = reference[reference[self.label].notna()]
        s, pred, keep = self._outputs(labelled)
        y = _is_positive(labelled[self.label][keep], self.pos_label, self.label)
        if y.all() or not y.any():
            raise InvalidInput(f"column {self.label!r}: the reference needs labelled rows of both classes")
        self.calibrator_: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
        if self.calibrate is True or (self.calibrate == "auto" and _miscalibrated(s, y, self.random_state)):
            self.calibrator_ = _isotonic(s, y)
        rng = np.random.default_rng(self.random_state)
        proba = np.column_stack([1.0 - s, s])

        def preds(rows: NDArray[np.intp]) -> Predictions:
            return _binary_predictions(pred[rows], proba[rows])

        ref_realized = [self._realized(c.data) for c in self.chunker_.split(labelled)]
        self.fitted_: dict[str, _Fitted] = {}
        for name in self.metrics_:
            spread, pool = _spread(name, y.astype(int), preds, rng)
            values = [v for r in ref_realized if (v := r.get(name)) is not None]
            lo, hi = _thresholds(values, self.alert_sigmas, (0.0, 1.0))
            self.fitted_[name] = _Fitted(spread=spread, pool=pool, lower_threshold=lo, upper_threshold=hi)
        self.reference_ = tuple(self._chunk(c.span, c.data) for c in self.chunker_.split(reference))
        return self

    def estimate(self, frame: pd.DataFrame, *, chunker: Chunker | str | None = None) -> PerformanceEstimate:
        """The estimate on each window of ``frame`` (labels, where present, give ``realized``).

        ``chunker`` splits ``frame`` in other windows than the reference's (a monitor estimates
        each of its windows whole: ``"all"``).
        """
        if not hasattr(self, "fitted_"):
            raise _not_fitted("CBPE")
        windows = self.chunker_ if chunker is None else as_chunker(chunker)
        chunks = tuple(self._chunk(c.span, c.data) for c in windows.split(frame))
        return PerformanceEstimate(
            method="cbpe",
            metrics=self.metrics_,
            chunker=windows,
            band=self.band,
            reference=self.reference_,
            chunks=chunks,
            calibrated=self.calibrator_ is not None,
        )

    # -------------------------------------------------------------- internals

    def _outputs(
        self, frame: pd.DataFrame
    ) -> tuple[NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]:
        """Scores, predicted positives, and which rows have both (the others are left out)."""
        _require(frame, self.score_, f"the positive class's probability (proba_{self.pos_label})")
        _check_probabilities(frame[self.score_], self.score_)
        raw = frame[self.score_].to_numpy(dtype=np.float64, na_value=np.nan)
        keep = ~np.isnan(raw)
        if self.prediction is not None and self.prediction in frame.columns:
            keep &= frame[self.prediction].notna().to_numpy()
            pred = _is_positive(frame[self.prediction][keep], self.pos_label, self.prediction)
            return raw[keep], pred, keep
        return raw[keep], raw[keep] >= self.threshold, keep

    def _calibrated(self, s: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.calibrator_ is None:
            return s
        x, fitted = self.calibrator_
        return np.interp(s, x, fitted)

    def _realized(self, data: pd.DataFrame) -> dict[str, float | None]:
        """The realised metrics on the window's labelled rows (empty when too few are labelled)."""
        if self.label not in data.columns:
            return {}
        data = data[data[self.label].notna()]
        s, pred, keep = self._outputs(data)
        if len(s) < self.min_rows:
            return {}
        y = _is_positive(data[self.label][keep], self.pos_label, self.label).astype(int)
        preds = _binary_predictions(pred, np.column_stack([1.0 - s, s]))
        return {name: finite(float(metric_values(name, y, preds)[0])) for name in self.metrics_}

    def _chunk(self, span: ChunkSpan, data: pd.DataFrame) -> ChunkEstimate:
        s, pred, _ = self._outputs(data)
        if len(s) < self.min_rows:
            return _too_small(span, len(s), self.metrics_, self.min_rows)
        p = self._calibrated(s)
        realized = self._realized(data)
        out = tuple(
            _estimated(
                name,
                _cbpe_value(name, p, s, pred),
                len(s),
                self.fitted_[name],
                self.band,
                (0.0, 1.0),
                realized.get(name),
            )
            for name in self.metrics_
        )
        return ChunkEstimate(chunk=span, n_rows=len(s), metrics=out)


def _binary_predictions(pred: NDArray[np.bool_], proba: NDArray[np.float64]) -> Predictions:
    return Predictions(labels=pred.astype(int), proba=proba, classes=np.array([0, 1]), pos_label=1)


def _is_positive(values: pd.Series[Any], pos_label: Any, column: str) -> NDArray[np.bool_]:
    """Which values are the positive class; labels may come back as text ("1") for a class 1."""
    number_class = isinstance(pos_label, (int, float)) and not isinstance(pos_label, bool)
    if number_class and not pd.api.types.is_bool_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce")
        if numbers.isna().any():
            bad = values[numbers.isna()].iloc[0]
            raise InvalidInput(f"column {column!r}: value {bad!r}; expected a class like {pos_label!r}")
        values = numbers
    if len(pd.unique(values)) > 2:
        raise InvalidInput(f"column {column!r}: more than two classes; CBPE is for binary classifiers")
    return np.asarray((values == pos_label).to_numpy(), dtype=bool)


def _cbpe_value(
    name: str, p: NDArray[np.float64], s: NDArray[np.float64], pred: NDArray[np.bool_]
) -> float | None:
    """The metric's expectation under calibrated probabilities ``p`` (``s`` only ranks the rows)."""
    tp = float(p[pred].sum())
    fp = float(pred.sum()) - tp
    fn = float(p[~pred].sum())
    tn = float((~pred).sum()) - fn
    if name == "accuracy":
        return (tp + tn) / len(p)
    if name == "precision":
        return tp / (tp + fp) if tp + fp > 0 else None
    if name == "recall":
        return tp / (tp + fn) if tp + fn > 0 else None
    if name == "f1":
        return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else None
    # roc_auc: expected true and false positives at each distinct score, ties as one threshold.
    order = np.argsort(-s, kind="mergesort")
    ps, ss = p[order], s[order]
    ends = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
    tps = np.r_[0.0, np.cumsum(ps)[ends]]
    fps = np.r_[0.0, np.cumsum(1.0 - ps)[ends]]
    if tps[-1] <= 0 or fps[-1] <= 0:
        return None
    return float(np.sum(np.diff(fps) * (tps[1:] + tps[:-1]) / 2.0) / (tps[-1] * fps[-1]))


def _isotonic(
    s: NDArray[np.float64], y: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Isotonic regression of the labels on the scores, as scikit-learn's (ties averaged, clipped)."""
    from scipy.optimize import isotonic_regression

    x, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    mean = np.bincount(inverse, weights=y.astype(np.float64)) / counts
    fitted = isotonic_regression(mean, weights=counts.astype(np.float64), increasing=True).x
    return x, np.asarray(fitted, dtype=np.float64)


def _miscalibrated(s: NDArray[np.float64], y: NDArray[np.bool_], seed: int, draws: int = 100) -> bool:
    """Whether the reference contradicts the scores as probabilities.

    The calibration error the reference shows is compared with what labels drawn from the scores
    themselves would show at this size: beyond their 99th percentile, the scores are not calibrated.
    (NannyML instead recalibrates whenever isotonic regression lowers the calibration error, which
    noise alone does about half the time on calibrated probabilities.)
    """
    from slipway.monitoring._performance import expected_calibration_error

    def ece(labels: NDArray[np.bool_]) -> float:
        return expected_calibration_error(labels, s, classes=[False, True])

    rng = np.random.default_rng(seed)
    null = [ece(rng.uniform(size=len(s)) < s) for _ in range(draws)]
    return ece(y) > float(np.quantile(null, 0.99))


# -------------------------------------------------------------- choosing an estimator


def estimable(
    task: Literal["classification", "regression"], metrics: Sequence[str] | None
) -> tuple[str, ...]:
    """The metrics the task's estimator can estimate: those asked for, or all of them."""
    from slipway.monitoring._dle import DLE_METRICS

    if task == "classification":
        allowed: tuple[str, ...] = CBPE_METRICS
    else:
        allowed = (*DLE_METRICS, "mse")
        if metrics is None:
            return DLE_METRICS
    return tuple(m for m in (metrics or allowed) if m in allowed)


def positive_class(reference: pd.DataFrame, pos_label: Any) -> tuple[str, Any]:
    """The positive class's probability column and the class (default: the greater, as scikit-learn).

    One ``proba_<class>`` column (the positive class's) or two are accepted.
    """
    if pos_label is not None:
        column = f"proba_{pos_label}"
        if column not in reference.columns:
            raise InvalidInput(f"column {column!r}: missing; expected the positive class's probability")
        return column, pos_label
    suffixes = [str(c)[len("proba_") :] for c in reference.columns if str(c).startswith("proba_")]
    if not 1 <= len(suffixes) <= 2:
        raise InvalidInput(
            f"{len(suffixes)} proba_<class> columns: CBPE estimates binary classifiers from the "
            "positive class's probability"
        )
    numeric = all(k.lstrip("-").isdigit() for k in suffixes)
    pos = max(suffixes, key=int) if numeric else max(suffixes)
    return f"proba_{pos}", int(pos) if numeric else pos


def fit_estimator(
    reference: pd.DataFrame,
    *,
    task: Literal["classification", "regression"],
    label: str,
    pos_label: Any = None,
    chunker: Chunker | str,
    metrics: Sequence[str] | None = None,
) -> CBPE | DLE:
    """CBPE for a binary classifier's probabilities, DLE for a regressor, fitted on ``reference``.

    Every mistake is an InvalidInput that says it is the estimation reference's.
    """
    from slipway.monitoring._dle import DLE

    try:
        if label not in reference.columns or not reference[label].notna().any():
            raise InvalidInput(
                f"no labels in column {label!r}; the estimators learn from a labelled period "
                "with the model's outputs"
            )
        names = estimable(task, metrics)
        estimator: CBPE | DLE
        if task == "classification":
            score, pos = positive_class(reference, pos_label)
            estimator = CBPE(metrics=names, chunker=chunker, score=score, label=label, pos_label=pos)
        else:
            if "prediction" not in reference.columns:
                raise InvalidInput("expected the model's outputs (proba_<class> or prediction)")
            estimator = DLE(metrics=names, chunker=chunker, label=label)
        return estimator.fit(reference)
    except InvalidInput as exc:
        raise InvalidInput(f"estimation reference: {exc}") from None
