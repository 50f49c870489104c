"""A monitor's windows in time: their length, their bounds, and reading its recent results.

Windows are left-closed ``[start, end)`` in milliseconds since the epoch, aligned on the monitor's
offset (a fixed one such as ``15min`` or ``1h`` from the epoch; a calendar one such as ``MS``
rolled back to its anchor). A window is complete, and can be evaluated, only ``GRACE_MS`` after
its end (plus the monitor's own ``delay``): the prediction log's writer flushes about once a
second, so rows of a window that has just ended may still be on their way to storage.

The metadata store lists results oldest first, at most 10,000 at a time; "the latest N" and "the N
before this window" are therefore read from a bounded range near where they must be, never from
the start of a long history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from pandas.tseries.offsets import BaseOffset

    from slipway.core import MonitorResult
    from slipway.store import MetadataStore

__all__ = [
    "GRACE_MS",
    "MAX_WINDOWS",
    "complete_windows",
    "earlier",
    "floor",
    "latest_results",
    "results_before",
    "window_offset",
]

GRACE_MS = 60_000  # a window is evaluated at least this long after it ends, whatever the delay
MAX_WINDOWS = 10_000  # windows one run evaluates at most (a monitor left alone for years)
_PAGE = 10_000  # the store's largest page


def window_offset(window: str) -> BaseOffset:
    """The monitor's window as a pandas offset of positive length; else a one-line InvalidInput."""
    from pandas.tseries.offsets import Tick

    from slipway.monitoring._chunks import _offset

    expected = f"window {window!r}: expected a positive pandas frequency such as 15min, 1h, 1D, W or MS"
    try:
        offset = _offset(window)
    except InvalidInput:
        raise InvalidInput(expected) from None
    length = offset.nanos if isinstance(offset, Tick) else offset.n
    if length <= 0:
        raise InvalidInput(expected)
    return offset


def floor(ms: int, offset: BaseOffset) -> int:
    """The start of the window holding ``ms`` (fixed offsets from the epoch; calendar ones rolled back)."""
    import pandas as pd
    from pandas.tseries.offsets import Tick

    ts = pd.Timestamp(ms, unit="ms", tz="UTC")
    if isinstance(offset, Tick):
        step = offset.nanos
        return int((ts.value // step) * step // 1_000_000)
    start = offset.rollback(ts.normalize())
    return int(pd.Timestamp(start).value // 1_000_000)


def earlier(ms: int, offset: BaseOffset, windows: int) -> int:
    """``ms`` moved back by ``windows`` window lengths (calendar lengths for calendar offsets)."""
    import pandas as pd

    back = pd.Timestamp(ms, unit="ms", tz="UTC") - windows * offset
    return int(back.value // 1_000_000)


def complete_windows(start: int, end: int, offset: BaseOffset) -> list[tuple[int, int]]:
    """Windows ``[lo, hi)`` from ``start`` whose end is at most ``end`` (at most ``MAX_WINDOWS``)."""
    import pandas as pd

    out: list[tuple[int, int]] = []
    lo = pd.Timestamp(start, unit="ms", tz="UTC")
    while len(out) < MAX_WINDOWS:
        hi = lo + offset
        hi_ms = int(hi.value // 1_000_000)
        if hi_ms > end:
            break
        out.append((int(lo.value // 1_000_000), hi_ms))
        lo = hi
    return out


def results_before(
    store: MetadataStore, name: str, *, before: int, since: int, count: int
) -> list[MonitorResult]:
    """The last ``count`` results starting in ``[since, before)``, oldest first."""
    return _tail(store, name, since=max(since, 0), until=before, count=count)


def latest_results(
    store: MetadataStore, name: str, *, near: int, span: int, count: int = 1
) -> list[MonitorResult]:
    """The ``count`` results with the latest starts, oldest first.

    Searched from ``near - span`` on (the monitor's cursor less a few windows, where the newest
    window is), widening backwards fourfold while fewer than ``count`` are found (a monitor that
    only backfilled long ago, a cursor moved back).
    """
    span = max(span, 1)
    while True:
        since = near - span
        found = _tail(store, name, since=max(since, 0), until=None, count=count)
        if len(found) >= count or since <= 0:
            return found
        span *= 4


def _tail(
    store: MetadataStore, name: str, *, since: int, until: int | None, count: int
) -> list[MonitorResult]:
    """The last ``count`` results starting in ``[since, until)``: pages forward until the end."""
    count = max(count, 1)
    while True:
        page = store.list_monitor_results(name, since=since, until=until, max_results=_PAGE)
        if len(page) < _PAGE or count >= _PAGE:
            return page[-count:]
        # a full page: the newest may lie beyond it; start again from the count-th before its end
        nxt = page[-count].window_start
        if nxt <= since:  # every result on this page starts at the same ms: nothing to gain
            return page[-count:]
        since = nxt
