"""read_predictions, read_feedback, join_feedback; log_feedback."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from tests.predlog._helpers import CONTRACT, batch

from slipway.artifacts import FileTree
from slipway.errors import InvalidInput
from slipway.predlog import PredictionLogWriter, join_feedback, log_feedback, read_feedback, read_predictions

if TYPE_CHECKING:
    import builtins
    from typing import IO

DAY1 = datetime(2025, 6, 1, 12, 0, tzinfo=timezone.utc)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)


class CountingTree(FileTree):
    """Records which folders a reader lists, which files it opens and how many bytes it reads."""

    def __init__(self, tree: FileTree) -> None:
        super().__init__(tree.fs, tree.root)
        self.listed: builtins.list[str] = []
        self.read: builtins.list[str] = []
        self.bytes_read: dict[str, int] = {}

    def list(self, prefix: str = "") -> builtins.list[str]:
        self.listed.append(prefix)
        return super().list(prefix)

    def read_bytes(self, relpath: str) -> bytes:
        self.read.append(relpath)
        return super().read_bytes(relpath)

    def open(self, relpath: str) -> IO[bytes]:
        self.read.append(relpath)
        handle = super().open(relpath)
        counts = self.bytes_read
        counts[relpath] = 0
        original = handle.read

        def read(size: int = -1) -> bytes:
            data = original(size)
            counts[relpath] += len(data)
            return data

        handle.read = read  # type: ignore[method-assign]
        return handle


@pytest.fixture
def logged(tree: FileTree) -> FileTree:
    """Two deployments over three days; "churn" has a primary and a canary."""
    for deployment, days in (("churn", (DAY1, DAY2, DAY3)), ("fraud", (DAY2,))):
        with PredictionLogWriter(tree, deployment=deployment) as writer:
            for day in days:
                for variant in ("primary", "canary") if deployment == "churn" else ("primary",):
                    ids = [f"{deployment}-{day:%d}-{variant}-{i}" for i in range(3)]
                    writer.log(dataclasses.replace(batch(ids, variant=variant), timestamp=day))
    return tree


# ---------------------------------------------------------------- predictions


def test_a_window_inside_a_day_skips_the_parts_that_cannot_hold_it(tree: FileTree) -> None:
    rng = np.random.default_rng(0)
    for hour in range(3):
        with PredictionLogWriter(tree, deployment="churn") as writer:  # one part per hour
            ids = [f"h{hour}-{i}" for i in range(50_000)]
            rows = batch(ids, x=rng.random(len(ids)), y=rng.random(len(ids)))  # incompressible: large parts
            writer.log(dataclasses.replace(rows, timestamp=DAY1 + timedelta(hours=hour)))
    counting = CountingTree(tree)

    frame = read_predictions(counting, start=DAY1 + timedelta(hours=1), end=DAY1 + timedelta(hours=2))

    assert len(frame) == 50_000
    assert set(frame["request_id"].str[:2]) == {"h1"}
    sizes = {p: counting.fs.size(counting._key(p)) for p in counting.read}
    skipped = [p for p in counting.read if counting.bytes_read[p] < sizes[p] / 2]
    assert len(skipped) == 2  # the other hours' parts: their footers say so, their rows are never read


def test_feedback_can_be_read_for_some_requests_only(tree: FileTree) -> None:
    log_feedback(tree, deployment="churn", request_ids=["a", "b", "c"], labels=[1, 0, 1], timestamp=DAY1)
    frame = read_feedback(tree, deployment="churn", request_ids=["b", "c", "zz"])
    assert frame["request_id"].tolist() == ["b", "c"]
    assert read_feedback(tree, request_ids=[]).empty


def test_everything_is_read_oldest_first(logged: FileTree) -> None:
    frame = read_predictions(logged)

    assert len(frame) == 3 * 2 * 3 + 3
    assert frame["timestamp"].is_monotonic_increasing
    assert set(frame["deployment"]) == {"churn", "fraud"}


def test_a_window_reads_only_its_date_partitions(logged: FileTree) -> None:
    tree = CountingTree(logged)

    frame = read_predictions(tree, deployment="churn", start=date(2025, 6, 2), end=date(2025, 6, 3))

    assert set(frame["timestamp"]) == {pd.Timestamp(DAY2)}
    assert len(frame) == 6
    assert tree.listed == ["predictions/deployment=churn/date=2025-06-02"]
    assert all("date=2025-06-02" in part for part in tree.read)


def test_start_is_included_and_end_excluded_dates_mean_midnight_utc(logged: FileTree) -> None:
    assert len(read_predictions(logged, deployment="churn", start=DAY1, end=DAY1)) == 0
    assert (
        len(read_predictions(logged, deployment="churn", start=DAY1, end=DAY1 + timedelta(microseconds=1)))
        == 6
    )
    assert len(read_predictions(logged, deployment="churn", start=date(2025, 6, 2))) == 12
    assert len(read_predictions(logged, deployment="churn", end=date(2025, 6, 2))) == 6
    naive = DAY3.replace(tzinfo=None)  # naive means UTC
    assert len(read_predictions(logged, deployment="churn", start=naive)) == 6


def test_variants_are_filtered(logged: FileTree) -> None:
    canary = read_predictions(logged, deployment="churn", variant="canary")
    both = read_predictions(logged, deployment="churn", variant=["canary", "primary"])

    assert set(canary["variant"]) == {"canary"}
    assert len(canary) == 9
    assert len(both) == 18


def test_an_empty_log_reads_as_an_empty_frame_with_the_contract_columns(tree: FileTree) -> None:
    frame = read_predictions(tree)

    assert list(frame.columns) == CONTRACT
    assert len(frame) == 0
    assert len(read_predictions(tree, deployment="nowhere")) == 0


def test_parts_of_different_model_versions_are_unified(tree: FileTree) -> None:
    with PredictionLogWriter(tree, deployment="d") as writer:
        writer.log(batch(["v1"], version="1", x=np.array([1], dtype=np.int64)))
    with PredictionLogWriter(tree, deployment="d") as writer:
        writer.log(batch(["v2"], version="2", x=[0.5], new_feature=["n"]))

    frame = read_predictions(tree)

    assert frame["x"].tolist() == [1.0, 0.5]
    assert frame["new_feature"].isna().tolist() == [True, False]
    assert frame.attrs["inputs"] == ["x", "new_feature"]


def test_a_bad_deployment_filter_is_refused(tree: FileTree) -> None:
    with pytest.raises(InvalidInput, match=r"deployment '\.\./x'"):
        read_predictions(tree, deployment="../x")


def _log(tree: FileTree, deployment: str, ids: list[str], at: datetime, **kwargs: object) -> None:
    with PredictionLogWriter(tree, deployment=deployment) as writer:  # a part of its own, as a new process
        writer.log(dataclasses.replace(batch(ids, **kwargs), timestamp=at))  # type: ignore[arg-type]


def test_a_resumed_batch_jobs_repeated_rows_read_back_once_the_latest(tree: FileTree) -> None:
    ids = [f"job-{i}" for i in range(10)]
    _log(tree, "churn", ids, DAY1, variant="batch", x=np.zeros(10))
    _log(tree, "churn", ids[4:8], DAY1 + timedelta(minutes=1), variant="batch", x=np.ones(4))  # resumed
    _log(tree, "churn", ids[6:], DAY1 + timedelta(minutes=2), variant="batch", x=np.full(4, 2.0))  # again

    frame = read_predictions(tree, deployment="churn")

    assert len(frame) == 10
    assert sorted(frame["request_id"]) == sorted(ids)
    assert frame.set_index("request_id")["x"].to_dict() == {
        **dict.fromkeys(ids[:4], 0.0),
        **dict.fromkeys(ids[4:6], 1.0),
        **dict.fromkeys(ids[6:], 2.0),
    }
    assert frame["timestamp"].is_monotonic_increasing
    assert frame.index.tolist() == list(range(10))
    window = read_predictions(tree, start=DAY1, end=DAY1 + timedelta(seconds=90))
    assert window["request_id"].is_unique
    assert len(window) == 10  # ids 8 and 9 as first logged: their repeat is after the window
    assert len(read_predictions(tree, start=DAY1 + timedelta(minutes=2))) == 4


def test_only_batch_rows_of_one_deployment_are_repeats(tree: FileTree) -> None:
    _log(tree, "churn", ["r1", "r2"], DAY1)
    _log(tree, "churn", ["r1", "r2"], DAY1, variant="shadow")  # a shadow shares its primary's ids
    _log(tree, "churn", ["r1"], DAY1 + timedelta(seconds=1))  # a client that sent an id twice
    _log(tree, "churn", ["job-0", "job-1"], DAY1, variant="batch")
    _log(tree, "churn", ["job-1"], DAY2, variant="batch")
    _log(tree, "fraud", ["job-0"], DAY1, variant="batch")  # the same job scored for another deployment

    frame = read_predictions(tree)

    assert sorted(zip(frame["deployment"], frame["variant"], frame["request_id"], strict=True)) == [
        ("churn", "batch", "job-0"),
        ("churn", "batch", "job-1"),
        ("churn", "primary", "r1"),
        ("churn", "primary", "r1"),
        ("churn", "primary", "r2"),
        ("churn", "shadow", "r1"),
        ("churn", "shadow", "r2"),
        ("fraud", "batch", "job-0"),
    ]
    assert frame.loc[frame["request_id"] == "job-1", "timestamp"].tolist() == [pd.Timestamp(DAY2)]
    assert len(read_predictions(tree, variant="primary")) == 3


def test_feedback_joins_one_label_to_a_batch_row_logged_twice(tree: FileTree) -> None:
    ids = [f"job-{i}" for i in range(4)]
    _log(tree, "churn", ids, DAY1, variant="batch")
    _log(tree, "churn", ids[2:], DAY1 + timedelta(minutes=1), variant="batch")
    log_feedback(tree, deployment="churn", request_ids=["job-3", "job-0"], labels=[1, 0], timestamp=DAY2)

    joined = join_feedback(read_predictions(tree), read_feedback(tree))

    assert joined.set_index("request_id")["label"].dropna().to_dict() == {"job-0": 0, "job-3": 1}
    assert len(joined) == 4


# ---------------------------------------------------------------- feedback


def test_feedback_round_trips_with_numbers_and_strings(tree: FileTree) -> None:
    assert log_feedback(tree, deployment="churn", request_ids=["a", "b"], labels=[1, 0], timestamp=DAY1) == 2
    log_feedback(tree, deployment="churn", request_ids=["c"], labels=["spam"], timestamp=DAY2)
    log_feedback(tree, deployment="other", request_ids=["z"], labels=[None])

    frame = read_feedback(tree, deployment="churn")

    assert list(frame.columns) == ["request_id", "label", "timestamp", "deployment"]
    assert frame["request_id"].tolist() == ["a", "b", "c"]
    assert frame["label"].tolist() == ["1", "0", "spam"]  # numbers and text in one column: text
    assert [p.rsplit("/", 1)[0] for p in tree.list("feedback/deployment=churn")] == [
        "feedback/deployment=churn/date=2025-06-01",
        "feedback/deployment=churn/date=2025-06-02",
    ]
    assert len(read_feedback(tree)) == 4
    assert len(read_feedback(tree, deployment="churn", start=DAY2)) == 1


def test_per_row_feedback_timestamps_split_by_date(tree: FileTree) -> None:
    log_feedback(
        tree,
        deployment="d",
        request_ids=["a", "b", "c"],
        labels=[0.5, 1.5, 2.5],
        timestamp=[DAY1, DAY3, DAY1],
    )

    assert len(tree.list("feedback")) == 2
    frame = read_feedback(tree)
    assert frame["label"].tolist() == [0.5, 2.5, 1.5]  # oldest first


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"request_ids": ["a"], "labels": [1, 2]}, "labels: 2 labels for 1 request ids"),
        ({"request_ids": "a", "labels": [1]}, "request_ids 'a': expected a list or array"),
        ({"request_ids": ["a"], "labels": [1], "timestamp": [DAY1, DAY2]}, "timestamp: 2 timestamps for 1"),
        ({"request_ids": ["a"], "labels": [1], "timestamp": "today"}, "timestamp 'today': expected a list"),
    ],
)
def test_bad_feedback_is_refused(tree: FileTree, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        log_feedback(tree, deployment="d", **kwargs)  # type: ignore[arg-type]
    assert tree.list() == []


def test_join_takes_the_latest_label_and_keeps_unlabelled_predictions(logged: FileTree) -> None:
    log_feedback(logged, deployment="churn", request_ids=["churn-01-primary-0"], labels=[0], timestamp=DAY2)
    log_feedback(logged, deployment="churn", request_ids=["churn-01-primary-0"], labels=[1], timestamp=DAY3)
    log_feedback(logged, deployment="churn", request_ids=["churn-01-primary-0"], labels=[2], timestamp=DAY1)
    log_feedback(logged, deployment="churn", request_ids=["churn-01-canary-1"], labels=[5], timestamp=DAY1)
    log_feedback(logged, deployment="fraud", request_ids=["churn-01-canary-1"], labels=[9], timestamp=DAY3)

    predictions = read_predictions(logged, deployment="churn")
    joined = join_feedback(predictions, read_feedback(logged))

    assert len(joined) == len(predictions)
    by_id = joined.set_index("request_id")
    assert by_id.loc["churn-01-primary-0", "label"] == 1  # DAY3's label: the latest
    assert by_id.loc["churn-01-primary-0", "label_timestamp"] == pd.Timestamp(DAY3)
    assert by_id.loc["churn-01-canary-1", "label"] == 5  # the fraud deployment's label is not churn's
    assert by_id["label"].isna().sum() == len(predictions) - 2
    assert joined.attrs == predictions.attrs


def test_join_refuses_frames_without_the_join_columns() -> None:
    predictions = pd.DataFrame({"request_id": ["a"], "label": [1]})
    with pytest.raises(InvalidInput, match="predictions already have a column 'label'"):
        join_feedback(predictions, pd.DataFrame({"request_id": [], "label": [], "timestamp": []}))
    with pytest.raises(InvalidInput, match="feedback with request_id, label and timestamp"):
        join_feedback(pd.DataFrame({"request_id": ["a"]}), pd.DataFrame({"request_id": ["a"]}))
