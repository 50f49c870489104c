"""Monitoring results are data first: frozen dataclasses that turn into plain JSON.

Every figure a monitor can hold a rule on, store in the metadata store, expose as a Prometheus gauge
or draw in a report starts as one of these. An undefined figure is ``None`` together with a
``status`` and a ``message`` saying why (an empty window, an all-missing column), never a bare NaN
that would silently compare false against every threshold.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "ColumnDrift",
    "DatasetDrift",
    "MultivariateDrift",
    "Status",
    "finite",
    "jsonable",
]

#: ``ok``: the figure was computed; ``not_enough_data``: too few rows (or values) to compute it;
#: ``type_mismatch``: a column whose type differs between the reference and the current window
#: (numbers on one side, text on the other), so it could not be compared.
Status = Literal["ok", "not_enough_data", "type_mismatch"]


def finite(value: float | None) -> float | None:
    """A float, or None where it is undefined (NaN and infinities have no JSON spelling)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def jsonable(value: Any) -> Any:
    """Dataclasses, NumPy scalars and arrays, tuples and mappings as JSON-ready Python values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return finite(float(value))
    return value


class _ToDict:
    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON-ready data (undefined numbers are None)."""
        out = jsonable(self)
        assert isinstance(out, dict)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnDrift(_ToDict):
    """One column's drift verdict: the test, its statistic, the threshold it was held to.

    ``method`` names the test or distance (``ks``, ``chi2``, ``chi2_gof``, ``z``, ``wasserstein``,
    ``jensenshannon``, ``psi``, ``kl``, ``anderson``, ``cramervonmises``, ``hellinger``, ``fisher``).
    For a hypothesis test, and in the default mode for a distance too (its p-value read off its
    no-drift distribution on held-out reference data), ``p_value`` is the raw p-value,
    ``p_adjusted`` the one corrected for the number of columns tested, and ``threshold`` the
    significance level; for a distance in ``evidently`` mode both p-values are None and
    ``threshold`` is the distance above which the column counts as drifted.
    ``score`` is what columns are ranked by (``1 - p_adjusted``, or that distance), and
    ``effect_size`` (named by ``effect_measure``: ``ks_d``, ``cramers_v``, ``wasserstein_norm``…)
    says how large the change is, whatever its significance.
    ``statistic`` is the method's own: KS's D, the chi-square, and for ``fisher`` (chosen, or
    chosen automatically for a 2×2 table with small counts) the odds ratio of the first category in
    the current window over the reference (None when a zero count makes it 0/0 or infinite).
    """

    column: str
    kind: Literal["numeric", "categorical"]
    method: str
    statistic: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int
    p_value: float | None = None
    p_adjusted: float | None = None
    effect_size: float | None = None
    effect_measure: str = ""
    score: float | None = None
    weight: float = 1.0
    status: Status = "ok"
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MultivariateDrift(_ToDict):
    """Drift in the joint distribution: the reconstruction error of a PCA fitted on the reference.

    ``threshold`` comes from held-out reference chunks of the current window's size (never from the
    rows the PCA was fitted on); ``reference_error`` is the mean error over those chunks.
    """

    error: float | None
    threshold: float | None
    reference_error: float | None
    drifted: bool
    components: int
    columns: tuple[str, ...]
    n_reference: int
    n_current: int
    status: Status = "ok"
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetDrift(_ToDict):
    """The whole window: every column's verdict and the share of (weighted) drifted columns.

    ``drifted`` is ``share >= share_threshold`` (0.5 by default), or the multivariate verdict when
    one was asked for and no single column carries the change.
    """

    mode: Literal["default", "evidently"]
    columns: tuple[ColumnDrift, ...]
    share: float | None
    share_threshold: float
    drifted: bool
    alpha: float
    correction: str
    n_reference: int
    n_current: int
    multivariate: MultivariateDrift | None = None
    status: Status = "ok"
    message: str = ""

    @property
    def drifted_columns(self) -> tuple[ColumnDrift, ...]:
        """The drifted columns, most drifted first."""
        hits = [c for c in self.columns if c.drifted]
        return tuple(sorted(hits, key=lambda c: -(c.score or 0.0)))

    def column(self, name: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)
