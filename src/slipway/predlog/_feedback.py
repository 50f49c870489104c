"""Feedback: labels that arrive after the predictions, joined to them on ``request_id``.

Labels come in bulk and off any request path (a nightly export, a labelling tool), so they are
written synchronously: when ``log_feedback`` returns, the rows are stored.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.predlog._layout import (
    FEEDBACK,
    FEEDBACK_COLUMNS,
    check_name,
    day_of,
    folder,
    part_name,
    to_micros,
)
from slipway.predlog._table import FORMAT_KEY, FORMAT_VERSION, parquet_bytes, string_column, to_column

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pyarrow as pa

    from slipway.artifacts import FileTree
    from slipway.predlog._batch import Column

__all__ = ["log_feedback"]

_DAY = 86_400_000_000  # microseconds


def log_feedback(
    tree: FileTree,
    *,
    deployment: str,
    request_ids: Column,
    labels: Column,
    timestamp: datetime | Sequence[datetime] | None = None,
) -> int:
    """Store labels for earlier predictions; returns the number of rows written.

    Args:
        tree: the prediction log's file tree.
        deployment: the deployment whose predictions the labels belong to.
        request_ids: the predictions' request ids, one per label.
        labels: numbers or strings (a call that mixes both stores them as strings); None is missing.
        timestamp: when the labels became known: one datetime for all, one per row, or now.
            A naive datetime is taken as UTC. When several labels exist for a request, the latest wins.

    .. versionadded:: 0.1
    """
    import numpy as np
    import pyarrow as pa

    check_name("deployment", deployment)
    rows = _length("request_ids", request_ids)
    if _length("labels", labels) != rows:
        raise InvalidInput(
            f"labels: {_length('labels', labels)} labels for {rows} request ids; expected one per row"
        )
    if timestamp is None or isinstance(timestamp, datetime):
        now = time.time_ns() // 1000 if timestamp is None else to_micros("timestamp", timestamp)
        micros = np.full(rows, now, dtype=np.int64)
    else:
        if _length("timestamp", timestamp) != rows:
            raise InvalidInput(
                f"timestamp: {len(timestamp)} timestamps for {rows} request ids; expected one per row"
            )
        micros = np.fromiter((to_micros("timestamp", t) for t in timestamp), dtype=np.int64, count=rows)
    if not rows:
        return 0
    table = pa.Table.from_arrays(
        [
            string_column([request_ids]),
            _labels(labels),
            pa.array(micros, type=pa.timestamp("us", tz="UTC")),
            pa.repeat(pa.scalar(deployment), rows),
        ],
        names=list(FEEDBACK_COLUMNS),
    ).replace_schema_metadata({FORMAT_KEY: FORMAT_VERSION})
    days = micros // _DAY
    for day in np.unique(days):
        rows_of_day = table.filter(pa.array(days == day))
        folder_of_day = folder(FEEDBACK, deployment, day_of(int(day) * _DAY))
        tree.write_atomic(f"{folder_of_day}/{part_name()}", parquet_bytes(rows_of_day))
    return rows


def _length(kind: str, values: Any) -> int:
    if isinstance(values, str):
        raise InvalidInput(f"{kind} {values!r:.60}: expected a list or array, one value per row")
    try:
        return len(values)
    except TypeError:
        raise InvalidInput(f"{kind} {values!r:.60}: expected a list or array, one value per row") from None


def _labels(labels: Any) -> pa.Array:
    import pyarrow as pa

    try:
        return to_column([labels])
    except (pa.ArrowException, ValueError, TypeError):  # numbers and strings mixed: all as strings
        return pa.array([None if v is None else str(v) for v in labels], type=pa.string())
