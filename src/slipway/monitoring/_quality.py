"""Data quality: what is wrong with a window's data itself, before any question of drift.

Per column, between a reference and a current window: the share of missing values and its change,
values outside the reference's range, categories the reference never had, a column that is numeric
on one side and text on the other, constant columns; for the window as a whole: missing and extra
columns, columns with identical content, duplicated rows. These are facts, not verdicts: a monitor
rule decides what share of anything is too much.

The reference side is always a :class:`slipway.models.ReferenceSummary`: a DataFrame is summarised
by :func:`slipway.models.as_reference`, exactly as when a model is saved, so the figures against a
frame and against the summary saved from it are the same. Categories are the summary's counts (or,
when the summary kept none because there were too many, its sample's values when the sample is every
row); values that are not text, numbers or booleans (lists, arrays) are compared by their text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.models._reference import ReferenceSummary, as_reference, column_kind, plain, value_counts
from slipway.monitoring._results import Status, _ToDict, finite

if TYPE_CHECKING:
    from collections.abc import Sequence

    from slipway.models import ColumnSummary

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
    """All the reference side of data quality needs of one column, read from its ColumnSummary."""

    kind: Kind
    rows: int
    missing: int
    min: Any = None  # a float, or a pd.Timestamp for a datetime column
    max: Any = None
    categories: frozenset[Any] | None = None  # None: unknown (too many to keep, or not categorical)
    distinct: int | None = None


def data_quality(
    reference: pd.DataFrame | ReferenceSummary,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
) -> DataQuality:
    """The quality of ``current`` against ``reference`` (a frame or a saved reference summary).

    A frame is summarised as a model's training data is (:func:`slipway.models.as_reference`), so
    ``data_quality(frame, current) == data_quality(as_reference(frame), current)``.
    ``columns`` restricts every check to those columns (default: every column of either side).
    """
    summary = as_reference(reference)
    current = _checked_current(current)
    ref = _summarise(summary)
    n_ref = summary.n_rows
    if n_ref == 0:
        raise InvalidInput("reference: no rows; expected the data the model was trained or validated on")
    names = list(columns) if columns is not None else [*ref, *(c for c in current.columns if c not in ref)]
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


def _checked_current(current: pd.DataFrame) -> pd.DataFrame:
    """The current window with text column names, refused when a name appears twice."""
    if not isinstance(current, pd.DataFrame):
        raise InvalidInput(f"current: expected a pandas DataFrame, got {type(current).__name__}")
    names = pd.Index([str(c) for c in current.columns])
    twice = names[names.duplicated()]
    if len(twice):
        raise InvalidInput(
            f"current: column {twice[0]!r} appears twice; give each column of the window one name"
        )
    renamed: pd.DataFrame = current.set_axis(names, axis=1)
    return renamed


# ---------------------------------------------------------------------- the reference side


def _summarise(reference: ReferenceSummary) -> dict[str, _Summary]:
    """Each column's figures as data quality compares them (the one place that reads the summary)."""
    return {name: _column_summary(col, reference) for name, col in reference.columns.items()}


def _column_summary(col: ColumnSummary, reference: ReferenceSummary) -> _Summary:
    lo: Any = col.min
    hi: Any = col.max
    if col.kind == "datetime":
        lo = None if col.earliest is None else pd.Timestamp(col.earliest)
        hi = None if col.latest is None else pd.Timestamp(col.latest)
    categories = None
    if col.kind == "categorical":
        if col.counts is not None:
            categories = frozenset(col.counts)
        elif reference.exact and col.name in reference.sample.columns:
            # too many values to keep counts of, but the sample is every row: they are all there
            categories = frozenset(plain(v) for v in value_counts(reference.sample[col.name].dropna()).index)
    return _Summary(
        kind=col.kind,
        rows=col.count + col.missing,
        missing=col.missing,
        min=lo,
        max=hi,
        categories=categories,
        distinct=col.distinct,
    )


# ---------------------------------------------------------------------- the current side


def _column(name: str, ref: _Summary | None, values: pd.Series[Any] | None) -> ColumnQuality:
    if values is None:
        assert ref is not None
        return ColumnQuality(
            column=name,
            kind=ref.kind,
            current_kind=None,
            missing_reference=_share(ref.missing, ref.rows),
            issues=("missing_column",),
            message=f"column {name!r} is in the reference but not in the current window",
        )
    n = len(values)
    present = values.dropna()
    kind = column_kind(values)
    missing = (n - len(present)) / n if n else None
    counts = value_counts(present)
    constant = len(counts) == 1
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
    ref_missing = _share(ref.missing, ref.rows)
    base: dict[str, Any] = {
        "column": name,
        "kind": ref.kind,
        "current_kind": kind,
        "missing_reference": ref_missing,
        "missing_current": missing,
        "missing_change": None if missing is None or ref_missing is None else missing - ref_missing,
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
            figures = _new_categories(counts, ref.categories, len(present))
            issues += ["new_categories"] if figures["n_new_categories"] else []
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


def _new_categories(counts: pd.Series[int], categories: frozenset[Any], n_present: int) -> dict[str, Any]:
    """The rows whose value the reference never had, compared as the summary keeps values."""
    new = np.fromiter((plain(v) not in categories for v in counts.index), dtype=bool, count=len(counts))
    n_new = int(counts.to_numpy()[new].sum())
    return {
        "new_categories": n_new / n_present,
        "n_new_categories": n_new,
        "new_category_examples": tuple(str(plain(v)) for v in counts.index[new][:_EXAMPLES]),
    }


def _ref_constant(ref: _Summary) -> bool:
    if ref.kind == "categorical":
        return ref.distinct == 1
    return ref.min is not None and bool(ref.min == ref.max)


def _duplicated_rows(frame: pd.DataFrame) -> tuple[float | None, int]:
    if len(frame) == 0 or frame.shape[1] == 0:
        return None, 0
    try:
        n = int(frame.duplicated(keep="first").sum())
    except TypeError:  # unhashable cells (lists): compare the rows' text
        n = int(frame.map(plain).duplicated(keep="first").sum())
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


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _bound(value: Any) -> float | str | None:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return finite(float(value))
