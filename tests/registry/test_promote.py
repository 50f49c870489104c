"""Promotion by the gate, overrides with a reason, aliases by hand, and rollback from the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from tests.registry._helpers import register_many

from slipway.core import AuditAction
from slipway.errors import (
    AliasNotFound,
    Conflict,
    GateFailed,
    InvalidInput,
    ModelNotFound,
    ModelVersionNotFound,
)
from slipway.validation import GateResult
from slipway.validation._policy import parse_policy
from slipway.validation._result import CheckResult

if TYPE_CHECKING:
    from slipway.models import ModelInfo
    from slipway.registry import Registry
    from slipway.store import MetadataStore


def gate(
    version: int,
    *,
    passed: bool = True,
    champion: int | None = None,
    compare: str | None = "production",
    name: str = "churn",
) -> dict[str, Any]:
    """A gate result as ``validate`` records it: the real policy, check and result types.

    ``champion`` is the version ``compare``'s alias held when the gate ran (None: no holder); a
    failed gate fails ``no_regression`` and ``latency_p99``.
    """
    document: dict[str, Any] = {
        "task": "classification",
        "checks": [
            {"kind": "metric", "metric": "roc_auc", "min": 0.9, "name": "auc_min"},
            {"kind": "latency", "single_row_p95_ms": 20, "name": "latency_p99"},
        ],
    }
    if compare is not None:
        document["compare"] = {"alias": compare}
        document["checks"].insert(1, {"kind": "no_regression", "metric": "roc_auc", "name": "no_regression"})
    policy = parse_policy(document, source="gate.yaml")
    checks = tuple(
        CheckResult(
            name=check.name,
            kind=check.kind,
            passed=passed or check.name == "auc_min",
            message=f"{check.name}: {'ok' if passed or check.name == 'auc_min' else 'failed'}",
            value=0.93,
        )
        for check in policy.checks
    )
    return GateResult(
        passed=all(c.passed for c in checks),
        model=name,
        version=version,
        checks=checks,
        task="classification",
        data={
            "source": "holdout.parquet",
            "digest": "0" * 64,
            "rows": 200,
            "columns": 4,
            "target": "churned",
        },
        policy={"source": policy.source, "digest": policy.digest, "document": policy.to_dict()},
        champion=None if champion is None or compare is None else {"alias": compare, "version": champion},
        champion_note="" if champion is None else f"champion: {compare} -> version {champion}",
    ).to_dict()


PASSED = gate(2)
FAILED = gate(2, passed=False)


@pytest.fixture
def three(registry: Registry, logged: ModelInfo) -> Registry:
    register_many(registry, logged.uri, 3)
    return registry


def holder(registry: Registry, alias: str = "production") -> int | None:
    return registry.get_model("churn").aliases.get(alias)


def test_promotion_without_a_gate_result_is_refused(three: Registry) -> None:
    with pytest.raises(GateFailed) as raised:
        three.promote("churn", 2, alias="production", actor="alice")
    message = str(raised.value)
    assert "models:/churn/2" in message
    assert "'production'" in message
    assert "no gate result: run `slipway validate models:/churn/2 …` first" in message
    assert holder(three) is None
    assert list(three.audit(action=AuditAction.PROMOTE)) == []


def test_promotion_with_a_failed_gate_names_the_failed_checks(three: Registry, store: MetadataStore) -> None:
    store.record_gate_result("churn", 2, FAILED, actor="ci")
    with pytest.raises(GateFailed, match="failed checks: no_regression, latency_p99"):
        three.promote("churn", 2, alias="production", actor="alice")
    assert holder(three) is None


def test_promotion_with_a_passing_gate_moves_the_alias(three: Registry, store: MetadataStore) -> None:
    store.record_gate_result("churn", 2, PASSED, actor="ci")
    event = three.promote("churn", 2, alias="production", actor="alice", reason="beats v1")
    assert (event.action, event.version, event.previous_version) == (AuditAction.PROMOTE, 2, None)
    assert (event.actor, event.reason) == ("alice", "beats v1")
    assert event.details["gate"] == PASSED
    assert holder(three) == 2
    assert three.resolve("models:/churn@production").version == 2


def test_the_latest_gate_result_decides(three: Registry, store: MetadataStore) -> None:
    store.record_gate_result("churn", 2, PASSED, actor="ci")
    store.record_gate_result("churn", 2, FAILED, actor="ci")
    with pytest.raises(GateFailed):
        three.promote("churn", 2, alias="production", actor="alice")


@pytest.mark.parametrize("reason", ["", "   "])
def test_an_override_needs_a_reason(three: Registry, reason: str) -> None:
    with pytest.raises(InvalidInput, match="needs a reason"):
        three.promote("churn", 2, alias="production", actor="alice", force=True, reason=reason)
    assert holder(three) is None


def test_an_override_is_audited_with_the_gate_state(three: Registry, store: MetadataStore) -> None:
    event = three.promote("churn", 1, alias="production", actor="alice", force=True, reason="outage fix")
    assert (event.action, event.reason) == (AuditAction.OVERRIDE, "outage fix")
    assert event.details == {"gate": None, "gate_state": "none"}

    failed = gate(2, passed=False, champion=1)
    store.record_gate_result("churn", 2, failed, actor="ci")
    event = three.promote("churn", 2, alias="production", actor="bob", force=True, reason="known regression")
    assert (event.action, event.previous_version) == (AuditAction.OVERRIDE, 1)
    assert event.details == {"gate": failed, "gate_state": "failed"}
    overrides = list(three.audit(action="override"))
    assert [(e.version, e.actor, e.reason) for e in overrides] == [
        (1, "alice", "outage fix"),
        (2, "bob", "known regression"),
    ]


def test_a_forced_promotion_with_a_passing_gate_is_a_promotion(three: Registry, store: MetadataStore) -> None:
    store.record_gate_result("churn", 3, gate(3), actor="ci")
    event = three.promote("churn", 3, alias="production", actor="alice", force=True, reason="go")
    assert event.action is AuditAction.PROMOTE


def test_a_gate_validated_against_another_champion_is_stale(three: Registry, store: MetadataStore) -> None:
    three.set_alias("churn", "production", 1, actor="alice")
    store.record_gate_result("churn", 3, gate(3, champion=1), actor="ci")
    three.set_alias("churn", "production", 2, actor="bob")  # moved after the gate ran
    before = list(three.audit(model="churn"))

    with pytest.raises(GateFailed) as raised:
        three.promote("churn", 3, alias="production", actor="alice")

    assert (
        "stale gate result: validated against version 1, the alias is now held by version 2; validate again"
        in str(raised.value)
    )
    assert holder(three) == 2
    assert list(three.audit(model="churn")) == before
    forced = three.promote("churn", 3, alias="production", actor="alice", force=True, reason="hotfix")
    assert (forced.action, forced.details["gate_state"]) == (AuditAction.OVERRIDE, "stale")


def test_a_gate_that_found_no_champion_is_stale_once_the_alias_is_held(
    three: Registry, store: MetadataStore
) -> None:
    store.record_gate_result("churn", 2, gate(2, champion=None), actor="ci")
    three.set_alias("churn", "production", 1, actor="bob")
    with pytest.raises(GateFailed, match="validated against no holder, the alias is now held by version 1"):
        three.promote("churn", 2, alias="production", actor="alice")


def test_a_gate_compared_against_another_alias_does_not_promote_to_this_one(
    three: Registry, store: MetadataStore
) -> None:
    store.record_gate_result("churn", 2, gate(2, compare="staging"), actor="ci")
    with pytest.raises(GateFailed, match="compared against alias 'staging', not 'production'"):
        three.promote("churn", 2, alias="production", actor="alice")
    assert three.promote("churn", 2, alias="staging", actor="alice").action is AuditAction.PROMOTE


def test_a_gate_without_a_champion_comparison_never_goes_stale(three: Registry, store: MetadataStore) -> None:
    store.record_gate_result("churn", 3, gate(3, compare=None), actor="ci")
    three.set_alias("churn", "production", 1, actor="bob")
    three.set_alias("churn", "production", 2, actor="bob")
    event = three.promote("churn", 3, alias="production", actor="alice")
    assert (event.action, event.previous_version) == (AuditAction.PROMOTE, 2)


def test_promote_names_unknown_models_versions_and_bad_aliases(three: Registry) -> None:
    with pytest.raises(ModelNotFound, match="nope"):
        three.promote("nope", 1, alias="production", actor="alice")
    with pytest.raises(ModelVersionNotFound, match="9"):
        three.promote("churn", 9, alias="production", actor="alice")
    with pytest.raises(InvalidInput, match="alias 'v2'"):
        three.promote("churn", 1, alias="v2", actor="alice")


def test_aliases_by_hand_are_atomic_moves_with_their_previous_holder(three: Registry) -> None:
    first = three.set_alias("churn", "staging", 1, actor="alice", reason="try it")
    second = three.set_alias("churn", "staging", 3, actor="bob")
    assert (first.action, first.previous_version, first.reason) == (AuditAction.ALIAS_SET, None, "try it")
    assert (second.version, second.previous_version) == (3, 1)
    assert three.get_version("churn", 3).aliases == frozenset({"staging"})
    deleted = three.delete_alias("churn", "staging", actor="alice", reason="done")
    assert (deleted.action, deleted.previous_version) == (AuditAction.ALIAS_DELETE, 3)
    assert holder(three, "staging") is None
    with pytest.raises(AliasNotFound, match="staging"):
        three.delete_alias("churn", "staging", actor="alice")


def test_tags_and_descriptions_are_audited(three: Registry) -> None:
    three.set_tags("churn", 2, {"owner": "risk", "stage": "beta"}, actor="alice", reason="triage")
    three.set_tags("churn", 2, {"stage": None}, actor="alice")
    three.describe("churn", "predicts churn", actor="alice")
    three.describe("churn", "the logistic baseline", version=2, actor="bob", reason="clarity")
    assert three.get_version("churn", 2).tags == {"owner": "risk"}
    assert three.get_version("churn", 2).description == "the logistic baseline"
    assert three.get_model("churn").description == "predicts churn"
    actions = [e.action for e in three.audit(model="churn") if e.action is not AuditAction.REGISTER]
    assert actions == [AuditAction.TAG, AuditAction.TAG, AuditAction.DESCRIBE, AuditAction.DESCRIBE]


def test_rollback_walks_back_through_the_history(three: Registry, store: MetadataStore) -> None:
    for v in (1, 2, 3):
        store.record_gate_result("churn", v, gate(v, champion=holder(three)), actor="ci")
        three.promote("churn", v, alias="production", actor="alice")
    three.set_alias("churn", "staging", 3, actor="alice")  # another alias does not interfere

    first = three.rollback("churn", alias="production", actor="bob", reason="latency spike")
    assert (first.action, first.version, first.previous_version) == (AuditAction.ROLLBACK, 2, 3)
    assert first.reason == "latency spike"
    assert holder(three) == 2

    second = three.rollback("churn", alias="production", actor="bob")
    assert (second.version, second.previous_version) == (1, 2)  # further back, not back to 3
    assert holder(three) == 1

    with pytest.raises(Conflict, match="no earlier holder") as raised:
        three.rollback("churn", alias="production", actor="bob")
    assert "\n" not in str(raised.value)
    assert holder(three) == 1
    assert holder(three, "staging") == 3


def test_a_promotion_after_a_rollback_rolls_back_to_the_rolled_back_to_version(
    three: Registry,
) -> None:
    three.set_alias("churn", "production", 1, actor="alice")
    three.set_alias("churn", "production", 2, actor="alice")
    three.rollback("churn", alias="production", actor="alice")
    three.set_alias("churn", "production", 3, actor="alice")
    assert three.rollback("churn", alias="production", actor="alice").version == 1


def test_a_rollback_refuses_when_the_alias_moves_before_its_write(
    three: Registry, store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    three.set_alias("churn", "production", 1, actor="alice")
    three.set_alias("churn", "production", 2, actor="alice")
    real = store.set_alias

    def racing(**kwargs: Any) -> Any:  # another client moves the alias between the read and the write
        real(name="churn", alias="production", version=3, actor="mallory")
        return real(**kwargs)

    monkeypatch.setattr(three.store, "set_alias", racing)
    with pytest.raises(Conflict, match="alias 'production' of model 'churn' moved to version 3 meanwhile"):
        three.rollback("churn", alias="production", actor="bob")
    monkeypatch.undo()

    assert holder(three) == 3
    assert list(three.audit(action=AuditAction.ROLLBACK)) == []


def test_rollback_restores_a_deleted_alias(three: Registry) -> None:
    three.set_alias("churn", "production", 2, actor="alice")
    three.delete_alias("churn", "production", actor="alice")
    assert three.rollback("churn", alias="production", actor="alice").version == 2
    assert holder(three) == 2


def test_rollback_of_an_unknown_alias_or_model_is_a_one_line_error(three: Registry) -> None:
    with pytest.raises(AliasNotFound, match="no alias 'production'"):
        three.rollback("churn", alias="production", actor="alice")
    with pytest.raises(ModelNotFound, match="nope"):
        three.rollback("nope", alias="production", actor="alice")
