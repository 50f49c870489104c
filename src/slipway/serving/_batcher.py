"""Adaptive micro-batching: one predict thread per loaded model version, batches only under load.

A request that finds the model idle is taken by the predict thread at once, alone: light traffic
pays nothing for batching (MLServer makes a lone request wait its whole window; BentoML keeps a
learned wait after a burst). Requests that arrive while the model is busy wait in the queue, and
when the model frees they go together into one vectorised call: the batch is whatever gathered,
up to ``max_batch_size`` requests. Nothing ever waits for a batch to fill, so the batching wait a
server like MLServer spends up to ``max_latency_ms`` on is zero here: a request waits only for the
call in progress. (Closing a batch by its arrival span instead starves a busy model: when a call
takes longer than the span, each call takes one span's worth and the queue grows without bound.)

The event loop never runs the model: it puts the request on a ``queue.SimpleQueue`` (a C queue the
thread blocks on) and awaits a future that the thread completes, for a whole batch at once, with one
``call_soon_threadsafe``. If a batched call fails, each request of the batch is predicted alone, so a
request that breaks the model fails by itself and the others still get their answers.

``max_queue`` bounds what the batcher really holds: a request counts from ``submit`` until the
predict thread lets go of it (answered, or dropped because its caller was already answered), not
until its future is done. The server's timer answers a caller whose request waits too long, but the
payload stays in the queue until the thread reaches it; counting it until then keeps a hung model
from admitting another ``max_queue`` payloads at every timeout.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from slipway.errors import Overloaded

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["Batcher"]

log = logging.getLogger("slipway.serving")

P = TypeVar("P")
R = TypeVar("R")


@dataclass(slots=True)
class _Item(Generic[P, R]):
    payload: P
    future: asyncio.Future[R]
    loop: asyncio.AbstractEventLoop
    arrived: float
    deadline: float


_STOP = object()


class Batcher(Generic[P, R]):
    """Queue requests for one model and predict them in batches on a dedicated thread.

    Args:
        predict: called on the predict thread with a list of payloads; returns one result per
            payload, in order. It may raise: the batch is then retried one payload at a time, and a
            payload that raises alone gets that exception. A call that returns the wrong number of
            results counts as raising; anything raised that is not an Exception (``SystemExit`` from
            a model calling ``sys.exit``, say) reaches the request as a RuntimeError, so it can
            neither end the predict thread nor stop the event loop.
        max_batch_size: the most requests in one call.
        max_latency_ms: the batching wait other servers allow; accepted so that their deployment
            files keep working, and always met, because this batcher adds no wait at all.
        max_queue: requests waiting beyond this are refused with Overloaded (503).
        timeout: seconds a request may wait in the queue before it is failed with Overloaded
            (checked when the predict thread reaches it; the server's own per-request timer answers
            the caller on time).
        on_batch: called on the predict thread after each batch with (payloads, results, and each
            request's seconds from queueing to its result): where the prediction log and the
            batch-size metric hook in, off the request's path. It should only hand the batch on
            (the next batch waits for it); what it raises is ignored.
        on_start: called once on the predict thread before its first batch (thread-local settings
            of the model's framework); what it raises is logged and ignored.

    :attr:`depth` is what the queue-depth gauge reads.
    """

    def __init__(
        self,
        predict: Callable[[Sequence[P]], Sequence[R | BaseException]],
        *,
        name: str,
        max_batch_size: int = 64,
        max_latency_ms: float = 5.0,
        max_queue: int = 1024,
        timeout: float = 30.0,
        on_batch: Callable[[Sequence[P], Sequence[R | BaseException], list[float]], None] | None = None,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self._predict = predict
        self.name = name
        self.max_batch_size = max(1, int(max_batch_size))
        self.max_latency_ms = max(0.0, float(max_latency_ms))
        self.max_queue = max(1, int(max_queue))
        self.timeout = float(timeout)
        self._on_batch = on_batch
        self._on_start = on_start
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # requests held: queued or being predicted, answered or not. Changed on the event loop's
        # thread only: raised by submit, lowered when the predict thread lets go of requests (in
        # the same loop callback that delivers their answers).
        self.depth = 0
        self._closed = False
        self._closing = threading.Lock()  # nothing is queued after _STOP: close may run on any thread
        self._thread = threading.Thread(target=self._run, name=f"slipway-predict-{name}", daemon=True)
        self._thread.start()

    def submit(self, payload: P) -> asyncio.Future[R]:
        """Queue ``payload``; the future resolves to its result (or its exception). Loop thread only."""
        if self.depth >= self.max_queue:
            raise Overloaded(
                f"model {self.name} has {self.depth} requests waiting "
                f"(max_queue {self.max_queue}); retry later"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        now = time.monotonic()
        item = _Item(payload, future, loop, now, now + self.timeout)
        with self._closing:
            if self._closed:
                raise Overloaded(f"model {self.name} is being replaced; retry")
            self._queue.put(item)
        self.depth += 1
        return future

    def _release(self, n: int) -> None:
        """On the event loop's thread: the predict thread let go of ``n`` requests."""
        self.depth -= n

    @property
    def running(self) -> bool:
        """Whether the predict thread is still there (not closed, or still answering what it holds)."""
        return self._thread.is_alive()

    def close(self, *, wait: bool = True) -> None:
        """Stop taking requests; what is queued is still predicted, then the thread ends.

        With ``wait``, return once it has (also when an earlier call closed it without waiting).
        """
        with self._closing:
            if not self._closed:
                self._closed = True
                self._queue.put(_STOP)
        if wait and self._thread is not threading.current_thread():
            self._thread.join()

    # ------------------------------------------------------------------ the predict thread
    def _run(self) -> None:
        if self._on_start is not None:
            try:
                self._on_start()
            except Exception:
                log.exception("model %s: preparing the predict thread failed", self.name)
        # This thread is the queue's only consumer: once empty() says False, get_nowait() has an
        # item (cheaper than letting it raise queue.Empty, twice per request at light load).
        pending = self._queue
        dropped = 0  # requests taken off the queue unpredicted (already answered), not released yet
        loop: asyncio.AbstractEventLoop | None = None
        while True:
            if pending.empty():
                if dropped:  # released in one loop callback before the thread blocks, not one each
                    _post(loop, [], [], self._release, dropped)
                    dropped = 0
                first = pending.get()
            else:
                first = pending.get_nowait()
            if first is _STOP:
                if dropped:
                    _post(loop, [], [], self._release, dropped)
                return
            loop = first.loop
            if first.future.done():
                dropped += 1  # cancelled, or already answered by the server's timer: nothing to do
                continue
            batch = [first]
            stop = False
            while len(batch) < self.max_batch_size and not pending.empty():
                item = pending.get_nowait()
                if item is _STOP:  # always the last item: everything before it is in this batch
                    stop = True
                    break
                if item.future.done():
                    dropped += 1
                    continue
                batch.append(item)
            self._predict_batch(batch, dropped)
            dropped = 0
            if stop:
                return

    def _predict_batch(self, batch: list[_Item[P, R]], dropped: int) -> None:
        """Predict ``batch``; then release it and the ``dropped`` requests taken before it."""
        now = time.monotonic()
        live: list[_Item[P, R]] = []
        expired: list[_Item[P, R]] = []
        for item in batch:
            if not item.future.done():
                (expired if now > item.deadline else live).append(item)
        loop = batch[0].loop
        held = len(batch) + dropped
        if expired:
            late = f"model {self.name}: the request waited more than {self.timeout:g} s in the queue"
            errors = [Overloaded(late) for _ in expired]  # one each: raising edits it
            _post(loop, expired, errors, self._release, 0 if live else held)
        elif not live:
            _post(loop, [], [], self._release, held)
        if not live:
            return
        payloads = [item.payload for item in live]
        results = self._call(payloads)
        _post(loop, live, results, self._release, held)
        if self._on_batch is not None:
            done = time.monotonic()
            # try/except, not contextlib.suppress: free when nothing is raised (3.11+)
            try:  # noqa: SIM105
                self._on_batch(payloads, results, [done - item.arrived for item in live])
            except Exception:  # what on_batch raises is ignored, as documented
                pass

    def _call(self, payloads: list[P]) -> Sequence[R | BaseException]:
        try:
            return self._checked(payloads)
        except BaseException as exc:
            if len(payloads) == 1:
                return [_as_error(exc)]
        return [self._one(p) for p in payloads]

    def _one(self, payload: P) -> R | BaseException:
        try:
            return self._checked([payload])[0]
        except BaseException as exc:
            return _as_error(exc)

    def _checked(self, payloads: list[P]) -> Sequence[R | BaseException]:
        results = self._predict(payloads)
        if len(results) != len(payloads):
            raise RuntimeError(
                f"model {self.name}: predict returned {len(results)} results for {len(payloads)} requests"
            )
        return results


def _as_error(exc: BaseException) -> BaseException:
    """What a request gets for ``exc``: itself if an Exception, else a RuntimeError naming it.

    A ``SystemExit`` or ``KeyboardInterrupt`` set on a future would stop the event loop that awaits it,
    and one left to propagate would end the predict thread.
    """
    if isinstance(exc, Exception):
        return exc
    return RuntimeError(f"the model raised {exc!r}")


def _post(
    loop: asyncio.AbstractEventLoop | None,
    items: list[_Item[P, R]],
    results: Sequence[R | BaseException],
    release: Callable[[int], None],
    held: int,
) -> None:
    if loop is None:
        return
    try:  # noqa: SIM105 - see _predict_batch
        loop.call_soon_threadsafe(_deliver, items, results, release, held)
    except RuntimeError:  # the loop is closed: nobody is waiting any more
        pass


def _deliver(
    items: list[_Item[P, R]],
    results: Sequence[R | BaseException],
    release: Callable[[int], None],
    held: int,
) -> None:
    """On the event loop's thread: complete a batch's futures, then release what the thread held.

    A cancelled future is skipped; ``held`` counts the batch and the requests dropped before it.
    """
    for item, result in zip(items, results, strict=True):
        future = item.future
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
    if held:
        release(held)
