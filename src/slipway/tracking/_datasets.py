"""Datasets as fingerprints: a digest of every row, a schema and a per-column profile.

The digest covers the whole content, not a prefix (MLflow hashes the first 10,000 rows, so two
frames that differ at row 15,000 look identical). It is the SHA-256 of the schema (column names
and dtypes in order), the shape, and a 64-bit hash of every row computed by pandas' vectorised
``hash_pandas_object``; row order matters, the index does not.

The profile is what monitoring later compares live data against, so it keeps enough to rebuild a
distribution: quantiles and a histogram for numbers, the top categories for everything else.
pandas, NumPy and pyarrow are imported inside the functions so that ``import slipway`` stays light.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.core import DatasetRecord
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["QUANTILES", "fingerprint", "profile_frame"]

#: The quantiles every numeric column keeps (the tails matter most to drift tests).
QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
_DIGEST_VERSION = b"slipway-dataset-v1\n"
_HISTOGRAM_BINS = 20
_TOP_K = 20


def fingerprint(
    data: object,
    *,
    name: str | None = None,
    role: str = "",
    source: str | None = None,
    top_k: int = _TOP_K,
    bins: int = _HISTOGRAM_BINS,
) -> DatasetRecord:
    """Describe a DataFrame, Series, NumPy array or a Parquet/CSV path by content, schema and profile."""
    import numpy as np
    import pandas as pd

    if isinstance(data, (str, Path)):
        path = Path(data)
        frame = _read_path(path)
        return _frame_record(
            frame,
            name=name or path.name,
            role=role,
            source=source or str(path.resolve()),
            top_k=top_k,
            bins=bins,
        )
    if isinstance(data, pd.Series):
        frame = data.to_frame(name=str(data.name) if data.name is not None else "value")
        return _frame_record(frame, name=name, role=role, source=source or "pandas", top_k=top_k, bins=bins)
    if isinstance(data, pd.DataFrame):
        return _frame_record(data, name=name, role=role, source=source or "pandas", top_k=top_k, bins=bins)
    if isinstance(data, np.ndarray):
        return _array_record(data, name=name, role=role, source=source or "numpy", top_k=top_k, bins=bins)
    to_pandas = getattr(data, "to_pandas", None)  # pyarrow and polars tables
    if callable(to_pandas):
        frame = to_pandas()
        if isinstance(frame, pd.Series):
            frame = frame.to_frame()
        if isinstance(frame, pd.DataFrame):
            kind = type(data).__module__.split(".")[0]
            return _frame_record(frame, name=name, role=role, source=source or kind, top_k=top_k, bins=bins)
    raise InvalidInput(
        f"dataset {name or type(data).__name__!r}: expected a pandas DataFrame or Series, a NumPy array, "
        f"a pyarrow/polars table, or the path of a .parquet/.csv file, got {type(data).__name__}"
    )


def _read_path(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise InvalidInput(f"dataset path {str(path)!r}: no such file or folder")
    suffixes = "".join(path.suffixes).lower()
    if path.is_dir() or suffixes.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if suffixes.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".tsv")):
        return pd.read_csv(path, sep="\t" if ".tsv" in suffixes else ",")
    raise InvalidInput(f"dataset path {str(path)!r}: expected a .parquet or .csv file, or a Parquet folder")


def _frame_record(
    frame: pd.DataFrame, *, name: str | None, role: str, source: str, top_k: int, bins: int
) -> DatasetRecord:
    import pandas as pd

    if frame.columns.has_duplicates:
        raise InvalidInput(f"dataset {name or source!r}: duplicate column names {sorted(_dupes(frame))}")
    frame = frame.rename(columns=str) if not all(isinstance(c, str) for c in frame.columns) else frame
    schema = {str(col): str(dtype) for col, dtype in frame.dtypes.items()}
    h = hashlib.sha256(_DIGEST_VERSION)
    h.update(json.dumps([list(schema.items()), list(frame.shape)]).encode())
    if len(frame) and frame.shape[1]:
        try:
            rows = pd.util.hash_pandas_object(frame, index=False)
        except TypeError:  # unhashable cells (lists, dicts): hash their text instead
            rows = pd.util.hash_pandas_object(frame.astype(str), index=False)
        h.update(rows.to_numpy().tobytes())
    digest = h.hexdigest()
    return DatasetRecord(
        digest=digest,
        name=name or f"dataset-{digest[:8]}",
        source=source,
        num_rows=int(frame.shape[0]),
        num_columns=int(frame.shape[1]),
        schema=schema,
        profile=profile_frame(frame, top_k=top_k, bins=bins),
        role=role,
    )


def _dupes(frame: pd.DataFrame) -> set[str]:
    return {str(c) for c in frame.columns[frame.columns.duplicated()]}


def _array_record(
    array: np.ndarray[Any, Any], *, name: str | None, role: str, source: str, top_k: int, bins: int
) -> DatasetRecord:
    import numpy as np
    import pandas as pd

    if array.dtype.hasobject:  # object cells have no stable bytes; hash them the way pandas does
        frame = pd.DataFrame(array.reshape(len(array), -1) if array.ndim > 1 else array)
        record = _frame_record(frame, name=name, role=role, source=source, top_k=top_k, bins=bins)
        return record
    contiguous = np.ascontiguousarray(array)
    h = hashlib.sha256(_DIGEST_VERSION)
    h.update(json.dumps([contiguous.dtype.str, list(contiguous.shape)]).encode())
    h.update(contiguous.data.cast("B"))
    digest = h.hexdigest()
    if array.ndim <= 1:
        frame = pd.DataFrame({"0": array})
    elif array.ndim == 2:
        frame = pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])], copy=False)
    else:  # images, sequences: one distribution over every value keeps the profile small
        frame = pd.DataFrame({"values": array.reshape(-1)})
    schema = {"dtype": str(array.dtype), "shape": json.dumps(list(array.shape))}
    return DatasetRecord(
        digest=digest,
        name=name or f"array-{digest[:8]}",
        source=source,
        num_rows=int(array.shape[0]) if array.ndim else 1,
        num_columns=int(np.prod(array.shape[1:])) if array.ndim > 1 else 1,
        schema=schema,
        profile=profile_frame(frame, top_k=top_k, bins=bins),
        role=role,
    )


def profile_frame(frame: pd.DataFrame, *, top_k: int = _TOP_K, bins: int = _HISTOGRAM_BINS) -> dict[str, Any]:
    """Per-column statistics; the format monitoring reads as a drift baseline.

    ``count`` is the number of non-missing values; ``std`` uses ``ddof=1`` like pandas;
    quantiles use linear interpolation like ``numpy.quantile``; histograms cover finite values.
    """
    import pandas as pd
    from pandas.api import types as ptypes

    columns: dict[str, dict[str, Any]] = {}
    numeric = [
        c
        for c in frame.columns
        if ptypes.is_numeric_dtype(frame[c].dtype) and not ptypes.is_bool_dtype(frame[c].dtype)
    ]
    columns.update(_numeric_profiles(frame, numeric, bins=bins))
    for col in frame.columns:
        if col in columns:
            continue
        series = frame[col]
        if ptypes.is_datetime64_any_dtype(series.dtype) or isinstance(series.dtype, pd.PeriodDtype):
            columns[str(col)] = _datetime_profile(series)
        else:
            columns[str(col)] = _categorical_profile(series, top_k=top_k)
    ordered = {str(c): columns[str(c)] for c in frame.columns}
    return {"num_rows": len(frame), "columns": ordered}


def _numeric_profiles(frame: pd.DataFrame, cols: list[Any], *, bins: int) -> dict[str, dict[str, Any]]:
    import numpy as np

    if not cols:
        return {}
    # One float matrix for every numeric column: the statistics below run column-wise in C.
    values = frame[cols].to_numpy(dtype="float64", na_value=np.nan)
    missing = np.isnan(values).sum(axis=0)
    count = len(values) - missing
    out: dict[str, dict[str, Any]] = {}
    empty = np.full(len(cols), np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, on purpose
        mins = np.nanmin(values, axis=0) if len(values) else empty
        maxs = np.nanmax(values, axis=0) if len(values) else empty
        means = np.nanmean(values, axis=0) if len(values) else empty
        stds = np.nanstd(values, axis=0, ddof=1) if len(values) else empty
        quants = (
            np.nanquantile(values, QUANTILES, axis=0)
            if len(values)
            else np.full((len(QUANTILES), len(cols)), np.nan)
        )
    for i, col in enumerate(cols):
        column = values[:, i]
        finite = column[np.isfinite(column)]
        histogram: dict[str, list[float]] | None = None
        if len(finite):
            lo, hi = float(finite.min()), float(finite.max())
            if frame[col].dtype.kind in "iu" and hi - lo < bins:
                # Small integer ranges (counts, codes): one bin per value, so no bin is empty by design.
                counts, edges = np.histogram(finite, bins=np.arange(lo - 0.5, hi + 1.5))
            else:
                counts, edges = np.histogram(finite, bins=bins)
            histogram = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
        out[str(col)] = {
            "kind": "numeric",
            "dtype": str(frame[col].dtype),
            "count": int(count[i]),
            "missing": int(missing[i]),
            "min": _num(mins[i]),
            "max": _num(maxs[i]),
            "mean": _num(means[i]),
            "std": _num(stds[i]),
            "quantiles": {_qkey(q): _num(quants[j, i]) for j, q in enumerate(QUANTILES)},
            "histogram": histogram,
        }
    return out


def _qkey(q: float) -> str:
    return f"{q:g}"


def _num(x: Any) -> float | None:
    """NaN has no JSON spelling: an undefined statistic (an empty column) is None."""
    value = float(x)
    return None if math.isnan(value) else value


def _datetime_profile(series: pd.Series[Any]) -> dict[str, Any]:
    non_null = series.dropna()
    return {
        "kind": "datetime",
        "dtype": str(series.dtype),
        "count": int(non_null.size),
        "missing": int(series.size - non_null.size),
        "min": str(non_null.min()) if non_null.size else None,
        "max": str(non_null.max()) if non_null.size else None,
    }


def _categorical_profile(series: pd.Series[Any], *, top_k: int) -> dict[str, Any]:
    missing = int(series.isna().sum())
    try:
        counts = series.value_counts(dropna=True)
    except TypeError:  # unhashable cells
        counts = series.dropna().astype(str).value_counts()
    top = counts.head(top_k)
    return {
        "kind": "categorical",
        "dtype": str(series.dtype),
        "count": int(series.size - missing),
        "missing": missing,
        "distinct": int(counts.size),
        "top": [{"value": _jsonable(v), "count": int(c)} for v, c in top.items()],
    }


def _jsonable(value: Any) -> str | int | float | bool | None:
    import numpy as np

    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return _num(value)
    if isinstance(value, str):
        return value
    return str(value)
