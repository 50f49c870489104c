"""Adaptive micro-batching: one predict thread per loaded model version, batches only under load.

A request that finds the model idle is taken by the predict thread at once, alone: light traffic
pays nothing for batching (MLServer makes a lone request wait its whole window; BentoML keeps a
learned wait after a burst). Requests that arrive while the model is busy wait in the queue, and
when the model frees they go together into one vectorised call: the batch is whatever gathered,
up to ``max_batch_size`` requests whose arrivals span at most ``max_latency_ms``. Nothing ever waits
for a batch to fill.

The event loop never runs the model: it puts the request on a ``queue.SimpleQueue`` (a C queue the
thread blocks on) and awaits a future that the thread completes, for a whole batch at once, with one
``call_soon_threadsafe``. If a batched call fails, each request of the batch is predicted alone, so a
request that breaks the model fails by itself and the others still get their answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from slipway.errors import Overloaded

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

__all__ = ["Batcher"]

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
            payload that raises alone gets that exception.
        max_batch_size: the most requests in one call.
        max_latency_ms: the longest span of arrival times within one batch.
        max_queue: requests waiting beyond this are refused with Overloaded (503).
        timeout: seconds a request may wait in the queue before it is failed with Overloaded.
        on_batch: called on the predict thread after each batch with (payloads, results, and each
            request's seconds from queueing to its result): where the prediction log and the
            batch-size metric hook in, off the request's path.
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
    ) -> None:
        self._predict = predict
        self.name = name
        self.max_batch_size = max(1, int(max_batch_size))
        self._span = max(0.0, float(max_latency_ms)) / 1000.0
        self.max_queue = max(1, int(max_queue))
        self.timeout = float(timeout)
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._held: _Item[P, R] | None = None  # taken from the queue but past this batch's span
        self.depth = 0  # queued + being predicted; changed on the event loop's thread only
        self.busy = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"slipway-predict-{name}", daemon=True)
        self._thread.start()

    def submit(self, payload: P) -> asyncio.Future[R]:
        """Queue ``payload``; the future resolves to its result (or its exception). Loop thread only."""
        if self._closed:
            raise Overloaded(f"model {self.name} is being replaced; retry")
        if self.depth >= self.max_queue:
            raise Overloaded(
                f"model {self.name} has {self.depth} requests waiting "
                f"(max_queue {self.max_queue}); retry later"
            )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        now = time.monotonic()
        self.depth += 1
        future.add_done_callback(self._done)
        self._queue.put(_Item(payload, future, loop, now, now + self.timeout))
        return future

    def _done(self, _: object) -> None:
        self.depth -= 1

    def close(self, *, wait: bool = True) -> None:
        """Stop taking requests; what is queued is still predicted, then the thread ends."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        if wait:
            self._thread.join()

    # ------------------------------------------------------------------ the predict thread
    def _run(self) -> None:
        while True:
            first = self._held if self._held is not None else self._queue.get()
            self._held = None
            if first is _STOP:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch_size:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop = True
                    break
                if item.arrived - first.arrived > self._span:
                    self._held = item  # arrived too late for this batch: it opens the next one
                    break
                batch.append(item)
            self._predict_batch(batch)
            if stop:
                self._drain()
                return

    def _drain(self) -> None:
        """After close: predict whatever is still queued, then stop."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._predict_batch([item])

    def _predict_batch(self, batch: list[_Item[P, R]]) -> None:
        now = time.monotonic()
        live: list[_Item[P, R]] = []
        expired: list[_Item[P, R]] = []
        for item in batch:
            if not item.future.cancelled():
                (expired if now > item.deadline else live).append(item)
        loop = batch[0].loop
        if expired:
            late = Overloaded(
                f"model {self.name}: the request waited more than {self.timeout:g} s in the queue"
            )
            loop.call_soon_threadsafe(_deliver, expired, [late] * len(expired))
        if not live:
            return
        payloads = [item.payload for item in live]
        results = self._call(payloads)
        loop.call_soon_threadsafe(_deliver, live, results)
        if self._on_batch is not None:
            done = time.monotonic()
            with contextlib.suppress(Exception):
                self._on_batch(payloads, results, [done - item.arrived for item in live])

    def _call(self, payloads: list[P]) -> Sequence[R | BaseException]:
        try:
            results = self._predict(payloads)
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            if len(payloads) == 1:
                return [exc]
            return [self._one(p) for p in payloads]
        return results

    def _one(self, payload: P) -> R | BaseException:
        try:
            return self._predict([payload])[0]
        except Exception as exc:
            return exc


def _deliver(items: list[_Item[P, R]], results: Sequence[R | BaseException]) -> None:
    """On the event loop's thread: complete a batch's futures (a cancelled one is skipped)."""
    for item, result in zip(items, results, strict=True):
        future = item.future
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
