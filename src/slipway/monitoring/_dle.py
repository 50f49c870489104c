"""Direct loss estimation (DLE): a regressor's MAE and RMSE while its labels are on their way.

A gradient-boosted model learns, on a labelled reference period, the absolute and the squared error
of the monitored model from its inputs and its prediction; a window's estimated MAE is the mean
predicted absolute error, its RMSE the root of the mean predicted squared error (NannyML's DLE).
The bands, thresholds and result types are CBPE's (:mod:`slipway.monitoring._estimate`); like CBPE
it sees covariate shift only: errors that grow because the world changed under unchanged inputs
(a concept shift) stay invisible until the labels come back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput, MissingExtra
from slipway.monitoring._chunks import Chunker, ChunkSpan, as_chunker
from slipway.monitoring._estimate import (
    ChunkEstimate,
    PerformanceEstimate,
    _check_metrics,
    _estimated,
    _Fitted,
    _not_fitted,
    _require,
    _spread,
    _thresholds,
    _too_small,
)
from slipway.monitoring._results import finite
from slipway.predlog import JOINED_COLUMNS, RESERVED_COLUMNS
from slipway.validation._metrics import Predictions, metric_values

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from numpy.typing import NDArray

__all__ = ["DLE"]

DLE_METRICS = ("mae", "rmse")

#: Columns of the prediction log that are never a model's input (docs/predictions.md).
_LOG_COLUMNS = frozenset(RESERVED_COLUMNS) | frozenset(JOINED_COLUMNS)


@dataclass(kw_only=True, eq=False)
class DLE:
    """Direct loss estimation for a regressor: CBPE's protocol; needs ``slipway[sklearn]``.

    ``features`` are the model's inputs (default: ``frame.attrs["inputs"]`` as
    :func:`slipway.predlog.read_predictions` sets it, else every column that is not the label, the
    prediction or a prediction-log column). ``hyperparameters`` go to the
    ``HistGradientBoostingRegressor`` that learns the errors.
    """

    metrics: Sequence[str] = DLE_METRICS
    chunker: Chunker | str | None = None
    features: Sequence[str] | None = None
    prediction: str = "prediction"
    label: str = "label"
    band: float = 3.0
    alert_sigmas: float = 3.0
    min_rows: int = 50
    hyperparameters: Mapping[str, Any] | None = None
    random_state: int = 0

    def fit(self, reference: pd.DataFrame) -> DLE:
        """Learn the absolute and squared errors, the sampling errors and the thresholds."""
        try:
            from sklearn.ensemble import HistGradientBoostingRegressor
        except ImportError as exc:
            raise MissingExtra("DLE needs scikit-learn: pip install 'slipway[sklearn]'") from exc
        self.metrics_ = _check_metrics(self.metrics, ("mae", "mse", "rmse"), "DLE")
        self.chunker_ = as_chunker(self.chunker)
        for column, what in (
            (self.label, "the reference's labels"),
            (self.prediction, "the model's predictions"),
        ):
            _require(reference, column, what)
            _numeric_column(reference[column], column)
        self.features_ = (
            tuple(self.features) if self.features is not None else _default_features(reference, self)
        )
        for column in self.features_:
            _require(reference, column, "a model input named in features")
        rows = reference[reference[self.label].notna() & reference[self.prediction].notna()]
        if len(rows) < 2:
            raise InvalidInput(f"column {self.label!r}: the reference needs labelled rows")
        self.categories_ = {c: _categories(rows[c]) for c in self.features_ if _is_categorical(rows[c])}
        x = self._design(rows)
        error = rows[self.label].to_numpy(dtype=np.float64) - rows[self.prediction].to_numpy(dtype=np.float64)
        params = {"random_state": self.random_state, **(self.hyperparameters or {})}
        mask = [c in self.categories_ for c in self.features_] + [False]
        self.models_: dict[str, Any] = {}
        for kind, target in (("abs", np.abs(error)), ("sq", error**2)):
            model = HistGradientBoostingRegressor(categorical_features=mask, **params)
            self.models_[kind] = model.fit(x, target)
        rng = np.random.default_rng(self.random_state)
        y = rows[self.label].to_numpy(dtype=np.float64)
        values = rows[self.prediction].to_numpy(dtype=np.float64)
        self.fitted_: dict[str, _Fitted] = {}
        ref_chunks = self.chunker_.split(rows)
        for name in self.metrics_:
            spread, pool = _spread(name, y, lambda r: Predictions(labels=values[r]), rng)
            realized = [_realized_values(name, c.data, self) for c in ref_chunks]
            lo, hi = _thresholds([v for v in realized if v is not None], self.alert_sigmas, (0.0, np.inf))
            self.fitted_[name] = _Fitted(spread=spread, pool=pool, lower_threshold=lo, upper_threshold=hi)
        self.reference_ = tuple(self._chunk(c.span, c.data) for c in self.chunker_.split(reference))
        return self

    def estimate(self, frame: pd.DataFrame, *, chunker: Chunker | str | None = None) -> PerformanceEstimate:
        """The estimated errors on each window of ``frame`` (labels, where present, give ``realized``).

        ``chunker`` splits ``frame`` in other windows than the reference's (a monitor estimates
        each of its windows whole: ``"all"``).
        """
        if not hasattr(self, "fitted_"):
            raise _not_fitted("DLE")
        windows = self.chunker_ if chunker is None else as_chunker(chunker)
        for column in (*self.features_, self.prediction):
            _require(frame, column, "a column the reference had")
        return PerformanceEstimate(
            method="dle",
            metrics=self.metrics_,
            chunker=windows,
            band=self.band,
            reference=self.reference_,
            chunks=tuple(self._chunk(c.span, c.data) for c in windows.split(frame)),
        )

    def _design(self, frame: pd.DataFrame) -> NDArray[np.float64]:
        columns = []
        for c in self.features_:
            if c in self.categories_:
                codes = pd.Categorical(frame[c], categories=self.categories_[c]).codes.astype(np.float64)
                columns.append(np.where(codes < 0, np.nan, codes))
            else:
                _numeric_column(frame[c], c)
                columns.append(pd.to_numeric(frame[c]).to_numpy(dtype=np.float64, na_value=np.nan))
        columns.append(frame[self.prediction].to_numpy(dtype=np.float64, na_value=np.nan))
        return np.column_stack(columns)

    def _chunk(self, span: ChunkSpan, data: pd.DataFrame) -> ChunkEstimate:
        data = data[data[self.prediction].notna()]
        if len(data) < self.min_rows:
            return _too_small(span, len(data), self.metrics_, self.min_rows)
        x = self._design(data)
        abs_err = np.clip(self.models_["abs"].predict(x), 0.0, None)
        sq_err = np.clip(self.models_["sq"].predict(x), 0.0, None)
        estimates = {
            "mae": float(abs_err.mean()),
            "mse": float(sq_err.mean()),
            "rmse": float(np.sqrt(sq_err.mean())),
        }
        labelled = self.label in data.columns and int(data[self.label].notna().sum()) >= self.min_rows
        out = tuple(
            _estimated(
                name,
                estimates[name],
                len(data),
                self.fitted_[name],
                self.band,
                (0.0, np.inf),
                _realized_values(name, data, self) if labelled else None,
            )
            for name in self.metrics_
        )
        return ChunkEstimate(chunk=span, n_rows=len(data), metrics=out)


def _realized_values(name: str, data: pd.DataFrame, dle: DLE) -> float | None:
    rows = data[data[dle.label].notna() & data[dle.prediction].notna()]
    if len(rows) == 0:
        return None
    preds = Predictions(labels=rows[dle.prediction].to_numpy(dtype=np.float64))
    return finite(float(metric_values(name, rows[dle.label].to_numpy(dtype=np.float64), preds)[0]))


def _numeric_column(values: pd.Series[Any], column: str) -> None:
    if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        raise InvalidInput(f"column {column!r}: expected numbers, got {values.dtype}")


def _is_categorical(values: pd.Series[Any]) -> bool:
    dtype = values.dtype
    return (
        not pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _categories(values: pd.Series[Any], limit: int = 250) -> list[Any]:
    """The reference's most frequent categories (the error model bins at most 255 of them)."""
    top: list[Any] = values.dropna().value_counts().index[:limit].tolist()
    return top


def _default_features(frame: pd.DataFrame, dle: DLE) -> tuple[str, ...]:
    inputs = frame.attrs.get("inputs")
    if inputs:
        return tuple(inputs)
    skip = _LOG_COLUMNS | {dle.label, dle.prediction}
    return tuple(str(c) for c in frame.columns if c not in skip and not str(c).startswith("proba_"))
