"""The background metric writer: a training loop appends, one thread per process writes in batches.

Why a buffer and a thread: a store write costs a transaction (an fsync on SQLite, a round trip to a
team server), which MLflow pays on every ``log_metric`` call (≈ 300 calls/s). Here a call appends a
tuple to a ``collections.deque`` (thread-safe without a lock) and returns; the writer thread wakes
every ``flush_interval`` or as soon as a run's buffer passes ``batch_size`` and sends everything
pending in one ``log_batch`` per run. The same thread sends each live run's heartbeat, so a run
whose process dies stops beating and is later marked DIED.

Nothing is lost on purpose:

- ending a run flushes it synchronously, retrying transient errors (:class:`StoreUnavailable`)
  with backoff, and raises if its metrics still cannot be written, naming how many;
- at interpreter exit (normal end, uncaught exception, Ctrl-C) an ``atexit`` hook flushes every
  buffer and ends the runs nobody ended, FAILED or KILLED when an exception ended the program;
- SIGTERM (how Kubernetes, systemd and job schedulers stop a process) is turned into
  :class:`Terminated`, a ``SystemExit`` with code 143, when the program has no handler of its own:
  the stack unwinds as for Ctrl-C, so runs end KILLED with every metric written;
- in the background, transient errors are retried with exponential backoff; a batch the store
  rejects for good is split in halves and each half retried, so that only the points the store
  really refuses are lost, and their count is raised when the run ends;
- each batch gets an id (``log_batch(batch_id=...)``) that stays the same when it is resent, so a
  batch the store committed before its answer was lost (a read timeout) is not written twice;
- an exception that interrupts a write (Ctrl-C, :class:`Terminated`) leaves the batch queued, in
  order, for the flush that follows;
- in a forked child (``multiprocessing`` with the fork start method) the runs it inherited get a
  buffer of their own, written by the child's writer and flushed when the child exits, by atexit or
  by ``multiprocessing``'s finalizers (which run before its ``os._exit``); a child never ends, and
  never beats for, a run of its parent.

A ``kill -9`` loses at most the last ``flush_interval`` of metrics; the run turns DIED.
"""

from __future__ import annotations

import atexit
import collections
import itertools
import logging
import os
import secrets
import signal
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol

from slipway.core import Metric, RunStatus
from slipway.errors import Conflict, NotFound, SlipwayError, StoreUnavailable, Unauthorized

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

__all__ = ["MetricSink", "MetricWriteError", "RunBuffer", "Terminated", "Writer", "get_writer"]

log = logging.getLogger("slipway.tracking")

#: key, value, step, timestamp (ms): a plain tuple is the cheapest thing to build in the hot path.
Point = tuple[str, float, int, int]

_MAX_PER_CALL = 10_000  # points per log_batch: bounded transactions, bounded request bodies
_BACKOFF_FIRST = 0.05
_BACKOFF_MAX = 5.0
#: Errors about the run or the caller, not about a point: splitting the batch cannot help.
_WHOLE_BATCH_ERRORS = (NotFound, Unauthorized, Conflict)
#: Rejected calls a run may spend on bisecting; past it a rejected chunk is lost whole (a store that
#: refuses nearly every point would otherwise cost two calls per point).
_MAX_REJECTED_CALLS = 1_000
_EXIT_FLUSH_PRIORITY = 100  # multiprocessing finalizers: higher runs first; queues close at 10


class MetricSink(Protocol):
    """The part of the metadata store the writer needs (a fake in tests, the real store otherwise)."""

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None: ...

    def heartbeat(self, run_id: str, *, at: int | None = None) -> None: ...


class MetricWriteError(SlipwayError):
    """Metrics that could not be written; raised when the run ends, never swallowed."""

    code = "metric_write_failed"
    status = 503


class Terminated(SystemExit):
    """The process was asked to stop (SIGTERM); raised so that ``with`` blocks and atexit flush."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


_terminated = False


def _on_sigterm(signum: int, frame: object) -> None:
    global _terminated
    _terminated = True
    raise Terminated()


def _install_sigterm_handler() -> None:
    """Only from the main thread, and never over a handler the program installed itself."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # e.g. an embedded interpreter without signals
        pass


class RunBuffer:
    """Metrics of one run waiting to be written.

    The training loop only appends to ``points``; everything else is done under ``_write_lock`` by
    whichever thread flushes (the writer, or the caller of :meth:`flush`), so batches reach the
    store in the order they were logged.

    A flush moves the points into ``_retry`` as one chunk with an id; the chunk stays there, first
    in line, until the store accepts or rejects it. Its id never changes, and the pieces it is cut
    into (to bound a transaction, or to isolate a rejected point) get ids derived from it, so a
    resent chunk is one the store can recognise. Each change to ``_retry`` adds before it removes:
    an interruption in between leaves a chunk to be sent again, which its id makes harmless.
    """

    def __init__(
        self,
        *,
        run_id: str,
        sink: MetricSink,
        flush_interval: float,
        heartbeat_interval: float,
        batch_size: int = 5_000,
        max_pending: int = 1_000_000,
        on_exit: Callable[[RunStatus], None] | None = None,
    ) -> None:
        self.run_id = run_id
        self.sink = sink
        self.flush_interval = flush_interval
        self.heartbeat_interval = heartbeat_interval
        self.batch_size = batch_size
        self.max_pending = max_pending
        self.on_exit = on_exit
        self.points: collections.deque[Point] = collections.deque()
        self.written = 0
        self._write_lock = threading.Lock()
        self._retry: collections.deque[tuple[str, list[Point]]] = collections.deque()  # (batch id, chunk)
        self._queued = 0  # points in _retry
        self._ids = secrets.token_hex(8)  # batch ids are per run; several processes may write to it
        self._seq = itertools.count()
        self._failures = 0
        self._retry_at = 0.0
        self._error: BaseException | None = None  # a non-transient failure, raised at flush(final)
        self._lost = 0
        self._budget = _MAX_REJECTED_CALLS
        now = time.monotonic()
        self.next_flush = now + flush_interval
        self.next_heartbeat = now + heartbeat_interval

    @property
    def pending(self) -> int:
        # Read on every append while behind: an int, recounted whenever a write changes the queue.
        return len(self.points) + self._queued

    def _recount(self) -> None:
        self._queued = sum(len(chunk) for _, chunk in self._retry)  # under _write_lock

    def due(self, now: float) -> float:
        """When the writer should next look at this buffer (monotonic seconds)."""
        flush_at = max(self.next_flush, self._retry_at) if self.pending else float("inf")
        if len(self.points) >= self.batch_size and now >= self._retry_at:
            flush_at = now
        return min(flush_at, self.next_heartbeat)

    def _take(self) -> list[Point]:
        # Appends only happen on the right, so n pops from the left are safe. The pops run in C
        # (no bytecode in between), so a signal handler cannot raise halfway and drop points.
        return list(itertools.starmap(self.points.popleft, itertools.repeat((), len(self.points))))

    def _send(self) -> None:
        """Send the queued chunks in order; a transient error propagates with the rest still queued."""
        retry = self._retry
        while retry:
            batch_id, chunk = retry[0]
            if len(chunk) > _MAX_PER_CALL:  # bounded transactions
                pieces = range(0, len(chunk), _MAX_PER_CALL)
                retry.extendleft(
                    reversed(
                        [(f"{batch_id}.{k}", chunk[i : i + _MAX_PER_CALL]) for k, i in enumerate(pieces)]
                    )
                )
                del retry[len(pieces)]
                continue
            try:
                self.sink.log_batch(
                    self.run_id,
                    metrics=[Metric(key=k, value=v, step=s, timestamp=t) for k, v, s, t in chunk],
                    batch_id=batch_id,
                )
            except StoreUnavailable:
                raise
            except Exception as exc:
                self._rejected(batch_id, chunk, exc)
                continue
            retry.popleft()
            self.written += len(chunk)

    def _rejected(self, batch_id: str, chunk: list[Point], exc: Exception) -> None:
        """The store refused the first chunk for good: split it in halves, or count it as lost.

        Halving isolates the points the store refuses, so one bad point costs only itself.
        """
        self._budget -= 1
        if len(chunk) > 1 and self._budget > 0 and not isinstance(exc, _WHOLE_BATCH_ERRORS):
            half = len(chunk) // 2
            self._retry.extendleft([(f"{batch_id}.b", chunk[half:]), (f"{batch_id}.a", chunk[:half])])
            del self._retry[2]
            return
        self._lost += len(chunk)
        if self._error is None:
            self._error = exc
        log.error("run %s: %d metrics could not be written: %s", self.run_id, len(chunk), exc)
        self._retry.popleft()

    def write_once(self) -> bool:
        """Try to write everything pending once; False if a transient error left points behind.

        Points the store rejects for good are counted (and raised by ``flush(final=True)``); any
        other exception (Ctrl-C, :class:`Terminated`) leaves what is unwritten queued and propagates.
        """
        with self._write_lock:
            if self.points:
                self._retry.append((f"{self._ids}-{next(self._seq)}", self._take()))
                self._recount()
            if not self._retry:
                return True
            try:
                self._send()
            except StoreUnavailable as exc:
                self._recount()
                self._failures += 1
                delay = min(_BACKOFF_FIRST * 2 ** (self._failures - 1), _BACKOFF_MAX)
                self._retry_at = time.monotonic() + delay
                log.warning(
                    "run %s: %d metrics not written yet (%s); retrying in %.2fs",
                    self.run_id,
                    self.pending,
                    exc,
                    delay,
                )
                return False
            except BaseException:
                self._recount()
                raise
            self._recount()
            self._failures = 0
            self._retry_at = 0.0
            return True

    def flush(self, *, timeout: float = 30.0, final: bool = False) -> None:
        """Write everything logged so far before returning, retrying transient errors until ``timeout``.

        Raises MetricWriteError if points remain unwritten; with ``final`` (the run is ending) also
        if an earlier background write failed for good.
        """
        deadline = time.monotonic() + timeout
        while not self.write_once():
            wait = max(0.0, min(self._retry_at, deadline) - time.monotonic())
            if time.monotonic() + wait >= deadline:
                break
            time.sleep(wait)
        if self.pending:
            raise MetricWriteError(
                f"run {self.run_id}: {self.pending} metrics could not be written within {timeout:g}s "
                f"(the store is unavailable); {self.written} were written"
            )
        if final and self._error is not None:
            error, lost = self._error, self._lost
            raise MetricWriteError(
                f"run {self.run_id}: {lost} metrics were rejected by the store: {error}"
            ) from error

    def make_room(self, limit: int | None = None) -> None:
        """Called by the logging thread when ``limit`` (``max_pending``) points wait: write from there.

        While the store is unavailable this waits (with the writer's backoff) until it accepts the
        points, so that a loop far ahead of its store slows down instead of filling memory.
        """
        limit = self.max_pending if limit is None else limit
        while self.pending >= limit and not self.write_once():
            log.warning("run %s: %d metrics waiting; logging waits for the store", self.run_id, self.pending)
            time.sleep(max(0.0, self._retry_at - time.monotonic()))

    def _forked(self) -> None:
        """In a forked child: start empty, with a lock of our own; the parent writes what it had."""
        self._write_lock = threading.Lock()
        self.points.clear()  # the same deque object: an ActiveRun holds a reference to it
        self._retry = collections.deque()
        self._queued = 0
        self._ids = secrets.token_hex(8)  # never the parent's ids: the store would skip our batches
        self._seq = itertools.count()
        self._budget = _MAX_REJECTED_CALLS
        self.on_exit = None  # a child must never end its parent's run
        self.written = 0
        self._failures = 0
        self._retry_at = 0.0
        self._error = None
        self._lost = 0
        self.next_flush = time.monotonic() + self.flush_interval
        self.next_heartbeat = float("inf")  # the parent beats for its run

    def heartbeat(self) -> None:
        try:
            self.sink.heartbeat(self.run_id)
        except Exception as exc:  # a missed beat is retried next interval; dead_after tolerates a few
            log.warning("run %s: heartbeat failed: %s", self.run_id, exc)


class Writer:
    """One daemon thread that flushes and heartbeats every registered run."""

    def __init__(self) -> None:
        self._buffers: list[RunBuffer] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._atexit_registered = False
        _writers.add(self)

    def register(self, buffer: RunBuffer) -> None:
        with self._lock:
            self._buffers.append(buffer)
            self._start()
            if not self._atexit_registered:
                atexit.register(self._at_exit)
                _install_sigterm_handler()
                self._atexit_registered = True
        self._wake.set()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="slipway-metric-writer", daemon=True)
            self._thread.start()

    def _forked(self) -> None:
        """In a forked child: the parent's thread and locks did not come along, its runs did.

        Each inherited buffer starts empty and is written by a new thread here; the child flushes
        them when it exits, through atexit (inherited from the parent) or, for a ``multiprocessing``
        child, which leaves through ``os._exit``, through a finalizer of its own.
        """
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread = None
        for buf in self._buffers:
            buf._forked()
        if not self._buffers:
            return
        self._start()
        if not self._atexit_registered:
            atexit.register(self._at_exit)
            self._atexit_registered = True
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None:
            # Process._bootstrap clears the finalizers after fork, then runs the after-fork hooks.
            mp_util.register_after_fork(self, _finalize_at_child_exit)

    def unregister(self, buffer: RunBuffer) -> None:
        with self._lock:
            if buffer in self._buffers:
                self._buffers.remove(buffer)

    def wake(self) -> None:
        if not self._wake.is_set():  # the loop calls this on every append while behind: keep it cheap
            self._wake.set()

    def buffers(self) -> list[RunBuffer]:
        with self._lock:
            return list(self._buffers)

    def _loop(self) -> None:
        while True:
            buffers = self.buffers()
            now = time.monotonic()
            timeout = min((b.due(now) for b in buffers), default=now + 3600.0) - now
            if timeout > 0:
                self._wake.wait(timeout)
            self._wake.clear()
            now = time.monotonic()
            for buf in self.buffers():
                try:
                    if (
                        buf.pending
                        and now >= buf._retry_at
                        and (now >= buf.next_flush or len(buf.points) >= buf.batch_size)
                    ):
                        buf.write_once()
                        buf.next_flush = time.monotonic() + buf.flush_interval
                    if now >= buf.next_heartbeat:
                        buf.heartbeat()
                        buf.next_heartbeat = time.monotonic() + buf.heartbeat_interval
                except Exception:  # the thread must survive anything; write_once already recorded it
                    log.exception("run %s: background writer error", buf.run_id)

    def _at_exit(self) -> None:
        """Flush every run and end those still open: the script that never called end_run.

        In a forked child the runs inherited from the parent are only flushed (their ``on_exit`` is
        None); runs the child started itself are ended as in any program.
        """
        status = exit_status()
        for buf in reversed(self.buffers()):  # children were registered after their parents
            try:
                if buf.on_exit is not None:
                    buf.on_exit(status)
                else:
                    buf.flush(timeout=10.0)
            except Exception as exc:
                print(f"slipway: run {buf.run_id}: {exc}", file=sys.stderr)


def exit_status() -> RunStatus:
    """How the program is ending, as far as an atexit hook can tell."""
    if _terminated:
        return RunStatus.KILLED
    last = getattr(sys, "last_type", None)  # set by the interpreter for an uncaught exception
    if last is None or _interactive():
        return RunStatus.FINISHED
    if issubclass(last, KeyboardInterrupt):
        return RunStatus.KILLED
    return RunStatus.FAILED


def _interactive() -> bool:
    """In IPython/Jupyter any earlier failed cell sets sys.last_type; quitting is not a failure."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return callable(get) and get() is not None


_writer: Writer | None = None
_writer_lock = threading.Lock()


def get_writer() -> Writer:
    """The process's writer, started on first use (and again in a forked child, which has no thread)."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = Writer()
        return _writer


_writers: weakref.WeakSet[Writer] = weakref.WeakSet()


def _finalize_at_child_exit(writer: Writer) -> None:
    from multiprocessing.util import Finalize

    Finalize(None, writer._at_exit, exitpriority=_EXIT_FLUSH_PRIORITY)


def _after_fork_in_child() -> None:
    global _writer_lock, _terminated
    _writer_lock = threading.Lock()
    _terminated = False
    try:  # multiprocessing's Pool.terminate() SIGTERMs its workers: they must die as they would without us
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):
        pass
    for writer in list(_writers):
        writer._forked()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
