"""The server's side of the prediction log: turn a predicted batch into log rows, record feedback.

This runs on the model's predict thread after the batch's answers were handed back, so the request
never waits for it; the writer then buffers the rows and a background thread writes Parquet parts.
Rows of a request of several rows get ids ``<request id>#<row>``; a one-row request's row has the
request id itself, which is what feedback names.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.serving._served import PREDICT, Prediction

if TYPE_CHECKING:
    from collections.abc import Sequence

    from slipway.artifacts import FileTree
    from slipway.predlog import PredictionLogWriter
    from slipway.serving._codec import Payload
    from slipway.serving._metrics import ServingMetrics
    from slipway.serving._served import ServedModel

__all__ = ["ServingLog", "row_ids"]


def row_ids(request_id: str, rows: int) -> list[str]:
    """The log's ids for a request's rows: the request id for one row, ``id#i`` for several."""
    return [request_id] if rows == 1 else [f"{request_id}#{i}" for i in range(rows)]


class ServingLog:
    """One prediction-log writer per deployment, over one file tree."""

    def __init__(
        self, tree: FileTree, *, metrics: ServingMetrics | None = None, flush_interval: float = 1.0
    ) -> None:
        self.tree = tree
        self.metrics = metrics
        self.flush_interval = flush_interval
        self._writers: dict[str, PredictionLogWriter] = {}
        self._seen: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    @classmethod
    def open(cls, settings: Any, *, metrics: ServingMetrics | None = None) -> ServingLog:
        from slipway.artifacts import open_file_tree

        return cls(open_file_tree(settings.prediction_log_uri()), metrics=metrics)

    def writer(self, deployment: str) -> PredictionLogWriter:
        writer = self._writers.get(deployment)
        if writer is None:
            from slipway.predlog import PredictionLogWriter

            with self._lock:
                writer = self._writers.get(deployment)
                if writer is None:
                    writer = PredictionLogWriter(
                        self.tree, deployment=deployment, flush_interval=self.flush_interval
                    )
                    self._writers[deployment] = writer
        return writer

    def log_batch(
        self,
        deployment: str,
        served: ServedModel,
        variant: str,
        payloads: Sequence[Payload],
        results: Sequence[Prediction | BaseException],
        latencies: list[float],
    ) -> None:
        """Log the batch's answered rows (failed requests have no prediction to log)."""
        from slipway.predlog import PredictionBatch

        ok = [
            (p, r, s)
            for p, r, s in zip(payloads, results, latencies, strict=True)
            if isinstance(r, Prediction)
        ]
        if not ok:
            return
        ids: list[str] = []
        latency: list[float] = []
        for p, _, seconds in ok:
            ids.extend(row_ids(p.id or "", p.rows))
            latency.extend([seconds * 1000.0] * p.rows)
        inputs = _features([p for p, _, _ in ok])
        predictions: list[Prediction] = [r for _, r, _ in ok]
        proba = served.probabilities_for_log([p for p, _, _ in ok], predictions)
        outputs = self._outputs(served, predictions, proba)
        writer = self.writer(deployment)
        writer.log(
            PredictionBatch(
                request_ids=ids,
                model_name=served.model_name,
                model_version=served.version,
                variant=variant,
                inputs=inputs,
                outputs=outputs,
                latency_ms=np.asarray(latency),
            )
        )
        self._count(deployment, writer)

    def _outputs(
        self, served: ServedModel, results: list[Prediction], probabilities: list[Any] | None
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first = results[0].outputs
        if PREDICT in first:
            value = _concat([r.outputs[PREDICT] for r in results])
            if hasattr(value, "columns"):
                for c in value.columns:
                    out[f"prediction_{c}"] = value[c].to_numpy()
            else:
                out["prediction"] = value
        if probabilities is not None:
            proba = np.asarray(_concat(probabilities))
            names = served.probability_columns()
            if proba.ndim == 2 and len(names) == proba.shape[1]:
                for j, name in enumerate(names):
                    out[name] = proba[:, j]
            else:
                out["probabilities"] = proba
        return out

    def _count(self, deployment: str, writer: PredictionLogWriter) -> None:
        if self.metrics is None:
            return
        written, dropped = writer.written_rows, writer.dropped_rows
        before = self._seen.get(deployment, (0, 0))
        self._seen[deployment] = (written, dropped)
        self.metrics.logged(deployment, "written", written - before[0])
        self.metrics.logged(deployment, "dropped", dropped - before[1])

    def feedback(self, deployment: str, rows: list[dict[str, Any]]) -> int:
        from slipway.predlog import log_feedback

        return log_feedback(
            self.tree,
            deployment=deployment,
            request_ids=[r["request_id"] for r in rows],
            labels=[r["label"] for r in rows],
        )

    def close(self) -> None:
        """Flush every writer: called at graceful shutdown, after the batchers drained."""
        for deployment, writer in list(self._writers.items()):
            writer.close()
            self._count(deployment, writer)


def _concat(values: list[Any]) -> Any:
    if len(values) == 1:
        return values[0]
    if hasattr(values[0], "iloc"):
        import pandas as pd

        return pd.concat(values, ignore_index=True)
    return np.concatenate([np.asarray(v) for v in values])


def _features(payloads: list[Payload]) -> dict[str, Any]:
    """The requests' inputs as log columns: a table's columns by name, a 2-D tensor as x0, x1, …."""
    datas = [p.data for p in payloads]
    first = datas[0]
    if isinstance(first, dict):
        names = [k for k, v in first.items() if np.ndim(v) == 1 and all(k in d for d in datas)]
        return {k: _concat([d[k] for d in datas]) for k in names}
    if hasattr(first, "columns"):
        frame = _concat(datas)
        return {str(c): frame[c].to_numpy() for c in frame.columns}
    array = np.asarray(_concat(datas))
    if array.ndim == 1:
        return {"x": array}
    if array.ndim == 2:
        return {f"x{j}": array[:, j] for j in range(array.shape[1])}
    return {}
