"""Data quality: what is wrong with a window's data itself, before any question of drift.

Per column, between a reference and a current window: the share of missing values and its change,
values outside the reference's range, categories the reference never had, a column that is numeric
on one side and text on the other, constant columns; for the window as a whole: missing and extra
columns, columns with identical content, duplicated rows. These are facts, not verdicts: a monitor
rule decides what share of anything is too much.

The reference side needs only, per column, its kind, row and missing counts, min and max and its
set of categories, computed in :func:`_summarise`, so a :class:`slipway.models.ReferenceSummary`
saved with the model serves as well as the full training frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.monitoring._results import Status, _ToDict, finite

if TYPE_CHECKING:
    from collections.abc import Sequence

    from slipway.models import ReferenceSummary

__all__ = ["ColumnQuality", "DataQuality", "data_quality"]

Kind = Literal["numeric", "datetime", "categorical"]
_EXAMPLES = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnQuality(_ToDict):
    """One column's quality figures; a figure that cannot be computed is None, with the reason.

    Shares are fractions of the window's rows (missing) or of its non-missing values (out of range,
    new categories). ``issues`` names what was found: ``missing_column``, ``extra_column``,
    ``type_mismatch``, ``all_missing``, ``out_of_range``, ``new_categories``, ``constant``.
    """

    column: str
    kind: Kind | None
    current_kind: Kind | None
    missing_reference: float | None = None
    missing_current: float | None = None
    missing_change: float | None = None
    reference_min: float | str | None = None
    reference_max: float | str | None = None
    out_of_range: float | None = None
    n_out_of_range: int = 0
    new_categories: float | None = None
    n_new_categories: int = 0
    new_category_examples: tuple[str, ...] = ()
    constant_reference: bool = False
    constant_current: bool = False
    issues: tuple[str, ...] = ()
    status: Status = "ok"
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataQuality(_ToDict):
    """The window's quality: every column's figures and the checks across columns and rows.

    ``duplicated_columns`` lists groups of current columns with identical content; ``status`` is
    ``not_enough_data`` for an empty window (the schema checks still hold).
    """

    columns: tuple[ColumnQuality, ...]
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    type_mismatches: tuple[str, ...]
    constant_columns: tuple[str, ...]
    all_missing_columns: tuple[str, ...]
    duplicated_columns: tuple[tuple[str, ...], ...]
    duplicated_rows: float | None
    n_duplicated_rows: int
    n_reference: int
    n_current: int
    status: Status = "ok"
    message: str = ""

    def column(self, name: str) -> ColumnQuality:
        for c in self.columns:
            if c.column == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Summary:
    """All the reference side of data quality needs of one column."""

    kind: Kind
    rows: int
    missing: int
    min: Any = None
    max: Any = None
    categories: frozenset[Any] | None = None  # None: unknown (too many to keep, or not categorical)


def data_quality(
    reference: pd.DataFrame | ReferenceSummary,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
) -> DataQuality:
    """The quality of ``current`` against ``reference`` (a frame or a saved reference summary).

    ``columns`` restricts every check to those columns (default: every column of either side).
    """
    ref = _summarise(reference)
    n_ref = next(iter(ref.values())).rows if ref else 0
    if n_ref == 0:
        raise InvalidInput("reference: no rows; expected the data the model was trained or validated on")
    names = (
        list(columns) if columns is not None else [*ref, *(str(c) for c in current.columns if c not in ref)]
    )
    for name in names:
        if name not in ref and name not in current.columns:
            raise InvalidInput(f"column {name!r}: in neither the reference nor the current window")
    results = tuple(
        _column(name, ref.get(name), current[name] if name in current.columns else None) for name in names
    )
    present = [n for n in names if n in current.columns]
    dup_rows, n_dup = _duplicated_rows(current[present])

    def having(issue: str) -> tuple[str, ...]:
        return tuple(c.column for c in results if issue in c.issues)

    empty = len(current) == 0
    return DataQuality(
        columns=results,
        missing_columns=having("missing_column"),
        extra_columns=having("extra_column"),
        type_mismatches=having("type_mismatch"),
        constant_columns=having("constant"),
        all_missing_columns=having("all_missing"),
        duplicated_columns=() if empty else _duplicated_columns(current[present]),
        duplicated_rows=dup_rows,
        n_duplicated_rows=n_dup,
        n_reference=n_ref,
        n_current=len(current),
        status="not_enough_data" if empty else "ok",
        message="the current window has no rows" if empty else "",
    )


# ---------------------------------------------------------------------- the reference side


def _kind(values: pd.Series[Any]) -> Kind:
    """As the reference summary decides: numbers (not booleans), dates, and the rest categorical."""
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "categorical"


def _summarise(reference: pd.DataFrame | ReferenceSummary) -> dict[str, _Summary]:
    """Per column: kind, row and missing counts, min, max and categories (the one swap point)."""
    if not isinstance(reference, pd.DataFrame):
        return {
            name: _Summary(
                kind=col.kind,
                rows=reference.n_rows,
                missing=col.missing,
                min=col.min,
                max=col.max,
                categories=None if col.counts is None or col.kind != "categorical" else frozenset(col.counts),
            )
            for name, col in reference.columns.items()
        }
    out = {}
    for name in reference.columns:
        values = reference[name]
        kind = _kind(values)
        present = values.dropna()
        lo = hi = None
        if kind != "categorical" and len(present):
            lo, hi = present.min(), present.max()
        cats = frozenset(_plain(v) for v in _unique(present)) if kind == "categorical" else None
        out[str(name)] = _Summary(
            kind=kind, rows=len(values), missing=len(values) - len(present), min=lo, max=hi, categories=cats
        )
    return out


# ---------------------------------------------------------------------- the current side


def _column(name: str, ref: _Summary | None, values: pd.Series[Any] | None) -> ColumnQuality:
    if values is None:
        assert ref is not None
        return ColumnQuality(
            column=name,
            kind=ref.kind,
            current_kind=None,
            missing_reference=ref.missing / ref.rows,
            issues=("missing_column",),
            message=f"column {name!r} is in the reference but not in the current window",
        )
    n = len(values)
    present = values.dropna()
    kind = _kind(values)
    missing = (n - len(present)) / n if n else None
    constant = len(present) > 0 and len(_unique(present)) == 1
    if ref is None:
        return ColumnQuality(
            column=name,
            kind=None,
            current_kind=kind,
            missing_current=missing,
            constant_current=constant,
            issues=("extra_column", *(("constant",) if constant else ())),
            message=f"column {name!r} is in the current window but not in the reference",
        )
    ref_missing = ref.missing / ref.rows
    base: dict[str, Any] = {
        "column": name,
        "kind": ref.kind,
        "current_kind": kind,
        "missing_reference": ref_missing,
        "missing_current": missing,
        "missing_change": None if missing is None else missing - ref_missing,
        "reference_min": _bound(ref.min),
        "reference_max": _bound(ref.max),
        "constant_reference": ref.missing < ref.rows and _ref_constant(ref),
        "constant_current": constant,
    }
    if n == 0:
        return ColumnQuality(**base, status="not_enough_data", message="the current window has no rows")
    if len(present) == 0:
        why = f"column {name!r} is all missing in the current window"
        return ColumnQuality(**base, issues=("all_missing",), status="not_enough_data", message=why)
    issues = ["constant"] if constant else []
    if ref.missing == ref.rows:
        why = f"column {name!r} is all missing in the reference: no range or categories to compare with"
        return ColumnQuality(**base, issues=tuple(issues), status="not_enough_data", message=why)
    if kind != ref.kind:
        why = f"column {name!r} is {ref.kind} in the reference and {kind} in the current window"
        return ColumnQuality(**base, issues=("type_mismatch", *issues), message=why)
    figures: dict[str, Any] = {}
    message = ""
    if kind == "categorical":
        if ref.categories is None:
            message = f"column {name!r}: the reference keeps no categories (too many), so none can be new"
        else:
            new = present[~_in(present, ref.categories)]
            figures = {
                "new_categories": len(new) / len(present),
                "n_new_categories": len(new),
                "new_category_examples": _examples(new),
            }
            issues += ["new_categories"] if len(new) else []
    elif ref.min is None or ref.max is None:
        message = f"column {name!r}: the reference has no range"
    else:
        try:
            outside = int(((present < ref.min) | (present > ref.max)).sum())
        except TypeError:  # e.g. dates with and without a time zone
            why = f"column {name!r}: its values cannot be compared with the reference's range"
            return ColumnQuality(**base, issues=("type_mismatch", *issues), message=why)
        figures = {"out_of_range": outside / len(present), "n_out_of_range": outside}
        issues += ["out_of_range"] if outside else []
    return ColumnQuality(**base, **figures, issues=tuple(issues), message=message)


def _ref_constant(ref: _Summary) -> bool:
    if ref.kind == "categorical":
        return ref.categories is not None and len(ref.categories) == 1
    return ref.min is not None and bool(ref.min == ref.max)


def _duplicated_rows(frame: pd.DataFrame) -> tuple[float | None, int]:
    if len(frame) == 0 or frame.shape[1] == 0:
        return None, 0
    try:
        n = int(frame.duplicated(keep="first").sum())
    except TypeError:  # unhashable cells (lists): compare the rows' text
        n = int(frame.astype(str).duplicated(keep="first").sum())
    return n / len(frame), n


def _duplicated_columns(frame: pd.DataFrame) -> tuple[tuple[str, ...], ...]:
    """Groups of columns whose every value (missing ones included) is the same, in frame order."""
    groups: dict[tuple[str, int], list[str]] = {}
    for name in frame.columns:
        values = frame[name]
        try:
            digest = pd.util.hash_pandas_object(values, index=False).to_numpy()
        except TypeError:
            continue
        key = (str(values.dtype), hash(digest.tobytes()))
        groups.setdefault(key, []).append(str(name))
    out = []
    for names in groups.values():
        while len(names) > 1:  # a hash collision must not merge columns: confirm by content
            first, rest = names[0], names[1:]
            same = [n for n in rest if frame[first].equals(frame[n])]
            if same:
                out.append((first, *same))
            names = [n for n in rest if n not in same]
    return tuple(out)


# ---------------------------------------------------------------------- values


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _unique(values: pd.Series[Any]) -> list[Any]:
    try:
        return list(pd.unique(values.astype(object)))
    except TypeError:  # unhashable cells
        return list(pd.unique(values.astype(str)))


def _in(values: pd.Series[Any], categories: frozenset[Any]) -> pd.Series[bool]:
    try:
        return values.astype(object).isin(list(categories))
    except TypeError:  # unhashable cells: compare by text, as the reference summary does
        return values.astype(str).isin({str(c) for c in categories})


def _examples(new: pd.Series[Any]) -> tuple[str, ...]:
    counts = new.value_counts()
    return tuple(str(v) for v in counts[counts > 0].index[:_EXAMPLES])


def _bound(value: Any) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return finite(float(value))
