"""The gate's metrics equal scikit-learn's, weighted or not, binary, multi-class and regression."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from sklearn import metrics as sk

from slipway.errors import InvalidInput
from slipway.validation import METRICS, Predictions, metric_value, metric_values
from slipway.validation import _metrics as ours

RNG = np.random.default_rng(0)
N = 400
Y = RNG.integers(0, 2, N)
P1 = 0.3 * Y + 0.7 * RNG.random(N)  # informative but imperfect
P = np.c_[1 - P1, P1]
YP = (P1 > 0.5).astype(int)
W = RNG.random(N)
Y3 = RNG.integers(0, 3, N)
P3 = RNG.dirichlet([1, 1, 1], N)
YP3 = P3.argmax(axis=1)
YR = RNG.normal(150, 60, N)
YRP = YR + RNG.normal(0, 30, N)


@pytest.mark.parametrize("weights", [None, W], ids=["unweighted", "weighted"])
def test_binary_metrics_equal_sklearn(weights: Any) -> None:
    kw = {"sample_weight": weights}
    pairs = [
        (ours.accuracy(Y, YP, weights=weights), sk.accuracy_score(Y, YP, **kw)),
        (ours.balanced_accuracy(Y, YP, weights=weights), sk.balanced_accuracy_score(Y, YP, **kw)),
        (ours.precision(Y, YP, pos_label=1, weights=weights), sk.precision_score(Y, YP, **kw)),
        (ours.recall(Y, YP, pos_label=1, weights=weights), sk.recall_score(Y, YP, **kw)),
        (ours.f1(Y, YP, pos_label=1, weights=weights), sk.f1_score(Y, YP, **kw)),
        (ours.precision(Y, YP, pos_label=0, weights=weights), sk.precision_score(Y, YP, pos_label=0, **kw)),
        (ours.roc_auc(Y, P, classes=[0, 1], weights=weights), sk.roc_auc_score(Y, P1, **kw)),
        (ours.log_loss(Y, P, classes=[0, 1], weights=weights), sk.log_loss(Y, P, **kw)),
        (ours.brier(Y, P, classes=[0, 1], weights=weights), sk.brier_score_loss(Y, P1, **kw)),
    ]
    for got, expected in pairs:
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_multiclass_metrics_are_macro_averages_as_in_sklearn() -> None:
    assert ours.precision(Y3, YP3) == pytest.approx(sk.precision_score(Y3, YP3, average="macro"), abs=1e-12)
    assert ours.recall(Y3, YP3) == pytest.approx(sk.recall_score(Y3, YP3, average="macro"), abs=1e-12)
    assert ours.f1(Y3, YP3) == pytest.approx(sk.f1_score(Y3, YP3, average="macro"), abs=1e-12)
    assert ours.balanced_accuracy(Y3, YP3) == pytest.approx(sk.balanced_accuracy_score(Y3, YP3), abs=1e-12)
    classes = [0, 1, 2]
    assert ours.roc_auc(Y3, P3, classes=classes) == pytest.approx(
        sk.roc_auc_score(Y3, P3, multi_class="ovr"), abs=1e-12
    )
    assert ours.log_loss(Y3, P3, classes=classes) == pytest.approx(sk.log_loss(Y3, P3), abs=1e-12)
    assert ours.brier(Y3, P3, classes=classes) == pytest.approx(sk.brier_score_loss(Y3, P3), abs=1e-12)


@pytest.mark.parametrize("weights", [None, W], ids=["unweighted", "weighted"])
def test_regression_metrics_equal_sklearn(weights: Any) -> None:
    kw = {"sample_weight": weights}
    pairs = [
        (ours.mae(YR, YRP, weights=weights), sk.mean_absolute_error(YR, YRP, **kw)),
        (ours.mse(YR, YRP, weights=weights), sk.mean_squared_error(YR, YRP, **kw)),
        (ours.rmse(YR, YRP, weights=weights), sk.root_mean_squared_error(YR, YRP, **kw)),
        (ours.r2(YR, YRP, weights=weights), sk.r2_score(YR, YRP, **kw)),
        (ours.mape(YR, YRP, weights=weights), sk.mean_absolute_percentage_error(YR, YRP, **kw)),
    ]
    for got, expected in pairs:
        assert got == pytest.approx(expected, rel=1e-12)


def test_edge_cases_match_sklearn() -> None:
    # Tied scores are one threshold; text labels; nothing predicted positive; a constant target.
    tied = np.round(P1, 1)
    assert ours.roc_auc(Y, np.c_[1 - tied, tied], classes=[0, 1]) == pytest.approx(sk.roc_auc_score(Y, tied))
    words = np.array(["stay", "churn"], dtype=object)[Y]
    assert ours.roc_auc(words, P[:, ::-1], classes=["churn", "stay"], pos_label="stay") == pytest.approx(
        sk.roc_auc_score(words == "stay", 1 - P1)
    )
    none = np.zeros(N, dtype=int)
    assert ours.precision(Y, none, pos_label=1) == sk.precision_score(Y, none, zero_division=0) == 0.0
    assert ours.f1(Y, none, pos_label=1) == sk.f1_score(Y, none, zero_division=0) == 0.0
    flat = np.full(10, 3.0)
    assert ours.r2(flat, flat) == sk.r2_score(flat, flat) == 1.0
    assert ours.r2(flat, flat + 1) == sk.r2_score(flat, flat + 1) == 0.0
    assert np.isnan(ours.roc_auc(np.ones(5, dtype=int), np.full((5, 2), 0.5), classes=[0, 1]))


def test_one_call_scores_many_bootstrap_samples() -> None:
    rng = np.random.default_rng(1)
    counts = np.stack([np.bincount(rng.integers(0, N, N), minlength=N) for _ in range(20)])
    preds = Predictions(labels=YP, proba=P, classes=np.array([0, 1]), pos_label=1)
    for name in ("accuracy", "f1", "roc_auc", "log_loss", "balanced_accuracy"):
        many = metric_values(name, Y, preds, counts)
        assert many.shape == (20,)
        for row, value in zip(counts, many, strict=True):
            assert value == pytest.approx(metric_value(name, Y, preds, row), abs=1e-12)
    roc = metric_values("roc_auc", Y, preds, counts)
    assert roc[3] == pytest.approx(sk.roc_auc_score(Y, P1, sample_weight=counts[3]))


def test_every_metric_has_a_task_and_a_direction() -> None:
    assert {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"} <= set(METRICS)
    assert {"mae", "rmse", "r2", "mape"} <= set(METRICS)
    assert not METRICS["log_loss"].higher_is_better
    assert METRICS["r2"].higher_is_better
    assert METRICS["roc_auc"].needs == "proba"


def test_bad_input_is_named() -> None:
    with pytest.raises(InvalidInput, match="target value 7: not one of the model's classes"):
        ours.log_loss(np.array([0, 7]), np.full((2, 2), 0.5), classes=[0, 1])
    with pytest.raises(InvalidInput, match="metric 'auc': unknown"):
        metric_value("auc", Y, Predictions(labels=YP))
    with pytest.raises(InvalidInput, match="needs class probabilities"):
        metric_value("roc_auc", Y, Predictions(labels=YP))


def test_many_classes_on_many_rows_count_without_a_dense_one_hot() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 12, 40_000)
    pred = np.where(rng.random(40_000) < 0.7, y, rng.integers(0, 12, 40_000))
    assert ours.f1(y, pred) == pytest.approx(sk.f1_score(y, pred, average="macro"), abs=1e-12)
    assert ours.balanced_accuracy(y, pred) == pytest.approx(sk.balanced_accuracy_score(y, pred), abs=1e-12)


def _bootstrap_data() -> dict[str, tuple[Any, Any, Any, Any]]:
    """Binary and three-class data where one class is rare, so that many resamples miss it."""
    rng = np.random.default_rng(11)
    n = 150
    y2 = (rng.random(n) < 0.06).astype(int)  # about 9 positives
    p2 = np.clip(0.4 * y2 + 0.6 * rng.random(n), 0, 1)
    y3 = rng.choice(2, size=n)
    y3[[10, 70]] = 2  # the rare class: two rows ...
    pred3 = np.where(rng.random(n) < 0.8, y3, rng.choice(2, size=n))
    pred3[[10, 40]] = [1, 2]  # ... one found, one missed, one false alarm
    p3 = rng.dirichlet([1, 1, 1], n) + 0.5 * np.eye(3)[y3]
    p3 /= p3.sum(axis=1, keepdims=True)
    return {
        "binary": (y2, (p2 > 0.5).astype(int), np.c_[1 - p2, p2], np.array([0, 1])),
        "multiclass": (y3, pred3, p3, np.array([0, 1, 2])),
    }


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
@pytest.mark.parametrize("name", ["precision", "recall", "f1", "accuracy", "roc_auc"])
def test_the_bootstrap_equals_sklearn_on_each_resample(kind: str, name: str) -> None:
    from slipway.validation._checks import bootstrap_values, resample_rows

    y, labels, proba, classes = _bootstrap_data()[kind]
    binary = kind == "binary"
    preds = Predictions(labels=labels, proba=proba, classes=classes, pos_label=1 if binary else None)
    samples, seed = 300, 4
    values = bootstrap_values(name, y, [preds], samples=samples, seed=seed)[0]
    rows = np.concatenate(list(resample_rows(len(y), samples, seed)))
    assert rows.shape == (samples, len(y))
    assert np.array_equal(rows, np.random.default_rng(seed).integers(0, len(y), size=(samples, len(y))))

    def sklearn(idx: Any) -> float:
        yt, yp, pr = y[idx], labels[idx], proba[idx]
        average = "binary" if binary else "macro"
        if name == "accuracy":
            return float(sk.accuracy_score(yt, yp))
        if name == "roc_auc":
            if len(np.unique(yt)) < len(classes):  # undefined: ours is NaN, sklearn refuses
                return math.nan
            return float(
                sk.roc_auc_score(yt, pr[:, 1]) if binary else sk.roc_auc_score(yt, pr, multi_class="ovr")
            )
        fn = {"precision": sk.precision_score, "recall": sk.recall_score, "f1": sk.f1_score}[name]
        return float(fn(yt, yp, average=average, zero_division=0))

    expected = np.array([sklearn(idx) for idx in rows])
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-9, equal_nan=True)
    if not binary and name != "accuracy":  # the rare class is missing from some resamples
        assert any(2 not in y[idx] and 2 not in labels[idx] for idx in rows)


def test_a_macro_average_leaves_out_labels_a_weighting_does_not_hold() -> None:
    y = np.array([0, 0, 1, 1, 2])
    pred = np.array([0, 1, 1, 1, 2])
    without_two = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    expected = sk.precision_score(y[:4], pred[:4], average="macro")
    assert ours.precision(y, pred, weights=without_two) == pytest.approx(expected, abs=1e-12)
    assert ours.recall(y, pred, weights=without_two) == pytest.approx(
        sk.recall_score(y[:4], pred[:4], average="macro"), abs=1e-12
    )
