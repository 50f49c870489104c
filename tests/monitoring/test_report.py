"""The HTML report: self-contained, numbers and plots for every column, drifted columns first,
and performance over time: measured per window, estimated with its band."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from tests.monitoring._data import census

from slipway.errors import InvalidInput
from slipway.models import ReferenceSummary
from slipway.monitoring._drift import dataset_drift
from slipway.monitoring._performance import measure_performance
from slipway.monitoring._report import (
    MetricSeries,
    drift_report_html,
    performance_report_html,
    performance_series,
)

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 4_000),
            "plan": rng.choice(["basic", "pro", "<team & co>"], 4_000),
            "seats": rng.normal(5, 1, 4_000),
        }
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(48, 10, 1_500),  # shifted
            "plan": rng.choice(["basic", "pro", "<team & co>"], 1_500),
            "seats": rng.normal(5, 1, 1_500),
        }
    )
    return reference, current


def test_the_report_is_one_file_that_needs_no_network(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = frames
    drift = dataset_drift(reference, current)
    page = drift_report_html(drift, reference, current, title="churn drift")

    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    # nothing to fetch: no external source, link, stylesheet import or url() reference
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only references inside the page (SVG clip paths)
    assert page.count("<svg") == 3  # one plot per column


def test_the_summary_and_the_ranking_follow_the_numbers(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = frames
    drift = dataset_drift(reference, current)
    page = drift_report_html(drift, ReferenceSummary.from_frame(reference, max_rows=1_000), current)

    assert drift.column("age").drifted
    drifted = sum(c.drifted for c in drift.columns)
    assert f"{drifted} of 3 columns drifted" in page
    table = page[page.index("<tbody>") : page.index("</tbody>")]
    assert table.index(">age<") < table.index(">seats<")  # the drifted column is listed first
    assert "(sample of 1,000)" in page
    # a category's text is escaped in the table's neighbourhood, never injected as markup
    assert "<team & co>" not in page


def test_performance_over_time_is_drawn_with_its_band(frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, current = frames
    drift = dataset_drift(reference, current)
    series = MetricSeries(
        metric="roc_auc",
        labels=["2024-01", "2024-02", "2024-03"],
        realised=[0.91, None, 0.84],
        estimated=[0.9, 0.87, 0.85],
        lower=[0.88, 0.84, 0.82],
        upper=[0.92, 0.9, 0.88],
        threshold=0.85,
    )
    page = drift_report_html(drift, reference, current, performance=[series])
    assert "Performance over time" in page
    assert page.count("<svg") == 4
    assert "roc_auc" in page


# ---------------------------------------------------------------------- performance over time


def _degrading(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A calibrated binary model's outputs; the current period's labels get noisier chunk by chunk.

    Labels are drawn from the model's own probabilities (so it is calibrated on the reference);
    in the current period a growing share of them is flipped, so realised accuracy falls.
    """
    rng = np.random.default_rng(seed)

    def frame(n: int) -> pd.DataFrame:
        x = rng.normal(0.0, 1.0, n)
        p = 1.0 / (1.0 + np.exp(-2.5 * x))
        label = (rng.uniform(size=n) < p).astype(int)
        out: pd.DataFrame = pd.DataFrame(
            {"x": x, "proba_1": p, "prediction": (p >= 0.5).astype(int), "label": label}
        )
        return out

    reference, current = frame(5_000), frame(5_000)
    flip = rng.uniform(size=len(current)) < np.repeat(np.linspace(0.0, 0.4, 5), 1_000)
    current.loc[flip, "label"] = 1 - current.loc[flip, "label"]
    return reference, current


def test_realised_series_are_measure_performances_values_per_chunk() -> None:
    _, current = _degrading()
    series = performance_series(current, chunker="rows:1000")

    measured = measure_performance(current, task="classification", proba="proba_1", chunker="rows:1000")
    assert [s.metric for s in series] == list(measured.metrics)
    for s in series:
        assert s.labels == [c.chunk.key for c in measured.chunks]
        assert s.realised == [c.value(s.metric) for c in measured.chunks]
        assert (s.estimated, s.lower, s.upper, s.estimator) == ([], [], [], "")
    accuracy = next(s for s in series if s.metric == "accuracy").realised
    assert accuracy[0] is not None
    assert accuracy[-1] is not None
    assert accuracy[0] - accuracy[-1] > 0.25  # the degradation the data was built with


def test_the_estimate_comes_with_its_band_and_thresholds_and_alerts_when_labels_drift() -> None:
    reference, current = _degrading()
    series = performance_series(current, chunker="count:5", reference=reference)

    by_name = {s.metric: s for s in series}
    assert list(by_name)[:5] == ["roc_auc", "accuracy", "precision", "recall", "f1"]  # estimated first
    accuracy = by_name["accuracy"]
    assert accuracy.estimator == "cbpe"
    assert accuracy.labels == ["0:1000", "1000:2000", "2000:3000", "3000:4000", "4000:5000"]
    assert len(accuracy.estimated) == len(accuracy.lower) == len(accuracy.upper) == 5
    for value, lo, hi in zip(accuracy.estimated, accuracy.lower, accuracy.upper, strict=True):
        assert value is not None
        assert lo is not None
        assert hi is not None
        assert lo < value < hi
    assert accuracy.lower_threshold is not None
    assert accuracy.upper_threshold is not None
    # labels flipped under unchanged inputs (a concept shift) are invisible to the estimate,
    # which stays flat while the realised accuracy falls out of its band: the picture shows it
    realised = accuracy.realised
    assert realised[0] is not None
    assert realised[-1] is not None
    assert accuracy.lower[0] is not None
    assert accuracy.lower[-1] is not None
    assert realised[0] >= accuracy.lower[0]
    assert realised[-1] < accuracy.lower[-1]
    assert not any(accuracy.alerts)  # the inputs did not move
    assert by_name["log_loss"].estimated == []  # measured only


def test_census_estimate_tracks_the_realised_values_and_the_page_draws_one_plot_per_series() -> None:
    reference, analysis = census()
    series = performance_series(
        analysis, chunker="rows:20000", reference=reference, metrics=["roc_auc", "f1"]
    )

    measured = measure_performance(
        analysis, task="classification", proba="proba_1", chunker="rows:20000", metrics=["roc_auc", "f1"]
    )
    assert [s.metric for s in series] == ["roc_auc", "f1"]
    for s in series:
        assert s.realised == [c.value(s.metric) for c in measured.chunks]
        assert len(s.estimated) == len(s.labels) == len(measured.chunks) == 11
        gaps = [
            abs(e - r)
            for e, r in zip(s.estimated, s.realised, strict=True)
            if e is not None and r is not None
        ]
        assert np.mean(gaps) < 0.01
    page = performance_report_html(series, title="census", window="rows:20000")
    assert page.count("<svg") == 2
    assert "Performance over time" in page
    assert "estimated by CBPE" in page
    assert "<script" not in page


def test_a_regressor_is_estimated_by_dle() -> None:
    rng = np.random.default_rng(5)

    def frame(n: int, noise: float) -> pd.DataFrame:
        x = rng.normal(0.0, 1.0, n)
        out: pd.DataFrame = pd.DataFrame(
            {"x": x, "prediction": 2.0 * x, "label": 2.0 * x + rng.normal(0.0, noise + abs(x), n)}
        )
        return out

    series = performance_series(frame(2_000, 0.5), chunker="count:4", reference=frame(3_000, 0.5))

    assert [s.metric for s in series][:2] == ["mae", "rmse"]
    mae = series[0]
    assert mae.estimator == "dle"
    assert all(v is not None for v in mae.estimated)
    assert all(v is not None for v in mae.realised)


def test_drift_report_holds_one_svg_per_column_and_per_series(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, current = frames
    _, labelled = _degrading()
    series = performance_series(labelled, chunker="count:5", metrics=["accuracy", "f1"])
    page = drift_report_html(
        dataset_drift(reference, current), reference, current, performance=series, window="count:5"
    )

    assert page.count("<svg") == 3 + 2
    assert "windows: count:5" in page


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": "outcome"}, "no labels in column 'outcome' and no estimation reference"),
        ({"chunker": "rows:ten"}, "expected rows:<a whole number>"),
        ({"reference": "unlabelled"}, "estimation reference: no labels in column 'label'"),
        ({"reference": "labelled", "metrics": ["log_loss"], "current": "unlabelled"}, "cannot be estimated"),
    ],
)
def test_bad_input_is_invalid_input(kwargs: dict[str, object], message: str) -> None:
    reference, current = _degrading()
    options: dict[str, object] = {"chunker": "count:5", **kwargs}
    if options.get("reference") == "unlabelled":
        options["reference"] = reference.drop(columns="label")
    elif options.get("reference") == "labelled":
        options["reference"] = reference
    if options.pop("current", None) == "unlabelled":
        current = current.drop(columns="label")
    with pytest.raises(InvalidInput, match=re.escape(message)):
        performance_series(current, **options)  # type: ignore[arg-type]


def test_time_windows_need_no_timestamps_in_the_estimation_reference() -> None:
    reference, current = _degrading()
    current["timestamp"] = pd.date_range("2024-03-01", periods=len(current), freq="min", tz="UTC")
    series = performance_series(current, chunker="1D", reference=reference, metrics=["roc_auc"])

    (auc,) = series
    assert auc.labels == [
        "2024-03-01T00:00:00+00:00",
        "2024-03-02T00:00:00+00:00",
        "2024-03-03T00:00:00+00:00",
        "2024-03-04T00:00:00+00:00",
    ]
    assert all(v is not None for v in auc.estimated)
    assert auc.lower_threshold is not None  # from the reference cut into windows of the days' size


def test_an_empty_current_frame_has_empty_series() -> None:
    reference, current = _degrading()
    (auc,) = performance_series(current.iloc[:0], chunker="count:5", reference=reference, metrics=["roc_auc"])
    assert (auc.labels, auc.estimated) == ([], [])
