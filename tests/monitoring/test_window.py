"""One window of the prediction log evaluated against a model's reference: the figures rules read."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from slipway.models import ReferenceSummary
from slipway.monitoring._rules import parse_rules
from slipway.monitoring._window import evaluate_window

RULES = parse_rules({"rules": [{"figure": "drift.share", "above": 0.5}], "performance": {"label": "label"}})


def _model_rows(n: int, shift: float, seed: int) -> pd.DataFrame:
    """Features, a classifier's outputs and true labels: the prediction log joined to feedback."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(shift, 1, n)
    x2 = rng.normal(0, 1, n)
    p = 1 / (1 + np.exp(-(2 * x1 - x2)))
    frame: pd.DataFrame = pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "prediction": (p >= 0.5).astype("int64"),
            "proba_0": 1 - p,
            "proba_1": p,
            "label": (rng.random(n) < p).astype("int64"),
        }
    )
    return frame


@pytest.fixture(scope="module")
def reference() -> ReferenceSummary:
    train = _model_rows(5_000, 0.0, 1)
    summary = ReferenceSummary.from_frame(train[["x1", "x2"]])
    return summary.with_outputs(train[["prediction", "proba_0", "proba_1"]])


def _log(frame: pd.DataFrame) -> pd.DataFrame:
    out: pd.DataFrame = frame.assign(
        request_id=[f"r{i}" for i in range(len(frame))],
        timestamp=pd.Timestamp("2026-01-01", tz="UTC"),
        deployment="churn",
        model_version="3",
        variant="primary",
        latency_ms=1.0,
    )
    return out


def test_a_shifted_window_shows_drift_in_features_and_outputs(reference: ReferenceSummary) -> None:
    result = evaluate_window(reference, _log(_model_rows(2_000, 1.0, 2)), RULES)
    f = result.figures
    assert f["rows"] == 2_000
    assert f["labelled_rows"] == 2_000
    assert f["drift.columns.x1.drifted"] == 1.0
    assert f["drift.columns.x2.drifted"] == 0.0
    assert f["drift.share"] == 0.5
    assert f["prediction_drift.columns.proba_1.drifted"] == 1.0
    assert "prediction_drift.columns.proba_0.drifted" not in f  # 1 - proba_1: one change counts once
    # log columns are not features: no figure for them
    assert not [k for k in f if "latency_ms" in k or "request_id" in k]
    assert f["performance.roc_auc"] is not None
    assert 0.7 < f["performance.roc_auc"] < 1.0
    json.dumps(result.to_dict(), allow_nan=False)  # data first: the whole result is plain JSON


def test_a_window_without_labels_has_no_performance_figures(reference: ReferenceSummary) -> None:
    rows = _log(_model_rows(500, 0.0, 3)).drop(columns="label")
    result = evaluate_window(reference, rows, RULES)
    assert result.labelled_rows == 0
    assert result.performance is None
    assert not [k for k in result.figures if k.startswith("performance.")]
    assert result.figures["drift.drifted"] == 0.0


def test_an_empty_window_says_so(reference: ReferenceSummary) -> None:
    result = evaluate_window(reference, _log(_model_rows(0, 0.0, 4)), RULES)
    assert result.figures == {"rows": 0.0, "labelled_rows": 0.0}
    assert result.messages == ("empty window",)


def test_a_feature_missing_from_the_log_is_reported_and_the_rest_evaluated(
    reference: ReferenceSummary,
) -> None:
    result = evaluate_window(reference, _log(_model_rows(800, 0.0, 5)).drop(columns="x2"), RULES)
    assert "not in this window's rows: x2" in result.messages
    assert "drift.columns.x1.score" in result.figures
    assert "drift.columns.x2.score" not in result.figures


def test_quality_figures_name_the_worst_column(reference: ReferenceSummary) -> None:
    rows = _log(_model_rows(1_000, 0.0, 6))
    rows.loc[:299, "x2"] = np.nan  # 30% missing
    rows.loc[300:399, "x1"] = 99.0  # far outside the reference range
    f = evaluate_window(reference, rows, RULES).figures
    assert f["quality.columns.x2.missing_share"] == pytest.approx(0.3)
    assert f["quality.missing_share"] == pytest.approx(0.3)
    assert f["quality.columns.x1.out_of_range_share"] == pytest.approx(0.1)
    assert f["quality.out_of_range_share"] == pytest.approx(0.1)
    assert f["quality.schema_violations"] == 0.0
    missing = evaluate_window(reference, _log(_model_rows(500, 0.0, 7)).drop(columns="x2"), RULES).figures
    assert missing["quality.schema_violations"] == 1.0
