"""The HTML report: self-contained, numbers and plots for every column, drifted columns first."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from slipway.models import ReferenceSummary
from slipway.monitoring._drift import dataset_drift
from slipway.monitoring._report import MetricSeries, drift_report_html

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
