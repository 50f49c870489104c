from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from tests.monitoring._data import bike_hours, census

from slipway.errors import InvalidInput, MissingExtra
from slipway.monitoring._dle import DLE
from slipway.monitoring._estimate import CBPE, PerformanceEstimate


def _calibrated(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """A binary model whose probabilities are exactly calibrated: labels are drawn from them."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-(rng.normal(shift, 1.5, n))))
    frame: pd.DataFrame = pd.DataFrame(
        {"proba_1": p, "prediction": (p >= 0.5).astype(int), "label": (rng.uniform(size=n) < p).astype(int)}
    )
    return frame


def _series(
    result: PerformanceEstimate, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    ms = [c.metric(metric) for c in result.chunks]
    return tuple(
        np.array([getattr(m, k) for m in ms], dtype=float) for k in ("value", "realized", "lower", "upper")
    )  # type: ignore[return-value]


# ---------------------------------------------------------------------- CBPE: the formulas


def test_cbpe_is_the_expected_confusion_matrix_and_the_expected_roc_curve() -> None:
    p = np.array([0.9, 0.2, 0.6, 0.4, 0.6, 0.05])
    frame = pd.DataFrame({"proba_1": p, "prediction": (p >= 0.5).astype(int)})
    est = CBPE(calibrate=False, min_rows=1).fit(_calibrated(2000, seed=0))

    chunk = est.estimate(frame).chunks[0]

    pred = p >= 0.5
    tp, fp, fn, tn = p[pred].sum(), (1 - p[pred]).sum(), p[~pred].sum(), (1 - p[~pred]).sum()
    assert chunk.metric("accuracy").value == pytest.approx((tp + tn) / len(p))
    assert chunk.metric("precision").value == pytest.approx(tp / (tp + fp))
    assert chunk.metric("recall").value == pytest.approx(tp / (tp + fn))
    assert chunk.metric("f1").value == pytest.approx(2 * tp / (2 * tp + fp + fn))
    # Each row is a positive with weight p and a negative with weight 1 - p: the expected ROC curve.
    expected_auc = skm.roc_auc_score(
        np.r_[np.ones(len(p)), np.zeros(len(p))], np.r_[p, p], sample_weight=np.r_[p, 1 - p]
    )
    assert chunk.metric("roc_auc").value == pytest.approx(expected_auc, abs=1e-12)


def test_cbpe_tracks_a_calibrated_model_under_covariate_shift() -> None:
    reference = _calibrated(20_000, seed=1)
    analysis = pd.concat([_calibrated(20_000, seed=2, shift=s) for s in (0.0, 0.8, 1.6)], ignore_index=True)

    result = CBPE(chunker="rows:2000").fit(reference).estimate(analysis)

    for metric in ("roc_auc", "accuracy", "f1"):
        value, realized, lower, upper = _series(result, metric)
        assert np.mean(np.abs(value - realized)) < 0.01, metric
        assert np.mean((realized >= lower) & (realized <= upper)) >= 0.9, metric
    accuracy = _series(result, "accuracy")[0]
    assert accuracy[-10:].mean() > accuracy[:10].mean() + 0.02  # the shift is seen, without labels


# ---------------------------------------------------------------------- CBPE: real drift


@pytest.fixture(scope="module")
def census_result() -> PerformanceEstimate:
    reference, analysis = census()
    return CBPE(chunker="rows:5000").fit(reference).estimate(analysis)


def test_cbpe_tracks_the_realised_roc_auc_and_accuracy_on_census_data(
    census_result: PerformanceEstimate,
) -> None:
    """NannyML's own real-world example: 42 chunks of 5,000 rows over 2016-2018, labels held out."""
    assert len(census_result.chunks) == 42
    for metric, mad in (("roc_auc", 0.008), ("accuracy", 0.008), ("f1", 0.01)):
        value, realized, lower, upper = _series(census_result, metric)
        assert np.mean(np.abs(value - realized)) < mad, metric  # measured: 0.0040, 0.0051, 0.0066
        assert np.mean((realized >= lower) & (realized <= upper)) >= 0.9, metric  # measured: 0.98, 0.98, 0.93
    auc, realized_auc = _series(census_result, "roc_auc")[:2]
    assert np.corrcoef(auc, realized_auc)[0, 1] > 0.9  # measured: 0.97


def test_cbpe_thresholds_come_from_the_reference_chunks(census_result: PerformanceEstimate) -> None:
    reference, _ = census()
    realized = [
        skm.roc_auc_score(c["label"], c["proba_1"])
        for c in (reference.iloc[i : i + 5000] for i in range(0, len(reference), 5000))
    ]
    m = census_result.chunks[0].metric("roc_auc")

    assert m.lower_threshold == pytest.approx(np.mean(realized) - 3 * np.std(realized))
    assert m.upper_threshold == pytest.approx(np.mean(realized) + 3 * np.std(realized))
    assert all(c.metric("roc_auc").realized is not None for c in census_result.reference)
    assert "NaN" not in json.dumps(census_result.to_dict())


def test_cbpe_recalibrates_scores_that_are_not_probabilities() -> None:
    reference, analysis = census()
    analysis = analysis.iloc[:60_000]
    for frame in (reference, analysis):
        frame["proba_1"] = frame["proba_1"] ** 3  # same ranking, no longer calibrated

    calibrated = CBPE(chunker="rows:5000", metrics=["accuracy", "roc_auc"]).fit(reference)
    raw = CBPE(chunker="rows:5000", metrics=["accuracy", "roc_auc"], calibrate=False).fit(reference)

    assert calibrated.calibrator_ is not None
    assert calibrated.estimate(analysis).calibrated
    good = _series(calibrated.estimate(analysis), "accuracy")
    bad = _series(raw.estimate(analysis), "accuracy")
    assert np.mean(np.abs(good[0] - good[1])) < 0.01
    assert np.mean(np.abs(bad[0] - bad[1])) > 0.05


def test_cbpe_leaves_calibrated_probabilities_alone_in_auto_mode() -> None:
    assert CBPE().fit(_calibrated(5000, seed=3)).calibrator_ is None


# ---------------------------------------------------------------------- CBPE: edges


def test_cbpe_small_and_empty_windows_are_not_enough_data() -> None:
    est = CBPE(chunker="rows:30", min_rows=50).fit(_calibrated(2000, seed=4))

    result = est.estimate(_calibrated(60, seed=5))

    assert [c.status for c in result.chunks] == ["not_enough_data", "not_enough_data"]
    assert result.chunks[0].message == "30 rows, fewer than 50"
    assert all(m.value is None for m in result.chunks[0].metrics)
    assert est.estimate(_calibrated(0, seed=6)).chunks == ()


def test_cbpe_text_labels_and_no_prediction_column() -> None:
    reference = _calibrated(3000, seed=7)
    reference["label"] = reference["label"].astype(str)

    est = CBPE(prediction=None, min_rows=10).fit(reference)
    chunk = est.estimate(_calibrated(500, seed=8)).chunks[0]

    assert chunk.metric("accuracy").realized is not None
    assert chunk.metric("accuracy").value == pytest.approx(chunk.metric("accuracy").realized, abs=0.05)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda f: f.assign(proba_1=f["proba_1"] + 0.5), r"column 'proba_1': \d+ values outside \[0, 1\]"),
        (lambda f: f.drop(columns=["proba_1"]), "column 'proba_1': missing"),
        (lambda f: f.drop(columns=["label"]), "column 'label': missing"),
        (lambda f: f.assign(label=1), "column 'label': the reference needs labelled rows of both classes"),
        (lambda f: f.assign(label=np.arange(len(f)) % 3), "column 'label': more than two classes"),
    ],
)
def test_cbpe_bad_reference(change, match) -> None:
    with pytest.raises(InvalidInput, match=match):
        CBPE().fit(change(_calibrated(500, seed=9)))


def test_cbpe_must_be_fitted_and_metrics_known() -> None:
    with pytest.raises(InvalidInput, match="not fitted"):
        CBPE().estimate(_calibrated(100, seed=10))
    with pytest.raises(InvalidInput, match="CBPE metric 'mae'"):
        CBPE(metrics=["mae"]).fit(_calibrated(100, seed=10))


# ---------------------------------------------------------------------- DLE


def _heteroscedastic(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    colour = rng.choice(["red", "blue"], n)
    noise = rng.normal(0, 1, n) * (0.2 + np.abs(x)) * np.where(colour == "red", 2.0, 1.0)
    frame: pd.DataFrame = pd.DataFrame({"x": x, "colour": colour, "prediction": x, "label": x + noise})
    return frame


def test_dle_tracks_errors_that_grow_with_the_inputs() -> None:
    reference = _heteroscedastic(8000, seed=0)
    analysis = pd.concat(
        [_heteroscedastic(3000, seed=s, shift=s / 4) for s in range(1, 4)], ignore_index=True
    )

    result = DLE(chunker="rows:1000", hyperparameters={"max_iter": 50}).fit(reference).estimate(analysis)

    assert DLE().fit(reference).features_ == ("x", "colour")
    for metric in ("mae", "rmse"):
        value, realized, lower, upper = _series(result, metric)
        assert np.mean(np.abs(value - realized) / realized) < 0.08, metric
        assert np.mean((realized >= lower) & (realized <= upper)) >= 0.75, metric
        assert value[-1] > 1.15 * value[0]  # the errors grow, and the estimate sees it


def test_dle_tracks_the_monthly_mae_of_a_bike_demand_model() -> None:
    """A model trained on Jan-Feb 2011, a reference in Mar-May, monthly windows Jun-Dec 2011."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    hours = bike_hours()
    features = [
        "season",
        "mnth",
        "hr",
        "holiday",
        "weekday",
        "workingday",
        "weathersit",
        "temp",
        "atemp",
        "hum",
        "windspeed",
    ]
    train = hours[hours["timestamp"] < "2011-03-01"]
    model = HistGradientBoostingRegressor(random_state=0).fit(train[features], train["cnt"])
    hours["prediction"] = model.predict(hours[features])
    hours["label"] = hours["cnt"].astype(float)
    reference = hours[(hours["timestamp"] >= "2011-03-01") & (hours["timestamp"] < "2011-06-01")]
    analysis = hours[(hours["timestamp"] >= "2011-06-01") & (hours["timestamp"] < "2012-01-01")]

    result = DLE(features=features, chunker="MS").fit(reference).estimate(analysis)

    assert [c.chunk.key[:7] for c in result.chunks] == [f"2011-{m:02d}" for m in range(6, 13)]
    value, realized, lower, upper = _series(result, "mae")
    assert np.mean(np.abs(value - realized) / realized) < 0.1  # measured: 0.04
    assert np.corrcoef(value, realized)[0, 1] > 0.9  # measured: 0.98
    assert np.mean((realized >= lower) & (realized <= upper)) >= 5 / 7  # measured: 7/7
    rmse, realized_rmse = _series(result, "rmse")[:2]
    assert np.mean(np.abs(rmse - realized_rmse) / realized_rmse) < 0.1  # measured: 0.045


def test_dle_windows_without_predictions_and_bad_input() -> None:
    reference = _heteroscedastic(1000, seed=5)
    est = DLE(chunker="rows:100", min_rows=50, hyperparameters={"max_iter": 20}).fit(reference)
    current = _heteroscedastic(200, seed=6).drop(columns=["label"])
    current.loc[:149, "prediction"] = np.nan

    chunks = est.estimate(current).chunks

    assert [c.status for c in chunks] == ["not_enough_data", "ok"]
    assert chunks[1].metric("mae").realized is None  # no labels yet
    with pytest.raises(InvalidInput, match="column 'colour': missing"):
        est.estimate(current.drop(columns=["colour"]))
    with pytest.raises(InvalidInput, match="column 'label': expected numbers"):
        DLE().fit(reference.assign(label="high"))


def test_dle_without_scikit_learn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)

    with pytest.raises(MissingExtra, match=r"pip install 'slipway\[sklearn\]'"):
        DLE().fit(_heteroscedastic(100, seed=7))
