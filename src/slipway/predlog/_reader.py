"""Reading the prediction log back: the partitions wanted, every part in them, one DataFrame.

Partitions are chosen from folder names before any file is listed or read: a day's window lists
only that day's folder. Parts written by different model versions may have different columns;
they are unified (a column missing from a part is null there, int64 and float64 give float64, a
column stored as numbers in one part and text in another is read as text).

Batch scoring logs its rows at least once: a job stopped after logging a chunk but before
recording it as finished logs that chunk again when it resumes, under the same request ids
(``<job>-<row>``). :func:`read_predictions` keeps one row per request id among a deployment's
``batch`` rows, the latest written, so a resumed job counts each row once. It drops repeats
within what one call reads: a repeat logged after the end of the window asked for (a resume that
came later) is in the next window, not this one. Serving's rows are returned as written: it logs a
row at most once, and its shadow's rows share their primary's request id on purpose. Only
``batch`` rows are hashed, so reading a serving log costs one comparison of the variant column.
"""

from __future__ import annotations

import concurrent.futures
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.predlog._layout import (
    BATCH_VARIANT,
    FEEDBACK,
    JOINED,
    PREDICTIONS,
    check_name,
    folder_date,
    to_micros,
)
from slipway.predlog._table import ROLE_KEY

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    import pandas as pd
    import pyarrow as pa

    from slipway.artifacts import FileTree

__all__ = ["join_feedback", "read_feedback", "read_predictions"]

_READERS = 16  # parts read at once: object stores answer each request in tens of milliseconds
_DAY_MICROS = timedelta(days=1) // timedelta(microseconds=1)

Instant = datetime | date


def read_predictions(
    tree: FileTree,
    *,
    deployment: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    variant: str | Collection[str] | None = None,
) -> pd.DataFrame:
    """The logged predictions as one DataFrame, oldest first.

    Args:
        tree: the prediction log's file tree.
        deployment: one deployment, or all of them.
        start: the earliest timestamp included (a date means its midnight UTC; naive means UTC).
        end: the first timestamp excluded, same forms.
        variant: one variant (``"canary"``) or several, or all.

    The frame's ``attrs["inputs"]`` and ``attrs["outputs"]`` list which columns are model inputs
    and outputs. A batch job's row logged twice (the job was interrupted and resumed) is returned
    once, the copy written last, when both copies fall in the range read (see the module's
    docstring).

    .. versionadded:: 0.1
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    table = _read(tree, PREDICTIONS, deployment, start, end, _predictions_schema())
    if variant is not None:
        wanted = [variant] if isinstance(variant, str) else list(variant)
        table = table.filter(pc.is_in(table["variant"], value_set=pa.array(wanted, type=pa.string())))
    table = _without_repeats(table)
    frame: pd.DataFrame = table.to_pandas()
    frame.attrs["inputs"] = _columns_with_role(table.schema, b"input")
    frame.attrs["outputs"] = _columns_with_role(table.schema, b"output")
    return frame


def read_feedback(
    tree: FileTree,
    *,
    deployment: str | None = None,
    start: Instant | None = None,
    end: Instant | None = None,
    request_ids: Collection[str] | None = None,
) -> pd.DataFrame:
    """The logged feedback (``request_id``, ``label``, ``timestamp``, ``deployment``), oldest first.

    ``start`` and ``end`` select on the time the labels arrived, as in :func:`read_predictions`;
    ``request_ids`` keeps only those requests' labels, filtered part by part as they are read (a
    monitor's window holds its own labels, not every label that arrived since).

    .. versionadded:: 0.1
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = pa.schema(
        [
            ("request_id", pa.string()),
            ("label", pa.null()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("deployment", pa.string()),
        ]
    )
    keep = None
    if request_ids is not None:
        wanted = pa.array([str(i) for i in request_ids], type=pa.string())

        def keep(table: pa.Table) -> pa.Table:
            return table.filter(pc.is_in(table["request_id"].cast(pa.string()), value_set=wanted))

    frame: pd.DataFrame = _read(tree, FEEDBACK, deployment, start, end, schema, keep=keep).to_pandas()
    return frame


def join_feedback(predictions: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """Each prediction with its label: a left join on ``request_id`` (and ``deployment`` when both have it).

    Adds ``label`` and ``label_timestamp``; a prediction without feedback gets missing values.
    When a request has several labels the latest (by timestamp) wins.

    .. versionadded:: 0.1
    """
    clash = [c for c in JOINED if c in predictions.columns]
    if clash:
        raise InvalidInput(f"predictions already have a column {clash[0]!r}; join_feedback adds it")
    missing = [c for c in ("request_id", "label", "timestamp") if c not in feedback.columns]
    if missing or "request_id" not in predictions.columns:
        raise InvalidInput(
            "join_feedback: expected predictions with a request_id column "
            "and feedback with request_id, label and timestamp"
        )
    keys = ["request_id"]
    if "deployment" in predictions.columns and "deployment" in feedback.columns:
        keys.append("deployment")  # one request id may reach several deployments, each labelled apart
    latest = (
        feedback[[*keys, "label", "timestamp"]]
        .sort_values("timestamp", kind="stable")
        .drop_duplicates(keys, keep="last")
        .rename(columns={"timestamp": "label_timestamp"})
    )
    joined: pd.DataFrame = predictions.merge(latest, how="left", on=keys, validate="many_to_one")
    joined.attrs = dict(predictions.attrs)
    return joined


# ---------------------------------------------------------------------- parts


def _read(
    tree: FileTree,
    kind: str,
    deployment: str | None,
    start: Instant | None,
    end: Instant | None,
    empty: pa.Schema,
    *,
    keep: Callable[[pa.Table], pa.Table] | None = None,
) -> pa.Table:
    import pyarrow.compute as pc

    lo = None if start is None else _micros("start", start)
    hi = None if end is None else _micros("end", end)
    parts = _select(tree, kind, deployment, lo, hi)
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(_READERS, max(1, len(parts)))) as pool:
        read = pool.map(lambda rel: _parquet(tree, rel, lo, hi, keep), parts)
        tables = [t for t in read if t is not None]
    table = _unify(tables) if tables else empty.empty_table()
    if table.num_rows > 1:
        table = table.take(pc.sort_indices(table, sort_keys=[("timestamp", "ascending")]))  # stable
    return table


def _without_repeats(table: pa.Table) -> pa.Table:
    """``table`` with one row per (deployment, request id) among its batch rows: the last, oldest first.

    The table is sorted by timestamp, stably over parts listed in name order (their names start
    with the time they were written), so the last copy of a row is the one written last. The ids
    are hashed once (a dictionary encoding); only a table that has repeats pays for more.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows < 2:
        return table
    is_batch = pc.equal(table["variant"], pa.scalar(BATCH_VARIANT, type=pa.string())).fill_null(False)
    if not pc.any(is_batch).as_py():
        return table  # serving's rows: no request id is hashed
    rows = None if pc.all(is_batch).as_py() else pc.indices_nonzero(is_batch)
    ids, deployments = table["request_id"], table["deployment"]
    if rows is not None:
        ids, deployments = ids.take(rows), deployments.take(rows)
    bounds = pc.min_max(deployments)
    if bounds["min"] != bounds["max"]:  # names hold no "/" (check_name): the pair as one key
        ids = pc.binary_join_element_wise(deployments.cast(pa.string()), ids.cast(pa.string()), "/")
    encoded = pc.dictionary_encode(ids, null_encoding="encode").combine_chunks()
    if len(encoded.dictionary) == len(encoded):
        return table
    codes = encoded.indices.to_numpy()
    _, from_end = np.unique(codes[::-1], return_index=True)
    last = len(codes) - 1 - from_end  # each id's last row among the batch rows
    keep = np.ones(table.num_rows, dtype=bool)
    if rows is None:
        keep[:] = False
        keep[last] = True
    else:
        where = rows.to_numpy()
        keep[where] = False
        keep[where[last]] = True
    return table.filter(pa.array(keep))


def _select(tree: FileTree, kind: str, deployment: str | None, lo: int | None, hi: int | None) -> list[str]:
    """The parts of the wanted deployments in the date folders that can hold [lo, hi)."""
    if deployment is not None:
        deployments = [check_name("deployment", deployment)]
    else:
        deployments = [f.split("=", 1)[1] for f in tree.folders(kind) if f.startswith("deployment=")]
    parts: list[str] = []
    for name in deployments:
        base = f"{kind}/deployment={name}"
        for day_folder in tree.folders(base):
            day = folder_date(day_folder)
            if day is None:
                continue
            day_start = to_micros("date", datetime(day.year, day.month, day.day, tzinfo=timezone.utc))
            if (lo is not None and day_start + _DAY_MICROS <= lo) or (hi is not None and day_start >= hi):
                continue
            parts.extend(p for p in tree.list(f"{base}/{day_folder}") if p.endswith(".parquet"))
    return parts


def _parquet(
    tree: FileTree,
    relpath: str,
    lo: int | None,
    hi: int | None,
    keep: Callable[[pa.Table], pa.Table] | None = None,
) -> pa.Table | None:
    """One part's rows in ``[lo, hi)``, or None when it has none.

    Row groups whose timestamp statistics lie outside the window are never read, and the rest is
    filtered as it is read: a reader holds the window's rows, not the day's, so a monitor walking
    a long log window by window stays in bounded memory.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    with tree.open(relpath) as handle:
        parquet = pq.ParquetFile(handle)
        groups = [i for i in range(parquet.num_row_groups) if _overlaps(parquet, i, lo, hi)]
        if not groups:
            return None
        table = parquet.read_row_groups(groups)
    if keep is not None:
        table = keep(table)
    if lo is None and hi is None:
        return table if table.num_rows else None
    ts = table["timestamp"]
    mask = None
    if lo is not None:
        mask = pc.greater_equal(ts, pa.scalar(lo, type=pa.timestamp("us", tz="UTC")))
    if hi is not None:
        below = pc.less(ts, pa.scalar(hi, type=pa.timestamp("us", tz="UTC")))
        mask = below if mask is None else pc.and_(mask, below)
    table = table.filter(mask)
    return table if table.num_rows else None


def _overlaps(parquet: Any, group: int, lo: int | None, hi: int | None) -> bool:
    """Whether row group ``group`` may hold a timestamp in ``[lo, hi)`` (unknown: it may)."""
    if lo is None and hi is None:
        return True
    meta = parquet.metadata.row_group(group)
    names = [meta.column(j).path_in_schema for j in range(meta.num_columns)]
    if "timestamp" not in names:
        return True
    stats = meta.column(names.index("timestamp")).statistics
    if stats is None or not stats.has_min_max:
        return True
    first, last = _stat_micros(stats.min), _stat_micros(stats.max)
    if first is None or last is None:
        return True
    return not ((hi is not None and first >= hi) or (lo is not None and last < lo))


def _stat_micros(value: Any) -> int | None:
    """A timestamp statistic (a datetime, or an integer in the column's unit: ours is µs) as µs."""
    if isinstance(value, datetime):
        return to_micros("statistic", value if value.tzinfo else value.replace(tzinfo=timezone.utc))
    if isinstance(value, int):
        return value
    return None


def _unify(tables: list[pa.Table]) -> pa.Table:
    """One table from parts whose columns may differ (see the module's docstring)."""
    import pyarrow as pa

    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        pass
    types: dict[str, set[Any]] = {}
    for table in tables:
        for field in table.schema:
            if not pa.types.is_null(field.type):
                types.setdefault(field.name, set()).add(field.type)
    mixed = {name for name, found in types.items() if len(found) > 1}
    as_text = []
    for table in tables:
        for name in mixed & set(table.column_names):
            i = table.schema.get_field_index(name)
            try:
                table = table.set_column(
                    i, table.schema.field(i).with_type(pa.string()), table[name].cast(pa.string())
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                found = " and ".join(sorted(map(str, types[name])))
                raise InvalidInput(
                    f"column {name!r}: stored as {found} in different parts; cannot read as one"
                ) from None
        as_text.append(table)
    return pa.concat_tables(as_text, promote_options="permissive")


def _micros(kind: str, value: Instant) -> int:
    if isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    return to_micros(kind, value)


def _predictions_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("request_id", pa.string()),
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("deployment", pa.string()),
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("variant", pa.string()),
            ("latency_ms", pa.float64()),
        ]
    )


def _columns_with_role(schema: pa.Schema, role: bytes) -> list[str]:
    return [f.name for f in schema if f.metadata and f.metadata.get(ROLE_KEY) == role]
