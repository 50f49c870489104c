from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from slipway.errors import InvalidInput
from slipway.monitoring._chunks import Chunker
from slipway.monitoring._performance import expected_calibration_error, measure_performance


def _binary_log(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0, 1, n)
    label = (rng.uniform(0, 1, n) < p**1.3).astype(int)  # a little miscalibrated
    frame: pd.DataFrame = pd.DataFrame(
        {
            "timestamp": pd.Timestamp("2025-06-01", tz="UTC")
            + pd.to_timedelta(np.sort(rng.uniform(0, 3 * 86400, n)), unit="s"),
            "prediction": (p >= 0.5).astype(int),
            "proba_0": 1 - p,
            "proba_1": p,
            "label": label.astype(float),
            "region": rng.choice(["north", "south"], n),
        }
    )
    return frame


def _ece_reference(y, p, n_bins=10) -> float:
    """ECE from scikit-learn's reliability curve: bin gaps weighted by each non-empty bin's rows.

    ``calibration_curve`` returns no counts, so the rows are binned here as its source does
    (``np.searchsorted(edges[1:-1], p)``, the left side) and the per-bin means are checked against
    its output, so the bins are scikit-learn's even for values exactly on an edge.
    """
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    prob_true, prob_pred = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    bins = np.searchsorted(np.linspace(0, 1, n_bins + 1)[1:-1], p)
    counts = np.bincount(bins, minlength=n_bins)
    nonzero = counts > 0
    np.testing.assert_allclose(
        np.bincount(bins, weights=p, minlength=n_bins)[nonzero] / counts[nonzero], prob_pred
    )
    np.testing.assert_allclose(
        np.bincount(bins, weights=y, minlength=n_bins)[nonzero] / counts[nonzero], prob_true
    )
    return float(np.sum(counts[nonzero] * np.abs(prob_true - prob_pred)) / len(y))


def test_binary_metrics_per_day_agree_with_scikit_learn() -> None:
    frame = _binary_log()

    result = measure_performance(frame, task="classification", chunker="1D")

    assert [c.chunk.key[:10] for c in result.chunks] == ["2025-06-01", "2025-06-02", "2025-06-03"]
    for chunk_result, (_, rows) in zip(
        result.chunks, frame.groupby(frame["timestamp"].dt.floor("D")), strict=True
    ):
        y, pred, p = rows["label"].astype(int), rows["prediction"], rows["proba_1"]
        assert chunk_result.n_rows == chunk_result.n_labelled == len(rows)
        assert chunk_result.value("accuracy") == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
        assert chunk_result.value("precision") == pytest.approx(skm.precision_score(y, pred), abs=1e-12)
        assert chunk_result.value("recall") == pytest.approx(skm.recall_score(y, pred), abs=1e-12)
        assert chunk_result.value("f1") == pytest.approx(skm.f1_score(y, pred), abs=1e-12)
        assert chunk_result.value("roc_auc") == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
        assert chunk_result.value("log_loss") == pytest.approx(
            skm.log_loss(y, rows[["proba_0", "proba_1"]]), abs=1e-12
        )
        assert chunk_result.value("calibration_error") == pytest.approx(_ece_reference(y, p), abs=1e-12)
    assert result.overall.value("roc_auc") == pytest.approx(
        skm.roc_auc_score(frame["label"], frame["proba_1"])
    )
    json.dumps(result.to_dict())


def test_regression_metrics_per_chunk_agree_with_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    y = rng.gamma(2.0, 10.0, 1000) + 1
    frame = pd.DataFrame({"label": y, "prediction": y + rng.normal(0, 3, 1000)})

    result = measure_performance(frame, task="regression", chunker=Chunker.by_rows(250))

    assert result.metrics == ("mae", "rmse", "mape", "r2")
    for i, c in enumerate(result.chunks):
        rows = frame.iloc[i * 250 : (i + 1) * 250]
        t, pr = rows["label"], rows["prediction"]
        assert c.value("mae") == pytest.approx(skm.mean_absolute_error(t, pr), rel=1e-12)
        assert c.value("rmse") == pytest.approx(skm.root_mean_squared_error(t, pr), rel=1e-12)
        assert c.value("mape") == pytest.approx(skm.mean_absolute_percentage_error(t, pr), rel=1e-12)
        assert c.value("r2") == pytest.approx(skm.r2_score(t, pr), rel=1e-12)


def test_multiclass_text_labels_macro_metrics_and_top_label_calibration() -> None:
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(600, 3))
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    classes = np.array(["cat", "dog", "eel"])
    label = np.array([rng.choice(classes, p=row) for row in proba])
    frame = pd.DataFrame({f"proba_{c}": proba[:, i] for i, c in enumerate(classes)})
    frame["label"] = label
    frame["prediction"] = classes[proba.argmax(axis=1)]

    r = measure_performance(frame, task="classification").overall

    assert r.value("accuracy") == pytest.approx(skm.accuracy_score(label, frame["prediction"]))
    assert r.value("f1") == pytest.approx(skm.f1_score(label, frame["prediction"], average="macro"))
    assert r.value("roc_auc") == pytest.approx(
        skm.roc_auc_score(label, proba, multi_class="ovr", labels=classes)
    )
    assert r.value("log_loss") == pytest.approx(skm.log_loss(label, proba, labels=classes))
    conf, correct = proba.max(axis=1), (classes[proba.argmax(axis=1)] == label)
    assert r.value("calibration_error") == pytest.approx(_ece_reference(correct, conf))


def test_slices_per_chunk_and_overall() -> None:
    frame = _binary_log(n=2000, seed=3)

    result = measure_performance(
        frame, task="classification", chunker="1D", slice_by="region", metrics=["accuracy"]
    )

    assert [(s.chunk.index, s.slice) for s in result.slices] == [
        (i, region) for i in range(3) for region in ("north", "south")
    ]
    north = frame[frame["region"] == "north"]
    overall_north = result.overall_slices[0]
    assert overall_north.slice == "north"
    assert overall_north.n_rows == len(north)
    assert overall_north.value("accuracy") == pytest.approx(
        skm.accuracy_score(north["label"], north["prediction"])
    )
    assert sum(s.n_rows for s in result.slices) == len(frame)


def test_unlabelled_and_sparse_windows_are_not_enough_data_never_nan() -> None:
    frame = _binary_log(n=900, seed=4)
    day = frame["timestamp"].dt.day
    frame.loc[day == 2, "label"] = np.nan  # the labels of day 2 have not come back
    keep = frame.index[day == 3][:5]
    frame.loc[(day == 3) & ~frame.index.isin(keep), "label"] = np.nan

    result = measure_performance(frame, task="classification", chunker="1D", min_labelled=10)

    day1, day2, day3 = result.chunks
    assert day1.status == "ok"
    assert (day2.status, day2.n_labelled, day2.n_rows > 0) == ("not_enough_data", 0, True)
    assert day2.message == "no labelled rows"
    assert (day3.status, day3.n_labelled) == ("not_enough_data", 5)
    assert all(m.value is None and m.status == "not_enough_data" for m in day3.metrics)
    assert "NaN" not in json.dumps(result.to_dict())


def test_single_class_window_leaves_roc_auc_undefined_with_a_reason() -> None:
    frame = pd.DataFrame(
        {"label": [1] * 20, "prediction": [1] * 19 + [0], "proba_1": np.linspace(0.3, 0.99, 20)}
    )

    r = measure_performance(frame, task="classification", proba="proba_1").overall

    auc = next(m for m in r.metrics if m.name == "roc_auc")
    assert (auc.value, auc.status) == (None, "not_enough_data")
    assert "undefined" in auc.message
    assert r.value("accuracy") == pytest.approx(0.95)


def test_labels_that_came_back_as_text_still_match_numeric_predictions() -> None:
    frame = _binary_log(n=500, seed=5)
    numeric = measure_performance(frame, task="classification").overall
    frame["label"] = frame["label"].astype(int).astype(str)

    as_text = measure_performance(frame, task="classification").overall

    assert as_text.metrics == numeric.metrics


def test_prediction_derived_from_probabilities_when_absent() -> None:
    frame = _binary_log(n=500, seed=6).drop(columns=["prediction"])

    r = measure_performance(frame, task="classification").overall

    assert r.value("accuracy") == pytest.approx(skm.accuracy_score(frame["label"], frame["proba_1"] >= 0.5))


def test_named_columns_and_pos_label() -> None:
    frame = pd.DataFrame(
        {
            "y": ["no", "yes", "yes", "no"] * 5,
            "p_yes": [0.2, 0.7, 0.4, 0.1] * 5,
            "out": ["no", "yes", "no", "no"] * 5,
        }
    )

    r = measure_performance(
        frame, task="classification", label="y", prediction="out", proba="p_yes", pos_label="yes"
    ).overall

    assert r.value("recall") == pytest.approx(skm.recall_score(frame["y"], frame["out"], pos_label="yes"))
    assert r.value("roc_auc") == pytest.approx(skm.roc_auc_score(frame["y"] == "yes", frame["p_yes"]))


def test_calibration_error_function() -> None:
    rng = np.random.default_rng(7)
    p = rng.uniform(size=5000)
    y = (rng.uniform(size=5000) < p).astype(int)

    assert expected_calibration_error(y, p, classes=[0, 1]) == pytest.approx(_ece_reference(y, p))
    assert expected_calibration_error(y, p, classes=[0, 1]) < 0.03  # calibrated by construction
    assert np.isnan(expected_calibration_error([], [], classes=[0, 1]))


def test_calibration_error_bins_values_on_an_edge_as_scikit_learn_does() -> None:
    # 0.5 and 0.75 lie exactly on edges (of 10 and of 4 bins): scikit-learn puts them in the bin below
    p = np.array([0.0, 0.05, 0.25, 0.25, 0.5, 0.5, 0.5, 0.75, 0.75, 1.0])
    y = np.array([0, 0, 1, 0, 1, 1, 0, 1, 1, 1])

    for n_bins in (2, 4, 10):
        ece = expected_calibration_error(y, p, classes=[0, 1], n_bins=n_bins)
        assert ece == pytest.approx(_ece_reference(y, p, n_bins), abs=1e-12)
    # two bins: [0, 0.5] holds the three 0.5s with 0.0-0.25, (0.5, 1] the 0.75s and 1.0
    assert expected_calibration_error(y, p, classes=[0, 1], n_bins=2) == pytest.approx(
        (7 * abs(3 / 7 - 2.05 / 7) + 3 * abs(1 - 2.5 / 3)) / 10
    )


@pytest.mark.parametrize(
    ("change", "kwargs", "match"),
    [
        (lambda f: f.drop(columns=["label"]), {}, "column 'label': missing"),
        (lambda f: f.assign(proba_1=f["proba_1"] * 2), {}, r"column 'proba_1': \d+ values outside \[0, 1\]"),
        (lambda f: f.assign(label=f["label"].where(f.index > 0, 7)), {}, "column 'label': value 7.0"),
        (lambda f: f, {"slice_by": "planet"}, "column 'planet': missing"),
        (lambda f: f, {"metrics": ["mae"]}, "metric 'mae'"),
        (
            lambda f: f.drop(columns=["proba_0", "proba_1"]),
            {"metrics": ["roc_auc"]},
            "needs class probabilities",
        ),
        (lambda f: f, {"task": "ranking"}, "task 'ranking'"),
    ],
)
def test_bad_input_is_one_line_naming_the_column(change, kwargs, match) -> None:
    frame = change(_binary_log(n=200, seed=8))
    kwargs = {"task": "classification", **kwargs}

    with pytest.raises(InvalidInput, match=match):
        measure_performance(frame, **kwargs)


def test_regression_needs_numbers() -> None:
    frame = pd.DataFrame({"label": ["a", "b"], "prediction": [1.0, 2.0]})

    with pytest.raises(InvalidInput, match="column 'label': expected numbers"):
        measure_performance(frame, task="regression")


def test_empty_frame_is_not_enough_data() -> None:
    frame = _binary_log(n=10).iloc[:0]

    result = measure_performance(frame, task="classification", chunker="1h")

    assert result.chunks == ()
    assert result.overall.status == "not_enough_data"
