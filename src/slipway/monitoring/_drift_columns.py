"""One column read once from both sides: sorted finite numbers, or category counts aligned.

``_drift.py`` tests what this module reads. The reading decides the column's kind (numbers on both
sides, or categories), and reports a column it cannot compare as it stands (numbers on one side,
text on the other) as a :class:`TypeMismatch`, which ``_drift.py`` turns into that column's own
result so that the other columns are still tested. Category keys follow the reference summary's
rule: a number or text is itself, any other value (a list, an array) is its text.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from slipway.errors import InvalidInput
from slipway.models._reference import ReferenceSummary, column_kind
from slipway.monitoring import _drift_methods as m

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

    from slipway.monitoring._drift import Mode

__all__ = ["TypeMismatch", "as_counts", "prepare"]

Kind = Literal["numeric", "categorical"]


class TypeMismatch(Exception):
    """A column that cannot be compared as it stands: reported on its own, the others still tested."""

    def __init__(self, message: str, kind: Kind) -> None:
        super().__init__(message)
        self.kind = kind


def prepare(
    ref: ReferenceSummary,
    current: pd.DataFrame,
    name: str,
    *,
    mode: Mode,
    method: str | None,
    kind: Kind | None,
) -> m.Prepared:
    """Read the column once from both sides, as numbers or as category counts."""
    summary = ref.column(name)
    series = current[name]
    cur_kind = column_kind(series)
    if "datetime" in (summary.kind, cur_kind) and kind is None:
        advice = f"pass kinds={{{name!r}: 'numeric'}} or 'categorical' to compare it anyway"
        if summary.kind == cur_kind or not series.notna().any():
            raise InvalidInput(f"column {name!r}: datetime columns are not tested for drift; {advice}")
        raise TypeMismatch(
            f"column {name!r}: {summary.kind} in the reference but {cur_kind} (dtype {series.dtype}) "
            f"in the current window; not tested ({advice})",
            "numeric" if summary.kind == "numeric" else "categorical",
        )
    chosen_kind = kind or _infer_kind(name, summary.kind, cur_kind, series, summary.distinct, mode, method)
    if method is not None:
        if chosen_kind == "categorical" and method in m.NUMERIC_ONLY:
            raise InvalidInput(
                f"methods[{name!r}]: {method} needs a numeric column, {name!r} is tested as categorical"
            )
        if chosen_kind == "numeric" and method in m.CATEGORICAL_ONLY:
            raise InvalidInput(
                f"methods[{name!r}]: {method} needs a categorical column, {name!r} is tested as numeric"
            )
    if chosen_kind == "numeric":
        try:
            ref_values, cur_values = _finite(ref.sample[name]), _finite(series)
        except (TypeError, ValueError):
            side = "reference" if summary.kind != "numeric" else "current window"
            raise TypeMismatch(
                f"column {name!r}: tested as numeric, but the {side} holds values that are not "
                f"numbers; not tested",
                "numeric",
            ) from None
        n_ref = ref_values.size if ref.exact else max(summary.count, ref_values.size)
        return m.Prepared(
            name, "numeric", n_ref, cur_values.size, ref_values=np.sort(ref_values), cur_values=cur_values
        )
    import pandas as pd

    try:
        ref_counts = ref.category_counts(name)
    except TypeError:  # unhashable cells in a sample without kept counts
        ref_counts = _value_counts(ref.sample[name])
    ref_counts = _drop_infinite(_plain_keys(ref_counts))
    cur_counts = _drop_infinite(_plain_keys(_value_counts(series)))

    both = pd.concat([ref_counts.rename("r"), cur_counts.rename("c")], axis=1).fillna(0)
    return m.Prepared(
        name,
        "categorical",
        int(both["r"].sum()),
        int(both["c"].sum()),
        keys=list(both.index),
        ref_counts=both["r"].to_numpy(dtype=np.float64),
        cur_counts=both["c"].to_numpy(dtype=np.float64),
    )


def _infer_kind(
    name: str,
    ref_kind: str,
    cur_kind: str,
    series: pd.Series[Any],
    distinct: int | None,
    mode: Mode,
    method: str | None,
) -> Kind:
    """The kind both sides agree on; a number on one side and text on the other is a mismatch."""
    if ref_kind != cur_kind and series.notna().any():
        raise TypeMismatch(
            f"column {name!r}: {ref_kind} in the reference but {cur_kind} (dtype {series.dtype}) "
            f"in the current window; not tested (pass kinds={{{name!r}: 'categorical'}} to compare "
            "both as categories)",
            "numeric" if ref_kind == "numeric" else "categorical",
        )
    if ref_kind != "numeric":
        return "categorical"
    if mode == "evidently":
        # Evidently's column-type inference (evidently/core/datasets.py, infer_column_type) reads
        # the current data: integers with at most 10 distinct values are categorical.
        if str(series.dtype).lower().startswith(("int", "uint")) and series.nunique() <= 10:
            return "categorical"
        return "numeric"
    if method is None and distinct is not None and distinct <= m.FEW_DISTINCT:
        return "categorical"
    return "numeric"


def _finite(series: pd.Series[Any]) -> NDArray[np.float64]:
    values: NDArray[np.float64] = series.to_numpy(dtype=np.float64, na_value=np.nan)
    return values[np.isfinite(values)]


def _value_counts(series: pd.Series[Any]) -> pd.Series[int]:
    try:
        return series.value_counts(dropna=True)
    except TypeError:  # unhashable cells: compared by their text, as the reference summary does
        return series.dropna().astype(str).value_counts()


_PLAIN = (str, bool, int, float, np.generic)


def _plain_keys(counts: pd.Series[int]) -> pd.Series[int]:
    """Counts keyed as the reference summary keys them: any value but a number or text by its text.

    A list, tuple or array cell is counted under its text (``"[1, 2]"``) on both sides, so the
    same value matches however each side was read.
    """
    if all(isinstance(k, _PLAIN) and not isinstance(k, np.ndarray) for k in counts.index):
        return counts
    keys = [k if isinstance(k, _PLAIN) else str(k) for k in counts.index]
    out: pd.Series[int] = counts.groupby(keys, sort=False).sum()
    return out


_INFINITE = frozenset({math.inf, -math.inf, "inf", "-inf"})


def _drop_infinite(counts: pd.Series[int]) -> pd.Series[int]:
    """Infinite values count as missing (as Evidently drops them); the summary spells them as text."""
    keep = [not (isinstance(k, (float, str)) and k in _INFINITE) for k in counts.index]
    return counts if all(keep) else counts[keep]


def as_counts(col: m.Prepared) -> m.Prepared:
    ref, cur = col.ref_values, col.cur_values
    assert ref is not None
    assert cur is not None
    keys = np.union1d(ref, cur)
    ref_c = np.bincount(np.searchsorted(keys, ref), minlength=keys.size).astype(np.float64)
    cur_c = np.bincount(np.searchsorted(keys, cur), minlength=keys.size).astype(np.float64)
    return m.Prepared(
        col.name, "categorical", col.n_ref, col.n_cur, keys=keys.tolist(), ref_counts=ref_c, cur_counts=cur_c
    )
