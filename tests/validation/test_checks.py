"""Each check kind passing and failing on real models (breast cancer, diabetes) in a real registry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from sklearn import metrics as sk
from tests.validation._models import gate

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

    from tests.validation._models import Models

    from slipway.registry import Registry
    from slipway.validation import CheckResult, GateResult


def one(result: GateResult) -> CheckResult:
    assert len(result.checks) == 1
    return result.checks[0]


def load_raw(registry: Registry, uri: str) -> Any:
    return registry.load(uri, cache_dir="cache").raw


# ---------------------------------------------------------------------- metric thresholds


def test_metric_thresholds_pass_and_fail_with_sklearns_numbers(registry: Registry, clf: Models) -> None:
    clf.register(registry, "good")
    result = gate(
        registry,
        clf,
        "models:/churn/1",
        {"kind": "metric", "metric": "roc_auc", "min": 0.95},
        {"kind": "metric", "metric": "accuracy", "min": 0.999},
        {"kind": "metric", "metric": "log_loss", "max": 0.3},
        record=False,
    )
    auc, acc, loss = result.checks
    assert (auc.passed, acc.passed, loss.passed) == (True, False, True)
    assert not result.passed
    model = load_raw(registry, "models:/churn/1")
    X = clf.holdout.drop(columns=["churned", "name", "region"])
    y = clf.holdout["churned"]
    assert auc.value == pytest.approx(sk.roc_auc_score(y, model.predict_proba(X)[:, 1]), abs=1e-12)
    assert acc.value == pytest.approx(sk.accuracy_score(y, model.predict(X)), abs=1e-12)
    assert loss.value == pytest.approx(sk.log_loss(y, model.predict_proba(X)), abs=1e-12)
    assert acc.threshold == {"min": 0.999}
    assert acc.message == f"accuracy {acc.value:.4g} is below the minimum 0.999"
    assert acc.name == "accuracy >= 0.999"


def test_regression_metrics(registry: Registry, reg: Models) -> None:
    reg.register(registry, "good", model="diabetes")
    result = gate(
        registry,
        reg,
        "models:/diabetes/1",
        {"kind": "metric", "metric": "r2", "min": 0.3},
        {"kind": "metric", "metric": "rmse", "max": 30.0},
        {"kind": "metric", "metric": "mae", "max": 70},
        {"kind": "metric", "metric": "mape", "max": 0.6},
        record=False,
    )
    assert result.task == "regression"
    r2, rmse, mae, mape = result.checks
    assert (r2.passed, rmse.passed, mae.passed, mape.passed) == (True, False, True, True)
    model = load_raw(registry, "models:/diabetes/1")
    X = reg.holdout.drop(columns=["progression", "name", "region"])
    y = reg.holdout["progression"]
    assert r2.value == pytest.approx(sk.r2_score(y, model.predict(X)), rel=1e-12)
    assert rmse.value == pytest.approx(sk.root_mean_squared_error(y, model.predict(X)), rel=1e-12)


def test_a_metric_of_the_wrong_task_or_without_probabilities_is_bad_input(
    registry: Registry, clf: Models, reg: Models
) -> None:
    reg.register(registry, "good", model="diabetes")
    with pytest.raises(
        InvalidInput, match=r"checks\[0\] \(metric 'f1 >= 0.5'\): metric 'f1' is a classification"
    ):
        gate(registry, reg, "models:/diabetes/1", {"kind": "metric", "metric": "f1", "min": 0.5})
    assert registry.get_version("diabetes", 1).gate is None  # nothing recorded


# ---------------------------------------------------------------------- slices


def test_slices_pass_skip_small_ones_and_fail_on_a_bad_model(registry: Registry, clf: Models) -> None:
    clf.register(registry, "good", "bad")
    check = {"kind": "slice", "column": "region", "metric": "accuracy", "min": 0.9, "min_size": 20}
    good = one(gate(registry, clf, "models:/churn/1", check, record=False))
    assert good.passed, good.message
    details = good.details
    assert details["slices_evaluated"] == 3
    assert details["too_small"] == ["tiny"]
    assert {s["slice"] for s in details["slices"]} == {"north", "south", "east"}
    holdout = clf.holdout
    rows = holdout["region"] == "north"
    model = load_raw(registry, "models:/churn/1")
    X = holdout.drop(columns=["churned", "name", "region"])
    north = next(s for s in details["slices"] if s["slice"] == "north")
    assert north["rows"] == int(rows.sum())
    assert north["value"] == pytest.approx(
        sk.accuracy_score(holdout["churned"][rows], model.predict(X[rows]))
    )

    bad = one(gate(registry, clf, "models:/churn/2", check, record=False))
    assert not bad.passed
    assert "slices of 'region' fail" in bad.message
    assert bad.value == min(s["value"] for s in bad.details["slices"])


def test_numeric_slices_by_quantile_bins_and_nothing_large_enough_fails(
    registry: Registry, clf: Models
) -> None:
    clf.register(registry, "good")
    binned = {"kind": "slice", "column": "mean radius", "metric": "roc_auc", "min": 0.5, "bins": 3}
    result = one(gate(registry, clf, "models:/churn/1", binned, record=False))
    assert result.details["slices_evaluated"] + result.details["slices_undefined"] == 3
    huge = {"kind": "slice", "column": "region", "metric": "accuracy", "min": 0.5, "min_size": 10_000}
    nothing = one(gate(registry, clf, "models:/churn/1", huge, record=False))
    assert not nothing.passed
    assert "no slice of 'region' has 10000 rows or more" in nothing.message
    with pytest.raises(InvalidInput, match="column 'segment' is not in the data"):
        gate(registry, clf, "models:/churn/1", {**huge, "column": "segment"})


# ---------------------------------------------------------------------- behaviour


def test_invariance_to_a_feature_the_model_ignores_and_to_noise_on_one_it_uses(
    registry: Registry, clf: Models
) -> None:
    clf.register(registry, "good")
    renamed = {"kind": "invariance", "feature": "name", "value": "someone else", "max_changed_fraction": 0.0}
    shuffled = {"kind": "invariance", "feature": "name", "shuffle": True, "max_delta": 0.0}
    noisy = {
        "kind": "invariance",
        "feature": "worst radius",
        "noise": 5.0,
        "max_changed_fraction": 0.01,
        "name": "noise on worst radius",
    }
    tiny_noise = {**noisy, "noise": 1e-9, "max_delta": 1e-6, "name": "tiny noise"}
    result = gate(registry, clf, "models:/churn/1", renamed, shuffled, noisy, tiny_noise, record=False)
    a, b, c, d = result.checks
    assert a.passed
    assert a.value == 0.0
    assert "the model does not take 'name'" in a.message
    assert b.passed
    assert b.details["max_delta"] == 0.0
    assert not c.passed
    assert c.details["changed_fraction"] > 0.01
    assert "of rows changed their prediction (at most 1.00%)" in c.message
    assert d.passed, d.message
    again = gate(registry, clf, "models:/churn/1", noisy, record=False).checks[0]
    assert again.details == c.details  # seeded


def test_invariance_of_a_regressor_by_value(registry: Registry, reg: Models) -> None:
    reg.register(registry, "good", model="diabetes")
    check = {"kind": "invariance", "feature": "bmi", "noise": 0.05, "max_delta": 1.0}
    result = one(gate(registry, reg, "models:/diabetes/1", check, record=False))
    assert not result.passed
    assert result.details["max_delta"] > 1.0
    loose = {**check, "max_delta": 1e6}
    assert one(gate(registry, reg, "models:/diabetes/1", loose, record=False)).passed


def test_directional_expectations(registry: Registry, clf: Models, reg: Models) -> None:
    clf.register(registry, "good")
    # For a linear model the probability moves the same way for every row: the coefficient's sign.
    right = "increase" if clf.radius_coef > 0 else "decrease"
    wrong = "decrease" if right == "increase" else "increase"
    base = {"kind": "directional", "feature": "mean radius", "delta": 1.0}
    ok, bad = gate(
        registry,
        clf,
        "models:/churn/1",
        {**base, "expect": right, "name": "right"},
        {**base, "expect": wrong, "name": "wrong", "min_fraction": 0.9},
        record=False,
    ).checks
    assert ok.passed
    assert ok.value == 1.0
    assert not bad.passed
    assert bad.value == 0.0
    assert "expected it not to for at least 90.00%" in bad.message
    assert "probability of class 1" in bad.message

    reg.register(registry, "good", model="diabetes")
    bmi = {"kind": "directional", "feature": "bmi", "delta": 0.01, "expect": "increase"}
    assert one(gate(registry, reg, "models:/diabetes/1", bmi, record=False)).passed
    with pytest.raises(InvalidInput, match="column 'name' is not numeric"):
        gate(registry, clf, "models:/churn/1", {**base, "feature": "name"})


# ---------------------------------------------------------------------- latency and signature


def test_latency_budgets(registry: Registry, clf: Models) -> None:
    clf.register(registry, "good")
    generous = {
        "kind": "latency",
        "single_row_p95_ms": 60_000,
        "batch_p95_ms": 60_000,
        "repetitions": 5,
        "batch_size": 50,
        "name": "generous",
    }
    impossible = {"kind": "latency", "single_row_p95_ms": 0.000001, "repetitions": 5, "name": "impossible"}
    ok, bad = gate(registry, clf, "models:/churn/1", generous, impossible, record=False).checks
    assert ok.passed
    assert ok.details["batch_size"] == 50
    assert set(ok.details["single_row_ms"]) == {"p50", "p95", "max"}
    assert ok.details["single_row_ms"]["p95"] > 0
    assert not bad.passed
    assert "over the budget 1e-06 ms" in bad.message


def test_signature_compatibility_with_the_champion(registry: Registry, clf: Models) -> None:
    clf.register(registry, "good", "fewer", "good")
    registry.set_alias("churn", "production", 1, actor="ci")
    check = {"kind": "signature"}
    missing = one(gate(registry, clf, "models:/churn/2", check, alias="production", record=False))
    assert not missing.passed
    assert missing.message == (
        "incompatible with champion version 1: input 'mean radius' (float64) was removed"
    )
    same = one(gate(registry, clf, "models:/churn/3", check, alias="production", record=False))
    assert same.passed
    # The other way round: the challenger takes an input the champion did not, and it is required.
    registry.set_alias("churn", "production", 2, actor="ci")
    added = one(gate(registry, clf, "models:/churn/3", check, alias="production", record=False))
    assert not added.passed
    assert "required input 'mean radius' (float64) was added" in added.message


def test_signature_rules() -> None:
    from slipway.core import ColumnSpec, Schema, Signature, TensorSpec
    from slipway.validation import compare_signatures

    def sig(*cols: ColumnSpec) -> Signature:
        return Signature(inputs=Schema(columns=cols))

    a = ColumnSpec(name="a", dtype="int32")
    b = ColumnSpec(name="b", dtype="string", optional=True)
    problems, notes = compare_signatures(sig(a), sig(ColumnSpec(name="a", dtype="int64"), b))
    assert problems == []
    assert notes == ["input 'a' widened from int32 to int64", "optional input 'b' (string) added"]
    problems, _ = compare_signatures(sig(a, b), sig(ColumnSpec(name="a", dtype="string"), b))
    assert problems == ["input 'a' changed type from int32 to string"]
    problems, _ = compare_signatures(sig(a, b), sig(a, ColumnSpec(name="b", dtype="string")))
    assert problems == ["input 'b' was optional and is now required"]
    tensor = Signature(inputs=Schema(tensor=TensorSpec(dtype="float32", shape=(-1, 4))))
    problems, _ = compare_signatures(tensor, sig(a))
    assert problems == ["inputs changed from a tensor to named columns"]
    assert compare_signatures(None, sig(a)) == ([], ["the champion has no signature; nothing to compare"])
    assert compare_signatures(sig(a), None)[0] == [
        "the challenger has no signature, so its inputs are unchecked"
    ]
    assert np.array_equal(np.array([1]), np.array([1]))


def test_a_classifier_without_recorded_classes_needs_a_target_of_the_kind_it_predicts() -> None:
    from typing import ClassVar

    import numpy as np

    from slipway.validation._context import Candidate
    from slipway.validation._metrics import Predictions

    class Manifest:
        options: ClassVar[dict[str, object]] = {}

    class Model:
        manifest = Manifest()
        methods = ("predict",)

    version = type("V", (), {"name": "m", "version": 1})()
    candidate = Candidate(version=version, model=Model(), task="classification", pos_label=None)  # type: ignore[arg-type]
    labels = np.array([0, 1, 1, 0])
    preds = Predictions(labels=labels, classes=candidate.classes(labels, None))
    assert (
        candidate.target_mismatch(np.array([0, 1, 2, 1]), preds) is None
    )  # 2: never predicted, still a number
    assert candidate.target_mismatch(np.array([0, 1, 1, 0], dtype=float), preds) is None
    bad = candidate.target_mismatch(np.array([0, "yes", 1], dtype=object), preds)
    assert bad == ("yes", "of the kind models:/m/1 predicts (0, 1)")


def test_a_model_that_raises_on_the_perturbed_data_fails_the_check_with_its_error(
    registry: Registry, clf: Models, tmp_path: Path
) -> None:
    from tests.validation._models import fragile_classifier

    registry.register(fragile_classifier(clf, tmp_path / "fragile"), "churn", actor="ci")
    shifted = {"kind": "directional", "feature": "mean radius", "delta": 5000.0, "name": "shifted"}
    text = {"kind": "invariance", "feature": "mean radius", "value": "big", "max_changed_fraction": 0.1}
    fine = {"kind": "invariance", "feature": "name", "value": "x", "max_changed_fraction": 0.0}
    result = gate(registry, clf, "models:/churn/1", shifted, text, fine)
    crashed, refused, ok = result.checks
    assert not result.passed
    assert result.recorded
    assert not crashed.passed
    assert crashed.message == (
        "mean radius +5000: models:/churn/1 raised on the perturbed data: "
        "ValueError: mean radius over 1000: cannot happen"
    )
    assert crashed.details["error"] == "ValueError: mean radius over 1000: cannot happen"
    assert crashed.threshold["min_fraction"] == 1.0
    assert not refused.passed  # the signature refuses text in a number column
    assert refused.message.startswith(
        "'mean radius' set to 'big': models:/churn/1 raised on the perturbed data: "
    )
    assert refused.details["error"].startswith("InvalidInput: ")
    assert ok.passed
    stored = registry.get_version("churn", 1).gate
    assert stored is not None
    assert [c["passed"] for c in stored["checks"]] == [False, False, True]


def test_a_model_that_raises_on_the_gates_own_data_is_one_line_and_records_nothing(
    registry: Registry, clf: Models, tmp_path: Path
) -> None:
    from tests.validation._models import fragile_classifier

    registry.register(fragile_classifier(clf, tmp_path / "fragile"), "churn", actor="ci")
    data = clf.holdout.copy()
    data.loc[0, "mean radius"] = 5000.0  # the model's own step raises on this row
    check = {"kind": "metric", "metric": "accuracy", "min": 0.5}
    with pytest.raises(InvalidInput) as info:
        gate(registry, clf, "models:/churn/1", check, data=data)
    message = str(info.value)
    assert "models:/churn/1 raised on the gate's data: ValueError: mean radius over 1000" in message
    assert "\n" not in message  # the model's multi-line message is cut to its first line
    assert registry.get_version("churn", 1).gate is None
