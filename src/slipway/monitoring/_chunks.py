"""Chunks: the one way monitoring cuts a frame into windows.

Every per-window figure (measured and estimated performance, drift, quality, a monitor's evaluation,
a backfill) is computed over the chunks of one :class:`Chunker`, so a window means the same thing
everywhere: the same bounds, the same key, the same rows. A chunker is a small value object that
round-trips through text (``"1h"``, ``"rows:5000"``, ``"column:month"``), so a monitor can store it
and the CLI can take it as ``--window``.

Time windows are left-closed ``[start, end)`` and aligned on the offset (``"1h"`` starts on the hour,
``"MS"`` on the first of the month, in the timestamps' own time zone); windows with no rows between
the first and the last row are kept, because a gap in traffic is something a monitor must see (as
"not enough data"), not skip over.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from slipway.errors import InvalidInput
from slipway.monitoring._results import _ToDict

if TYPE_CHECKING:
    from numpy.typing import NDArray
    from pandas.tseries.offsets import BaseOffset

__all__ = ["Chunk", "ChunkSpan", "Chunker", "split"]

ChunkBy = Literal["all", "time", "rows", "count", "column"]
Incomplete = Literal["keep", "drop", "append"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkSpan(_ToDict):
    """Where a chunk sits, as JSON-ready data: what every per-chunk result carries.

    ``key`` identifies the window among its chunker's windows (the ISO start of a time window,
    ``"0:5000"`` for rows, the value for a column); ``start`` and ``end`` are the window's bounds,
    ISO timestamps for time (``end`` excluded) or row positions for rows and counts (``end``
    excluded), and None for column values, which have no order in time of their own.
    """

    key: str
    index: int
    start: str | int | None
    end: str | int | None
    n_rows: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunk:
    """One window's rows, with its position. ``data`` keeps the frame's own index and columns."""

    key: str
    index: int
    start: pd.Timestamp | int | None
    end: pd.Timestamp | int | None
    data: pd.DataFrame = field(repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return len(self.data)

    @property
    def span(self) -> ChunkSpan:
        return ChunkSpan(
            key=self.key,
            index=self.index,
            start=_jsonable_bound(self.start),
            end=_jsonable_bound(self.end),
            n_rows=self.n_rows,
        )


def _jsonable_bound(bound: pd.Timestamp | int | None) -> str | int | None:
    if isinstance(bound, pd.Timestamp):
        return bound.isoformat()
    return bound


@dataclass(frozen=True, slots=True, kw_only=True)
class Chunker(_ToDict):
    """How to cut a frame into windows.

    Build one with :meth:`by_time`, :meth:`by_rows`, :meth:`by_count`, :meth:`by_column`,
    :meth:`whole` or :meth:`parse`.

    ``incomplete`` says what row chunking does with a last chunk shorter than ``size``: keep it
    (``keep``, NannyML's default too), ``drop`` it, or ``append`` it to the chunk before, so that
    every chunk has at least ``size`` rows (what reference chunks for thresholds want).
    """

    by: ChunkBy
    freq: str | None = None
    size: int | None = None
    count: int | None = None
    column: str | None = None
    incomplete: Incomplete = "keep"

    def __post_init__(self) -> None:
        if self.by == "time":
            _offset(self.freq)
            if not self.column:
                raise InvalidInput("time chunker: expected the name of the timestamp column")
        elif self.by == "rows":
            if not isinstance(self.size, int) or self.size < 1:
                raise InvalidInput(f"row chunker: size {self.size!r}; expected a positive number of rows")
        elif self.by == "count":
            if not isinstance(self.count, int) or self.count < 1:
                raise InvalidInput(
                    f"count chunker: count {self.count!r}; expected a positive number of chunks"
                )
        elif self.by == "column":
            if not self.column:
                raise InvalidInput("column chunker: expected the name of the column whose values make chunks")
        elif self.by != "all":
            raise InvalidInput(f"chunker by {self.by!r}: expected one of all, time, rows, count, column")
        if self.incomplete not in ("keep", "drop", "append"):
            raise InvalidInput(f"incomplete {self.incomplete!r}: expected keep, drop or append")

    # ------------------------------------------------------------------ constructors

    @classmethod
    def whole(cls) -> Chunker:
        """One chunk holding every row."""
        return cls(by="all")

    @classmethod
    def by_time(cls, freq: str, *, column: str = "timestamp") -> Chunker:
        """Windows of a pandas offset (``"1h"``, ``"1D"``, ``"W-MON"``, ``"MS"``) on ``column``."""
        return cls(by="time", freq=freq, column=column)

    @classmethod
    def by_rows(cls, size: int, *, incomplete: Incomplete = "keep") -> Chunker:
        """Consecutive chunks of ``size`` rows, in the frame's order."""
        return cls(by="rows", size=size, incomplete=incomplete)

    @classmethod
    def by_count(cls, count: int) -> Chunker:
        """``count`` consecutive chunks of (nearly) equal size, in the frame's order."""
        return cls(by="count", count=count)

    @classmethod
    def by_column(cls, column: str) -> Chunker:
        """One chunk per distinct value of ``column`` (e.g. a month or a model version), sorted."""
        return cls(by="column", column=column)

    @classmethod
    def parse(cls, text: str) -> Chunker:
        """A chunker from its text form, so monitors can store it and the CLI take it as ``--window``.

        The forms: ``all``, ``rows:5000``, ``count:10``, ``column:month``, ``time:1h@ts`` (an offset
        on column ``ts``), or a bare pandas offset (``1h``, ``MS``) on ``timestamp``. :meth:`text`
        writes the same form back.
        """
        raw = text.strip()
        kind, sep, rest = raw.partition(":")
        if raw == "all":
            return cls.whole()
        if sep and kind in ("rows", "count"):
            try:
                number = int(rest)
            except ValueError:
                raise InvalidInput(f"chunker {text!r}: expected {kind}:<a whole number>") from None
            return cls.by_rows(number) if kind == "rows" else cls.by_count(number)
        if sep and kind == "column":
            return cls.by_column(rest)
        if sep and kind == "time":
            freq, _, column = rest.partition("@")
            return cls.by_time(freq, column=column or "timestamp")
        if sep:
            raise InvalidInput(
                f"chunker {text!r}: expected all, rows:<n>, count:<n>, column:<name>, time:<offset>[@column] "
                "or a pandas offset such as 1h, 1D or MS"
            )
        return cls.by_time(raw)

    def text(self) -> str:
        """The text form :meth:`parse` reads."""
        if self.by == "time":
            return f"time:{self.freq}@{self.column}"
        if self.by == "rows":
            return f"rows:{self.size}"
        if self.by == "count":
            return f"count:{self.count}"
        if self.by == "column":
            return f"column:{self.column}"
        return "all"

    # ------------------------------------------------------------------ splitting

    def split(self, frame: pd.DataFrame) -> list[Chunk]:
        """The frame's chunks, in order. An empty frame has no chunks."""
        n = len(frame)
        if self.by == "all":
            return [Chunk(key="all", index=0, start=0, end=n, data=frame)] if n else []
        if self.by == "time":
            assert self.column is not None
            assert self.freq is not None
            return _split_time(frame, self.column, self.freq)
        if self.by == "column":
            assert self.column is not None
            return _split_values(frame, self.column)
        if n == 0:
            return []
        if self.by == "rows":
            assert self.size is not None
            bounds = [*range(0, n, self.size), n]
            if len(bounds) > 2 and bounds[-1] - bounds[-2] < self.size and self.incomplete != "keep":
                del bounds[-2 if self.incomplete == "append" else -1]
        else:
            assert self.count is not None
            k = min(self.count, n)
            bounds = [(i * n) // k for i in range(k + 1)]
        return [
            Chunk(key=f"{a}:{b}", index=i, start=a, end=b, data=frame.iloc[a:b])
            for i, (a, b) in enumerate(itertools.pairwise(bounds))
            if b > a
        ]


def split(frame: pd.DataFrame, chunker: Chunker | str | None = None) -> list[Chunk]:
    """``frame`` cut by ``chunker`` (a :class:`Chunker`, its text form, or None for one chunk)."""
    return as_chunker(chunker).split(frame)


def as_chunker(chunker: Chunker | str | None) -> Chunker:
    """A chunker from what the public functions accept: a Chunker, its text form, or None (one chunk)."""
    if chunker is None:
        return Chunker.whole()
    if isinstance(chunker, str):
        return Chunker.parse(chunker)
    return chunker


def _offset(freq: str | None) -> BaseOffset:
    from pandas.tseries.frequencies import to_offset

    try:
        offset = to_offset(freq)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"time chunker: frequency {freq!r}; expected a pandas offset such as 1h, 15min, 1D, W-MON or MS"
        ) from None
    if offset is None:
        raise InvalidInput("time chunker: expected a frequency such as 1h, 15min, 1D, W-MON or MS")
    return offset


def _timestamps(frame: pd.DataFrame, column: str) -> pd.DatetimeIndex:
    if column not in frame.columns:
        raise InvalidInput(f"column {column!r}: missing; expected the timestamps to cut time windows on")
    values = frame[column]
    if not pd.api.types.is_datetime64_any_dtype(values.dtype):
        try:
            values = pd.to_datetime(values, utc=True, format="ISO8601")
        except (TypeError, ValueError):
            raise InvalidInput(
                f"column {column!r}: expected timestamps (or ISO 8601 text), got {values.dtype}"
            ) from None
    missing = int(values.isna().sum())
    if missing:
        raise InvalidInput(f"column {column!r}: {missing} rows have no timestamp; expected one on every row")
    index: pd.DatetimeIndex = pd.DatetimeIndex(values)
    return index


def _groups(codes: NDArray[np.intp], k: int) -> list[NDArray[np.intp]]:
    """Row positions of each code ``0..k-1``, each in the frame's order (one sort for all groups)."""
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(k + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(k)]


def _split_time(frame: pd.DataFrame, column: str, freq: str) -> list[Chunk]:
    offset = _offset(freq)
    stamps = _timestamps(frame, column)
    if len(stamps) == 0:
        return []
    # resample knows every offset's anchoring (hours, weeks, month starts...); it gives the window
    # starts, empty windows included, and a binary search puts each row in its window.
    starts = (
        pd.Series(np.zeros(len(stamps)), index=stamps)
        .resample(freq, closed="left", label="left")
        .size()
        .index
    )
    codes = np.asarray(starts.searchsorted(stamps, side="right") - 1, dtype=np.intp)
    return [
        Chunk(key=start.isoformat(), index=i, start=start, end=start + offset, data=frame.iloc[rows])
        for i, (start, rows) in enumerate(zip(starts, _groups(codes, len(starts)), strict=True))
    ]


def _split_values(frame: pd.DataFrame, column: str) -> list[Chunk]:
    if column not in frame.columns:
        raise InvalidInput(f"column {column!r}: missing; expected the values to cut chunks by")
    values = frame[column]
    missing = int(values.isna().sum())
    if missing:
        raise InvalidInput(f"column {column!r}: {missing} rows have no value; expected one on every row")
    codes, uniques = pd.factorize(values, sort=True)
    return [
        Chunk(key=_key(value), index=i, start=None, end=None, data=frame.iloc[rows])
        for i, (value, rows) in enumerate(
            zip(uniques, _groups(np.asarray(codes, dtype=np.intp), len(uniques)), strict=True)
        )
    ]


def _key(value: Any) -> str:
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    return str(value)
