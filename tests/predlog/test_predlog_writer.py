"""PredictionLogWriter: what log() accepts, what reaches storage, and what happens when storage fails."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from tests.predlog._helpers import CONTRACT, batch

from slipway.errors import Conflict, InvalidInput, StoreUnavailable
from slipway.predlog import PredictionBatch, PredictionLogWriter, read_predictions

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.predlog.conftest import FlakyTree

    from slipway.artifacts import FileTree

T0 = datetime(2025, 3, 14, 15, 9, 26, 535897, tzinfo=timezone.utc)


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# ---------------------------------------------------------------- round trip


def test_rows_and_dtypes_round_trip(tree: FileTree) -> None:
    inputs: dict[str, Any] = {
        "age": np.array([31, 45], dtype=np.int64),
        "income": np.array([1.5, np.nan]),
        "ratio": np.array([0.25, 0.5], dtype=np.float32),
        "city": ["Lyon", None],
        "member": np.array([True, False]),
    }
    outputs = {
        "prediction": np.array([0, 1]),
        "proba_yes": np.array([0.2, 0.7]),
        "embedding": np.arange(12, dtype=np.float64).reshape(2, 3, 2),
    }
    with PredictionLogWriter(tree, deployment="churn") as writer:
        writer.log(
            PredictionBatch(
                request_ids=["r1", "r2"],
                model_name="churn-model",
                model_version=7,
                variant="canary",
                inputs=inputs,
                outputs=outputs,
                latency_ms=[3.0, 4.5],
                timestamp=T0,
            )
        )

    frame = read_predictions(tree)

    assert list(frame.columns) == [
        *CONTRACT,
        "age",
        "income",
        "ratio",
        "city",
        "member",
        "prediction",
        "proba_yes",
        "embedding",
    ]
    assert frame["request_id"].tolist() == ["r1", "r2"]
    assert frame["timestamp"].tolist() == [pd.Timestamp(T0)] * 2
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert frame[["deployment", "model_name", "model_version", "variant"]].iloc[0].tolist() == [
        "churn",
        "churn-model",
        "7",
        "canary",
    ]
    assert frame["latency_ms"].tolist() == [3.0, 4.5]
    assert frame["age"].dtype == np.int64
    assert frame["income"].iloc[0] == 1.5
    assert pd.isna(frame["income"].iloc[1])
    assert frame["ratio"].dtype == np.float32
    assert frame["city"].iloc[0] == "Lyon"
    assert pd.isna(frame["city"].iloc[1])
    assert frame["member"].tolist() == [True, False]
    assert frame["prediction"].tolist() == [0, 1]
    assert [[list(pair) for pair in row] for row in frame["embedding"]] == [
        [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]],
        [[6.0, 7.0], [8.0, 9.0], [10.0, 11.0]],
    ]
    assert frame.attrs == {
        "inputs": ["age", "income", "ratio", "city", "member"],
        "outputs": ["prediction", "proba_yes", "embedding"],
    }


def test_parts_are_partitioned_by_deployment_and_date_with_the_contract_schema(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="churn") as writer:
        writer.log(dataclasses.replace(batch(["a"]), timestamp=T0))
        writer.log(dataclasses.replace(batch(["b"]), timestamp=T0 + timedelta(days=1)))

    parts = tree.list()
    assert [p.rsplit("/", 1)[0] for p in parts] == [
        "predictions/deployment=churn/date=2025-03-14",
        "predictions/deployment=churn/date=2025-03-15",
    ]
    name = parts[0].rsplit("/", 1)[1]
    assert name.startswith("part-")
    assert name.endswith(".parquet")
    schema = pq.read_schema(tree.fs.open(f"{tree.root}/{parts[0]}"))
    assert [str(t) for t in schema.types[:7]] == [
        "string",
        "timestamp[us, tz=UTC]",
        "string",
        "string",
        "string",
        "string",
        "double",
    ]
    assert schema.metadata[b"slipway.predlog"] == b"1"


def test_dataframe_inputs_lists_and_per_batch_latency(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="d") as writer:
        writer.log(
            PredictionBatch(
                request_ids=np.array(["a", "b", "c"]),
                model_name="m",
                model_version="1",
                variant="primary",
                inputs=pd.DataFrame({"x": [1.0, 2.0, 3.0], "kind": pd.Categorical(["u", "v", "u"])}),
                outputs={"prediction": ["yes", "no", "yes"]},
                latency_ms=np.float32(2.5),
            )
        )

    frame = read_predictions(tree)

    assert frame["kind"].tolist() == ["u", "v", "u"]  # categoricals are stored as their values
    assert frame["prediction"].tolist() == ["yes", "no", "yes"]
    assert frame["latency_ms"].tolist() == [2.5] * 3


def test_inputs_named_like_reserved_columns_or_outputs_are_prefixed(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="d") as writer:
        writer.log(
            PredictionBatch(
                request_ids=["a"],
                model_name="m",
                model_version="1",
                variant="primary",
                inputs={"timestamp": [5], "label": ["x"], "prediction": [1], "plain": [2]},
                outputs={"prediction": [0.5], "variant": ["B"]},
                latency_ms=1.0,
            )
        )

    frame = read_predictions(tree)

    assert list(frame.columns[7:]) == [
        "input.timestamp",
        "input.label",
        "input.prediction",
        "plain",
        "prediction",
        "output.variant",
    ]
    assert frame["variant"].tolist() == ["primary"]
    assert frame["output.variant"].tolist() == ["B"]


def test_batches_of_one_flush_are_grouped_by_column_set(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="d", flush_interval=60) as writer:
        for i in range(10):
            writer.log(batch([f"a{i}"]))
        writer.log(batch(["b"], x=[1.0], y=[2.0]))

    assert len(tree.list()) == 2
    frame = read_predictions(tree)
    assert len(frame) == 11
    assert frame["y"].isna().sum() == 10  # parts with other columns are unified on read


def test_numbers_of_different_types_in_one_flush_are_joined_in_one_part(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="d", flush_interval=60) as writer:
        writer.log(batch(["a"], x=np.array([1])))
        writer.log(batch(["b"], x=[2.5]))

    assert len(tree.list()) == 1
    assert read_predictions(tree)["x"].tolist() == [1.0, 2.5]


def test_a_column_whose_type_changes_between_batches_still_writes(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="d", flush_interval=60) as writer:
        writer.log(batch(["a"], x=np.array([1])))
        writer.log(batch(["b"], x=[2.5]))
        writer.log(batch(["c"], x=["text"]))  # no common type: each batch becomes a part of its own

    frame = read_predictions(tree)

    assert frame["request_id"].tolist() == ["a", "b", "c"]
    assert len(tree.list()) == 3
    assert frame["x"].tolist() == ["1", "2.5", "text"]  # read back as text, the only common type
    assert writer.dropped_rows == 0


def test_rows_that_cannot_be_stored_are_dropped_counted_and_logged(
    tree: FileTree, caplog: pytest.LogCaptureFixture
) -> None:
    with PredictionLogWriter(tree, deployment="d", flush_interval=60) as writer:
        writer.log(batch(["a", "b"], x=[1, "mixed"]))  # one column, numbers and text
        writer.log(batch(["c"]))

    assert (writer.written_rows, writer.dropped_rows) == (1, 2)
    assert "2 rows dropped, they cannot be stored" in caplog.text
    assert read_predictions(tree)["request_id"].tolist() == ["c"]


# ---------------------------------------------------------------- flushing and closing


def test_the_background_thread_writes_every_flush_interval(tree: FileTree) -> None:
    writer = PredictionLogWriter(tree, deployment="d", flush_interval=0.05)
    writer.log(batch(["a"]))
    _wait_for(lambda: writer.written_rows == 1)
    assert len(read_predictions(tree)) == 1
    writer.log(batch(["b"]))
    _wait_for(lambda: writer.written_rows == 2)
    writer.close()
    assert len(tree.list()) == 2


def test_close_flushes_everything_and_then_log_raises(tree: FileTree) -> None:
    writer = PredictionLogWriter(tree, deployment="d", flush_interval=3600)
    for i in range(1000):
        writer.log(batch([f"r{i}"]))
    assert tree.list() == []

    writer.close()
    writer.close()  # idempotent

    assert writer.written_rows == 1000
    assert len(read_predictions(tree)) == 1000
    with pytest.raises(Conflict, match="writer for deployment 'd' is closed"):
        writer.log(batch(["late"]))


def test_readers_listing_while_a_writer_writes_never_see_a_half_written_part(tree: FileTree) -> None:
    wide = {f"f{i}": np.random.default_rng(i).random(2_000) for i in range(50)}
    done = threading.Event()
    problems: list[BaseException] = []
    reads = 0

    def reader() -> None:
        nonlocal reads
        while not done.is_set():
            try:
                read_predictions(tree)
                reads += 1
            except BaseException as exc:  # a torn Parquet file would raise here
                problems.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        with PredictionLogWriter(tree, deployment="d", flush_interval=0.01) as writer:
            for i in range(30):
                writer.log(dataclasses.replace(batch([f"r{i}-{j}" for j in range(2_000)]), inputs=wide))
                time.sleep(0.02)
    finally:
        done.set()
        thread.join()

    assert problems == []
    assert reads > 0
    assert len(read_predictions(tree)) == 60_000


# ---------------------------------------------------------------- storage failures


def test_a_failed_write_is_retried_and_no_row_is_lost(flaky: FlakyTree) -> None:
    writer = PredictionLogWriter(flaky, deployment="d", flush_interval=0.02)
    flaky.failing = True
    for i in range(50):
        writer.log(batch([f"r{i}"]))
    _wait_for(lambda: flaky.attempts >= 3)
    assert writer.written_rows == 0
    assert writer.buffered_rows == 50

    flaky.failing = False
    _wait_for(lambda: writer.written_rows == 50)
    writer.close()

    assert writer.dropped_rows == 0
    assert sorted(read_predictions(flaky)["request_id"]) == sorted(f"r{i}" for i in range(50))


def test_rows_beyond_the_bound_are_dropped_and_counted(flaky: FlakyTree) -> None:
    writer = PredictionLogWriter(flaky, deployment="d", flush_interval=0.02, max_buffered_rows=100)
    flaky.failing = True
    for i in range(30):
        writer.log(batch([f"r{i}-{j}" for j in range(10)]))  # 300 rows; room for 100

    assert writer.dropped_rows == 200
    assert writer.buffered_rows == 100
    flaky.failing = False
    writer.close()
    assert (writer.written_rows, writer.dropped_rows) == (100, 200)
    assert len(read_predictions(flaky)) == 100


def test_close_gives_up_after_its_timeout_and_says_how_many_rows_were_lost(flaky: FlakyTree) -> None:
    writer = PredictionLogWriter(flaky, deployment="d", flush_interval=3600)
    writer.log(batch(["a", "b", "c"]))
    flaky.failing = True

    with pytest.raises(
        StoreUnavailable, match=r"prediction log d: 3 rows could not be written .*storage is down"
    ):
        writer.close(timeout=0.3)
    assert writer.dropped_rows == 3


def test_a_failing_storage_is_warned_about_once_then_recovery_is_logged(
    flaky: FlakyTree, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="slipway.predlog")
    writer = PredictionLogWriter(flaky, deployment="d", flush_interval=0.01)
    flaky.failing = True
    writer.log(batch(["a"]))
    _wait_for(lambda: flaky.attempts >= 5)
    flaky.failing = False
    writer.close()

    assert caplog.text.count("retrying at the next flush") == 1
    assert "writing again after" in caplog.text


# ---------------------------------------------------------------- bad input


def _bad(**changes: Any) -> PredictionBatch:
    return dataclasses.replace(batch(["a", "b"]), **changes)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_bad(inputs={"x": [1.0, 2.0], "y": [1.0]}), r"input 'y': 1 values for 2 request ids"),
        (_bad(outputs={"prediction": [1, 2, 3]}), r"output 'prediction': 3 values for 2 request ids"),
        (_bad(inputs={"x": 5}), r"input 'x': a int, not a column"),
        (_bad(inputs=pd.DataFrame({"x": [1.0]})), r"inputs: a DataFrame of 1 rows for 2 request ids"),
        (
            _bad(inputs=[1, 2]),
            r"inputs: expected a mapping of column name to values or a DataFrame, got list",
        ),
        (_bad(outputs=[1, 2]), r"outputs: expected a mapping .* got list"),
        (_bad(request_ids="ab"), r"request_ids 'ab': expected a list or array of ids"),
        (_bad(request_ids=7), r"request_ids 7: expected a list or array"),
        (_bad(variant=3), r"variant 3: expected 1-128 letters"),
        (_bad(variant="a/b"), r"variant 'a/b': expected 1-128 letters"),
        (_bad(model_name=None), r"model_name None: expected a non-empty string"),
        (_bad(model_version=1.5), r"model_version 1.5: expected a non-empty string or an int"),
        (_bad(latency_ms=[1.0]), r"latency_ms \[1.0\]: expected a number, or one number per row \(2\)"),
        (_bad(latency_ms="fast"), r"latency_ms 'fast': expected a number"),
        (_bad(timestamp="now"), r"timestamp 'now': expected a datetime"),
        (_bad(inputs={1: [1, 2]}), r"input column name 1: expected a non-empty string"),
        (
            _bad(inputs={"input.x": [1, 2], "x": [1, 2]}, outputs={"x": [1, 2]}),
            r"column 'input.x': two inputs",
        ),
    ],
)
def test_bad_batches_are_one_line_errors_at_log_time(
    tree: FileTree, bad: PredictionBatch, message: str
) -> None:
    with PredictionLogWriter(tree, deployment="d") as writer:
        with pytest.raises(InvalidInput, match=message) as info:
            writer.log(bad)
        assert "\n" not in str(info.value)
        writer.log(batch(["ok"]))  # the writer is not harmed
    assert read_predictions(tree)["request_id"].tolist() == ["ok"]


def test_only_prediction_batches_are_accepted(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="d") as writer, pytest.raises(InvalidInput, match="got dict"):
        writer.log({"request_ids": ["a"]})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"deployment": "../x"}, r"deployment '\.\./x': expected 1-128 letters"),
        ({"deployment": "d", "flush_interval": 0}, "flush_interval 0: expected a positive number"),
        (
            {"deployment": "d", "max_buffered_rows": 0},
            "max_buffered_rows 0: expected a positive whole number",
        ),
    ],
)
def test_bad_writer_options(tree: FileTree, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        PredictionLogWriter(tree, **options)


def test_an_empty_batch_writes_nothing(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="d") as writer:
        writer.log(batch([], x=[]))
    assert tree.list() == []
    assert writer.written_rows == 0


# ---------------------------------------------------------------- counts as they happen


def test_on_rows_reports_every_written_and_dropped_row_as_it_happens(flaky: FlakyTree) -> None:
    reported: dict[str, int] = {"written": 0, "dropped": 0}
    lock = threading.Lock()

    def on_rows(outcome: str, rows: int) -> None:
        with lock:
            reported[outcome] += rows

    writer = PredictionLogWriter(
        flaky, deployment="d", flush_interval=0.02, max_buffered_rows=100, on_rows=on_rows
    )
    writer.log(batch(["a", "b"]))
    _wait_for(lambda: reported["written"] == 2)  # at the flush, not at some later log()
    flaky.failing = True
    for i in range(30):
        writer.log(batch([f"r{i}-{j}" for j in range(10)]))  # room for 100 of these 300
    assert reported == {"written": 2, "dropped": 200}
    with pytest.raises(StoreUnavailable):
        writer.close(timeout=0.2)
    assert (
        reported
        == {"written": writer.written_rows, "dropped": writer.dropped_rows}
        == {
            "written": 2,
            "dropped": 300,
        }
    )


def test_an_on_rows_that_raises_changes_nothing(tree: FileTree) -> None:
    def on_rows(outcome: str, rows: int) -> None:
        raise RuntimeError("the metric is broken")

    with PredictionLogWriter(tree, deployment="d", flush_interval=3600, on_rows=on_rows) as writer:
        writer.log(batch(["a"]))
    assert writer.written_rows == 1
    assert len(read_predictions(tree)) == 1
