"""A monitor's performance estimators, one per window size, fitted on its estimation data.

An estimator's alert thresholds are the spread of the realised metric over windows of the
estimation data; that spread shrinks as windows grow (about as one over the square root of their
rows). Thresholds from windows of another size than the one judged would alert too often (bigger
windows) or never (smaller ones), so each window is judged by an estimator fitted with estimation
windows of its own size, rounded to a power of two (within a factor of about 1.4), at least 50
rows (the estimators' minimum) and at most a tenth of the estimation data (so at least ten windows
give the thresholds). Each size is fitted once per run, when the first window of that size comes;
reports do the same with the median size of their windows (``_series``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from slipway.monitoring._dle import DLE
    from slipway.monitoring._estimate import CBPE
    from slipway.monitoring._rules import MonitorRules

__all__ = ["SizedEstimators"]

_MIN_ROWS = 50  # the estimators estimate no window smaller than this
_MIN_WINDOWS = 10  # estimation windows the thresholds come from, at least


class SizedEstimators:
    """CBPE (binary classifiers) or DLE (regressors) on ``data``, fitted lazily per window size."""

    def __init__(self, data: pd.DataFrame, rules: MonitorRules) -> None:
        self.data = data
        self.rules = rules
        self.fitted_: dict[int, CBPE | DLE] = {}

    @classmethod
    def check(cls, data: pd.DataFrame, rules: MonitorRules) -> None:
        """Fit once on ``data``: estimation data an estimator cannot learn from fails here."""
        cls(data, rules).for_rows(len(data) // _MIN_WINDOWS)

    def size_for(self, rows: int) -> int:
        """The estimation windows' size for a window of ``rows`` rows."""
        rounded = 1 << round(math.log2(max(rows, _MIN_ROWS)))
        return max(_MIN_ROWS, min(rounded, len(self.data) // _MIN_WINDOWS))

    def for_rows(self, rows: int) -> CBPE | DLE:
        """The estimator to judge a window of ``rows`` rows with (fitted now if not yet)."""
        size = self.size_for(rows)
        if size not in self.fitted_:
            self.fitted_[size] = self._fit(size)
        return self.fitted_[size]

    def _fit(self, size: int) -> CBPE | DLE:
        from slipway.monitoring._chunks import Chunker
        from slipway.monitoring._estimate import fit_estimator
        from slipway.monitoring._window import infer_task

        return fit_estimator(
            self.data,
            task=infer_task(self.data),
            label=self.rules.performance.label,
            pos_label=self.rules.performance.pos_label,
            chunker=Chunker.by_rows(size, incomplete="append"),
        )
