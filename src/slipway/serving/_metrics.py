"""Prometheus metrics of the inference server, correct across worker processes.

With several workers each process counts its own requests; a scrape reaches one of them, so the
counters live in prometheus-client's multiprocess mode (memory-mapped files in the folder the
supervisor names in ``PROMETHEUS_MULTIPROC_DIR``) and ``/metrics`` sums every worker's files. With
one worker the plain in-process registry is used.

What changes with every request (the request counter and latency histogram, the batch-size
histogram, the queue-depth and in-flight gauges) is not written to prometheus-client per request:
its values take a lock, or a memory-mapped write, per update, and the seven of them cost a request
about as much as decoding its body. The request path adds to plain numbers instead
(:meth:`ServingMetrics.request`, :meth:`ServingMetrics.batch`), and :meth:`ServingMetrics.flush`
moves what accumulated into prometheus-client's values in one pass, with the gauges' current
levels. The server flushes before it renders ``/metrics`` (a scrape of a worker sees all of its own
requests), four times a second (another worker's part of the sum lags by at most that), and at
shutdown (no count is lost when a worker exits). Rare events (loads, swaps, shadow errors, log rows)
are written at once.

The gauges (queue depth, in-flight) are summed over live workers only: a worker that exited (and
was restarted by the supervisor, under a new pid) would otherwise keep its last values in the sum
forever. Each worker, when it starts and at each scrape, has prometheus-client forget the gauge
files of every pid in the folder that is no longer alive (``mark_process_dead``); counters and
histograms of dead workers stay, as counts must.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ServingMetrics", "forget_dead_workers"]

log = logging.getLogger("slipway.serving")

_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
# prometheus-client's bucket bounds, +Inf included: a value goes to the first bound it does not exceed
_LATENCY_BOUNDS = (*_LATENCY_BUCKETS, math.inf)
_BATCH_BOUNDS = (*map(float, _BATCH_BUCKETS), math.inf)


class _Observations:
    """Histogram observations not published yet: a count per bucket and their sum."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.total = 0.0


class ServingMetrics:
    """The server's counters, histograms and gauges, and their exposition."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        # prometheus-client itself reads this variable (at import); the supervisor sets it for workers
        self.directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None  # noqa: TID251
        self.multiprocess = self.directory is not None
        if self.directory is not None:
            forget_dead_workers(self.directory)  # those this worker replaces, say
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self._requests = Counter(
            "slipway_requests",
            "Inference requests answered, by deployment, model, version, variant and HTTP status.",
            ["deployment", "model", "version", "variant", "status"],
            registry=reg,
        )
        self._latency = Histogram(
            "slipway_request_duration_seconds",
            "Time from a request's arrival to its answer, by deployment and variant.",
            ["deployment", "variant"],
            buckets=_LATENCY_BUCKETS,
            registry=reg,
        )
        self._batch = Histogram(
            "slipway_batch_size",
            "Requests per model call, by deployment and variant.",
            ["deployment", "variant"],
            buckets=_BATCH_BUCKETS,
            registry=reg,
        )
        gauge_mode: dict[str, Any] = {"multiprocess_mode": "livesum"} if self.multiprocess else {}
        self._queue = Gauge(
            "slipway_queue_depth",
            "Requests waiting for or inside a model call, by deployment and variant.",
            ["deployment", "variant"],
            registry=reg,
            **gauge_mode,
        )
        self._inflight = Gauge(
            "slipway_inflight_requests", "Requests being handled.", registry=reg, **gauge_mode
        )
        self._events = Counter(
            "slipway_model_events",
            "Model loads, swaps, failed loads and rollbacks, by deployment, variant and event.",
            ["deployment", "variant", "event"],
            registry=reg,
        )
        self._shadow_errors = Counter(
            "slipway_shadow_errors",
            "Shadow predictions that failed (never seen by callers), by deployment.",
            ["deployment"],
            registry=reg,
        )
        self._logged = Counter(
            "slipway_prediction_log_rows",
            "Rows handed to the prediction log, by deployment and outcome (written, dropped).",
            ["deployment", "outcome"],
            registry=reg,
        )
        self._children: dict[tuple[Any, ...], Any] = {}
        # not published yet; requests are counted on the event loop's thread only, batches on
        # predict threads (under the lock: a swap runs two batchers of one variant at once)
        self._answered: dict[tuple[str, str, str, str, int], int] = {}
        self._latencies: dict[tuple[str, str], _Observations] = {}
        self._batches: dict[tuple[str, str], _Observations] = {}
        self._batches_lock = threading.Lock()

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # ------------------------------------------------------------------ recording
    def request(
        self, deployment: str, model: str, version: str, variant: str, status: int, seconds: float
    ) -> None:
        """Count an answer and its latency, until the next :meth:`flush`. Event loop thread only."""
        key = (deployment, model, version, variant, status)
        answered = self._answered
        answered[key] = answered.get(key, 0) + 1
        latency = self._latencies.get((deployment, variant))
        if latency is None:
            latency = self._latencies[deployment, variant] = _Observations(len(_LATENCY_BOUNDS))
        latency.counts[bisect.bisect_left(_LATENCY_BOUNDS, seconds)] += 1
        latency.total += seconds

    def batch(self, deployment: str, variant: str, size: int) -> None:
        """Count a model call of ``size`` requests, until the next :meth:`flush`. Any thread."""
        with self._batches_lock:
            sizes = self._batches.get((deployment, variant))
            if sizes is None:
                sizes = self._batches[deployment, variant] = _Observations(len(_BATCH_BOUNDS))
            sizes.counts[bisect.bisect_left(_BATCH_BOUNDS, size)] += 1
            sizes.total += size

    def flush(self, *, inflight: int, queue_depths: Mapping[tuple[str, str], int]) -> None:
        """Publish what :meth:`request` and :meth:`batch` counted, and the gauges' levels now.

        ``inflight`` is the requests being handled; ``queue_depths`` the requests each
        (deployment, variant)'s batchers hold. On the event loop's thread, like :meth:`request`.
        """
        answered, self._answered = self._answered, {}
        latencies, self._latencies = self._latencies, {}
        with self._batches_lock:
            batches, self._batches = self._batches, {}
        for (deployment, model, version, variant, status), n in answered.items():
            self._child(self._requests, deployment, model, version, variant, str(status)).inc(n)
        for labels, observed in latencies.items():
            _publish(self._child(self._latency, *labels), observed)
        for labels, observed in batches.items():
            _publish(self._child(self._batch, *labels), observed)
        for labels, depth in queue_depths.items():
            self._child(self._queue, *labels).set(depth)
        self._inflight.set(inflight)

    def event(self, deployment: str, variant: str, event: str) -> None:
        self._child(self._events, deployment, variant, event).inc()

    def shadow_error(self, deployment: str) -> None:
        self._child(self._shadow_errors, deployment).inc()

    def logged(self, deployment: str, outcome: str, rows: int) -> None:
        if rows:
            self._child(self._logged, deployment, outcome).inc(rows)

    # ------------------------------------------------------------------ exposition
    def render(self) -> tuple[bytes, str]:
        """The text exposition of every worker's metrics, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        assert self.directory is not None
        forget_dead_workers(self.directory)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self.directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged), CONTENT_TYPE_LATEST


def _publish(histogram: Any, observed: _Observations) -> None:
    """Add many observations to a histogram's child at once.

    prometheus-client has no public way to add more than one observation per call; its histogram
    child keeps one value per bucket (``_buckets``, not cumulative) and their sum (``_sum``), each
    in-process or memory-mapped alike, and has since its first releases. The e2e tests read the
    histograms back through ``/metrics``, so a change there shows at once.
    """
    for bucket, count in zip(histogram._buckets, observed.counts, strict=True):
        if count:
            bucket.inc(count)
    histogram._sum.inc(observed.total)


def forget_dead_workers(directory: str | Path) -> list[int]:
    """Drop the live gauges of every process that wrote to ``directory`` and has exited.

    Returns the pids forgotten. A listing of the folder and a signal-0 probe per pid: cheap enough
    for every scrape.
    """
    from prometheus_client import multiprocess

    pids: set[int] = set()
    for file in Path(directory).glob("gauge_live*_*.db"):
        try:
            pids.add(int(file.stem.rsplit("_", 1)[1]))
        except ValueError:
            continue
    gone = sorted(pid for pid in pids if pid != os.getpid() and not _alive(pid))
    for pid in gone:
        try:
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except OSError as e:  # another worker removed them first
            log.debug("metrics: forgetting worker %d: %s", pid, e)
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process now has that pid
        return True
    return True
