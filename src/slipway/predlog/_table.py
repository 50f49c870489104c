"""Batches to Arrow tables and Parquet bytes, off the request path (the writer's thread calls this).

Columns are built once per group of batches, not per batch: 1-D numpy columns of one dtype are
concatenated in numpy and converted once, lists are chained and converted once; anything else is
converted per batch and the pieces are cast to a common type (int64 and float64 give float64).
Multi-dimensional arrays become list columns (an ``(n, k)`` array: n lists of k values).
Categoricals are stored as their values, so every part has plain column types.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from slipway.predlog._layout import RESERVED

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

    from slipway.predlog._batch import PredictionBatch

#: Parquet key-value metadata: the version of the on-disk contract.
FORMAT_KEY = b"slipway.predlog"
FORMAT_VERSION = b"1"
#: Field metadata: whether a column is a model input or output (monitoring reads it back).
ROLE_KEY = b"slipway.role"


class Entry(NamedTuple):
    """One logged batch as the writer buffers it: the caller's objects, untouched until the flush."""

    batch: PredictionBatch
    rows: int
    micros: int  # the batch's timestamp, microseconds since the epoch (UTC)
    names: tuple[str, ...]  # stored names of its inputs, then its outputs
    n_inputs: int


def build_tables(deployment: str, entries: Sequence[Entry]) -> tuple[list[pa.Table], int, Exception | None]:
    """Tables for entries of one column set: (tables, rows that could not be converted, first error).

    Normally one table. When the group cannot be joined (a column whose values change type between
    batches, say), each batch is converted alone and batches of one schema are joined again; a batch
    that cannot be converted even alone is left out and counted.
    """
    import pyarrow as pa

    try:
        return [_table(deployment, entries)], 0, None
    except (pa.ArrowException, ValueError, TypeError) as exc:
        if len(entries) == 1:
            return [], entries[0].rows, exc
        error: Exception | None = exc
    groups: list[list[pa.Table]] = []
    lost = 0
    for entry in entries:
        try:
            table = _table(deployment, [entry])
        except (pa.ArrowException, ValueError, TypeError) as exc:
            lost += entry.rows
            error = exc
            continue
        for group in groups:
            if group[0].schema.equals(table.schema):
                group.append(table)
                break
        else:
            groups.append([table])
    return [pa.concat_tables(group) for group in groups], lost, error


def parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _table(deployment: str, entries: Sequence[Entry]) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    first = entries[0]
    counts = np.fromiter((e.rows for e in entries), dtype=np.int64, count=len(entries))
    total = int(counts.sum())
    micros = np.repeat(np.fromiter((e.micros for e in entries), dtype=np.int64, count=len(entries)), counts)
    columns: list[pa.Array] = [
        string_column([e.batch.request_ids for e in entries]),
        pa.array(micros, type=pa.timestamp("us", tz="UTC")),
        pa.repeat(pa.scalar(deployment), total),
        _per_batch([e.batch.model_name for e in entries], counts),
        _per_batch([str(e.batch.model_version) for e in entries], counts),
        _per_batch([e.batch.variant for e in entries], counts),
        pa.array(np.concatenate([_latencies(e) for e in entries]), type=pa.float64()),
    ]
    fields = [pa.field(name, column.type) for name, column in zip(RESERVED, columns, strict=True)]
    values = [_values(e.batch) for e in entries]
    for i, name in enumerate(first.names):
        column = to_column([v[i] for v in values])
        if len(column) != total:  # a string passed as a column: its characters would be its rows
            raise ValueError(f"column {name!r}: {len(column)} values for {total} rows")
        role = b"input" if i < first.n_inputs else b"output"
        columns.append(column)
        fields.append(pa.field(name, column.type, metadata={ROLE_KEY: role}))
    schema = pa.schema(fields, metadata={FORMAT_KEY: FORMAT_VERSION})
    return pa.Table.from_arrays(columns, schema=schema)


def _values(batch: PredictionBatch) -> list[Any]:
    """A batch's input columns then its output columns, in the order their names were taken."""
    inputs = batch.inputs
    if isinstance(inputs, Mapping):
        cols = list(inputs.values())
    else:  # a pandas DataFrame
        cols = [inputs.iloc[:, j] for j in range(inputs.shape[1])]
    cols.extend(batch.outputs.values())
    return cols


def _latencies(entry: Entry) -> Any:
    import numpy as np

    latency = entry.batch.latency_ms
    if isinstance(latency, (int, float)) or np.ndim(latency) == 0:
        return np.full(entry.rows, float(latency))  # type: ignore[arg-type]
    return np.asarray(latency, dtype=np.float64)


def _per_batch(values: list[str], counts: Any) -> pa.Array:
    import numpy as np
    import pyarrow as pa

    if all(v == values[0] for v in values):
        return pa.repeat(pa.scalar(values[0], type=pa.string()), int(counts.sum()))
    return pa.array(np.repeat(np.array(values, dtype=object), counts), type=pa.string())


def string_column(parts: list[Any]) -> pa.Array:
    """Strings, whatever the caller gave (UUID objects, ints): request ids."""
    import pyarrow as pa

    try:
        column = to_column(parts)
        return column if pa.types.is_string(column.type) else column.cast(pa.string())
    except (pa.ArrowException, ValueError, TypeError):
        return pa.array([None if v is None else str(v) for v in itertools.chain.from_iterable(parts)])


def to_column(parts: list[Any]) -> pa.Array:
    import numpy as np

    first = parts[0]
    if all(type(p) is np.ndarray for p in parts) and all(
        p.dtype == first.dtype and p.shape[1:] == first.shape[1:] for p in parts
    ):
        return _from_numpy(np.concatenate(parts) if len(parts) > 1 else first)
    if all(type(p) is list for p in parts):
        return _decoded(_pa_array(list(itertools.chain.from_iterable(parts))))
    return _concat([_one(p) for p in parts])


def _one(part: Any) -> pa.Array:
    import numpy as np

    if isinstance(part, np.ndarray):
        return _from_numpy(part)
    if hasattr(part, "array") and hasattr(part, "dtype"):  # a pandas Series: its own conversion
        return _decoded(_pa_array(part))
    return _decoded(_pa_array(list(part)))


def _pa_array(values: Any) -> pa.Array:
    import pyarrow as pa

    return pa.array(values, from_pandas=True)  # NaN and None are both missing, as in pandas


def _from_numpy(array: Any) -> pa.Array:
    import numpy as np
    import pyarrow as pa

    if array.ndim <= 1:
        return _decoded(_pa_array(array))
    n, k = array.shape[0], array.shape[1]
    inner = _from_numpy(array.reshape(n * k, *array.shape[2:]))
    offsets = np.arange(n + 1, dtype=np.int32) * k
    return pa.ListArray.from_arrays(pa.array(offsets), inner)


def _decoded(array: pa.Array) -> pa.Array:
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _concat(arrays: list[pa.Array]) -> pa.Array:
    import pyarrow as pa

    target = arrays[0].type
    if any(a.type != target for a in arrays):
        schemas = [pa.schema([pa.field("c", a.type)]) for a in arrays]
        target = pa.unify_schemas(schemas, promote_options="permissive").field("c").type
        arrays = [a if a.type == target else a.cast(target) for a in arrays]
    return pa.concat_arrays(arrays)
