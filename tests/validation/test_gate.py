"""validate(): champion against challenger, the paired bootstrap, the stored result, and promote."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from tests.validation._models import gate

from slipway.core import AuditAction
from slipway.errors import GateFailed, InvalidInput, ModelNotFound, ModelVersionNotFound
from slipway.validation import validate

if TYPE_CHECKING:
    from pathlib import Path

    from tests.validation._models import Models

    from slipway.registry import Registry

NO_REGRESSION = {
    "kind": "no_regression",
    "metric": "roc_auc",
    "tolerance": 0.01,
    "bootstrap": {"samples": 300, "seed": 3},
}


def test_a_clearly_worse_challenger_fails_and_a_clearly_better_one_passes(
    registry: Registry, clf: Models
) -> None:
    clf.register(registry, "good", "bad")
    registry.set_alias("churn", "production", 1, actor="ci")
    worse = gate(registry, clf, "models:/churn/2", NO_REGRESSION, alias="production")
    check = worse.checks[0]
    assert not worse.passed
    assert not check.passed
    d = check.details
    assert d["champion_version"] == 1
    assert d["improvement"] == pytest.approx(d["challenger"] - d["champion"])
    assert d["improvement"] < -0.2
    assert d["ci_low"] <= d["improvement"] <= d["ci_high"] < 0
    assert d["samples_defined"] == 300
    assert "may be at most 0.01 worse" in check.message
    assert worse.champion == {"alias": "production", "version": 1}

    registry.set_alias("churn", "production", 2, actor="ci")
    better = gate(registry, clf, "models:/churn/1", NO_REGRESSION, alias="production")
    d = better.checks[0].details
    assert better.passed
    assert 0 < d["ci_low"] <= d["improvement"] <= d["ci_high"]
    assert "95% CI of the improvement" in better.checks[0].message


def test_the_bootstrap_is_seeded_and_lower_is_better_metrics_flip_the_sign(
    registry: Registry, reg: Models
) -> None:
    reg.register(registry, "good", "bad", model="diabetes")
    registry.set_alias("diabetes", "champion", 2, actor="ci")
    check = {"kind": "no_regression", "metric": "rmse", "tolerance": 1.0, "bootstrap": {"samples": 200}}
    first = gate(registry, reg, "models:/diabetes/1", check, alias="champion", record=False).checks[0]
    again = gate(registry, reg, "models:/diabetes/1", check, alias="champion", record=False).checks[0]
    assert first.details == again.details
    d = first.details
    assert d["challenger"] < d["champion"]  # a smaller error is better ...
    assert d["improvement"] == pytest.approx(d["champion"] - d["challenger"])  # ... and counts as such
    assert first.passed
    assert d["ci_low"] > 0
    other_seed = {**check, "bootstrap": {"samples": 200, "seed": 99}}
    moved = gate(registry, reg, "models:/diabetes/1", other_seed, alias="champion", record=False).checks[0]
    assert moved.details["ci_low"] != d["ci_low"]
    assert moved.details["improvement"] == d["improvement"]


def test_without_a_holder_of_the_alias_the_comparisons_are_skipped_with_a_note(
    registry: Registry, clf: Models
) -> None:
    clf.register(registry, "good")
    result = gate(registry, clf, "models:/churn/1", NO_REGRESSION, {"kind": "signature"}, alias="production")
    assert result.passed
    assert [c.skipped for c in result.checks] == [True, True]
    assert result.champion is None
    assert (
        result.champion_note == "alias 'production' of model 'churn' has no holder, so there is no champion"
    )
    assert result.checks[0].message == f"skipped: {result.champion_note}"


def test_the_result_is_stored_on_the_version_and_promote_honours_it(registry: Registry, clf: Models) -> None:
    clf.register(registry, "good", "bad")
    registry.set_alias("churn", "production", 1, actor="ci")
    policy = [{"kind": "metric", "metric": "roc_auc", "min": 0.9}, NO_REGRESSION]
    failed = gate(registry, clf, "models:/churn/2", *policy, alias="production")
    assert failed.recorded
    assert not failed.passed
    stored = registry.get_version("churn", 2).gate
    assert stored == json.loads(json.dumps(failed.to_dict()))
    assert stored is not None
    assert stored["passed"] is False
    assert [c["name"] for c in stored["checks"]] == ["roc_auc >= 0.9", "no_regression:roc_auc"]
    assert {"name", "kind", "passed", "value", "threshold", "message", "details"} <= set(stored["checks"][0])
    assert stored["data"]["rows"] == len(clf.holdout)
    assert len(stored["data"]["digest"]) == 64
    assert stored["policy"]["document"]["compare"] == {"alias": "production"}
    assert stored["champion"] == {"alias": "production", "version": 1}
    assert set(stored["timings"]) >= {"load_models_ms", "checks_ms", "total_ms"}
    with pytest.raises(GateFailed, match=r"failed checks: roc_auc >= 0\.9, no_regression:roc_auc"):
        registry.promote("churn", 2, alias="production", actor="alice")

    passed = gate(registry, clf, "models:/churn/1", *policy, alias="staging")  # the alias it is promoted to
    assert passed.passed
    event = registry.promote("churn", 1, alias="staging", actor="alice")
    assert event.action is AuditAction.PROMOTE
    assert event.details["gate"]["passed"] is True
    validations = list(registry.audit(action=AuditAction.VALIDATE))
    assert [(e.version, e.actor) for e in validations] == [(2, "ci"), (1, "ci")]


def test_the_digest_is_the_one_log_dataset_records(registry: Registry, clf: Models) -> None:
    from slipway.tracking import fingerprint

    clf.register(registry, "good")
    result = gate(
        registry, clf, "models:/churn/1", {"kind": "metric", "metric": "f1", "min": 0}, record=False
    )
    assert result.data["digest"] == fingerprint(clf.holdout).digest
    assert not result.recorded
    assert registry.get_version("churn", 1).gate is None


def test_data_from_parquet_and_csv_files_and_aliases_resolve(
    registry: Registry, clf: Models, tmp_path: Path
) -> None:
    clf.register(registry, "good")
    registry.set_alias("churn", "candidate", 1, actor="ci")
    clf.holdout.to_parquet(tmp_path / "holdout.parquet")
    clf.holdout.to_csv(tmp_path / "holdout.csv", index=False)
    check = {"kind": "metric", "metric": "accuracy", "min": 0.9}
    a = gate(registry, clf, "models:/churn@candidate", check, data=tmp_path / "holdout.parquet")
    b = gate(registry, clf, "models:/churn/latest", check, data=str(tmp_path / "holdout.csv"))
    assert a.version == b.version == 1
    assert a.checks[0].value == pytest.approx(b.checks[0].value)
    assert a.data["source"].endswith("holdout.parquet")


def test_bad_input_is_one_named_error_and_records_nothing(
    registry: Registry, clf: Models, tmp_path: Path
) -> None:
    clf.register(registry, "good")
    check = {"kind": "metric", "metric": "accuracy", "min": 0.9}
    path = tmp_path / "holdout.parquet"
    clf.holdout.drop(columns=["churned"]).to_parquet(path)
    with pytest.raises(
        InvalidInput, match=r"holdout\.parquet: no target column 'churned' \(columns: mean radius"
    ):
        gate(registry, clf, "models:/churn/1", check, data=path)
    with pytest.raises(InvalidInput, match=r"data file '.*nothing\.parquet': no such file"):
        gate(registry, clf, "models:/churn/1", check, data=tmp_path / "nothing.parquet")
    (tmp_path / "holdout.json").write_text("{}")
    with pytest.raises(InvalidInput, match=r"expected a \.parquet or \.csv file"):
        gate(registry, clf, "models:/churn/1", check, data=tmp_path / "holdout.json")
    with_gap = clf.holdout.astype({"churned": float})
    with_gap.loc[3, "churned"] = float("nan")
    with pytest.raises(InvalidInput, match="target column 'churned' has 1 missing values"):
        gate(registry, clf, "models:/churn/1", check, data=with_gap)
    lacking = clf.holdout.drop(columns=["mean radius"])
    with pytest.raises(InvalidInput, match=r"models:/churn/1 cannot score this data: .*mean radius"):
        gate(registry, clf, "models:/churn/1", check, data=lacking)
    with pytest.raises(ModelVersionNotFound):
        gate(registry, clf, "models:/churn/9", check)
    with pytest.raises(ModelNotFound):
        gate(registry, clf, "models:/nope/1", check)
    with pytest.raises(InvalidInput, match=r"checks\[0\]\.metric 'acuracy': unknown metric"):
        gate(registry, clf, "models:/churn/1", {**check, "metric": "acuracy"})
    assert registry.get_version("churn", 1).gate is None
    assert list(registry.audit(action=AuditAction.VALIDATE)) == []


def test_a_policy_file_and_a_policy_value_give_the_same_gate(
    registry: Registry, clf: Models, tmp_path: Path
) -> None:
    from slipway.validation import load_policy

    clf.register(registry, "good")
    path = tmp_path / "gate.yaml"
    path.write_text("checks:\n  - {kind: metric, metric: roc_auc, min: 0.9}\n")
    common = {"target": "churned", "registry": registry, "cache_dir": "cache", "actor": "ci", "record": False}
    from_path = validate("models:/churn/1", clf.holdout, policy=path, **common)  # type: ignore[arg-type]
    from_value = validate("models:/churn/1", clf.holdout, policy=load_policy(path), **common)  # type: ignore[arg-type]
    assert from_path.policy == from_value.policy
    assert from_path.policy["source"] == "gate.yaml"
    assert from_path.checks[0].value == from_value.checks[0].value


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "precision", "f1", "log_loss"])
def test_a_target_of_another_type_than_the_classes_is_named_and_records_nothing(
    registry: Registry, clf: Models, metric: str
) -> None:
    clf.register(registry, "good")  # classes 0 and 1
    words = clf.holdout.assign(churned=clf.holdout["churned"].map({0: "stay", 1: "churn"}))
    check = {"kind": "metric", "metric": metric, "min": 0.5 if metric != "log_loss" else 0}
    first = words["churned"].iloc[0]
    with pytest.raises(
        InvalidInput,
        match=rf"^data: target column 'churned': value '{first}' is not one of models:/churn/1's "
        r"classes \(0, 1\)$",
    ):
        gate(registry, clf, "models:/churn/1", check, data=words)
    unseen = clf.holdout.assign(churned=clf.holdout["churned"] * 2)  # 0 and 2: 2 is no class
    with pytest.raises(InvalidInput, match=r"target column 'churned': value 2 is not one of"):
        gate(registry, clf, "models:/churn/1", check, data=unseen)
    assert registry.get_version("churn", 1).gate is None
    assert list(registry.audit(action=AuditAction.VALIDATE)) == []
    floats = clf.holdout.astype({"churned": float})  # 0.0 and 1.0 equal the classes 0 and 1
    assert gate(registry, clf, "models:/churn/1", check, data=floats).passed


def test_a_champion_whose_classes_do_not_admit_the_target_is_bad_input(
    registry: Registry, clf: Models, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    from slipway.models import save_model

    clf.register(registry, "good")
    X = clf.holdout.drop(columns=["churned", "name", "region"])
    words = clf.holdout["churned"].map({0: "stay", 1: "churn"})
    folder = tmp_path / "clf-words"
    save_model(LogisticRegression(max_iter=5000).fit(X, words), folder, input_example=X.head(3))
    registry.register(folder, "churn", actor="ci")  # version 2: text classes
    registry.set_alias("churn", "production", 1, actor="ci")
    data = clf.holdout.assign(churned=words)
    check = {"kind": "no_regression", "metric": "accuracy", "tolerance": 0.5}
    with pytest.raises(
        InvalidInput,
        match=r"checks\[0\].*target column 'churned': value '\w+' is not one of models:/churn/1's",
    ):
        gate(registry, clf, "models:/churn/2", check, data=data, alias="production")
    assert registry.get_version("churn", 2).gate is None
