"""Replaying history into a monitor: what a backfill returns, and a file cut into chunks.

A monitor's results are windows in time, so a file replayed by chunks (``column:month``,
``rows:5000``) records each chunk over the time range of its rows: from its first timestamp to
just after its last (a time chunker's own bounds for ``time:`` chunks). The file is ordered by
time first, so row chunks follow one another in time. Chunks that end after the last complete
window (now, less the delay and the grace period) are still being written to and are left out,
as a backfill of the log leaves out windows that have not ended.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, overload

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from slipway.monitoring._monitor import WindowOutcome

__all__ = ["Backfill", "chunk_spans", "stamped"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Backfill(Sequence["WindowOutcome"]):
    """A backfill's window outcomes (it is their sequence), and notes on what it left out."""

    outcomes: tuple[WindowOutcome, ...]
    notes: tuple[str, ...] = field(default=())

    @overload
    def __getitem__(self, index: int) -> WindowOutcome: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[WindowOutcome]: ...
    def __getitem__(self, index: int | slice) -> WindowOutcome | Sequence[WindowOutcome]:
        return self.outcomes[index]

    def __len__(self) -> int:
        return len(self.outcomes)


def stamped(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows with a UTC ``timestamp`` column (the log's; a file must have one to be windowed)."""
    import pandas as pd

    if "timestamp" not in frame.columns:
        raise InvalidInput(
            "rows to monitor: expected a timestamp column (a monitor's results cover a time range)"
        )
    ts = pd.to_datetime(frame["timestamp"], utc=True)
    if ts.isna().any():
        raise InvalidInput(f"rows to monitor: {int(ts.isna().sum())} rows have no timestamp")
    out: pd.DataFrame = frame.assign(timestamp=ts)
    return out


def chunk_spans(
    frame: pd.DataFrame, chunker: str, *, start: int | None, end: int | None, limit: int
) -> tuple[list[tuple[int, int, pd.DataFrame]], tuple[str, ...]]:
    """``frame``'s chunks as ``(window_start, window_end, rows)``, and notes on chunks left out.

    ``start``/``end`` (ms) keep the rows in ``[start, end)``; chunks ending after ``limit`` are left
    out. Two chunks over the same time range cannot both be recorded, so that is refused.
    """
    import pandas as pd

    from slipway.monitoring._chunks import Chunker

    spec = Chunker.parse(chunker)
    rows = stamped(frame)
    ms = (rows["timestamp"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    keep = ms.ge(start if start is not None else ms.min()) & ms.lt(end if end is not None else ms.max() + 1)
    rows = rows.loc[keep.to_numpy()].sort_values("timestamp", kind="stable")
    spans: list[tuple[int, int, pd.DataFrame]] = []
    late = 0
    for chunk in spec.split(rows):
        if chunk.n_rows == 0:  # a time chunker's gap: no rows, no time range of its own to record
            continue
        lo, hi = _bounds(chunk.data, chunk.start, chunk.end, timed=spec.by == "time")
        if hi > limit:
            late += 1
            continue
        spans.append((lo, hi, chunk.data))
    if not spans and not late:
        raise InvalidInput(f"backfill by {chunker}: no rows to replay")
    seen: dict[tuple[int, int], int] = {}
    for i, (lo, hi, _) in enumerate(spans):
        if (lo, hi) in seen:
            raise InvalidInput(
                f"backfill by {chunker}: chunks {seen[(lo, hi)]} and {i} cover the same time range, so "
                "only one could be recorded; choose bigger chunks"
            )
        seen[(lo, hi)] = i
    notes = (
        (
            f"{late} chunk(s) ending after now (less the delay and the grace period) are not "
            "complete yet: not evaluated",
        )
        if late
        else ()
    )
    return spans, notes


def _bounds(rows: pd.DataFrame, start: object, end: object, *, timed: bool) -> tuple[int, int]:
    import pandas as pd

    if timed and isinstance(start, pd.Timestamp) and isinstance(end, pd.Timestamp):
        return int(start.value // 1_000_000), int(end.value // 1_000_000)
    ts = rows["timestamp"]
    return int(ts.min().value // 1_000_000), int(ts.max().value // 1_000_000) + 1
