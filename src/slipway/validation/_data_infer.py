"""``infer_schema``: a first draft of a dataset's schema from data, for a person to review and edit.

The rules, TFDV's where TFDV has one:

- every column present is required, with the kind its values have (:func:`kind_of`);
- an int or float column's range is its finite values' min and max, optionally widened by a share
  of the span; a datetime column gets no range (time moves on: add one by hand to bound it);
- a bool, string or category column gets a domain (its values) when it has at most
  ``max_domain_size`` distinct values and at most ``max_domain_ratio`` of its present rows
  (a name or an id column has neither, so it gets none);
- ``max_missing`` is the observed share; a column with missing values gets ``missing_tolerance``
  more, a complete one stays complete (TFDV's ``min_fraction: 1``);
- a column with more than one distinct value may not become constant (a warning by default).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.models import plain, value_counts
from slipway.validation._schema import ColumnSchema, DataSchema, ExtraColumns, Kind

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["infer_schema", "kind_of", "read_frame"]

_OBJECT_KINDS: dict[str, Kind] = {
    "boolean": "bool",
    "integer": "int",
    "floating": "float",
    "mixed-integer-float": "float",
    "decimal": "float",
    "datetime64": "datetime",
    "datetime": "datetime",
    "date": "datetime",
}


def infer_schema(
    data: pd.DataFrame | str | os.PathLike[str],
    *,
    name: str | None = None,
    widen: float = 0.0,
    missing_tolerance: float = 0.02,
    max_domain_size: int = 100,
    max_domain_ratio: float = 0.5,
    min_rows: int = 1,
    extra_columns: ExtraColumns = "warning",
) -> DataSchema:
    """Infer a schema from ``data`` (a DataFrame, or a Parquet or CSV path); review it, then save it.

    Args:
        data: the training data, or a sample of what good data looks like.
        name: the dataset's name in the schema (default: the file's name).
        widen: widen each numeric range by this share of its span on both sides (0.1: 10%).
        missing_tolerance: added to the observed missing share of a column that has missing values.
        max_domain_size: the most distinct values a text column may have to get a domain.
        max_domain_ratio: the most distinct values per present row a text column may have to get one.
        min_rows: the fewest rows valid data may have.
        extra_columns: what a column the schema does not list is: ``error``, ``warning`` or ``allow``.

    .. versionadded:: 0.1
    """
    for key, value in (("widen", widen), ("missing_tolerance", missing_tolerance)):
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise InvalidInput(f"{key}: expected a number >= 0, got {value!r}")
    if not 0 < max_domain_ratio <= 1:
        raise InvalidInput(f"max_domain_ratio: expected a number in (0, 1], got {max_domain_ratio!r}")
    if max_domain_size < 0 or min_rows < 0:
        raise InvalidInput("max_domain_size and min_rows: expected integers >= 0")
    if extra_columns not in ("error", "warning", "allow"):
        raise InvalidInput(f"extra_columns {extra_columns!r}: expected error, warning or allow")
    frame, source = read_frame(data)
    columns = {
        str(c): _column(
            str(c),
            frame[c],
            widen=widen,
            missing_tolerance=missing_tolerance,
            max_domain_size=max_domain_size,
            max_domain_ratio=max_domain_ratio,
        )
        for c in frame.columns
    }
    dataset: dict[str, Any] = {"name": name or (os.path.basename(source) if source != "data" else "data")}
    if source != "data":
        dataset["source"] = source
    dataset["rows"] = len(frame)
    return DataSchema(columns=columns, min_rows=min_rows, extra_columns=extra_columns, dataset=dataset)


def read_frame(data: object) -> tuple[pd.DataFrame, str]:
    """The data as a frame with text column names, and its name for messages; a name twice is refused."""
    import pandas as pd

    from slipway.validation._gate import _read

    frame, source = _read(data)
    names = pd.Index([str(c) for c in frame.columns])
    twice = names[names.duplicated()]
    if len(twice):
        raise InvalidInput(f"{source}: column {twice[0]!r} appears twice; give each column one name")
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.set_axis(names, axis=1)
    return frame, source


def kind_of(series: pd.Series[Any]) -> Kind:
    """The schema kind of a column's values: its dtype's, or for plain Python objects what they hold.

    An object column of mixed values (numbers and text, lists) is ``string``: it is compared as text.
    """
    import pandas as pd
    from pandas.api import types as ptypes

    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if ptypes.is_integer_dtype(dtype):
        return "int"
    if ptypes.is_float_dtype(dtype):
        return "float"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "datetime"
    if ptypes.is_object_dtype(dtype):
        return _OBJECT_KINDS.get(ptypes.infer_dtype(series, skipna=True), "string")
    return "string"


def _column(
    name: str,
    series: pd.Series[Any],
    *,
    widen: float,
    missing_tolerance: float,
    max_domain_size: int,
    max_domain_ratio: float,
) -> ColumnSchema:
    import numpy as np

    kind = kind_of(series)
    n = len(series)
    missing = int(series.isna().sum())
    present = n - missing
    share = missing / n if n else 0.0
    max_missing = 0.0 if missing == 0 else min(1.0, _round_up(share + missing_tolerance))
    low: float | None = None
    high: float | None = None
    domain = None
    distinct = 0
    if kind in ("int", "float"):
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = values[np.isfinite(values)]
        if finite.size:
            low, high = float(finite.min()), float(finite.max())
            distinct = 1 if low == high else 2  # all constancy needs to know
            span = (high - low) * widen
            low, high = low - span, high + span
            if kind == "int":
                low, high = math.floor(low), math.ceil(high)
    elif kind != "datetime" and present:
        counts = value_counts(series)
        distinct = len(counts)
        if distinct <= max_domain_size and distinct <= max_domain_ratio * present:
            values_ = [plain(v) for v in counts.index]
            domain = tuple(sorted((str(v) for v in values_) if kind == "string" else values_, key=_order))
    elif kind == "datetime" and present:
        distinct = 1 if series.min() == series.max() else 2
    return ColumnSchema(
        name=name,
        kind=kind,
        min=low,
        max=high,
        domain=domain,
        max_missing=max_missing,
        allow_constant=distinct < 2,
    )


def _order(value: Any) -> tuple[int, float, str]:
    """Sort a domain as a person reads it: numbers (and text holding one) by value, then text."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return (1, 0.0, str(value))
    return (0, number, str(value)) if math.isfinite(number) else (1, 0.0, str(value))


def _round_up(share: float) -> float:
    """A share rounded up to four decimals, so the file stays readable and never tighter than observed."""
    return math.ceil(share * 10_000) / 10_000
