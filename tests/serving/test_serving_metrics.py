"""The server's Prometheus metrics: across worker processes, and the prediction log's row counts.

Workers are real processes here: prometheus-client picks its file-backed values when it is imported
with ``PROMETHEUS_MULTIPROC_DIR`` set, which this test process is not.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from slipway.artifacts import FileTree, open_file_tree
from slipway.predlog import read_predictions
from slipway.serving._codec import Payload
from slipway.serving._metrics import ServingMetrics, forget_dead_workers
from slipway.serving._predlog import ServingLog
from slipway.serving._served import ServedModel

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pytest

WORKER = """
from slipway.serving._metrics import ServingMetrics

metrics = ServingMetrics()
metrics.request("m", "m", "1", "primary", 200, 0.001)
metrics.flush(inflight=3, queue_depths={("m", "primary"): 2})
"""

SCRAPE = """
import sys

from slipway.serving._metrics import ServingMetrics

sys.stdout.write(ServingMetrics().render()[0].decode())
"""


def _python(code: str, directory: Path) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def _samples(text: str) -> dict[str, float]:
    return {
        s.name: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in ("slipway_inflight_requests", "slipway_queue_depth", "slipway_requests_total")
    }


def test_a_dead_workers_gauges_leave_the_sum_and_its_counts_stay(tmp_path: Path) -> None:
    _python(WORKER, tmp_path)  # a worker that exited (crashed, or was restarted under a new pid)
    (dead,) = tmp_path.glob("gauge_livesum_*.db")
    samples = _samples(_python(SCRAPE, tmp_path))  # a worker starting, and its first scrape
    assert samples.get("slipway_inflight_requests", 0.0) == 0.0
    assert samples.get("slipway_queue_depth", 0.0) == 0.0
    assert samples["slipway_requests_total"] == 1.0
    assert not dead.exists()


def test_only_the_gauge_files_of_processes_that_are_gone_are_removed(tmp_path: Path) -> None:
    _python(WORKER, tmp_path)
    (dead,) = tmp_path.glob("gauge_livesum_*.db")
    mine = tmp_path / f"gauge_livesum_{os.getpid()}.db"
    parent = tmp_path / f"gauge_livesum_{os.getppid()}.db"
    shutil.copy(dead, mine)
    shutil.copy(dead, parent)
    (tmp_path / "gauge_livesum_notapid.db").write_bytes(b"")
    dead_pid = int(dead.stem.rsplit("_", 1)[1])

    assert forget_dead_workers(tmp_path) == [dead_pid]
    assert not dead.exists()
    assert mine.exists()
    assert parent.exists()
    assert list(tmp_path.glob("counter_*.db")), "counts of the dead worker are kept"
    assert forget_dead_workers(tmp_path) == []


def test_a_flush_publishes_exactly_what_observing_one_by_one_would() -> None:
    """Requests and batches are counted in plain numbers and published in bulk at a flush: the
    exposition then equals prometheus-client's own histograms fed each observation at once."""
    from prometheus_client import CollectorRegistry, Counter, Histogram

    from slipway.serving._metrics import _BATCH_BUCKETS, _LATENCY_BUCKETS

    metrics = ServingMetrics()
    reference = CollectorRegistry()
    requests = Counter("slipway_requests", "", ["status"], registry=reference)
    latency = Histogram("slipway_request_duration_seconds", "", buckets=_LATENCY_BUCKETS, registry=reference)
    sizes = Histogram("slipway_batch_size", "", buckets=_BATCH_BUCKETS, registry=reference)
    seconds = [0.0001, 0.0005, 0.0005001, 0.003, 0.003, 9.9, 10.0, 99.0]
    for i, s in enumerate(seconds):
        status = 200 if i % 3 else 503
        metrics.request("m", "m", "1", "primary", status, s)
        requests.labels(str(status)).inc()
        latency.observe(s)
    for size in (1, 1, 3, 64, 65, 5000):
        metrics.batch("m", "primary", size)
        sizes.observe(size)
    assert metrics.registry.get_sample_value("slipway_requests_total", {"deployment": "m"}) is None
    metrics.flush(inflight=2, queue_depths={("m", "primary"): 4})
    metrics.request("m", "m", "1", "primary", 200, 0.5)  # after the flush: not in it
    ours = {"deployment": "m", "variant": "primary"}
    for name in ("slipway_request_duration_seconds", "slipway_batch_size"):
        for suffix in ("_count", "_sum"):
            expected = reference.get_sample_value(name + suffix)
            assert metrics.registry.get_sample_value(name + suffix, ours) == expected, name + suffix
        bounds = _LATENCY_BUCKETS if name.endswith("seconds") else _BATCH_BUCKETS
        for le in [*map(float, bounds), float("inf")]:
            le_label = {"le": str(le) if le != float("inf") else "+Inf"}
            expected = reference.get_sample_value(name + "_bucket", le_label)
            assert metrics.registry.get_sample_value(name + "_bucket", {**ours, **le_label}) == expected
    for code in ("200", "503"):
        labels = {**ours, "model": "m", "version": "1", "status": code}
        expected = reference.get_sample_value("slipway_requests_total", {"status": code})
        assert metrics.registry.get_sample_value("slipway_requests_total", labels) == expected
    assert metrics.registry.get_sample_value("slipway_inflight_requests") == 2
    assert metrics.registry.get_sample_value("slipway_queue_depth", ours) == 4


# ---------------------------------------------------------------------- prediction log rows
class Model:
    """What ServedModel needs of a model: no signature, ``predict`` answering 1.0 per row."""

    signature = None
    flavor = "pyfunc"
    raw = None
    input_example = None

    def __init__(self, *, gate: threading.Event | None = None) -> None:
        self.gate = gate  # when given, predict_proba (the log's) waits for it
        self.in_proba = threading.Event()
        self.methods = ("predict",) if gate is None else ("predict", "predict_proba")

    def predict(self, data: Any, params: Any = None) -> Any:
        return np.ones(len(data))

    def predict_proba(self, data: Any, params: Any = None) -> Any:
        if self.gate is not None:
            self.in_proba.set()
            assert self.gate.wait(10)
        return np.tile([0.5, 0.5], (len(data), 1))


def served(model: Model | None = None) -> ServedModel:
    return ServedModel(model or Model(), name="m", version="1", source="test")  # type: ignore[arg-type]


def log_requests(
    log: ServingLog, ids: list[str], *, deployment: str = "m", variant: str = "primary", rows: int = 1
) -> None:
    """Hand one batch of requests to the log, as the predict thread does."""
    model = served()
    payloads = [Payload(rows=rows, data=np.zeros((rows, 2)), id=rid) for rid in ids]
    results = model.predict(payloads)
    log.log_batch(deployment, model, variant, payloads, results, [0.001] * len(ids))


def rows(metrics: ServingMetrics, outcome: str, deployment: str = "m") -> float:
    labels = {"deployment": deployment, "outcome": outcome}
    return metrics.registry.get_sample_value("slipway_prediction_log_rows_total", labels) or 0.0


def eventually(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.01)


class TestPredictionLogRows:
    def test_written_rows_are_counted_when_written_once_each_from_many_predict_threads(
        self, tmp_path: Path
    ) -> None:
        metrics = ServingMetrics()
        log = ServingLog(open_file_tree(str(tmp_path)), metrics=metrics, flush_interval=0.02)

        def predict_thread(t: int) -> None:
            for b in range(50):
                log_requests(log, [f"t{t}-{b}-{i}" for i in range(4)])

        threads = [threading.Thread(target=predict_thread, args=(t,)) for t in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # counted at the writer's flush, with no later batch to notice it
        eventually(lambda: rows(metrics, "written") == 800, "800 rows counted as written")
        log.close()
        assert (rows(metrics, "written"), rows(metrics, "dropped")) == (800, 0)
        assert len(read_predictions(log.tree, deployment="m")) == 800

    def test_a_batch_the_log_cannot_take_is_counted_as_dropped_not_raised(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        metrics = ServingMetrics()
        log = ServingLog(open_file_tree(str(tmp_path)), metrics=metrics, flush_interval=3600)
        log_requests(log, ["bad-1", "bad-2"], variant="not a name!", rows=3)  # the writer refuses it
        log_requests(log, ["ok"])
        log.close()
        assert (rows(metrics, "written"), rows(metrics, "dropped")) == (1, 6)
        assert "6 rows dropped" in caplog.text
        log_requests(log, ["late"])  # after close: counted too
        assert rows(metrics, "dropped") == 7

    def test_past_max_pending_rows_batches_are_dropped_and_counted(self, tmp_path: Path) -> None:
        metrics = ServingMetrics()
        log = ServingLog(
            open_file_tree(str(tmp_path)), metrics=metrics, flush_interval=3600, max_pending_rows=3
        )
        gate = threading.Event()
        model = Model(gate=gate)
        slow = served(model)

        def hand(rid: str) -> None:
            payload = Payload(rows=1, data=np.zeros((1, 2)), id=rid)
            log.log_batch("m", slow, "primary", [payload], slow.predict([payload]), [0.001])

        hand("first")
        assert model.in_proba.wait(5)  # the log thread is busy with it; the rest queue behind
        for i in range(5):
            hand(f"r{i}")  # r0 and r1 fit beside "first"; r2, r3, r4 do not
        assert rows(metrics, "dropped") == 3
        gate.set()
        log.close()
        assert (rows(metrics, "written"), rows(metrics, "dropped")) == (3, 3)
        assert sorted(read_predictions(log.tree, deployment="m")["request_id"]) == ["first", "r0", "r1"]

    def test_close_with_one_storage_down_logs_a_line_and_still_flushes_the_others(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        class HalfDown(FileTree):
            def write_atomic(self, relpath: str, data: bytes) -> None:
                if "deployment=down" in relpath:
                    raise OSError("storage is down")
                super().write_atomic(relpath, data)

        base = open_file_tree(str(tmp_path))
        metrics = ServingMetrics()
        log = ServingLog(
            HalfDown(base.fs, base.root), metrics=metrics, flush_interval=3600, close_timeout=0.3
        )
        log_requests(log, ["a", "b"], deployment="down")
        log_requests(log, ["c"], deployment="up")
        eventually(lambda: len(log._writers) == 2, "both writers made")
        with caplog.at_level(logging.ERROR, logger="slipway.serving"):
            log.close()  # no exception: it runs in the server's lifespan shutdown
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1, errors
        assert "prediction log down" in errors[0]
        assert "2 rows could not be written" in errors[0]
        assert read_predictions(base, deployment="up")["request_id"].tolist() == ["c"]
        assert rows(metrics, "dropped", "down") == 2
        assert rows(metrics, "written", "up") == 1
