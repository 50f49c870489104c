"""The background writer against a fake sink: batching, retries, surfacing failures, heartbeats."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from slipway.core import Metric, RunStatus
from slipway.errors import InvalidInput, RunNotFound, StoreUnavailable
from slipway.tracking import MetricWriteError, Terminated
from slipway.tracking._writer import RunBuffer, Writer, exit_status

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence


class FakeSink:
    def __init__(self, *, fail: int = 0, error: Exception | None = None) -> None:
        self.batches: list[list[Metric]] = []
        self.beats = 0
        self.fail = fail  # how many calls raise StoreUnavailable before succeeding
        self.error = error
        self.lock = threading.Lock()

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        with self.lock:
            if self.error is not None:
                raise self.error
            if self.fail:
                self.fail -= 1
                raise StoreUnavailable("database is locked")
            self.batches.append(list(metrics))

    def heartbeat(self, run_id: str, *, at: int | None = None) -> None:
        self.beats += 1

    @property
    def points(self) -> list[Metric]:
        return [m for b in self.batches for m in b]


def _buffer(sink: FakeSink, **kw: float) -> RunBuffer:
    opts = {"flush_interval": 0.05, "heartbeat_interval": 0.05, **kw}
    return RunBuffer(run_id="r1", sink=sink, **opts)  # type: ignore[arg-type]


def _wait(cond: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_flush_writes_everything_in_order_in_few_batches() -> None:
    sink = FakeSink()
    buf = _buffer(sink)
    for i in range(25_000):
        buf.points.append(("loss", float(i), i, 1))
    buf.flush()
    assert [m.step for m in sink.points] == list(range(25_000))
    assert len(sink.batches) == 3  # chunks of 10,000: bounded transactions
    assert buf.written == 25_000
    assert buf.pending == 0


def test_background_thread_flushes_on_interval_and_beats() -> None:
    sink = FakeSink()
    writer = Writer()
    buf = _buffer(sink)
    writer.register(buf)
    buf.points.append(("a", 1.0, 0, 1))
    _wait(lambda: sink.points and sink.beats >= 2)
    writer.unregister(buf)
    assert [m.value for m in sink.points] == [1.0]
    assert sink.beats >= 2


def test_a_full_buffer_wakes_the_writer_before_the_interval() -> None:
    sink = FakeSink()
    writer = Writer()
    buf = _buffer(sink, flush_interval=30.0, heartbeat_interval=30.0)
    buf.batch_size = 100
    writer.register(buf)
    for i in range(150):
        buf.points.append(("a", 1.0, i, 1))
    writer.wake()
    _wait(lambda: len(sink.points) >= 150)
    writer.unregister(buf)
    assert len(sink.points) == 150


def test_transient_errors_are_retried_with_backoff() -> None:
    sink = FakeSink(fail=3)
    buf = _buffer(sink)
    buf.points.extend(("a", float(i), i, 1) for i in range(10))
    assert buf.write_once() is False  # kept, not dropped
    assert buf.pending == 10
    buf.flush(timeout=5)
    assert [m.step for m in sink.points] == list(range(10))


def test_a_store_that_stays_down_is_an_error_at_flush_not_a_silent_loss() -> None:
    sink = FakeSink(fail=10**9)
    buf = _buffer(sink)
    buf.points.extend(("a", 1.0, i, 1) for i in range(7))
    with pytest.raises(MetricWriteError, match="7 metrics could not be written"):
        buf.flush(timeout=0.3)
    assert buf.pending == 7


def test_a_rejected_batch_is_raised_when_the_run_ends() -> None:
    sink = FakeSink(error=InvalidInput("metric 'a': bad"))
    buf = _buffer(sink)
    buf.points.extend(("a", 1.0, i, 1) for i in range(4))
    buf.flush()  # background-style flushes do not raise for it ...
    with pytest.raises(MetricWriteError, match="4 metrics were rejected"):
        buf.flush(final=True)  # ... the end of the run does


def test_on_exit_ends_runs_children_first(monkeypatch: pytest.MonkeyPatch) -> None:
    ended: list[tuple[str, RunStatus]] = []
    writer = Writer()
    for name in ("parent", "child"):
        b = _buffer(FakeSink(), heartbeat_interval=60)
        b.on_exit = lambda status, n=name: ended.append((n, status))
        writer.register(b)
    monkeypatch.delattr("sys.last_type", raising=False)
    writer._at_exit()
    assert ended == [("child", RunStatus.FINISHED), ("parent", RunStatus.FINISHED)]


def test_exit_status_reads_how_the_program_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr("sys.last_type", raising=False)
    assert exit_status() is RunStatus.FINISHED
    monkeypatch.setattr("sys.last_type", ValueError, raising=False)
    assert exit_status() is RunStatus.FAILED
    monkeypatch.setattr("sys.last_type", KeyboardInterrupt, raising=False)
    assert exit_status() is RunStatus.KILLED


class PickySink(FakeSink):
    """Rejects (for good) any batch holding a step SQLite cannot store, as the real store does."""

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        self.calls = getattr(self, "calls", 0) + 1
        if any(m.step >= 2**63 for m in metrics):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        super().log_batch(run_id, metrics=metrics, batch_id=batch_id)


def test_one_rejected_point_costs_only_itself() -> None:
    sink = PickySink()
    buf = _buffer(sink)
    buf.points.extend(("a", float(i), i, 1) for i in range(50))
    buf.points.append(("a", 0.0, 2**64, 1))  # got past validation (another client, an old version)
    buf.points.extend(("a", float(i), i, 1) for i in range(50, 100))
    buf.flush()
    assert [m.step for m in sink.points] == list(range(100))  # in order, none of the good ones lost
    assert buf.written == 100
    assert sink.calls < 20  # bisected, not one call per point
    with pytest.raises(MetricWriteError, match="1 metrics were rejected"):
        buf.flush(final=True)


def test_a_batch_rejected_as_a_whole_is_not_split() -> None:
    sink = FakeSink(error=RunNotFound("run 'r1' does not exist"))
    calls = 0
    original = sink.log_batch

    def counting(*args: object, **kwargs: object) -> None:
        nonlocal calls
        calls += 1
        original(*args, **kwargs)  # type: ignore[arg-type]

    sink.log_batch = counting  # type: ignore[method-assign]
    buf = _buffer(sink)
    buf.points.extend(("a", 1.0, i, 1) for i in range(1_000))
    buf.flush()
    assert calls == 1
    with pytest.raises(MetricWriteError, match="1000 metrics were rejected"):
        buf.flush(final=True)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, Terminated])
def test_an_interrupted_write_keeps_its_points_in_order(interrupt: type[BaseException]) -> None:
    class InterruptedOnce(FakeSink):
        def log_batch(self, run_id: str, **kwargs: Any) -> None:
            if len(self.batches) == 1 and not getattr(self, "interrupted", False):
                self.interrupted = True
                raise interrupt()
            super().log_batch(run_id, **kwargs)

    sink = InterruptedOnce()
    buf = _buffer(sink)
    buf.points.extend(("a", float(i), i, 1) for i in range(25_000))
    with pytest.raises(interrupt):
        buf.flush()
    assert buf.pending == 15_000  # the chunk being written when Ctrl-C came is still there
    buf.points.append(("a", 0.0, 25_000, 1))
    buf.flush()  # the flush that follows (the end of the run, atexit) writes it all
    assert [m.step for m in sink.points] == list(range(25_001))


class LostAnswers(FakeSink):
    """Commits, then loses the answer (a read timeout) on the first try of each batch; dedupes by id."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: set[str] = set()
        self.answered: set[str] = set()
        self.ids: list[str | None] = []

    def log_batch(self, run_id: str, *, batch_id: str | None = None, **kwargs: Any) -> None:
        self.ids.append(batch_id)
        if batch_id is None or batch_id not in self.applied:
            super().log_batch(run_id, batch_id=batch_id, **kwargs)
            if batch_id is not None:
                self.applied.add(batch_id)
        if batch_id not in self.answered:
            self.answered.add(str(batch_id))
            raise StoreUnavailable("team server did not answer: ReadTimeout")


def test_a_batch_resent_after_a_lost_answer_is_written_once() -> None:
    sink = LostAnswers()
    buf = _buffer(sink)
    buf.points.extend(("a", float(i), i, 1) for i in range(25_000))
    buf.flush(timeout=10)
    assert [m.step for m in sink.points] == list(range(25_000))  # no chunk twice
    assert len(set(sink.ids)) == 3  # three chunks of 10,000, each sent twice with the same id
    assert len(sink.ids) == 6


def test_batch_ids_are_distinct_across_buffers_and_stay_within_the_store_limit() -> None:
    sink = PickySink()
    ids: list[str] = []
    original = sink.log_batch

    def record(run_id: str, *, batch_id: str | None = None, **kwargs: Any) -> None:
        assert batch_id is not None
        ids.append(batch_id)
        original(run_id, batch_id=batch_id, **kwargs)

    sink.log_batch = record  # type: ignore[method-assign]
    for _ in range(2):  # two processes writing to one run have two buffers for it
        buf = _buffer(sink)
        buf.points.extend(("a", float(i), i, 1) for i in range(10_000))
        buf.points.append(("a", 0.0, 2**64, 1))  # rejected: bisected down to one point
        buf.flush()
    assert len(sink.points) == 20_000
    assert len(ids) == len(set(ids))
    assert max(len(i) for i in ids) <= 64
