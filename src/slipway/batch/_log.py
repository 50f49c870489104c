"""A scoring job's rows in the prediction log: written beside the scoring, never silently lost.

Rows go to a :class:`~slipway.predlog.PredictionLogWriter`, which writes them on its own thread.
Scoring waits while the log is more than a few chunks behind, so memory stays bounded; but a log
whose storage is failing must not stall the job, so the job waits ``_LOG_WAIT`` seconds in all:
after that it goes on, and the rows the writer cannot hold or write are counted as dropped.
Those, and the rows still unwritten when it closes, are reported in the job's result.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

from slipway.errors import StoreUnavailable

if TYPE_CHECKING:
    from slipway.artifacts import FileTree
    from slipway.batch._score import ScoredChunk

__all__ = ["JobLog"]

_LOG_BACKLOG_CHUNKS = 2  # chunks the log may hold unwritten before scoring waits for it
_LOG_WAIT = 60.0  # seconds a job waits, in all, for a log that falls behind
_LOG_CLOSE = 30.0  # seconds closing the log retries a failing storage


class JobLog:
    """The prediction-log rows of one job (or of one chunk on a worker), and how many were lost."""

    def __init__(
        self,
        tree: FileTree,
        *,
        deployment: str,
        job: str,
        model_version: str | int,
        chunk_rows: int,
    ) -> None:
        from slipway.predlog import PredictionLogWriter

        self._writer = PredictionLogWriter(tree, deployment=deployment)
        self._name = deployment
        self._job = job
        self._version = model_version
        self._backlog = _LOG_BACKLOG_CHUNKS * chunk_rows
        self._wait_left = _LOG_WAIT
        self.written = 0
        self.dropped = 0

    def log(self, done: ScoredChunk) -> None:
        """Log one chunk's scored rows (request ids ``<job>-<row>``), waiting while the log is behind."""
        import numpy as np

        from slipway.predlog import PredictionBatch

        ids = np.char.add(f"{self._job}-", done.rows.astype(str)).astype(object)
        self._writer.log(
            PredictionBatch(
                request_ids=ids,
                model_name=self._name,
                model_version=self._version,
                variant="batch",
                inputs=done.model_input.reset_index(drop=True),
                outputs=done.outputs,
                latency_ms=done.elapsed_ms / max(done.kept, 1),
            )
        )
        started = time.monotonic()
        while self._writer.buffered_rows > self._backlog and time.monotonic() - started < self._wait_left:
            time.sleep(0.01)
        self._wait_left = max(0.0, self._wait_left - (time.monotonic() - started))

    def close(self) -> None:
        """Write what is buffered; rows that cannot be written by then are counted, not raised."""
        # Rows it cannot write are counted in dropped_rows, which the job's result reports.
        with contextlib.suppress(StoreUnavailable):
            self._writer.close(timeout=_LOG_CLOSE)
        self.written = self._writer.written_rows
        self.dropped = self._writer.dropped_rows
