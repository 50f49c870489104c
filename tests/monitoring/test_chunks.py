from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.monitoring._chunks import Chunker, split


def _log(stamps: list[str]) -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame(
        {"timestamp": pd.to_datetime(stamps, utc=True), "x": np.arange(len(stamps))}
    )
    return frame


def test_hourly_windows_are_aligned_left_closed_and_keep_empty_hours() -> None:
    frame = _log(["2025-06-01 10:59:59", "2025-06-01 10:00:00", "2025-06-01 11:00:00", "2025-06-01 13:30:00"])

    chunks = Chunker.by_time("1h").split(frame)

    assert [c.key for c in chunks] == [
        "2025-06-01T10:00:00+00:00",
        "2025-06-01T11:00:00+00:00",
        "2025-06-01T12:00:00+00:00",
        "2025-06-01T13:00:00+00:00",
    ]
    assert [c.n_rows for c in chunks] == [2, 1, 0, 1]
    assert chunks[0].data["x"].tolist() == [0, 1]  # the frame's order, not the time order
    assert chunks[1].start == pd.Timestamp("2025-06-01 11:00", tz="UTC")
    assert chunks[1].end == pd.Timestamp("2025-06-01 12:00", tz="UTC")


def test_month_start_windows_end_at_the_next_month() -> None:
    frame = _log(["2025-01-31 23:59", "2025-02-01 00:00", "2025-03-15 12:00"])

    chunks = split(frame, "MS")

    assert [(c.start, c.end, c.n_rows) for c in chunks] == [
        (pd.Timestamp("2025-01-01", tz="UTC"), pd.Timestamp("2025-02-01", tz="UTC"), 1),
        (pd.Timestamp("2025-02-01", tz="UTC"), pd.Timestamp("2025-03-01", tz="UTC"), 1),
        (pd.Timestamp("2025-03-01", tz="UTC"), pd.Timestamp("2025-04-01", tz="UTC"), 1),
    ]


def test_time_windows_on_another_column_and_text_timestamps() -> None:
    frame = pd.DataFrame({"when": ["2025-06-01T00:30:00Z", "2025-06-02T00:10:00Z"], "x": [1, 2]})

    chunks = Chunker.parse("time:1D@when").split(frame)

    assert [c.n_rows for c in chunks] == [1, 1]
    assert chunks[0].span.to_dict() == {
        "key": "2025-06-01T00:00:00+00:00",
        "index": 0,
        "start": "2025-06-01T00:00:00+00:00",
        "end": "2025-06-02T00:00:00+00:00",
        "n_rows": 1,
    }


def test_every_row_lands_in_exactly_one_window() -> None:
    rng = np.random.default_rng(0)
    stamps = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        rng.uniform(0, 90 * 86400, 5000), unit="s"
    )
    frame = pd.DataFrame({"timestamp": stamps, "i": np.arange(5000)})

    chunks = split(frame, Chunker.by_time("1D"))

    assert sorted(np.concatenate([c.data["i"].to_numpy() for c in chunks]).tolist()) == list(range(5000))
    for c in chunks:
        assert isinstance(c.start, pd.Timestamp)
        assert isinstance(c.end, pd.Timestamp)
        assert (c.data["timestamp"] >= c.start).all()
        assert (c.data["timestamp"] < c.end).all()
    assert [c.index for c in chunks] == list(range(len(chunks)))


@pytest.mark.parametrize(
    ("incomplete", "sizes"),
    [("keep", [4, 4, 2]), ("drop", [4, 4]), ("append", [4, 6])],
)
def test_row_chunks_and_the_incomplete_last_chunk(incomplete, sizes) -> None:
    frame = pd.DataFrame({"x": range(10)})

    chunks = Chunker.by_rows(4, incomplete=incomplete).split(frame)

    assert [c.n_rows for c in chunks] == sizes
    assert chunks[0].key == "0:4"
    assert (chunks[-1].start, chunks[-1].end) == (sum(sizes[:-1]), sum(sizes))


def test_count_chunks_are_nearly_equal_and_cover_everything() -> None:
    chunks = Chunker.by_count(3).split(pd.DataFrame({"x": range(10)}))

    assert [c.n_rows for c in chunks] == [3, 3, 4]
    assert [c.span.start for c in chunks] == [0, 3, 6]
    assert Chunker.by_count(5).split(pd.DataFrame({"x": range(2)}))[1].n_rows == 1


def test_column_chunks_one_per_value_sorted() -> None:
    frame = pd.DataFrame({"month": ["2025-02", "2025-01", "2025-02"], "x": [1, 2, 3]})

    chunks = Chunker.by_column("month").split(frame)

    assert [(c.key, c.data["x"].tolist()) for c in chunks] == [("2025-01", [2]), ("2025-02", [1, 3])]
    assert chunks[0].span.start is None


def test_whole_frame_and_empty_frame() -> None:
    frame = pd.DataFrame({"timestamp": pd.to_datetime([], utc=True), "x": []})

    assert split(frame) == []
    assert split(frame, "1h") == []
    assert split(frame, "rows:10") == []
    assert [c.n_rows for c in split(pd.DataFrame({"x": [1, 2]}))] == [2]


@pytest.mark.parametrize(
    "text", ["all", "rows:500", "count:7", "column:month", "time:1h@timestamp", "time:MS@ts"]
)
def test_text_form_round_trips(text: str) -> None:
    chunker = Chunker.parse(text)

    assert Chunker.parse(chunker.text()) == chunker
    assert chunker.text() == text
    json.dumps(chunker.to_dict())


def test_bare_offset_means_time_on_timestamp() -> None:
    assert Chunker.parse("15min") == Chunker.by_time("15min", column="timestamp")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Chunker.parse("fortnightly"), "frequency 'fortnightly'"),
        (lambda: Chunker.parse("rows:many"), "rows:<a whole number>"),
        (lambda: Chunker.by_rows(0), "positive number of rows"),
        (lambda: Chunker.by_count(0), "positive number of chunks"),
        (lambda: Chunker.parse("weeks:2"), "expected all, rows"),
    ],
)
def test_bad_chunkers_are_invalid_input(make, match) -> None:
    with pytest.raises(InvalidInput, match=match):
        make()


def test_bad_frames_name_the_column() -> None:
    with pytest.raises(InvalidInput, match="column 'timestamp': missing"):
        split(pd.DataFrame({"x": [1]}), "1h")
    with pytest.raises(InvalidInput, match="column 'timestamp': 1 rows have no timestamp"):
        split(pd.DataFrame({"timestamp": pd.to_datetime(pd.Series(["2025-01-01", None]), utc=True)}), "1h")
    with pytest.raises(InvalidInput, match="column 'timestamp': expected timestamps"):
        split(pd.DataFrame({"timestamp": ["soon", "later"]}), "1h")
    with pytest.raises(InvalidInput, match="column 'month': 1 rows have no value"):
        split(pd.DataFrame({"month": ["a", None]}), "column:month")
