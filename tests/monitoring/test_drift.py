"""Dataset, column and prediction drift: Evidently's rules reproduced, the default mode's error rates."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.monitoring._drift_data import CATEGORIES, SHARES, golden_case, mixed_frame

from slipway.errors import InvalidInput
from slipway.models._reference import ReferenceSummary
from slipway.monitoring._drift import adjust_pvalues, column_drift, dataset_drift, prediction_drift

GOLDEN = json.loads((Path(__file__).parent / "data" / "evidently_golden.json").read_text())
EVIDENTLY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chi2_gof",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
}


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["name"] for c in GOLDEN["cases"]])
def test_evidently_mode_matches_the_golden_file(case):
    reference, current = golden_case(case)
    result = dataset_drift(reference, current, mode="evidently")
    assert result.correction == "none"
    for name, expected in case["columns"].items():
        got = result.column(name)
        assert got.method == EVIDENTLY_NAMES[expected["method"]], name
        assert got.threshold == expected["threshold"], name
        assert got.drifted == expected["drifted"], name
        value = got.p_value if got.p_value is not None else got.statistic
        assert value == pytest.approx(expected["statistic"], abs=1e-9), name
    assert result.share == pytest.approx(case["share"], abs=1e-12)


def test_no_drift_flags_at_most_six_percent_of_columns():
    """200 columns (numeric and categorical) of a reference and a window from the same distribution."""
    flagged = raw = total = 0
    for seed in range(0, 20):
        ref = mixed_frame(2_000, seed=seed, n_numeric=6, n_categorical=4)
        cur = mixed_frame(2_000, seed=1000 + seed, n_numeric=6, n_categorical=4)
        result = dataset_drift(ref, cur)
        flagged += sum(c.drifted for c in result.columns)
        raw += sum((c.p_value or 1.0) < 0.05 for c in result.columns)
        total += len(result.columns)
    assert total == 200
    assert flagged / total <= 0.06
    # Uncorrected, each test holds its level: 5% expected, 8% is 2 standard errors above.
    assert raw / total <= 0.08


def test_default_mode_is_more_powerful_than_evidently_on_a_category_share_change():
    ref = mixed_frame(10_000, seed=1, n_numeric=0, n_categorical=1)
    cur = mixed_frame(10_000, seed=2, n_numeric=0, n_categorical=1, cat_a_share=0.3)
    assert dataset_drift(ref, cur).column("c0").drifted
    assert not dataset_drift(ref, cur, mode="evidently").column("c0").drifted  # JS 0.06 < 0.1


def test_default_mode_catches_a_small_mean_shift():
    ref = mixed_frame(10_000, seed=1, n_numeric=3, n_categorical=0)
    cur = mixed_frame(10_000, seed=2, n_numeric=3, n_categorical=0, mean_shift=0.07)
    default, evidently = dataset_drift(ref, cur), dataset_drift(ref, cur, mode="evidently")
    assert all(c.drifted for c in default.columns)
    assert not any(c.drifted for c in evidently.columns)
    assert default.share == 1.0
    assert default.drifted
    col = default.column("x0")
    assert col.effect_measure == "ks_d"
    assert col.effect_size is not None
    assert col.effect_size > 0.02
    assert col.p_adjusted is not None
    assert col.p_value is not None
    assert col.p_adjusted >= col.p_value


def test_every_p_value_comes_with_an_effect_size_and_json():
    ref, cur = mixed_frame(1_000, seed=3), mixed_frame(800, seed=4)
    result = dataset_drift(ref, cur)
    for c in result.columns:
        assert c.p_value is not None
        assert c.effect_size is not None
        assert c.effect_measure in {"ks_d", "cramers_v"}
    data = result.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["columns"][0]["column"] == "x0"


def test_correction_methods():
    p = [0.01, 0.04, 0.03, 0.2]
    assert adjust_pvalues(p, "bh").tolist() == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])
    assert adjust_pvalues(p, "holm").tolist() == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert adjust_pvalues(p, "none").tolist() == p
    assert adjust_pvalues([], "bh").size == 0
    ref, cur = mixed_frame(500, seed=5), mixed_frame(500, seed=6, mean_shift=0.2)
    assert dataset_drift(ref, cur, correction="holm").correction == "holm"


@pytest.mark.parametrize("method", ["psi", "kl", "jensenshannon", "hellinger", "wasserstein"])
def test_distances_get_p_values_from_held_out_reference(method):
    ref = mixed_frame(20_000, seed=7, n_numeric=1, n_categorical=1)
    names = ["x0"] if method == "wasserstein" else ["x0", "c0"]
    alarms = 0
    for seed in range(10):
        cur = mixed_frame(2_000, seed=100 + seed, n_numeric=1, n_categorical=1)
        result = dataset_drift(ref, cur, methods=dict.fromkeys(names, method), seed=seed)
        for name in names:
            col = result.column(name)
            assert col.method == method
            assert col.p_value is not None
            assert col.p_adjusted is not None
            assert 1 / 1001 <= col.p_value <= col.p_adjusted <= 1.0  # corrected with the other column
            assert col.statistic is not None
            assert col.effect_size == col.statistic
            assert col.threshold == 0.05
            alarms += col.drifted
    assert alarms <= 3
    shifted = mixed_frame(2_000, seed=99, n_numeric=1, n_categorical=1, mean_shift=0.3, cat_a_share=0.25)
    result = dataset_drift(ref, shifted, methods=dict.fromkeys(names, method))
    assert all(result.column(n).drifted for n in names)


@pytest.mark.parametrize("method", ["anderson", "cramervonmises", "ks"])
def test_numeric_tests_by_name(method):
    ref, cur = mixed_frame(600, seed=8), mixed_frame(500, seed=9, mean_shift=0.4)
    col = column_drift(ref, cur, "x1", method=method)
    assert col.method == method
    assert col.drifted
    assert col.p_adjusted == col.p_value


@pytest.mark.parametrize("method", ["chi2", "chi2_gof", "z", "fisher"])
def test_categorical_tests_by_name(method):
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"b": rng.choice(["y", "n"], 400, p=[0.3, 0.7])})
    cur = pd.DataFrame({"b": rng.choice(["y", "n"], 300, p=[0.5, 0.5])})
    col = column_drift(ref, cur, "b", method=method)
    assert col.method == method
    assert col.drifted


def test_two_by_two_with_small_counts_uses_fisher():
    ref = pd.DataFrame({"b": ["y"] * 3 + ["n"] * 40})
    cur = pd.DataFrame({"b": ["y"] * 4 + ["n"] * 10})
    assert column_drift(ref, cur, "b").method == "fisher"


def test_rare_categories_are_pooled_not_flagged():
    rng = np.random.default_rng(4)
    cats = ["a", "b"] + [f"r{i}" for i in range(30)]
    shares = np.array([0.5, 0.47] + [0.001] * 30)
    shares /= shares.sum()
    alarms = sum(
        column_drift(
            pd.DataFrame({"c": rng.choice(cats, 3_000, p=shares)}),
            pd.DataFrame({"c": rng.choice(cats, 500, p=shares)}),
            "c",
        ).drifted
        for _ in range(40)
    )
    assert alarms <= 5


def test_kind_override_and_low_cardinality_numbers():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"n": rng.integers(0, 3, 1000), "y": rng.normal(size=1000)})
    cur = pd.DataFrame({"n": rng.integers(0, 3, 800), "y": rng.normal(size=800)})
    result = dataset_drift(ref, cur, kinds={"y": "categorical"})
    assert result.column("n").method == "chi2"  # 3 distinct values: tested as categories
    assert result.column("n").kind == "categorical"
    assert result.column("y").kind == "categorical"
    assert column_drift(ref, cur, "n", kind="numeric", method="ks").method == "ks"


def test_weights_change_the_share():
    ref = mixed_frame(2_000, seed=1, n_numeric=2, n_categorical=0)
    cur = mixed_frame(2_000, seed=2, n_numeric=2, n_categorical=0)
    cur["x0"] += 0.5
    assert dataset_drift(ref, cur).share == 0.5
    weighted = dataset_drift(ref, cur, weights={"x0": 3.0})
    assert weighted.share == 0.75
    assert weighted.column("x0").weight == 3.0
    assert weighted.drifted


def test_summary_reference_and_prediction_drift():
    ref = mixed_frame(3_000, seed=1, n_numeric=2, n_categorical=1)
    ref["prediction"] = np.where(ref["x0"] > 0, "yes", "no")
    summary = ReferenceSummary.from_frame(ref, max_rows=1_000, outputs=("prediction",))
    cur = mixed_frame(1_000, seed=2, n_numeric=2, n_categorical=1)
    cur["prediction"] = np.where(cur["x0"] > 0.5, "yes", "no")
    features = dataset_drift(summary, cur.drop(columns="prediction"))
    assert [c.column for c in features.columns] == ["x0", "x1", "c0"]
    assert features.n_reference == 3_000
    outputs = prediction_drift(summary, cur)
    assert [c.column for c in outputs.columns] == ["prediction"]
    assert outputs.column("prediction").drifted
    with pytest.raises(InvalidInput, match="outputs"):
        prediction_drift(ref, cur)


def test_mismatched_columns_are_named():
    ref, cur = mixed_frame(500, seed=1), mixed_frame(500, seed=2)
    with pytest.raises(InvalidInput, match=r"'extra'.*not in the reference"):
        dataset_drift(ref, cur.assign(extra=1.0))
    with pytest.raises(InvalidInput, match=r"'x1'.*missing from the current"):
        dataset_drift(ref, cur.drop(columns="x1"), columns=["x0", "x1"])
    with pytest.raises(InvalidInput, match="'nope'"):
        dataset_drift(ref, cur, columns=["nope"])
    with pytest.raises(InvalidInput, match="methods"):
        dataset_drift(ref, cur, methods={"x0": "magic"})
    with pytest.raises(InvalidInput, match="needs a numeric column"):
        dataset_drift(ref, cur, methods={"c0": "ks"})
    with pytest.raises(InvalidInput, match="mode"):
        dataset_drift(ref, cur, mode="nannyml")  # type: ignore[arg-type]


def test_empty_and_all_missing_give_not_enough_data():
    ref, cur = mixed_frame(500, seed=1), mixed_frame(500, seed=2)
    empty = dataset_drift(ref, cur.head(0))
    assert empty.status == "not_enough_data"
    assert empty.share is None
    assert not empty.drifted
    assert all(c.status == "not_enough_data" for c in empty.columns)
    cur["x0"] = np.nan
    cur["c0"] = None
    result = dataset_drift(ref, cur)
    for name in ("x0", "c0"):
        col = result.column(name)
        assert col.status == "not_enough_data"
        assert name in col.message
        assert col.statistic is None
    assert result.status == "ok"
    assert not any(isinstance(v, float) and math.isnan(v) for v in result.to_dict()["columns"][0].values())
    few = dataset_drift(ref, cur.head(3), columns=["x1"])
    assert few.columns[0].status == "not_enough_data"
    assert "at least 5" in few.columns[0].message


def test_calibration_needs_enough_reference():
    ref, cur = mixed_frame(30, seed=1), mixed_frame(30, seed=2)
    col = column_drift(ref, cur, "x0", method="psi")
    assert col.status == "not_enough_data"
    assert "40 reference values" in col.message


def test_a_window_of_100k_rows_is_fast():
    import time

    ref = mixed_frame(50_000, seed=1, n_numeric=20, n_categorical=0)
    cur = mixed_frame(100_000, seed=2, n_numeric=20, n_categorical=0, mean_shift=0.05)
    summary = ReferenceSummary.from_frame(ref)
    dataset_drift(summary, cur.head(50))  # imports SciPy
    start = time.perf_counter()
    dataset_drift(summary, cur)
    assert time.perf_counter() - start < 2.0  # about 0.3 s on 2 shared cores; the bound is for noisy CI


def test_a_column_of_another_type_is_reported_and_the_others_still_tested():
    ref, cur = mixed_frame(2_000, seed=1), mixed_frame(2_000, seed=2, mean_shift=0.5)
    result = dataset_drift(ref, cur.assign(x0="text"))
    x0 = result.column("x0")
    assert x0.status == "type_mismatch"
    assert not x0.drifted
    assert x0.statistic is None
    assert "numeric in the reference but categorical" in x0.message
    assert x0.n_current == 2_000
    assert all(result.column(n).drifted for n in ("x1", "x2", "x3"))
    assert result.share == pytest.approx(3 / 5)  # x0 is out of the share: x1-x3 of x1-x3, c0, c1
    json.dumps(result.to_dict(), allow_nan=False)
    forced = dataset_drift(ref, cur.assign(x0="text"), kinds={"x0": "numeric"})
    assert forced.column("x0").status == "type_mismatch"
    assert "not numbers" in forced.column("x0").message
    assert forced.column("x1").status == "ok"
    assert dataset_drift(ref, cur.assign(x0="text"), multivariate=True).multivariate is not None


def test_a_reference_column_missing_from_the_window_is_reported_when_columns_are_not_named():
    ref, cur = mixed_frame(1_000, seed=1), mixed_frame(1_000, seed=2)
    result = dataset_drift(ref, cur.drop(columns="x1"), multivariate=True)
    x1 = result.column("x1")
    assert x1.status == "not_enough_data"
    assert "missing from the current window" in x1.message
    assert x1.n_current == 0
    assert [c.column for c in result.columns] == ["x0", "x1", "x2", "x3", "c0", "c1"]
    assert [c.status for c in result.columns].count("ok") == 5
    assert result.share is not None
    assert result.multivariate is not None
    assert "x1" not in result.multivariate.columns


def test_duplicated_labels_in_the_window_are_refused():
    ref = mixed_frame(500, seed=1, n_numeric=2, n_categorical=0)
    cur = mixed_frame(500, seed=2, n_numeric=2, n_categorical=0)
    cur.columns = ["x0", "x0"]
    with pytest.raises(InvalidInput, match=r"'x0' appears twice"):
        dataset_drift(ref, cur, columns=["x0"])
    with pytest.raises(InvalidInput, match=r"'x0' appears twice"):
        column_drift(ref, cur, "x0")


def test_labels_that_are_not_text_are_compared_as_text():
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({0: rng.normal(size=500), 1: rng.choice(["a", "b"], 500)})
    cur = pd.DataFrame({0: rng.normal(size=400), 1: rng.choice(["a", "b"], 400)})
    result = dataset_drift(ref, cur)
    assert [c.column for c in result.columns] == ["0", "1"]
    assert all(c.status == "ok" for c in result.columns)
    assert column_drift(ref, cur, 0).status == "ok"  # type: ignore[arg-type]
    assert dataset_drift(ref, cur, columns=["1"]).columns[0].method == "chi2"


def test_list_cells_are_counted_by_their_text():
    rng = np.random.default_rng(0)
    values = [[1, 2], [3], [4, 5, 6]]
    ref = pd.DataFrame({"tags": [values[i] for i in rng.integers(0, 3, 1_000)]})
    cur = pd.DataFrame({"tags": [values[i] for i in rng.integers(0, 3, 800)]})
    col = column_drift(ref, cur, "tags")
    assert col.status == "ok"
    assert col.kind == "categorical"
    assert not col.drifted  # the same lists on both sides match by their text
    shifted = pd.DataFrame({"tags": [values[0]] * 600 + [values[1]] * 200})
    assert column_drift(ref, shifted, "tags").drifted
    tuples = pd.DataFrame({"tags": [tuple(v) for v in cur["tags"]]})  # hashable, same text as lists?
    assert column_drift(ref.assign(tags=[tuple(v) for v in ref["tags"]]), tuples, "tags").status == "ok"


@pytest.mark.parametrize("weight", [math.inf, -1.0, math.nan, "2"])
def test_weights_must_be_finite_and_not_negative(weight):
    ref, cur = mixed_frame(500, seed=1), mixed_frame(500, seed=2)
    with pytest.raises(InvalidInput, match=r"weights\['x0'\]"):
        dataset_drift(ref, cur, weights={"x0": weight})


def test_all_zero_weights_are_refused_and_untested_columns_say_why():
    ref, cur = mixed_frame(500, seed=1, n_categorical=0), mixed_frame(500, seed=2, n_categorical=0)
    with pytest.raises(InvalidInput, match=r"weights: every column.*weight 0"):
        dataset_drift(ref, cur, weights=dict.fromkeys(["x0", "x1", "x2", "x3"], 0.0))
    empty = dataset_drift(ref, cur.head(2))
    assert empty.status == "not_enough_data"
    for name in ("x0", "x1", "x2", "x3"):
        assert f"column {name!r}: the current window has 2 values" in empty.message
    some = cur.assign(x0=np.nan, x1=np.nan)
    zero = dataset_drift(ref, some, weights={"x2": 0, "x3": 0})
    assert zero.share is None
    assert "weight 0" in zero.message
    assert "'x0'" in zero.message
    assert "'x1'" in zero.message


def test_fisher_reports_the_odds_ratio_whether_chosen_or_automatic():
    ref = pd.DataFrame({"b": ["y"] * 3 + ["n"] * 40})
    cur = pd.DataFrame({"b": ["y"] * 4 + ["n"] * 10})
    automatic = column_drift(ref, cur, "b")
    chosen = column_drift(ref, cur, "b", method="fisher")
    assert automatic.method == chosen.method == "fisher"
    assert automatic.statistic == pytest.approx(chosen.statistic, abs=1e-12)
    assert automatic.p_value == pytest.approx(chosen.p_value, abs=1e-12)


def test_prediction_drift_tests_one_probability_of_a_two_class_model():
    rng = np.random.default_rng(3)

    def outputs(n: int, shift: float) -> pd.DataFrame:
        p1 = np.clip(rng.beta(2, 5, n) + shift, 0, 1)
        frame: pd.DataFrame = pd.DataFrame(
            {"prediction": (p1 > 0.5).astype(int), "proba_0": 1 - p1, "proba_1": p1}
        )
        return frame

    ref = outputs(3_000, 0.0)
    cur = outputs(1_000, 0.2)
    summary = ReferenceSummary.from_frame(ref, outputs=("prediction", "proba_0", "proba_1"))
    result = prediction_drift(summary, cur)
    assert [c.column for c in result.columns] == ["prediction", "proba_1"]
    assert result.share == 1.0
    three = ref.assign(proba_2=0.0)  # no longer complementary pairs: a three-class model's columns
    three_summary = ReferenceSummary.from_frame(three, outputs=("proba_0", "proba_1", "proba_2"))
    assert len(prediction_drift(three_summary, cur.assign(proba_2=0.0)).columns) == 3
    named = prediction_drift(summary, cur, outputs=["proba_0", "proba_1"])
    assert [c.column for c in named.columns] == ["proba_1"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "method"), [("numeric", "wasserstein"), ("numeric", "psi"), ("categorical", "psi")]
)
def test_distances_hold_their_level_when_the_window_outgrows_the_reference(kind, method):
    """2k reference rows, 20k in the window: chunks drawn from the 1k held-out rows flagged 9-10%."""
    alarms = 0
    p_values: list[float] = []
    for seed in range(200):
        rng = np.random.default_rng(10_000 + seed)
        if kind == "numeric":
            ref, cur = (
                pd.DataFrame({"x": rng.normal(size=2_000)}),
                pd.DataFrame({"x": rng.normal(size=20_000)}),
            )
        else:
            ref = pd.DataFrame({"x": rng.choice(CATEGORIES, 2_000, p=SHARES)})
            cur = pd.DataFrame({"x": rng.choice(CATEGORIES, 20_000, p=SHARES)})
        col = column_drift(ref, cur, "x", method=method, seed=seed)
        alarms += col.drifted
        assert col.p_value is not None
        p_values.append(col.p_value)
    assert alarms / 200 <= 0.06
    assert 0.45 <= np.mean(p_values) <= 0.55  # p-values of windows with no drift are uniform
