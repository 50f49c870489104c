"""The server's side of the prediction log: turn a predicted batch into log rows, record feedback.

The predict thread only hands each answered batch over (:meth:`ServingLog.log_batch`, a few
microseconds) and goes on to the next batch. A log thread per deployment does the rest, in bulk: it
lets batches gather for ``gather`` seconds (0.1), then takes the inputs as columns, computes the
probabilities the log keeps (one ``predict_proba`` over all the gathered rows where no request asked
for them) and gives the rows to the writer, which buffers them while its own thread writes Parquet
parts. Working in bulk matters twice for small models: one vectorised call costs far less than one
per request, and the log takes the GIL from the request path ten times a second rather than after
every answer, which would delay the next response by the log's own work. The hand-over queue is
bounded (``max_pending_rows``): past it a batch is dropped and counted, so a log that falls behind
never holds up predictions or grows without limit.

``slipway_prediction_log_rows_total`` counts rows as the writer reports them: ``written`` when a
part reaches storage, ``dropped`` for rows it could not keep, and also for rows that never reached
it (the hand-over queue full, a batch the log could not turn into rows, a log already closed).

Rows of a request of several rows get ids ``<request id>#<row>``; a one-row request's row has the
request id itself, which is what feedback names.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from slipway.errors import Conflict
from slipway.serving._served import PREDICT, Prediction, concat_rows, layout

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from slipway.artifacts import FileTree
    from slipway.predlog import PredictionBatch, PredictionLogWriter
    from slipway.serving._codec import Payload
    from slipway.serving._metrics import ServingMetrics
    from slipway.serving._served import ServedModel

__all__ = ["ServingLog", "row_ids"]

log = logging.getLogger("slipway.serving")

_WARN_EVERY = 60.0  # seconds between repeated warnings about rows the log lost


def row_ids(request_id: str, rows: int) -> list[str]:
    """The log's ids for a request's rows: the request id for one row, ``id#i`` for several."""
    return [request_id] if rows == 1 else [f"{request_id}#{i}" for i in range(rows)]


class _Job(NamedTuple):
    """One answered batch waiting for the log thread."""

    served: ServedModel
    variant: str
    answered: list[tuple[Payload, Prediction, float]]  # (payload, prediction, seconds)
    rows: int


class _LogThread:
    """A bounded queue of batches and the thread that logs them, for one deployment."""

    def __init__(
        self, deployment: str, work: Callable[[list[_Job]], None], *, max_rows: int, gather: float = 0.1
    ) -> None:
        self._work = work
        self._max_rows = max_rows
        self._gather = gather
        self._jobs: collections.deque[_Job] = collections.deque()
        self._rows = 0  # rows queued or being logged
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=f"slipway-log-{deployment}", daemon=True)
        self._thread.start()

    def put(self, job: _Job) -> str | None:
        """Queue ``job``; None if queued, else why it was not (the caller counts it as dropped)."""
        with self._cond:
            if self._closed:
                return "the prediction log is closed"
            if self._rows + job.rows > self._max_rows:
                return f"{self._rows} rows are waiting to be logged (max_pending_rows {self._max_rows})"
            if not self._jobs:
                self._cond.notify()  # only the first of a gathering wakes the thread
            self._jobs.append(job)
            self._rows += job.rows
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closed:
                    self._cond.wait()
                if not self._jobs:
                    return  # closed, and everything queued was logged
                deadline = time.monotonic() + self._gather
                while not self._closed and (left := deadline - time.monotonic()) > 0:
                    self._cond.wait(left)  # let a moment's batches gather: one bulk pass
                jobs = list(self._jobs)
                self._jobs.clear()
            try:
                self._work(jobs)  # counts what it cannot log; never raises
            finally:
                with self._cond:
                    self._rows -= sum(job.rows for job in jobs)

    def stop(self) -> None:
        """Refuse new batches; the thread ends once it has logged those queued."""
        with self._cond:
            self._closed = True
            self._cond.notify()

    def join(self, timeout: float) -> bool:
        """Wait for the thread to end; False if it is still logging after ``timeout`` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive()


class ServingLog:
    """One prediction-log writer and one log thread per deployment, over one file tree.

    Args:
        tree: where the log lives.
        metrics: where the written and dropped rows are counted.
        flush_interval: the writers' seconds between writes.
        max_pending_rows: rows handed over and not yet given to the writer, per deployment, beyond
            which a batch is dropped (and counted) instead of queued.
        close_timeout: seconds :meth:`close` waits for the log threads, then for the writers.
    """

    def __init__(
        self,
        tree: FileTree,
        *,
        metrics: ServingMetrics | None = None,
        flush_interval: float = 1.0,
        max_pending_rows: int = 100_000,
        close_timeout: float = 30.0,
    ) -> None:
        self.tree = tree
        self.metrics = metrics
        self.flush_interval = flush_interval
        self.max_pending_rows = max_pending_rows
        self.close_timeout = close_timeout
        self._writers: dict[str, PredictionLogWriter] = {}
        self._threads: dict[str, _LogThread] = {}
        self._lock = threading.Lock()
        self._stopped = False  # no more batches are handed over
        self._closed = False  # the writers are closed
        self._warned_at: dict[str, float] = {}

    @classmethod
    def open(cls, settings: Any, *, metrics: ServingMetrics | None = None) -> ServingLog:
        from slipway.artifacts import open_file_tree

        return cls(open_file_tree(settings.prediction_log_uri()), metrics=metrics)

    def writer(self, deployment: str) -> PredictionLogWriter:
        writer = self._writers.get(deployment)
        if writer is None:
            from slipway.predlog import PredictionLogWriter

            with self._lock:
                if self._closed:
                    raise Conflict(f"the prediction log of deployment {deployment} is closed")
                writer = self._writers.get(deployment)
                if writer is None:
                    writer = PredictionLogWriter(
                        self.tree,
                        deployment=deployment,
                        flush_interval=self.flush_interval,
                        on_rows=lambda outcome, rows: self._count(deployment, outcome, rows),
                    )
                    self._writers[deployment] = writer
        return writer

    def _thread(self, deployment: str) -> _LogThread | None:
        thread = self._threads.get(deployment)
        if thread is None:
            with self._lock:
                if self._stopped:
                    return None
                thread = self._threads.get(deployment)
                if thread is None:
                    thread = _LogThread(
                        deployment,
                        lambda jobs: self._write(deployment, jobs),
                        max_rows=self.max_pending_rows,
                    )
                    self._threads[deployment] = thread
        return thread

    # ------------------------------------------------------------------ the predict thread
    def log_batch(
        self,
        deployment: str,
        served: ServedModel,
        variant: str,
        payloads: Sequence[Payload],
        results: Sequence[Prediction | BaseException],
        latencies: list[float],
    ) -> None:
        """Hand the batch's answered requests to the deployment's log thread; never raises.

        Failed requests have no prediction to log. A batch that cannot be handed over is counted
        as dropped rows.
        """
        answered = [
            (p, r, s)
            for p, r, s in zip(payloads, results, latencies, strict=True)
            if isinstance(r, Prediction)
        ]
        if not answered:
            return
        job = _Job(served, variant, answered, sum(p.rows for p, _, _ in answered))
        try:
            thread = self._thread(deployment)
            refused = "the prediction log is closed" if thread is None else thread.put(job)
        except Exception as e:  # no thread to be had, say: the batcher would swallow it silently
            refused = f"{type(e).__name__}: {e}"
        if refused is not None:
            self._lost(deployment, job.rows, refused)

    # ------------------------------------------------------------------ the log thread
    def _write(self, deployment: str, jobs: list[_Job]) -> None:
        """Turn gathered batches into log rows and give them to the writer; count what cannot be logged.

        Batches of the same model version and variant whose inputs share columns become one
        PredictionBatch (one predict_proba call); others stay apart.
        """
        groups: dict[tuple[Any, ...], tuple[_Job, list[tuple[Payload, Prediction, float]]]] = {}
        for job in jobs:
            try:
                for entry in job.answered:
                    key = (id(job.served), job.variant, layout(entry[0].data))
                    groups.setdefault(key, (job, []))[1].append(entry)
            except Exception as e:
                self._lost(deployment, job.rows, f"{type(e).__name__}: {e}")
        for job, group in groups.values():
            try:
                batch = self._batch(job.served, job.variant, group)
                self.writer(deployment).log(batch)
            except Exception as e:
                rows = sum(p.rows for p, _, _ in group)
                self._lost(deployment, rows, f"{type(e).__name__}: {e}")

    def _batch(
        self, served: ServedModel, variant: str, group: list[tuple[Payload, Prediction, float]]
    ) -> PredictionBatch:
        from slipway.predlog import PredictionBatch

        ids: list[str] = []
        latency: list[float] = []
        for p, _, seconds in group:
            ids.extend(row_ids(p.id or "", p.rows))
            latency.extend([seconds * 1000.0] * p.rows)
        payloads = [p for p, _, _ in group]
        predictions = [r for _, r, _ in group]
        proba = served.probabilities_for_log(payloads, predictions)
        return PredictionBatch(
            request_ids=ids,
            model_name=served.model_name,
            model_version=served.version,
            variant=variant,
            inputs=_features(payloads),
            outputs=self._outputs(served, predictions, proba),
            latency_ms=np.asarray(latency),
        )

    def _outputs(
        self, served: ServedModel, results: list[Prediction], probabilities: list[Any] | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first = results[0].outputs
        if PREDICT in first:
            value = concat_rows([r.outputs[PREDICT] for r in results])
            if hasattr(value, "columns"):
                for c in value.columns:
                    out[f"prediction_{c}"] = value[c].to_numpy()
            else:
                out["prediction"] = value
        if probabilities is not None:
            proba = np.asarray(concat_rows(probabilities))
            names = served.probability_columns()
            if proba.ndim == 2 and len(names) == proba.shape[1]:
                for j, name in enumerate(names):
                    out[name] = proba[:, j]
            else:
                out["probabilities"] = proba
        return out

    def _count(self, deployment: str, outcome: str, rows: int) -> None:
        if self.metrics is not None:
            self.metrics.logged(deployment, outcome, rows)

    def _lost(self, deployment: str, rows: int, why: str) -> None:
        """Rows that never reached the writer: counted as dropped, and warned about once a minute."""
        self._count(deployment, "dropped", rows)
        now = time.monotonic()
        if now - self._warned_at.get(deployment, -_WARN_EVERY) >= _WARN_EVERY:
            self._warned_at[deployment] = now
            log.warning("prediction log %s: %d rows dropped: %s", deployment, rows, why)

    def feedback(self, deployment: str, rows: list[dict[str, Any]]) -> int:
        from slipway.predlog import log_feedback

        return log_feedback(
            self.tree,
            deployment=deployment,
            request_ids=[r["request_id"] for r in rows],
            labels=[r["label"] for r in rows],
        )

    def close(self) -> None:
        """Log what was handed over, then flush every writer; never raises.

        Called at graceful shutdown, after the batchers drained. A writer whose storage is down
        is one line in the log (its lost rows are counted as dropped), and the other writers are
        still flushed: in parallel, each for up to ``close_timeout`` seconds.
        """
        with self._lock:
            self._stopped = True
            threads = list(self._threads.items())
        for _, thread in threads:
            thread.stop()
        deadline = time.monotonic() + self.close_timeout
        for deployment, thread in threads:
            if not thread.join(max(0.0, deadline - time.monotonic())):
                log.error(
                    "prediction log %s: still logging after %g s; closing", deployment, self.close_timeout
                )
        with self._lock:
            self._closed = True
            writers = list(self._writers.items())
        if not writers:
            return
        with ThreadPoolExecutor(len(writers), thread_name_prefix="slipway-log-close") as pool:
            closing = {d: pool.submit(w.close, timeout=self.close_timeout) for d, w in writers}
        for deployment, done in closing.items():
            error = done.exception()
            if error is not None:
                log.error(
                    "prediction log %s: %s",
                    deployment,
                    str(error).splitlines()[0] if str(error) else type(error).__name__,
                )


def _features(payloads: list[Payload]) -> dict[str, Any]:
    """The requests' inputs as log columns (payloads of one layout).

    A table's columns and named tensors by name, a 2-D tensor's columns as x0, x1, …, any other
    tensor as ``x``. A tensor of more than one dimension per row becomes a list column.
    """
    datas = [p.data for p in payloads]
    first = datas[0]
    if isinstance(first, dict):
        names = [k for k, v in first.items() if np.ndim(v) >= 1 and all(k in d for d in datas)]
        return {k: concat_rows([d[k] for d in datas]) for k in names}
    if hasattr(first, "columns"):
        frame = concat_rows(datas)
        return {str(c): frame[c].to_numpy() for c in frame.columns}
    array = np.asarray(concat_rows(datas))
    if array.ndim == 2:
        return {f"x{j}": array[:, j] for j in range(array.shape[1])}
    return {"x": array} if array.ndim >= 1 else {}
