"""The prediction log writer: a request appends, one thread per writer writes Parquet parts.

Why a buffer and a thread: building Arrow tables and writing files costs milliseconds, which a
request must not wait for. ``log()`` checks the batch's shape (lengths, names; a few dictionary
lookups once a column set has been seen), appends it to a deque under a lock and returns. Every
``flush_interval`` the thread takes everything buffered, groups batches by date and column set,
builds one table per group and writes each as one Parquet part through ``FileTree.write_atomic``.

What is kept and what can be lost:

- ``close()`` (also at interpreter exit, and leaving a ``with`` block) writes everything buffered,
  retrying until its timeout; rows still unwritten then are counted as dropped and raised.
- A process killed outright loses what it logged since the last flush: at most ``flush_interval``.
- A failed write is retried at the next flush, with the same part name, so a write that succeeded
  although it reported an error is replaced, not doubled. While storage stays down the buffer holds
  at most ``max_buffered_rows``; rows logged beyond it are dropped and counted in ``dropped_rows``.
- Rows that cannot be converted (a column whose values mix numbers and text within one batch) are
  dropped, counted and logged; the other rows of the flush are written.
- In a child forked with the writer (a pre-forking server), the copy starts empty with a thread of
  its own and is flushed when the child exits, by atexit or by ``multiprocessing``'s finalizers; the
  parent writes what it had buffered.

``on_rows`` reports each change of the counters as it happens (``("written", n)`` after a part is
written, ``("dropped", n)`` when rows are lost), so a metric that follows it is exact and current
without polling ``written_rows``; it is called outside the writer's locks.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from numbers import Real
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

from slipway.errors import Conflict, InvalidInput, StoreUnavailable
from slipway.predlog._batch import PredictionBatch, stored_names
from slipway.predlog._layout import PREDICTIONS, check_name, day_of, folder, part_name, to_micros
from slipway.predlog._table import Entry, build_tables, parquet_bytes

if TYPE_CHECKING:
    from types import TracebackType

    from slipway.artifacts import FileTree

__all__ = ["PredictionLogWriter"]

log = logging.getLogger("slipway.predlog")

_WARN_EVERY = 60.0  # seconds between repeated warnings about the same trouble
_CLOSE_RETRY = 0.2  # seconds between write attempts while closing
_EXIT_TIMEOUT = 10.0  # seconds an interpreter exit waits for each writer's storage
_EXIT_FLUSH_PRIORITY = 100  # multiprocessing finalizers: higher runs first; queues close at 10
_MAX_CACHED = 1024  # column sets and model labels remembered as already checked


#: An Entry as log() queues it: a plain tuple is the cheapest thing to build on the request path.
_Queued = tuple[PredictionBatch, int, int, tuple[str, ...], int]


class _Part(NamedTuple):
    relpath: str
    data: bytes
    rows: int


class PredictionLogWriter:
    """Writes one deployment's predictions to a file tree, asynchronously, in Parquet parts.

    Args:
        tree: where the log lives (``slipway.artifacts.open_file_tree(settings.prediction_log_uri())``).
        deployment: the deployment's name; it becomes the ``deployment=`` partition.
        flush_interval: seconds between background writes; a crash loses at most this much.
        max_buffered_rows: the most rows held while storage is failing; more are dropped and counted.
        on_rows: called with ``("written", n)`` each time n rows reach storage and ``("dropped", n)``
            each time n rows are lost, on whichever thread counted them (the writer's, or the one
            calling :meth:`log` or :meth:`close`). It must be quick; what it raises is ignored.

    Use it as a context manager or call :meth:`close`; at interpreter exit open writers are closed.

    .. versionadded:: 0.1
    """

    def __init__(
        self,
        tree: FileTree,
        *,
        deployment: str,
        flush_interval: float = 1.0,
        max_buffered_rows: int = 1_000_000,
        on_rows: Callable[[str, int], None] | None = None,
    ) -> None:
        try:
            interval = float(flush_interval)
        except (TypeError, ValueError):
            interval = 0.0
        if not interval > 0:  # also NaN
            raise InvalidInput(f"flush_interval {flush_interval!r}: expected a positive number of seconds")
        if not isinstance(max_buffered_rows, int) or max_buffered_rows < 1:
            raise InvalidInput(f"max_buffered_rows {max_buffered_rows!r}: expected a positive whole number")
        self._tree = tree
        self._deployment = check_name("deployment", deployment)
        self._interval = interval
        self._max_rows = max_buffered_rows
        self._on_rows = on_rows
        self._columns: dict[tuple[tuple[Any, ...], tuple[Any, ...]], tuple[str, ...]] = {}
        self._labels: set[tuple[Any, ...]] = set()
        self._closed = False
        self._reset()
        _writers.add(self)
        _install_exit_hooks()
        self._start()

    def _reset(self) -> None:
        """Fresh state: at construction, and in a forked child (whose parent writes what it had)."""
        self._lock = threading.Lock()  # guards the queue and the counters; held for a few appends
        self._flush_lock = threading.Lock()  # one flush at a time: the thread's, or close()'s
        self._stop = threading.Event()
        self._queue: collections.deque[_Queued] = collections.deque()
        self._pending: collections.deque[_Part] = collections.deque()  # encoded, not yet written
        self._buffered = 0  # rows in the queue and in pending parts
        self._written = 0
        self._dropped = 0
        self._failures = 0
        self._last_error: BaseException | None = None
        self._warned_at = {"write": -_WARN_EVERY, "drop": -_WARN_EVERY}
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"PredictionLogWriter({self._tree.uri()!r}, deployment={self._deployment!r})"

    # ------------------------------------------------------------------ the request path

    def log(self, batch: PredictionBatch) -> None:
        """Buffer one batch; a few microseconds, no I/O and no conversion on the caller's thread.

        Raises InvalidInput for a batch of the wrong shape (columns of different lengths, a variant
        that is not a name) and Conflict after :meth:`close`.
        """
        if type(batch) is not PredictionBatch:
            raise InvalidInput(f"prediction log: expected a PredictionBatch, got {type(batch).__name__}")
        ids, inputs, outputs = batch.request_ids, batch.inputs, batch.outputs
        # The common case in a few C calls; anything odd goes to _explain, which names the problem.
        try:
            rows = len(ids)
            if type(inputs) is dict:
                lengths = set(map(len, inputs.values()))
                in_key = tuple(inputs)
            else:
                lengths, in_key = _other_inputs(inputs)
            lengths.update(map(len, outputs.values()))
            key = (in_key, tuple(outputs))
        except (TypeError, AttributeError):
            _explain(batch)
        if (lengths and (len(lengths) > 1 or rows not in lengths)) or isinstance(ids, str):
            _explain(batch)
        names = self._columns.get(key)
        if names is None:
            names = self._new_column_set(key)
        if (batch.model_name, batch.model_version, batch.variant) not in self._labels:
            self._new_labels(batch)
        latency = batch.latency_ms
        if not isinstance(latency, (float, int)):
            _check_latency(latency, rows)
        stamp = batch.timestamp
        micros = time.time_ns() // 1000 if stamp is None else to_micros("timestamp", stamp)
        with self._lock:
            if self._closed:
                raise Conflict(f"prediction log writer for deployment {self._deployment!r} is closed")
            full = self._buffered + rows > self._max_rows
            if full:
                self._dropped += rows
                self._warn(
                    "drop",
                    "%d rows dropped: %d rows are waiting to be written (max_buffered_rows)",
                    self._dropped,
                    self._buffered,
                )
            else:
                self._queue.append((batch, rows, micros, names, len(in_key)))
                self._buffered += rows
        if full:
            self._report("dropped", rows)

    def _new_column_set(self, key: tuple[tuple[Any, ...], tuple[Any, ...]]) -> tuple[str, ...]:
        names = stored_names(*key)
        if len(self._columns) >= _MAX_CACHED:
            self._columns.clear()
        self._columns[key] = names
        return names

    def _new_labels(self, batch: PredictionBatch) -> None:
        name, version, variant = labels = (batch.model_name, batch.model_version, batch.variant)
        if not isinstance(name, str) or not name:
            raise InvalidInput(f"model_name {name!r}: expected a non-empty string")
        if isinstance(version, bool) or not isinstance(version, (str, int)) or version == "":
            raise InvalidInput(f"model_version {version!r}: expected a non-empty string or an int")
        check_name("variant", variant)
        if len(self._labels) >= _MAX_CACHED:
            self._labels.clear()
        self._labels.add(labels)

    # ------------------------------------------------------------------ counters

    @property
    def deployment(self) -> str:
        return self._deployment

    @property
    def written_rows(self) -> int:
        """Rows written to storage so far."""
        return self._written

    @property
    def dropped_rows(self) -> int:
        """Rows lost: logged beyond ``max_buffered_rows``, not convertible, or unwritten at close."""
        return self._dropped

    @property
    def buffered_rows(self) -> int:
        """Rows logged and not written yet."""
        return self._buffered

    def _report(self, outcome: str, rows: int) -> None:
        if self._on_rows is not None and rows:
            try:
                self._on_rows(outcome, rows)
            except Exception:  # a broken metric must not stop the log
                log.debug("prediction log %s: on_rows failed", self._deployment, exc_info=True)

    # ------------------------------------------------------------------ the writer's thread

    def _start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"slipway-predlog-{self._deployment}", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        stop = self._stop
        while not stop.wait(self._interval):
            try:
                with self._flush_lock:
                    self._flush()
            except Exception:  # the thread must survive anything; _flush has counted what it lost
                log.exception("prediction log %s: background flush failed", self._deployment)

    def _flush(self) -> bool:
        """Encode what is queued and write every pending part; False if storage failed (under _flush_lock)."""
        with self._lock:
            queue, self._queue = self._queue, collections.deque()
        if queue:
            self._encode(queue)
        while self._pending:
            part = self._pending[0]
            try:
                self._tree.write_atomic(part.relpath, part.data)
            except Exception as exc:
                self._failures += 1
                self._last_error = exc
                self._warn(
                    "write",
                    "%d rows not written yet (%s: %s); retrying at the next flush",
                    self._buffered,
                    type(exc).__name__,
                    exc,
                )
                return False
            self._pending.popleft()
            with self._lock:
                self._buffered -= part.rows
                self._written += part.rows
            self._report("written", part.rows)
        if self._failures:
            log.info(
                "prediction log %s: writing again after %d failed attempts", self._deployment, self._failures
            )
            self._failures = 0
            self._warned_at["write"] = -_WARN_EVERY
        return True

    def _encode(self, queue: collections.deque[_Queued]) -> None:
        groups: dict[tuple[Any, ...], list[Entry]] = {}
        for queued in queue:
            entry = Entry._make(queued)
            if entry.rows:
                groups.setdefault((day_of(entry.micros), entry.names, entry.n_inputs), []).append(entry)
        for (day, _, _), entries in groups.items():
            try:
                tables, lost, error = build_tables(self._deployment, entries)
                parts = [
                    _Part(
                        f"{folder(PREDICTIONS, self._deployment, day)}/{part_name()}",
                        parquet_bytes(t),
                        t.num_rows,
                    )
                    for t in tables
                ]
            except Exception as exc:  # never block the buffer on rows that cannot be written
                parts, lost, error = [], sum(e.rows for e in entries), exc
            self._pending.extend(parts)
            if lost:
                with self._lock:
                    self._buffered -= lost
                    self._dropped += lost
                self._report("dropped", lost)
                log.error(
                    "prediction log %s: %d rows dropped, they cannot be stored: %s",
                    self._deployment,
                    lost,
                    error,
                )

    def _warn(self, what: str, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._warned_at[what] >= _WARN_EVERY:
            self._warned_at[what] = now
            log.warning("prediction log %s: " + message, self._deployment, *args)

    # ------------------------------------------------------------------ closing

    def close(self, *, timeout: float = 30.0) -> None:
        """Write everything logged so far, then refuse further batches; idempotent.

        Retries a failing storage until ``timeout`` seconds have passed, then counts what is left
        as dropped and raises StoreUnavailable naming how many rows were lost.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + timeout
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        while self._flush_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                done = self._flush()
            finally:
                self._flush_lock.release()
            if done or time.monotonic() >= deadline:
                break
            time.sleep(min(_CLOSE_RETRY, max(0.0, deadline - time.monotonic())))
        _writers.discard(self)
        with self._lock:
            lost = self._buffered
            if not lost:
                return
            self._buffered = 0
            self._dropped += lost
            self._queue.clear()
        self._pending.clear()
        self._report("dropped", lost)
        raise StoreUnavailable(
            f"prediction log {self._deployment}: {lost} rows could not be written to {self._tree.uri()} "
            f"within {timeout:g}s: {self._last_error or 'a flush was still running'}"
        )

    def __enter__(self) -> PredictionLogWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _forked(self) -> None:
        """In a forked child: start empty with locks and a thread of its own."""
        self._reset()
        if not self._closed:
            self._start()


def _other_inputs(inputs: object) -> tuple[set[int], tuple[Any, ...]]:
    """Column lengths and names of inputs that are not a plain dict: another mapping, or a DataFrame."""
    if isinstance(inputs, Mapping):
        return set(map(len, inputs.values())), tuple(inputs)
    if hasattr(inputs, "columns") and hasattr(inputs, "iloc"):  # a pandas DataFrame
        frame: Any = inputs
        return {len(frame)}, tuple(frame.columns.tolist())  # tolist(): half the cost of iterating an Index
    got = type(inputs).__name__
    raise InvalidInput(f"inputs: expected a mapping of column name to values or a DataFrame, got {got}")


def _explain(batch: PredictionBatch) -> NoReturn:
    """Name what is wrong with a batch that failed log()'s quick checks."""
    ids = batch.request_ids
    try:
        rows = len(ids)
    except TypeError:
        rows = -1
    if rows < 0 or isinstance(ids, str):
        raise InvalidInput(f"request_ids {ids!r:.60}: expected a list or array of ids, one per row")
    outputs: object = batch.outputs  # typed a Mapping; callers without a type checker pass anything
    if not isinstance(outputs, Mapping):
        got = type(outputs).__name__
        raise InvalidInput(f"outputs: expected a mapping of column name to values, got {got}")
    inputs = batch.inputs
    if isinstance(inputs, Mapping):
        _check_lengths("input", inputs, rows)
    else:
        (length,), _ = _other_inputs(inputs)
        if length != rows:
            raise InvalidInput(f"inputs: a DataFrame of {length} rows for {rows} request ids")
    _check_lengths("output", outputs, rows)
    raise InvalidInput(f"prediction batch: unexpected shape of {batch!r:.200}")  # pragma: no cover


def _check_lengths(kind: str, columns: Mapping[Any, Any], rows: int) -> None:
    for name, column in columns.items():
        try:
            length = len(column)
        except TypeError:
            length = -1
        if length != rows:
            shown = f"{length} values" if length >= 0 else f"a {type(column).__name__}, not a column"
            raise InvalidInput(f"{kind} {name!r}: {shown} for {rows} request ids; expected one value per row")


def _check_latency(latency: Any, rows: int) -> None:
    if isinstance(latency, Real):  # numpy scalars that are not float subclasses
        return
    try:
        length = len(latency)
    except TypeError:
        length = -1
    if length != rows or isinstance(latency, str):
        raise InvalidInput(f"latency_ms {latency!r:.60}: expected a number, or one number per row ({rows})")


# ---------------------------------------------------------------------- process exit and fork

_writers: weakref.WeakSet[PredictionLogWriter] = weakref.WeakSet()
_hooks_pid: int | None = None


class _Anchor:
    """A long-lived object for multiprocessing.util.register_after_fork, which holds it weakly."""


_anchor = _Anchor()


def _close_all() -> None:
    for writer in list(_writers):
        try:
            writer.close(timeout=_EXIT_TIMEOUT)
        except Exception as exc:
            print(f"slipway: {exc}", file=sys.stderr)


def _finalize_in_child(_: object = None) -> None:
    """Forked ``multiprocessing`` children leave through os._exit: no atexit, but its finalizers run."""
    global _hooks_pid
    from multiprocessing.util import Finalize

    Finalize(None, _close_all, exitpriority=_EXIT_FLUSH_PRIORITY)
    _hooks_pid = os.getpid()


def _install_exit_hooks() -> None:
    global _hooks_pid
    if _hooks_pid == os.getpid():
        return
    import multiprocessing.util

    atexit.register(_close_all)  # also in a forked child: atexit.register again is harmless
    _finalize_in_child()  # a writer made inside a multiprocessing child
    # Process._bootstrap clears finalizers after the fork, then runs these hooks: inherited writers.
    multiprocessing.util.register_after_fork(_anchor, _finalize_in_child)


def _after_fork_in_child() -> None:
    for writer in list(_writers):
        writer._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
