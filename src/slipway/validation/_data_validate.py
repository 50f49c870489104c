"""``validate_data``: hold data to a schema and list what breaks it, in TFDV's manner.

Each anomaly has a stable kind (the keys of :data:`ANOMALY_KINDS`), a severity (error or warning,
the schema may change either), a one-line description and a few example values. A column that is
missing, of the wrong kind or entirely missing gets that one anomaly and no others, since its
values say nothing more. Every check is a vectorised pass over the column: numbers are compared as
one float array, text through one ``value_counts``.

Kinds that are compatible: an int column accepts floats that are all whole (a CSV column with
missing values reads as float), a float column accepts ints, a string column accepts categories,
and a category column accepts any values but dates, compared with its domain as text, or by value
when the column holds numbers (a category ``1`` read back from CSV as the number 1, or as 1.0 when
the column has a gap, is the same value).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slipway.errors import DataValidationFailed
from slipway.models import plain, value_counts
from slipway.validation._data_infer import kind_of, read_frame
from slipway.validation._schema import ANOMALY_KINDS, ColumnSchema, DataSchema, Kind, Severity, load_schema

if TYPE_CHECKING:
    import os
    from pathlib import Path

    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["Anomaly", "DataValidation", "Observed", "validate_data"]

_EXAMPLES = 5
_COMPATIBLE: dict[Kind, tuple[Kind, ...]] = {
    "int": ("int",),  # and float columns whose values are all whole
    "float": ("float", "int"),
    "bool": ("bool",),
    "string": ("string", "category"),
    "category": ("category", "string", "int", "float", "bool"),
    "datetime": ("datetime",),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Anomaly:
    """One way the data breaks its schema.

    ``column`` is None for the dataset as a whole (``too_few_rows``). ``count`` and ``share`` are the
    rows (missing values) or present values (out of range, unknown) concerned, where that applies.

    .. versionadded:: 0.1
    """

    column: str | None
    kind: str
    severity: Severity
    description: str
    examples: tuple[Any, ...] = ()
    count: int | None = None
    share: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "severity": self.severity,
            "description": self.description,
            "examples": [plain(v) for v in self.examples],
            "count": self.count,
            "share": self.share,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Observed:
    """What one column of the data held, beside what its schema asks (for the report).

    ``min`` and ``max`` are a number's finite range or a date's as ISO text; ``distinct`` is counted
    only for columns with a domain.

    .. versionadded:: 0.1
    """

    column: str
    kind: Kind
    missing: int
    rows: int
    min: float | str | None = None
    max: float | str | None = None
    distinct: int | None = None

    @property
    def missing_share(self) -> float | None:
        return self.missing / self.rows if self.rows else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "missing": self.missing,
            "missing_share": self.missing_share,
            "min": self.min,
            "max": self.max,
            "distinct": self.distinct,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DataValidation:
    """The anomalies found in one dataset against one schema, and what each column held.

    ``ok`` is True when no anomaly is an error (warnings do not block);
    :meth:`raise_for_anomalies` turns a failed validation into an exception a pipeline stops on.

    .. versionadded:: 0.1
    """

    anomalies: tuple[Anomaly, ...]
    rows: int
    columns: int
    source: str
    schema: DataSchema
    observed: dict[str, Observed]
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> tuple[Anomaly, ...]:
        return tuple(a for a in self.anomalies if a.severity == "error")

    @property
    def warnings(self) -> tuple[Anomaly, ...]:
        return tuple(a for a in self.anomalies if a.severity == "warning")

    def summary(self) -> str:
        """One line: the data, the schema and what was found."""
        head = f"{self.source}: {self.rows} rows, {self.columns} columns against {self.schema.source}"
        if not self.anomalies:
            return f"{head}: no anomalies"
        errors, warnings = len(self.errors), len(self.warnings)
        counts = [f"{errors} error{'s' * (errors != 1)}"] if errors else []
        counts += [f"{warnings} warning{'s' * (warnings != 1)}"] if warnings else []
        return f"{head}: {', '.join(counts)}"

    def raise_for_anomalies(self) -> None:
        """Raise :class:`~slipway.errors.DataValidationFailed` naming the error anomalies, if any."""
        if self.ok:
            return
        shown = "; ".join(a.description for a in self.errors[:3])
        more = f" (and {len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        raise DataValidationFailed(f"{self.summary()}: {shown}{more}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "rows": self.rows,
            "columns": self.columns,
            "schema": {"source": self.schema.source, "digest": self.schema.digest},
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "anomalies": [a.to_dict() for a in self.anomalies],
            "observed": {name: o.to_dict() for name, o in self.observed.items()},
            "duration_ms": round(self.duration_ms, 3),
        }

    def to_text(self) -> str:
        """A readable report for the terminal or a log: the summary line, then one line per anomaly."""
        from slipway.validation._data_report import text_report

        return text_report(self)

    def to_html(self) -> str:
        """A self-contained HTML page: summary, anomalies, and each column's schema beside what it held."""
        from slipway.validation._data_report import html_report

        return html_report(self)


def validate_data(
    data: pd.DataFrame | str | os.PathLike[str], schema: DataSchema | str | Path
) -> DataValidation:
    """Validate ``data`` (a DataFrame, or a Parquet or CSV path) against ``schema`` (or its YAML file).

    Anomalies are a result, not an exception: check ``.ok`` or call ``.raise_for_anomalies()``.
    Bad input (unreadable data, a broken schema file) raises InvalidInput.

    .. versionadded:: 0.1
    """
    started = time.perf_counter()
    rules = schema if isinstance(schema, DataSchema) else load_schema(schema)
    frame, source = read_frame(data)
    n = len(frame)
    anomalies: list[Anomaly] = []
    if n < rules.min_rows:
        anomalies.append(
            _anomaly(
                rules,
                None,
                "too_few_rows",
                f"the data has {n} rows; the schema expects at least {rules.min_rows}",
                count=n,
            )
        )
    observed: dict[str, Observed] = {}
    for name, col in rules.columns.items():
        if name not in frame.columns:
            if col.required:
                why = f"column {name!r}: required by the schema but not in the data"
                anomalies.append(_anomaly(rules, name, "missing_column", why))
            continue
        seen, found = _check_column(rules, col, frame[name])
        observed[name] = seen
        anomalies.extend(found)
    if rules.extra_columns != "allow":
        for name in frame.columns:
            if name not in rules.columns:
                why = f"column {name!r}: not in the schema (extra_columns: {rules.extra_columns})"
                anomalies.append(_anomaly(rules, name, "unexpected_column", why))
    return DataValidation(
        anomalies=tuple(anomalies),
        rows=n,
        columns=len(frame.columns),
        source=source,
        schema=rules,
        observed=observed,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def _anomaly(
    schema: DataSchema,
    column: str | None,
    kind: str,
    description: str,
    *,
    examples: tuple[Any, ...] = (),
    count: int | None = None,
    share: float | None = None,
) -> Anomaly:
    assert kind in ANOMALY_KINDS, kind
    return Anomaly(
        column=column,
        kind=kind,
        severity=schema.severity_of(kind),
        description=description,
        examples=examples,
        count=count,
        share=share,
    )


def _check_column(
    schema: DataSchema, col: ColumnSchema, series: pd.Series[Any]
) -> tuple[Observed, list[Anomaly]]:
    import numpy as np

    name = col.name
    n = len(series)
    missing_mask = series.isna()
    missing = int(missing_mask.sum())
    present = n - missing
    kind = kind_of(series)
    seen = Observed(column=name, kind=kind, missing=missing, rows=n)
    if n == 0:
        return seen, []
    if present == 0:
        if col.max_missing is not None and col.max_missing >= 1:
            return seen, []
        why = f"column {name!r}: every value is missing"
        return seen, [_anomaly(schema, name, "all_missing", why, count=missing, share=1.0)]
    out: list[Anomaly] = []
    if col.max_missing is not None and missing / n > col.max_missing:
        why = (
            f"column {name!r}: {_pct(missing / n)} of rows missing ({missing} of {n}); "
            f"the schema allows at most {_pct(col.max_missing)}"
        )
        out.append(_anomaly(schema, name, "too_many_missing", why, count=missing, share=missing / n))
    values: NDArray[np.float64] | None = None
    if kind in ("int", "float") and col.kind in ("int", "float"):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    if not _compatible(col.kind, kind, values):
        got = "float with fractions" if kind == "float" else kind
        why = f"column {name!r}: expected {col.kind} values, got {got} ({series.dtype})"
        return seen, [*out, _anomaly(schema, name, "type_mismatch", why)]
    if values is not None:
        seen, found = _numeric(schema, col, values, seen, present)
    elif col.kind == "datetime":
        seen, found = _dates(schema, col, series[~missing_mask], seen)
    else:
        seen, found = _values(schema, col, series[~missing_mask], seen)
    return seen, out + found


def _compatible(expected: Kind, got: Kind, values: NDArray[np.float64] | None) -> bool:
    import numpy as np

    if got in _COMPATIBLE[expected]:
        return True
    if expected == "int" and got == "float" and values is not None:
        finite = values[np.isfinite(values)]
        return bool(np.array_equal(finite, np.floor(finite)))
    return False


def _numeric(
    schema: DataSchema, col: ColumnSchema, values: NDArray[np.float64], seen: Observed, present: int
) -> tuple[Observed, list[Anomaly]]:
    import numpy as np

    name = col.name
    finite = values[np.isfinite(values)]
    low = float(finite.min()) if finite.size else None
    high = float(finite.max()) if finite.size else None
    seen = _with(seen, min=low, max=high)
    out: list[Anomaly] = []
    if col.min is not None or col.max is not None:
        lo = -math.inf if col.min is None else float(col.min)
        hi = math.inf if col.max is None else float(col.max)
        with np.errstate(invalid="ignore"):
            outside = (values < lo) | (values > hi)  # NaN compares False: missing is not out of range
        n_out = int(outside.sum())
        if n_out:
            examples = _distinct(values[outside])
            why = (
                f"column {name!r}: {_pct(n_out / present)} of values ({n_out} of {present}) outside "
                f"{_range(col)}; e.g. {', '.join(_show(v) for v in examples)}"
            )
            out.append(
                _anomaly(
                    schema, name, "out_of_range", why, examples=examples, count=n_out, share=n_out / present
                )
            )
    present_values = values[~np.isnan(values)]
    if not col.allow_constant and present_values.size and present_values.min() == present_values.max():
        out.append(_constant(schema, name, present_values[0]))
    return seen, out


def _dates(
    schema: DataSchema, col: ColumnSchema, present: pd.Series[Any], seen: Observed
) -> tuple[Observed, list[Anomaly]]:
    import pandas as pd

    name = col.name
    first, last = present.min(), present.max()
    seen = _with(seen, min=first.isoformat(), max=last.isoformat())
    out: list[Anomaly] = []
    if col.min is not None or col.max is not None:
        try:
            outside = pd.Series(False, index=present.index)
            if col.min is not None:
                outside |= present < pd.Timestamp(col.min)
            if col.max is not None:
                outside |= present > pd.Timestamp(col.max)
        except TypeError:  # a time zone on one side only
            zone = "with" if getattr(present.dtype, "tz", None) is not None else "without"
            why = (
                f"column {name!r}: dates {zone} a time zone cannot be compared with the schema's "
                f"{_range(col)}"
            )
            return seen, [_anomaly(schema, name, "type_mismatch", why)]
        n_out = int(outside.sum())
        if n_out:
            examples = tuple(v.isoformat() for v in present[outside].drop_duplicates().iloc[:_EXAMPLES])
            why = (
                f"column {name!r}: {_pct(n_out / len(present))} of values ({n_out} of {len(present)}) "
                f"outside {_range(col)}; e.g. {', '.join(examples)}"
            )
            out.append(
                _anomaly(
                    schema,
                    name,
                    "out_of_range",
                    why,
                    examples=examples,
                    count=n_out,
                    share=n_out / len(present),
                )
            )
    if not col.allow_constant and first == last:
        out.append(_constant(schema, name, first.isoformat()))
    return seen, out


def _values(
    schema: DataSchema, col: ColumnSchema, present: pd.Series[Any], seen: Observed
) -> tuple[Observed, list[Anomaly]]:
    """Bool, string and category columns (and a category column holding numbers): the domain."""
    import numpy as np

    name = col.name
    out: list[Anomaly] = []
    if col.domain is None:
        if not col.allow_constant and _all_equal(present):
            out.append(_constant(schema, name, present.iloc[0]))
        return seen, out
    counts = value_counts(present)
    seen = _with(seen, distinct=len(counts))
    if col.kind != "bool" and counts.index.dtype.kind in "iuf":
        unknown = ~_in_numeric_domain(counts.index.to_numpy(), col.domain)
    else:
        as_text = col.kind != "bool"
        allowed = {str(v) for v in col.domain} if as_text else set(col.domain)
        keys = [str(plain(v)) if as_text else plain(v) for v in counts.index]
        unknown = np.fromiter((k not in allowed for k in keys), dtype=bool, count=len(keys))
    n_unknown = int(counts.to_numpy()[unknown].sum())
    share = n_unknown / len(present)
    if n_unknown and share > col.max_unknown:
        examples = tuple(plain(v) for v in counts.index[unknown][:_EXAMPLES])
        allowance = f"; the schema allows {_pct(col.max_unknown)}" if col.max_unknown else ""
        why = (
            f"column {name!r}: {_count(int(unknown.sum()), 'value')} not in the domain, "
            f"{_pct(share)} of values ({n_unknown} of {len(present)}){allowance}; "
            f"e.g. {', '.join(_show(v) for v in examples)}"
        )
        out.append(
            _anomaly(schema, name, "unknown_categories", why, examples=examples, count=n_unknown, share=share)
        )
    if not col.allow_constant and len(counts) == 1:
        out.append(_constant(schema, name, counts.index[0]))
    return seen, out


def _in_numeric_domain(values: NDArray[Any], domain: tuple[Any, ...]) -> NDArray[np.bool_]:
    """Which numbers are in a category's domain, compared by value rather than as text.

    A category of codes comes back from a CSV as ints, or as floats when the column has a gap
    (``1.0`` for the schema's ``1`` or ``"1"``); text would call every one unknown. Integers are
    compared as integers, so ids beyond float precision never match a neighbour.
    """
    import numpy as np

    numbers = [n for n in map(_number, domain) if n is not None]
    if values.dtype.kind == "i":
        whole = [int(n) for n in numbers if isinstance(n, int) or (math.isfinite(n) and n.is_integer())]
        in_range = [n for n in whole if -(2**63) <= n < 2**63]
        return np.isin(values, np.array(in_range, dtype=np.int64))
    return np.isin(values.astype(np.float64), np.array(numbers, dtype=np.float64))


def _number(value: Any) -> int | float | None:
    """A domain entry as the number it names (``1``, ``1.5``, ``"1"``), None for text and booleans."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        pass
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _all_equal(present: pd.Series[Any]) -> bool:
    try:
        return bool((present == present.iloc[0]).all())
    except (TypeError, ValueError):  # cells pandas cannot compare (lists): count their text
        return len(value_counts(present)) == 1


def _constant(schema: DataSchema, name: str, value: Any) -> Anomaly:
    why = f"column {name!r}: every present value is {_show(plain(value))}; the schema expects it to vary"
    return _anomaly(schema, name, "constant", why, examples=(plain(value),))


def _distinct(values: NDArray[np.float64]) -> tuple[float, ...]:
    """A few distinct values, the most extreme first (both ends when values fall on both sides)."""
    import numpy as np

    ordered = np.unique(values)
    if ordered.size <= _EXAMPLES:
        return tuple(float(v) for v in ordered)
    ends = [*ordered[:2], *ordered[-3:]]
    return tuple(float(v) for v in ends)


def _with(seen: Observed, **changes: Any) -> Observed:
    from dataclasses import replace

    return replace(seen, **changes)


def _range(col: ColumnSchema) -> str:
    low = "-inf" if col.min is None else _show(col.min)
    high = "inf" if col.max is None else _show(col.max)
    return f"[{low}, {high}]"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _pct(share: float) -> str:
    if 0 < share < 0.001:
        return f"{share * 100:.2g}%"
    return f"{share * 100:.1f}%"


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    return str(value)
