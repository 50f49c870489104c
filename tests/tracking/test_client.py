"""Runs end to end against SQLite and a blob folder, through the explicit client."""

from __future__ import annotations

import json
import pickle
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest

from slipway.core import RunStatus
from slipway.errors import (
    ArtifactNotFound,
    Conflict,
    ExperimentNotFound,
    InvalidInput,
    RunNotFound,
    StoreUnavailable,
    Unauthorized,
)
from slipway.tracking import MetricWriteError

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.tracking import ActiveRun, TrackingClient


def test_the_issue_example(client: TrackingClient, tmp_path: Path) -> None:
    (tmp_path / "confusion.png").write_bytes(b"\x89PNG fake")
    train = pd.DataFrame({"x": np.arange(100.0), "y": np.arange(100) % 2})
    with client.start_run(experiment="churn", name="baseline") as run:
        run.log_params({"C": 1.0, "penalty": "l2"})
        run.log_dataset(train, name="train", role="training")
        for epoch in range(100):
            run.log_metric("loss", 1 / (epoch + 1), step=epoch)
        run.log_metric("auc", 0.93)
        run.log_artifact(tmp_path / "confusion.png")

    got = client.get_run(run.id)
    assert got.status is RunStatus.FINISHED
    assert got.end_time is not None
    assert got.end_time >= got.start_time
    assert got.params == {"C": "1.0", "penalty": "l2"}
    assert got.metrics == {"loss": 0.01, "auc": 0.93}
    assert got.user
    history = client.get_metric_history(run.id, "loss")
    assert [m.step for m in history] == list(range(100))
    assert all(m.timestamp > 0 for m in history)
    [dataset] = client.get_datasets(run.id)
    assert (dataset.name, dataset.role, dataset.num_rows) == ("train", "training", 100)
    assert dataset.profile["columns"]["x"]["max"] == 99.0
    paths = [a.path for a in client.list_artifacts(run.id)]
    assert "confusion.png" in paths
    assert "slipway/requirements.lock" in paths
    assert client.read_artifact(run.id, "confusion.png") == b"\x89PNG fake"


def test_a_changed_param_is_a_conflict_at_the_call(client: TrackingClient) -> None:
    with client.start_run() as run:
        run.log_param("C", 1.0)
        run.log_param("C", "1.0")  # same value: fine
        with pytest.raises(Conflict, match="'C'"):
            run.log_param("C", 2.0)


def _train_then(run: ActiveRun, n: int, error: BaseException) -> None:
    for i in range(n):
        run.log_metric("loss", float(i))
    raise error


def test_an_exception_inside_with_fails_the_run_and_keeps_its_metrics(client: TrackingClient) -> None:
    with pytest.raises(ZeroDivisionError), client.start_run() as run:
        _train_then(run, 1_000, ZeroDivisionError())
    got = client.get_run(run.id)
    assert got.status is RunStatus.FAILED
    assert len(client.get_metric_history(run.id, "loss")) == 1_000


def test_ctrl_c_inside_with_kills_the_run_and_keeps_its_metrics(client: TrackingClient) -> None:
    with pytest.raises(KeyboardInterrupt), client.start_run() as run:
        _train_then(run, 500, KeyboardInterrupt())
    assert client.get_run(run.id).status is RunStatus.KILLED
    assert len(client.get_metric_history(run.id, "loss")) == 500


def test_a_loop_far_ahead_of_the_store_writes_from_the_loop(client: TrackingClient) -> None:
    with client.start_run() as run:
        run._writer.unregister(run._buffer)  # a writer that never gets to run
        run._batch_size, run._max_pending = 5, 50
        for i in range(120):
            run.log_metric("loss", float(i))
        assert run._buffer.written >= 50  # backpressure instead of unbounded memory
    assert len(client.get_metric_history(run.id, "loss")) == 120


def test_a_store_that_stays_down_fails_end_loudly_not_silently(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = client.start_run()

    def down(*args: object, **kwargs: object) -> None:
        raise StoreUnavailable("metadata store is unavailable: database is locked")

    monkeypatch.setattr(client.store, "log_batch", down)
    for i in range(3):
        run.log_metric("loss", float(i))
    started = time.monotonic()
    with pytest.raises(MetricWriteError, match="3 metrics could not be written"):
        run.end(timeout=0.3)
    assert time.monotonic() - started < 5
    assert client.store.get_run(run.id).status is RunStatus.FINISHED  # the run itself still ends


def test_steps_default_to_the_next_one_per_key(client: TrackingClient) -> None:
    with client.start_run() as run:
        run.log_metric("a", 1)
        run.log_metric("a", 2)
        run.log_metric("b", 3, step=10)
        run.log_metric("b", 4)
        run.log_metrics({"a": 5, "b": 6})
    assert [m.step for m in client.get_metric_history(run.id, "a")] == [0, 1, 2]
    assert [m.step for m in client.get_metric_history(run.id, "b")] == [10, 11, 12]


def test_bad_metrics_fail_at_the_call_and_ended_runs_refuse_more(client: TrackingClient) -> None:
    run = client.start_run()
    with pytest.raises(InvalidInput, match="metric"):
        run.log_metric("bad key!", 1.0)
    with pytest.raises(InvalidInput, match="expected a number"):
        run.log_metric("ok", "abc")  # type: ignore[arg-type]
    run.end()
    with pytest.raises(InvalidInput, match="has ended"):
        run.log_metric("ok", 1.0)
    assert run.end() == run.info  # ending twice is harmless


def test_nested_runs(client: TrackingClient) -> None:
    with (
        client.start_run(experiment="sweep") as parent,
        client.start_run(parent=parent, name="c-0.1") as child,
    ):
        child.log_metric("auc", 0.8)
    got = client.get_run(child.id)
    assert got.parent_run_id == parent.id
    assert got.experiment_id == parent.experiment_id
    children = client.search_runs(filter=f"attributes.parent_run_id = '{parent.id}'").items
    assert [r.id for r in children] == [child.id]


def test_search_filter_order_and_pages(client: TrackingClient) -> None:
    for i, auc in enumerate([0.85, 0.95, 0.91, 0.99]):
        with client.start_run(experiment="churn", name=f"r{i}") as run:
            run.log_param("penalty", "l2" if i % 2 else "l1")
            run.log_metric("auc", auc)
    with client.start_run(experiment="other") as run:
        run.log_metric("auc", 0.999)

    page = client.search_runs(experiments="churn", filter="metrics.auc > 0.9", order_by="metrics.auc desc")
    assert [r.metrics["auc"] for r in page.items] == [0.99, 0.95, 0.91]
    first = client.search_runs(experiments=["churn"], order_by="metrics.auc", max_results=2)
    assert first.next_token is not None
    second = client.search_runs(
        experiments=["churn"], order_by="metrics.auc", max_results=2, page_token=first.next_token
    )
    assert [r.metrics["auc"] for r in first.items + second.items] == [0.85, 0.91, 0.95, 0.99]
    l2 = client.search_runs(experiments="churn", filter="params.penalty = 'l2'")
    assert {r.name for r in l2.items} == {"r1", "r3"}
    with pytest.raises(ExperimentNotFound, match="nope"):
        client.search_runs(experiments="nope")
    with pytest.raises(InvalidInput, match="filter"):
        client.search_runs(filter="metrics.auc >")


def test_run_ids_accept_a_unique_prefix(client: TrackingClient) -> None:
    with client.start_run() as run:
        pass
    assert client.get_run(run.id[:8]).id == run.id
    with pytest.raises(RunNotFound):
        client.get_run("zzzz")
    with pytest.raises(RunNotFound):
        client.get_run("0" * 32)


def test_a_run_whose_heartbeat_stopped_reads_as_died(client: TrackingClient) -> None:
    run = client.start_run()
    run._writer.unregister(run._buffer)  # as if the process had died: no more beats
    client.dead_after = 0.001
    time.sleep(0.01)
    assert client.search_runs(filter=f"attributes.run_id = '{run.id}'").items[0].status is RunStatus.DIED
    assert client.get_run(run.id).status is RunStatus.DIED
    # a process that was only asleep (a laptop lid) still ends its run with the real outcome
    run.end()
    assert client.store.get_run(run.id).status is RunStatus.FINISHED


def test_artifacts_files_folders_figures_text_and_dicts(client: TrackingClient, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = tmp_path / "report"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("A")
    (folder / "sub" / "b.txt").write_text("B")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with client.start_run() as run:
        run.log_artifacts(folder, "out")
        run.log_artifact(folder)  # a folder given to log_artifact keeps its name
        run.log_figure(fig, "plots/curve.png")
        run.log_figure(ax, "plots/curve.svg")
        run.log_text("hello", "notes.txt")
        run.log_dict({"b": 1, "a": [1, 2]}, "config.json")
    plt.close(fig)

    paths = {a.path for a in client.list_artifacts(run.id)}
    assert {"out/a.txt", "out/sub/b.txt", "report/a.txt", "report/sub/b.txt"} <= paths
    assert client.read_artifact(run.id, "plots/curve.png").startswith(b"\x89PNG")
    assert b"<svg" in client.read_artifact(run.id, "plots/curve.svg")
    assert client.read_artifact(run.id, "notes.txt") == b"hello"
    assert json.loads(client.read_artifact(run.id, "config.json")) == {"a": [1, 2], "b": 1}
    dest = client.download_artifacts(run.id, "out", tmp_path / "dl")
    assert (dest / "sub" / "b.txt").read_text() == "B"
    one = client.download_artifacts(run.id, "notes.txt", tmp_path / "notes-copy.txt")
    assert one.read_text() == "hello"
    with pytest.raises(ArtifactNotFound):
        client.read_artifact(run.id, "missing.txt")
    with pytest.raises(InvalidInput, match="no such file"), client.start_run() as other:
        other.log_artifact(tmp_path / "missing.png")


def test_compare_runs_names_what_changed(client: TrackingClient) -> None:
    with client.start_run() as a:
        a.log_params({"C": 1.0, "penalty": "l2"})
        a.log_metric("auc", 0.9)
    with client.start_run() as b:
        b.log_params({"C": 0.1, "penalty": "l2"})
        b.log_metric("auc", 0.95)
    diff = client.compare_runs(a.id, b.id)
    assert [(d.key, d.a, d.b) for d in diff.params] == [("C", "1.0", "0.1")]
    assert diff.same_params == 1
    [auc] = diff.metrics
    assert auc.delta == pytest.approx(0.05)
    assert diff.packages == []  # same process, same lock
    assert pickle.loads(pickle.dumps(diff)) == diff


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"value": 1.0, "step": 2**64}, "step .* does not fit in 64 bits"),
        ({"value": 1.0, "step": -(2**63) - 1}, "step .* does not fit in 64 bits"),
        ({"value": 1.0, "timestamp": 2**63}, "timestamp .* does not fit in 64 bits"),
        ({"value": 1.0, "step": 1.5}, "step must be an integer"),
        ({"value": True}, "expected a number, got bool"),
        ({"value": "0.5"}, "expected a number, got str"),
        ({"value": 10**400}, "expected a number"),
    ],
)
def test_a_metric_the_store_cannot_keep_fails_at_the_call(
    client: TrackingClient, kwargs: dict[str, object], message: str
) -> None:
    with client.start_run() as run:
        with pytest.raises(InvalidInput, match=f"metric 'loss': {message}"):
            run.log_metric("loss", **kwargs)  # type: ignore[arg-type]
        run.log_metric("loss", 0.25, step=3.0)  # type: ignore[arg-type]  # an integral float, accepted
        run.log_metric("loss", np.float32(0.5), step=np.int64(2**63 - 1))  # NumPy scalars, the last step
    history = client.get_metric_history(run.id, "loss")
    assert [(m.value, m.step) for m in history] == [(0.25, 3), (0.5, 2**63 - 1)]


def test_one_bad_point_in_a_batch_loses_only_itself_on_sqlite(client: TrackingClient) -> None:
    run = client.start_run()
    for i in range(100):
        run.log_metric("loss", float(i), step=i)
    run._buffer.points.append(("loss", 0.0, 2**64, 1))  # past validation, as from an older client
    with pytest.raises(MetricWriteError, match="1 metrics were rejected"):
        run.end()
    assert [m.step for m in client.get_metric_history(run.id, "loss")] == list(range(100))
    assert client.get_run(run.id).status is RunStatus.FINISHED


def test_memory_stays_bounded_while_the_store_is_down(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = client.start_run()
    run._writer.unregister(run._buffer)  # only the loop writes
    run._batch_size, run._max_pending = 5, 50
    real = client.store.log_batch
    failures = 3

    def down_then_up(*args: object, **kwargs: object) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise StoreUnavailable("metadata store is unavailable: database is locked")
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(client.store, "log_batch", down_then_up)
    most = 0
    for i in range(200):
        run.log_metric("loss", float(i))
        most = max(most, run._buffer.pending)
    assert most <= 50  # the loop waited for the store instead of piling up points
    run.end()
    assert len(client.get_metric_history(run.id, "loss")) == 200


@pytest.mark.parametrize("status", ["finished", "Killed", " FAILED ", RunStatus.FAILED])
def test_end_accepts_status_names_in_any_case(client: TrackingClient, status: str | RunStatus) -> None:
    run = client.start_run()
    assert run.end(status).status.value == str(getattr(status, "value", status)).strip().upper()


@pytest.mark.parametrize("status", ["done", "RUNNING", ""])
def test_end_with_an_unknown_status_names_the_allowed_ones(client: TrackingClient, status: str) -> None:
    run = client.start_run()
    with pytest.raises(InvalidInput, match="FINISHED, FAILED, KILLED"):
        run.end(status)
    assert run.end().status is RunStatus.FINISHED  # the bad call did not end it


def test_captured_slipway_tags_cannot_be_overwritten(client: TrackingClient) -> None:
    with pytest.raises(InvalidInput, match=r"'slipway\.git\.commit'.*reserved"):
        client.start_run(tags={"slipway.git.commit": "abc"})
    with client.start_run(tags={"team": "risk"}) as run:
        with pytest.raises(InvalidInput, match="reserved"):
            run.set_tag("slipway.python.version", "2.7")
        with pytest.raises(InvalidInput, match="reserved"):
            run.set_tags({"ok": "1", "Slipway.host": "x"})
        run.set_tag("slipway_like", "fine")
    tags = client.get_run(run.id).tags
    assert tags["slipway.python.version"] != "2.7"
    assert (tags["team"], tags["slipway_like"]) == ("risk", "fine")
    assert "ok" not in tags  # the call failed as a whole


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _count_marks(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch, error: Exception | None = None
) -> list[int]:
    calls: list[int] = []
    real = client.store.mark_dead_runs

    def mark(*, heartbeat_before: int) -> list[str]:
        calls.append(heartbeat_before)
        if error is not None:
            raise error
        return real(heartbeat_before=heartbeat_before)

    monkeypatch.setattr(client.store, "mark_dead_runs", mark)
    return calls


def test_reads_mark_dead_runs_at_most_once_per_interval(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = _Clock()
    monkeypatch.setattr("slipway.tracking._client.time.monotonic", clock)
    client.heartbeat_interval = 60.0  # marks at most every min(heartbeat_interval, 5 s)
    calls = _count_marks(client, monkeypatch)
    with client.start_run() as run:
        pass
    for _ in range(5):
        client.search_runs()
        client.get_run(run.id)
    assert len(calls) == 1
    clock.now += 5.0
    client.search_runs()
    assert len(calls) == 2


def test_a_failing_mark_does_not_fail_the_read(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_marks(client, monkeypatch, error=Unauthorized("this token may only read"))
    run = client.start_run()
    run._writer.unregister(run._buffer)  # no more beats, as if the process had died
    client.dead_after = 0.001
    time.sleep(0.01)
    assert client.search_runs().items[0].status is RunStatus.DIED  # reads as DIED, though not marked
    assert client.get_run(run.id).status is RunStatus.DIED
    assert len(calls) == 1
    assert client.store.get_run(run.id).status is RunStatus.RUNNING
    run.end()


def test_a_read_only_store_is_never_marked(client: TrackingClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_marks(client, monkeypatch)
    monkeypatch.setattr(client.store, "read_only", True, raising=False)
    with client.start_run():
        pass
    client.search_runs()
    assert calls == []


def test_a_batch_committed_before_its_answer_was_lost_is_not_stored_twice(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = client.store.log_batch
    answered: set[str | None] = set()

    def read_timeout_after_commit(run_id: str, **kwargs: Any) -> None:
        real(run_id, **kwargs)
        if kwargs.get("metrics") and kwargs.get("batch_id") not in answered:
            answered.add(kwargs.get("batch_id"))
            raise StoreUnavailable("team server did not answer: ReadTimeout")

    monkeypatch.setattr(client.store, "log_batch", read_timeout_after_commit)
    with client.start_run() as run:
        for i in range(12_000):
            run.log_metric("loss", float(i), step=i)
    assert [m.step for m in client.get_metric_history(run.id, "loss")] == list(range(12_000))


def test_ctrl_c_while_ending_leaves_the_run_to_the_exit_hook(
    client: TrackingClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = client.start_run()
    for i in range(100):
        run.log_metric("loss", float(i))
    real = client.store.log_batch
    interrupted = False

    def ctrl_c_once(*args: Any, **kwargs: Any) -> None:
        nonlocal interrupted
        if not interrupted:
            interrupted = True
            raise KeyboardInterrupt
        real(*args, **kwargs)

    monkeypatch.setattr(client.store, "log_batch", ctrl_c_once)
    with pytest.raises(KeyboardInterrupt):
        run.end()
    assert not run.ended
    assert run._buffer in run._writer.buffers()  # still the exit hook's to end
    assert run._buffer.on_exit is not None
    run._buffer.on_exit(RunStatus.KILLED)  # what the atexit hook does
    assert client.get_run(run.id).status is RunStatus.KILLED
    assert len(client.get_metric_history(run.id, "loss")) == 100


def test_logging_fast_while_the_writer_works_through_its_queue(client: TrackingClient) -> None:
    with client.start_run() as run:
        run._batch_size = 50  # the loop checks the queue's length often, as the writer changes it
        for i in range(200_000):
            run.log_metric("loss", 0.5, step=i)
    assert len(client.get_metric_history(run.id, "loss")) == 200_000
