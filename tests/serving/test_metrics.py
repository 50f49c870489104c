"""The server's Prometheus metrics across worker processes (prometheus-client's multiprocess mode).

Workers are real processes here: prometheus-client picks its file-backed values when it is imported
with ``PROMETHEUS_MULTIPROC_DIR`` set, which this test process is not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

from slipway.serving._metrics import forget_dead_workers

if TYPE_CHECKING:
    from pathlib import Path

WORKER = """
from slipway.serving._metrics import ServingMetrics

metrics = ServingMetrics()
metrics.inflight(3)
metrics.queued("m", "primary", 2)
metrics.request("m", "m", "1", "primary", 200, 0.001)
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
