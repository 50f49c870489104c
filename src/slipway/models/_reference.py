"""The reference a model is monitored against, summarised once from its training data.

Monitoring compares every window of live data with the data the model learned from. Re-reading
that data for every window would make each window cost the size of the training set, so it is
summarised once, when the model is saved, into ``reference.parquet`` in the model folder:

- a uniform row sample (``max_rows``, 50,000 by default) of every column, the model's outputs on
  those rows included (``prediction``, ``proba_<class>``): numeric tests read each column's sorted
  sample, the multivariate detector needs whole rows, and prediction drift the outputs;
- exact per-column figures over all rows: non-missing count, missing count, min and max, and the
  count of every value of a column with at most ``max_categories`` distinct values, so categorical
  tests and data-quality checks (new categories, out-of-range values) are exact at any size.

When the data has at most ``max_rows`` rows the sample is the data itself and every statistic is
exact (``exact``). The sample is a simple random sample without replacement, so a two-sample test
on it keeps its size: it only loses power against a reference larger than the sample.
The summary lives with the model format because it is written when the model is saved; monitoring
reads it. pandas and pyarrow are imported inside the functions so that ``import slipway`` stays light.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["REFERENCE_FILE", "ColumnSummary", "ReferenceSummary", "as_reference"]

REFERENCE_FILE = "reference.parquet"
_META_KEY = b"slipway.reference"
_FORMAT = 1
MAX_ROWS = 50_000
MAX_CATEGORIES = 1_000

ColumnKind = Literal["numeric", "categorical", "datetime"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSummary:
    """One column over all reference rows.

    ``counts`` maps each value to its number of rows when the column has at most
    ``max_categories`` distinct values (always for text; for numbers with few values, which tests
    may treat as categories), else None. Values keep their type (str, int, float, bool); any other
    value (a list, an array, a date in a text column) is kept as its text.
    ``min`` and ``max`` are a numeric column's range; ``earliest`` and ``latest`` a datetime
    column's, as ISO 8601 text (with its offset when the column has a time zone).

    .. versionchanged:: 0.1
       ``earliest`` and ``latest``: optional, so summaries written before them still load.
    """

    name: str
    kind: ColumnKind
    dtype: str
    count: int
    missing: int
    min: float | None = None
    max: float | None = None
    counts: dict[Any, int] | None = None
    distinct: int | None = None
    earliest: str | None = None
    latest: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "dtype": self.dtype,
            "count": self.count,
            "missing": self.missing,
            "min": self.min,
            "max": self.max,
            "distinct": self.distinct,
            "earliest": self.earliest,
            "latest": self.latest,
            # JSON object keys are strings: pairs keep each value's type.
            "counts": None if self.counts is None else [[k, v] for k, v in self.counts.items()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSummary:
        counts = data.get("counts")
        return cls(
            name=data["name"],
            kind=data["kind"],
            dtype=data["dtype"],
            count=int(data["count"]),
            missing=int(data["missing"]),
            min=data.get("min"),
            max=data.get("max"),
            distinct=data.get("distinct"),
            earliest=data.get("earliest"),
            latest=data.get("latest"),
            counts=None if counts is None else {k: int(v) for k, v in counts},
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceSummary:
    """A reference dataset as monitoring needs it: a row sample plus exact per-column figures.

    Build one with :meth:`from_frame`; store it with :meth:`to_bytes` and read it back with
    :meth:`from_bytes`. ``sample`` holds ``min(n_rows, max_rows)`` rows in their original order.

    .. versionadded:: 0.1
    """

    n_rows: int
    sample: pd.DataFrame
    columns: dict[str, ColumnSummary]
    seed: int = 0
    outputs: tuple[str, ...] = field(default=())

    @property
    def exact(self) -> bool:
        """Whether the sample is every reference row (so every statistic on it is exact)."""
        return len(self.sample) == self.n_rows

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    @property
    def features(self) -> list[str]:
        """The columns that are the model's inputs (every column but its outputs)."""
        outputs = set(self.outputs)
        return [c for c in self.columns if c not in outputs]

    @property
    def comparable(self) -> list[str]:
        """The features drift compares by default: dates are left out unless a kind is given."""
        return [c for c in self.features if self.columns[c].kind != "datetime"]

    def column(self, name: str) -> ColumnSummary:
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidInput(
                f"column {name!r}: not in the reference (it has {', '.join(self.columns) or 'no columns'})"
            ) from None

    def numeric_values(self, name: str) -> NDArray[np.float64]:
        """The sample's non-missing values of a numeric column, sorted, as float64."""
        import numpy as np

        col = self.column(name)
        if col.kind != "numeric":
            raise InvalidInput(f"column {name!r}: expected a numeric column, the reference holds {col.dtype}")
        values = self.sample[name].to_numpy(dtype="float64", na_value=np.nan)
        return np.sort(values[~np.isnan(values)])

    def category_counts(self, name: str) -> pd.Series[int]:
        """Every value's count over all reference rows (missing excluded); the sample's when not kept."""
        import pandas as pd

        col = self.column(name)
        if col.counts is not None:
            kept: pd.Series[int] = pd.Series(col.counts, dtype="int64")
            return kept
        counts: pd.Series[int] = self.sample[name].value_counts(dropna=True)
        return counts

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        max_rows: int = MAX_ROWS,
        max_categories: int = MAX_CATEGORIES,
        seed: int = 0,
        outputs: tuple[str, ...] = (),
    ) -> ReferenceSummary:
        """Summarise ``frame`` (``outputs`` names the columns that are model outputs, not features)."""
        import numpy as np
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(f"reference: expected a pandas DataFrame, got {type(frame).__name__}")
        if max_rows < 1:
            raise InvalidInput(f"max_rows: expected at least 1, got {max_rows}")
        dupes = frame.columns[frame.columns.duplicated()]
        if len(dupes):
            raise InvalidInput(f"reference: column {str(dupes[0])!r} appears twice")
        frame = frame.rename(columns=str)
        columns = {str(c): _summarise(frame[c], max_categories) for c in frame.columns}
        if len(frame) > max_rows:
            rng = np.random.default_rng(seed)
            rows = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
            sample = frame.iloc[rows].reset_index(drop=True)
        else:
            sample = frame.reset_index(drop=True)
        return cls(n_rows=len(frame), sample=sample, columns=columns, seed=seed, outputs=tuple(outputs))

    def with_outputs(self, outputs: pd.DataFrame) -> ReferenceSummary:
        """This summary plus the model's outputs on its sample rows (one row each, in order).

        Outputs exist only for the sampled rows, so their figures are the sample's (exact when the
        summary is).
        """
        import pandas as pd

        if len(outputs) != len(self.sample):
            raise InvalidInput(
                f"reference outputs: expected {len(self.sample)} rows (one per sampled row), "
                f"got {len(outputs)}"
            )
        outputs = outputs.rename(columns=str).reset_index(drop=True)
        clash = [c for c in outputs.columns if c in self.columns]
        if clash:
            raise InvalidInput(f"reference outputs: column {clash[0]!r} is also an input column")
        sample = pd.concat([self.sample, outputs], axis=1)
        columns = dict(self.columns)
        columns.update({c: _summarise(outputs[c], MAX_CATEGORIES) for c in outputs.columns})
        return ReferenceSummary(
            n_rows=self.n_rows,
            sample=sample,
            columns=columns,
            seed=self.seed,
            outputs=(*self.outputs, *outputs.columns),
        )

    def to_bytes(self) -> bytes:
        """One Parquet file: the sample as the table, the per-column figures in its metadata."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(self.sample, preserve_index=False)
        meta = {
            "format": _FORMAT,
            "n_rows": self.n_rows,
            "seed": self.seed,
            "outputs": list(self.outputs),
            "columns": [c.to_dict() for c in self.columns.values()],
        }
        merged = {**(table.schema.metadata or {}), _META_KEY: json.dumps(meta, allow_nan=False).encode()}
        buf = io.BytesIO()
        pq.write_table(table.replace_schema_metadata(merged), buf, compression="zstd")
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "reference") -> ReferenceSummary:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(io.BytesIO(data))
        except (pa.ArrowInvalid, OSError) as exc:
            raise InvalidInput(f"{source}: not a Parquet reference summary ({exc})") from exc
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw is None:
            raise InvalidInput(f"{source}: a Parquet file without slipway's reference metadata")
        meta = json.loads(raw)
        if meta.get("format") != _FORMAT:
            raise InvalidInput(f"{source}: reference format {meta.get('format')!r}, expected {_FORMAT}")
        columns = [ColumnSummary.from_dict(c) for c in meta["columns"]]
        return cls(
            n_rows=int(meta["n_rows"]),
            sample=table.to_pandas(),
            columns={c.name: c for c in columns},
            seed=int(meta.get("seed", 0)),
            outputs=tuple(meta.get("outputs", ())),
        )


def as_reference(reference: object, **options: Any) -> ReferenceSummary:
    """A summary as given, or one built from a DataFrame (exact up to ``max_rows`` rows)."""
    if isinstance(reference, ReferenceSummary):
        return reference
    return ReferenceSummary.from_frame(reference, **options)  # type: ignore[arg-type]


def column_kind(series: pd.Series[Any]) -> ColumnKind:
    """Numbers (not booleans) are numeric, dates are datetime, everything else is categorical."""
    import pandas as pd
    from pandas.api import types as ptypes

    dtype = series.dtype
    if ptypes.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if ptypes.is_numeric_dtype(dtype):
        return "numeric"
    if ptypes.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        return "datetime"
    return "categorical"


def _summarise(series: pd.Series[Any], max_categories: int) -> ColumnSummary:
    import numpy as np
    from pandas.api import types as ptypes

    kind = column_kind(series)
    missing = int(series.isna().sum())
    count = int(len(series) - missing)
    lo = hi = None
    earliest = latest = None
    if kind == "numeric" and count:
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        finite = values[np.isfinite(values)]  # an infinity is no bound: the range is the finite values
        if finite.size:
            lo, hi = float(finite.min()), float(finite.max())
    elif kind == "datetime" and count and ptypes.is_datetime64_any_dtype(series.dtype):
        # a Period column has no instant to compare with, so no range
        earliest, latest = series.min().isoformat(), series.max().isoformat()
    counts: dict[Any, int] | None = None
    distinct: int | None = None
    if kind != "datetime":
        vc = value_counts(series)
        distinct = int(vc.size)
        if vc.size <= max_categories:
            counts = {plain(k): int(v) for k, v in vc.items()}
    return ColumnSummary(
        name=str(series.name),
        kind=kind,
        dtype=str(series.dtype),
        count=count,
        missing=missing,
        min=lo,
        max=hi,
        counts=counts,
        distinct=distinct,
        earliest=earliest,
        latest=latest,
    )


def value_counts(series: pd.Series[Any]) -> pd.Series[int]:
    """Each value's rows, most frequent first, as :func:`plain` sees values.

    Missing values and a categorical dtype's unused categories are left out; cells that are not
    plain scalars (lists, arrays, dicts) are counted by their text, so ``[1, 2]`` and
    ``np.array([1, 2])`` are one value.
    """
    import pandas as pd

    present = series.dropna()
    try:
        counts = present.value_counts()
    except TypeError:  # cells pandas cannot hash (dicts, say)
        counts = present.map(plain).value_counts()
    counts = counts[counts > 0]
    if counts.index.dtype == object:  # mixed or non-scalar values: one entry per plain value
        merged: dict[Any, int] = {}
        for value, n in zip(counts.index, counts.to_numpy(), strict=True):
            key = plain(value)
            merged[key] = merged.get(key, 0) + int(n)
        counts = pd.Series(list(merged.values()), index=list(merged), dtype="int64")
        counts = counts.sort_values(ascending=False, kind="stable")
    out: pd.Series[int] = counts
    return out


def plain(value: Any) -> Any:
    """A value as the JSON type that round-trips it (NumPy scalars to Python, others to text).

    An array is written as the list it holds, so a list cell and the array Parquet reads back for
    it have the same text.
    """
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else str(value)  # JSON has no infinity
    if isinstance(value, str):
        return value
    if isinstance(value, np.ndarray):
        return str(value.tolist())
    return str(value)
