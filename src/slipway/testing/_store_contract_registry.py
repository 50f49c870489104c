"""The registry part of the metadata-store contract: versions, aliases, gate results, the audit log.

A store that sets the actor itself (a team server with authentication sets it from the caller's
token) overrides :meth:`RegistryContract.expected_actor`.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from slipway.core import ArtifactEntry, AuditAction, ModelVersion
from slipway.errors import (
    AliasNotFound,
    Conflict,
    GateFailed,
    InvalidInput,
    ModelNotFound,
    ModelVersionNotFound,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from slipway.core import AuditEvent
    from slipway.store import MetadataStore


def new_model_name() -> str:
    """A model name no other test (or test session) shares."""
    return f"contract-model-{uuid.uuid4().hex}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _files(*names: str) -> list[ArtifactEntry]:
    return [ArtifactEntry(path=n, digest=_digest(n), size=len(n)) for n in names]


def _manifest(digest: str) -> ArtifactEntry:
    return ArtifactEntry(path="slipway.yaml", digest=digest, size=64)


def register(store: MetadataStore, name: str, *, actor: str = "ada", **options: Any) -> ModelVersion:
    """Register a version of ``name``: its ``slipway.yaml`` (added unless listed) and ``files``."""
    options.setdefault("source", f"runs:/{uuid.uuid4().hex}/model")
    digest = options.setdefault("manifest_digest", _digest(uuid.uuid4().hex))
    files = list(options.get("files", _files("model.pkl")))
    if not any(f.path == "slipway.yaml" for f in files):
        files.insert(0, _manifest(digest))
    options["files"] = files
    return store.create_model_version(name=name, actor=actor, **options)


def gate_result(
    name: str,
    version: int,
    *,
    passed: bool = True,
    compare: str | None = "production",
    champion: int | None = None,
) -> dict[str, Any]:
    """A stored gate result as :func:`slipway.validation.validate` records it (``GateResult.to_dict``).

    ``compare`` is the policy's ``compare.alias`` (None: the policy compares with no champion) and
    ``champion`` the version that alias held when the gate ran (None: no holder).
    """
    check = {"kind": "metric", "metric": "auc", "op": ">=", "threshold": 0.8, "name": "auc >= 0.8"}
    document: dict[str, Any] = {"task": "classification", "checks": [check]}
    if compare is not None:
        document["compare"] = {"alias": compare}
    return {
        "passed": passed,
        "model": name,
        "version": version,
        "task": "classification",
        "checks": [
            {
                "name": "auc >= 0.8",
                "kind": "metric",
                "passed": passed,
                "skipped": False,
                "value": 0.91 if passed else 0.62,
                "threshold": 0.8,
                "message": "auc 0.91 >= 0.8" if passed else "auc 0.62 < 0.8",
                "details": {},
                "duration_ms": 1.5,
            }
        ],
        "data": {
            "source": "holdout.parquet",
            "digest": _digest("data"),
            "rows": 100,
            "columns": 5,
            "target": "y",
        },
        "policy": {"source": "gate.yaml", "digest": _digest("policy"), "document": document},
        "champion": None if champion is None or compare is None else {"alias": compare, "version": champion},
        "champion_note": "" if champion is None else f"champion: {compare} -> version {champion}",
        "started_at": "2026-01-01T00:00:00Z",
        "timings": {"total_ms": 12.0},
    }


def _events(store: MetadataStore, model: str, **filters: Any) -> list[AuditEvent]:
    return store.search_audit(model=model, **filters).items


class RegistryContract:
    """Registered models, immutable versions, atomic alias moves and an append-only audit log."""

    def expected_actor(self, claimed: str) -> str:
        """The actor the store records when a caller claims ``claimed`` (itself, by default)."""
        return claimed

    # ------------------------------------------------------------------ versions

    def test_versions_count_up_per_model_and_independently(self, store: MetadataStore) -> None:
        churn, fraud = new_model_name(), new_model_name()

        assert [register(store, churn).version for _ in range(3)] == [1, 2, 3]
        assert [register(store, fraud).version for _ in range(2)] == [1, 2]
        assert register(store, churn).version == 4

    def test_the_first_version_creates_the_model(self, store: MetadataStore) -> None:
        name = new_model_name()
        with pytest.raises(ModelNotFound, match=name):
            store.get_registered_model(name)

        mv = register(store, name)

        model = store.get_registered_model(name)
        assert (model.name, model.latest_version, model.description) == (name, 1, "")
        assert abs(model.created_at - mv.created_at) < 60_000
        assert model in store.list_registered_models()
        register(store, name)
        assert store.get_registered_model(name).latest_version == 2

    def test_a_version_round_trips(self, store: MetadataStore) -> None:
        name = new_model_name()
        run_id = uuid.uuid4().hex
        lineage = {
            "run_id": run_id,
            "datasets": [{"digest": _digest("train"), "name": "train", "role": "training"}],
            "commit": "0" * 40,
            "replaces": None,
            "metrics": {"auc": 0.91, "loss": 1e-9},
        }
        files = _files("slipway.yaml", "model/weights.bin", "code/train.py")
        mv = register(
            store,
            name,
            source=f"runs:/{run_id}/model",
            manifest_digest=_digest("slipway.yaml"),
            files=files,
            run_id=run_id,
            lineage=lineage,
            description="first try",
            tags={"team": "risk", "note": ""},
        )

        assert (mv.name, mv.version, mv.run_id, mv.source) == (name, 1, run_id, f"runs:/{run_id}/model")
        assert (mv.manifest_digest, mv.description) == (_digest("slipway.yaml"), "first try")
        assert (mv.lineage, mv.tags, mv.gate, mv.aliases) == (
            lineage,
            {"team": "risk", "note": ""},
            None,
            frozenset(),
        )
        assert mv.creator == self.expected_actor("ada")
        assert store.get_model_version(name, 1) == mv
        assert store.list_model_versions(name) == [mv]
        assert store.list_model_version_files(name, 1) == sorted(files, key=lambda f: f.path)

    def test_versions_are_listed_newest_first(self, store: MetadataStore) -> None:
        name = new_model_name()
        for _ in range(3):
            register(store, name)

        assert [mv.version for mv in store.list_model_versions(name)] == [3, 2, 1]

    def test_a_registered_version_never_changes_its_files_or_manifest(self, store: MetadataStore) -> None:
        name = new_model_name()
        first = register(store, name, files=_files("a.bin"))
        register(store, name, files=_files("b.bin", "c.bin"))

        assert store.list_model_version_files(name, 1) == [*_files("a.bin"), _manifest(first.manifest_digest)]
        assert store.get_model_version(name, 1).manifest_digest == first.manifest_digest
        # ... and no method of the port could change them.
        changers = [
            m
            for m in _port_methods()
            if re.search(r"(update|edit|replace|delete|remove|set)_.*(file|manifest|source|version$)", m)
        ]
        assert changers == []

    def test_the_manifest_may_be_the_only_file_and_paths_are_normalised(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name, files=[])
        register(store, name, files=[ArtifactEntry(path="./model/./w.bin", digest=_digest("w"), size=3)])

        assert [f.path for f in store.list_model_version_files(name, 1)] == ["slipway.yaml"]
        assert [f.path for f in store.list_model_version_files(name, 2)] == ["model/w.bin", "slipway.yaml"]

    @pytest.mark.parametrize(
        "digest", ["", "abc", "A" * 64, "g" * 64, "a" * 63, "a" * 65, "sha256:" + "a" * 64, " " + "a" * 63]
    )
    def test_the_manifest_digest_must_be_a_sha256(self, store: MetadataStore, digest: str) -> None:
        name = new_model_name()
        with pytest.raises(InvalidInput, match="manifest_digest"):
            register(store, name, manifest_digest=digest, files=[_manifest(_digest("slipway.yaml"))])
        with pytest.raises(ModelNotFound):
            store.get_registered_model(name)

    def test_a_version_needs_its_manifest_among_its_files(self, store: MetadataStore) -> None:
        name = new_model_name()
        digest = _digest("manifest")
        no_manifest = _files("model.pkl")
        other = [ArtifactEntry(path="slipway.yaml", digest=_digest("other"), size=5), *no_manifest]
        nested = [ArtifactEntry(path="model/slipway.yaml", digest=digest, size=5), *no_manifest]
        for files in (no_manifest, other, nested, []):
            with pytest.raises(InvalidInput, match=r"slipway\.yaml"):
                store.create_model_version(
                    name=name, source="runs:/r/model", manifest_digest=digest, files=files, actor="ada"
                )
        with pytest.raises(ModelNotFound):
            store.get_registered_model(name)

    def test_a_claimed_previous_version_is_not_stored(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)
        mv = register(store, name, lineage={"previous_version": 7, "commit": "0" * 40})

        assert mv.lineage == {"commit": "0" * 40}
        assert store.get_model_version(name, 2).lineage == {"commit": "0" * 40}

    def test_threads_registering_at_once_get_distinct_versions(self, store: MetadataStore) -> None:
        name = new_model_name()
        got: list[int] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(3):
                    got.append(register(store, name).version)
            except BaseException as exc:  # collected: a thread's failure must fail the test
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        assert errors == []
        assert sorted(got) == list(range(1, 19))
        registered = _events(store, name, action=AuditAction.REGISTER)
        assert sorted(e.version or 0 for e in registered) == list(range(1, 19))

    # ------------------------------------------------------------------ tags, descriptions, gate

    def test_tags_are_set_and_deleted(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name, tags={"team": "risk", "stage": "dev"})

        store.set_model_version_tags(name, 1, {"stage": "review", "owner": "ada", "team": None}, actor="bob")

        assert store.get_model_version(name, 1).tags == {"stage": "review", "owner": "ada"}
        (event,) = _events(store, name, action=AuditAction.TAG)
        assert (event.version, event.actor) == (1, self.expected_actor("bob"))
        assert event.details == {"tags": {"stage": "review", "owner": "ada", "team": None}}

    def test_descriptions_are_set_and_logged(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)

        store.set_model_description(name, "predicts churn", actor="ada", reason="docs")
        store.set_model_version_description(name, 1, "baseline", actor="ada")

        assert store.get_registered_model(name).description == "predicts churn"
        assert store.get_model_version(name, 1).description == "baseline"
        model_event, version_event = _events(store, name, action=AuditAction.DESCRIBE)
        assert (model_event.version, model_event.reason) == (None, "docs")
        assert (version_event.version, version_event.details) == (1, {"description": "baseline"})

    def test_the_gate_result_is_stored_on_the_version_and_logged(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)
        failed = {"passed": False, "checks": [{"name": "auc", "value": 0.7, "threshold": 0.8, "ok": False}]}
        passed = {"passed": True, "checks": [{"name": "latency_ms", "value": 1.5, "budget": float("inf")}]}

        first = store.record_gate_result(name, 1, failed, actor="ci")
        second = store.record_gate_result(name, 1, passed, actor="ci", reason="retrained")

        assert store.get_model_version(name, 1).gate == passed
        assert (first.action, first.version, first.details) == (AuditAction.VALIDATE, 1, {"result": failed})
        assert (second.reason, second.details) == ("retrained", {"result": passed})
        assert _events(store, name, action=AuditAction.VALIDATE) == [first, second]

    # ------------------------------------------------------------------ aliases

    def test_aliases_are_set_moved_and_deleted_and_each_move_is_logged(self, store: MetadataStore) -> None:
        name = new_model_name()
        for _ in range(3):
            register(store, name)

        created = store.set_alias(name=name, alias="production", version=1, actor="ada", reason="first")
        moved = store.set_alias(name=name, alias="production", version=3, actor="bob", reason="better")

        assert store.get_version_by_alias(name, "production") == store.get_model_version(name, 3)
        assert store.get_model_version(name, 3).aliases == {"production"}
        assert store.get_model_version(name, 1).aliases == set()
        assert store.get_registered_model(name).aliases == {"production": 3}
        assert (created.action, created.alias, created.version, created.previous_version) == (
            AuditAction.ALIAS_SET,
            "production",
            1,
            None,
        )
        assert (moved.version, moved.previous_version, moved.reason) == (3, 1, "better")
        assert moved.actor == self.expected_actor("bob")
        assert moved.id > created.id

        deleted = store.delete_alias(name=name, alias="production", actor="ada", reason="retired")

        assert (deleted.action, deleted.version, deleted.previous_version) == (
            AuditAction.ALIAS_DELETE,
            None,
            3,
        )
        with pytest.raises(AliasNotFound, match="production"):
            store.get_version_by_alias(name, "production")
        assert store.get_registered_model(name).aliases == {}
        assert _events(store, name, alias="production") == [created, moved, deleted]

    def test_several_aliases_may_point_at_one_version(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)
        store.set_alias(name=name, alias="champion", version=1, actor="ada")
        store.set_alias(name=name, alias="production", version=1, actor="ada")

        assert store.get_model_version(name, 1).aliases == {"champion", "production"}
        assert [mv.aliases for mv in store.list_model_versions(name)] == [{"champion", "production"}]

    def test_a_rollback_move_records_its_action_and_the_holder_it_replaced(
        self, store: MetadataStore
    ) -> None:
        name = new_model_name()
        register(store, name)
        register(store, name)
        store.set_alias(name=name, alias="production", version=2, actor="ada")

        event = store.set_alias(
            name=name, alias="production", version=1, actor="ada", action=AuditAction.ROLLBACK
        )

        assert (event.action, event.previous_version) == (AuditAction.ROLLBACK, 2)
        assert event.details == {"rolled_back_from": 2}
        assert _events(store, name, action=AuditAction.ROLLBACK) == [event]

    def test_set_alias_takes_no_details_from_the_caller(self) -> None:
        from slipway.store import MetadataStore

        assert "details" not in inspect.signature(MetadataStore.set_alias).parameters
        assert {"details", "action"}.isdisjoint(inspect.signature(MetadataStore.promote).parameters)

    @pytest.mark.parametrize(
        "action",
        [
            AuditAction.PROMOTE,
            AuditAction.OVERRIDE,
            AuditAction.REGISTER,
            AuditAction.TAG,
            AuditAction.ALIAS_DELETE,
        ],
    )
    def test_set_alias_refuses_any_action_but_alias_set_and_rollback(
        self, store: MetadataStore, action: AuditAction
    ) -> None:
        name = new_model_name()
        register(store, name)
        before = _events(store, name)

        with pytest.raises(InvalidInput, match="action"):
            store.set_alias(name=name, alias="production", version=1, actor="ada", action=action)
        with pytest.raises(AliasNotFound):
            store.get_version_by_alias(name, "production")
        assert _events(store, name) == before

    # ------------------------------------------------------------------ checked moves

    def test_an_expected_holder_that_moved_is_a_conflict_and_writes_nothing(
        self, store: MetadataStore
    ) -> None:
        name = new_model_name()
        for _ in range(3):
            register(store, name)
        store.set_alias(name=name, alias="production", version=2, actor="ada")
        before = _events(store, name)

        for expected in (1, 3, None):
            with pytest.raises(Conflict, match="moved to version 2 meanwhile"):
                store.set_alias(
                    name=name,
                    alias="production",
                    version=1,
                    actor="ada",
                    action=AuditAction.ROLLBACK,
                    expected_version=expected,
                )
        assert store.get_version_by_alias(name, "production").version == 2
        assert _events(store, name) == before

        moved = store.set_alias(
            name=name,
            alias="production",
            version=1,
            actor="ada",
            action=AuditAction.ROLLBACK,
            expected_version=2,
        )
        assert (moved.version, moved.previous_version) == (1, 2)

    def test_an_expected_absent_holder_is_checked_too(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)

        created = store.set_alias(name=name, alias="staging", version=1, actor="ada", expected_version=None)
        assert created.previous_version is None
        with pytest.raises(Conflict, match="moved to version 1 meanwhile"):
            store.set_alias(name=name, alias="staging", version=1, actor="ada", expected_version=None)

    # ------------------------------------------------------------------ promotion

    def test_a_passing_gate_promotes_with_the_stored_result(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)
        register(store, name)
        store.set_alias(name=name, alias="production", version=1, actor="ada")
        gate = gate_result(name, 2, champion=1)
        store.record_gate_result(name, 2, gate, actor="ada")

        event = store.promote(name=name, version=2, alias="production", actor="bob", reason="better")

        assert (event.action, event.version, event.previous_version) == (AuditAction.PROMOTE, 2, 1)
        assert (event.actor, event.reason) == (self.expected_actor("bob"), "better")
        assert event.details == {"gate": gate}
        assert _events(store, name, action=AuditAction.PROMOTE) == [event]
        assert store.get_version_by_alias(name, "production").version == 2

    def test_a_first_promotion_needs_a_gate_that_found_no_holder(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)
        store.record_gate_result(name, 1, gate_result(name, 1, champion=None), actor="ada")

        event = store.promote(name=name, version=1, alias="production", actor="ada")

        assert (event.action, event.previous_version) == (AuditAction.PROMOTE, None)

    def test_a_gate_without_a_champion_comparison_cannot_go_stale(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)
        register(store, name)
        store.record_gate_result(name, 2, gate_result(name, 2, compare=None), actor="ada")
        store.set_alias(name=name, alias="production", version=1, actor="ada")

        event = store.promote(name=name, version=2, alias="production", actor="ada")

        assert event.action == AuditAction.PROMOTE

    @pytest.mark.parametrize(
        ("gate", "message"),
        [
            (None, "no gate result"),
            ({"passed": False}, "failed checks: auc >= 0.8"),
            (
                {"champion": None},
                "stale gate result: validated against no holder, the alias is now held by version 1",
            ),
            (
                {"champion": 3},
                "stale gate result: validated against version 3, the alias is now held by version 1",
            ),
            ({"compare": "staging"}, "stale gate result: it compared against alias 'staging'"),
        ],
    )
    def test_a_failed_missing_or_stale_gate_refuses_and_writes_nothing(
        self, store: MetadataStore, gate: dict[str, Any] | None, message: str
    ) -> None:
        name = new_model_name()
        for _ in range(3):
            register(store, name)
        store.set_alias(name=name, alias="production", version=1, actor="ada")
        if gate is not None:
            options = {"champion": 1, **gate}
            store.record_gate_result(name, 2, gate_result(name, 2, **options), actor="ada")
        before = _events(store, name)

        with pytest.raises(GateFailed) as caught:
            store.promote(name=name, version=2, alias="production", actor="ada")

        assert message in str(caught.value)
        assert f"models:/{name}/2" in str(caught.value)
        assert "'production'" in str(caught.value)
        assert store.get_version_by_alias(name, "production").version == 1
        assert _events(store, name) == before

    def test_a_gate_goes_stale_when_the_alias_moves_after_validation(self, store: MetadataStore) -> None:
        name = new_model_name()
        for _ in range(3):
            register(store, name)
        store.set_alias(name=name, alias="production", version=1, actor="ada")
        store.record_gate_result(name, 3, gate_result(name, 3, champion=1), actor="ada")
        store.set_alias(name=name, alias="production", version=2, actor="bob")

        with pytest.raises(
            GateFailed, match="validated against version 1, the alias is now held by version 2"
        ):
            store.promote(name=name, version=3, alias="production", actor="ada")
        assert store.get_version_by_alias(name, "production").version == 2

    def test_an_override_needs_force_and_a_reason_and_records_the_stored_gate(
        self, store: MetadataStore
    ) -> None:
        name = new_model_name()
        register(store, name)
        register(store, name)
        store.set_alias(name=name, alias="production", version=1, actor="ada")
        gate = gate_result(name, 2, passed=False, champion=1)
        store.record_gate_result(name, 2, gate, actor="ada")
        before = _events(store, name)

        for reason in ("", "  "):
            with pytest.raises(InvalidInput, match="reason"):
                store.promote(
                    name=name, version=2, alias="production", actor="ada", force=True, reason=reason
                )
        assert _events(store, name) == before

        event = store.promote(
            name=name, version=2, alias="production", actor="ada", force=True, reason="hotfix"
        )

        assert (event.action, event.previous_version, event.reason) == (AuditAction.OVERRIDE, 1, "hotfix")
        assert event.details == {"gate": gate, "gate_state": "failed"}

    def test_forcing_a_stale_or_missing_gate_is_an_override(self, store: MetadataStore) -> None:
        name = new_model_name()
        for _ in range(3):
            register(store, name)
        store.set_alias(name=name, alias="production", version=1, actor="ada")
        store.record_gate_result(name, 2, gate_result(name, 2, champion=3), actor="ada")

        stale = store.promote(name=name, version=2, alias="production", actor="ada", force=True, reason="r")
        missing = store.promote(name=name, version=3, alias="production", actor="ada", force=True, reason="r")

        assert (stale.action, stale.details["gate_state"]) == (AuditAction.OVERRIDE, "stale")
        assert (missing.action, missing.details) == (
            AuditAction.OVERRIDE,
            {"gate": None, "gate_state": "none"},
        )

    def test_forcing_a_passing_gate_is_an_ordinary_promotion(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)
        store.record_gate_result(name, 1, gate_result(name, 1, champion=None), actor="ada")

        event = store.promote(name=name, version=1, alias="production", actor="ada", force=True, reason="r")

        assert event.action == AuditAction.PROMOTE

    def test_promoting_a_missing_version_or_model_is_not_found(self, store: MetadataStore) -> None:
        name = new_model_name()
        register(store, name)
        with pytest.raises(ModelVersionNotFound, match=f"{name}.*7"):
            store.promote(name=name, version=7, alias="production", actor="ada", force=True, reason="r")
        with pytest.raises(ModelNotFound):
            store.promote(name=f"{name}-absent", version=1, alias="production", actor="ada")
        with pytest.raises(InvalidInput, match="alias"):
            store.promote(name=name, version=1, alias="1st", actor="ada")
        assert _events(store, name, action=AuditAction.OVERRIDE) == []

    def test_an_alias_to_a_missing_version_is_not_found_and_writes_nothing(
        self, store: MetadataStore
    ) -> None:
        name = new_model_name()
        register(store, name)
        store.set_alias(name=name, alias="production", version=1, actor="ada")
        before = _events(store, name)

        with pytest.raises(ModelVersionNotFound, match=f"{name}.*7"):
            store.set_alias(name=name, alias="production", version=7, actor="ada")
        with pytest.raises(ModelNotFound, match="absent"):
            store.set_alias(name=f"{name}-absent", alias="production", version=1, actor="ada")

        assert store.get_version_by_alias(name, "production").version == 1
        assert _events(store, name) == before

    # ------------------------------------------------------------------ errors

    def test_unknown_models_versions_and_aliases_are_named(self, store: MetadataStore) -> None:
        name = new_model_name()
        missing = f"{name}-missing"
        register(store, name)

        model_calls: list[Callable[[], object]] = [
            lambda: store.get_registered_model(missing),
            lambda: store.get_model_version(missing, 1),
            lambda: store.list_model_versions(missing),
            lambda: store.get_version_by_alias(missing, "production"),
            lambda: store.set_model_description(missing, "d", actor="ada"),
            lambda: store.delete_alias(name=missing, alias="production", actor="ada"),
        ]
        for call in model_calls:
            with pytest.raises(ModelNotFound, match=missing):
                call()
        version_calls: list[Callable[[], object]] = [
            lambda: store.get_model_version(name, 2),
            lambda: store.list_model_version_files(name, 2),
            lambda: store.set_model_version_tags(name, 2, {"a": "b"}, actor="ada"),
            lambda: store.set_model_version_description(name, 2, "d", actor="ada"),
            lambda: store.record_gate_result(name, 2, {"passed": True}, actor="ada"),
        ]
        for call in version_calls:
            with pytest.raises(ModelVersionNotFound, match=f"{name}.* 2"):
                call()
        with pytest.raises(AliasNotFound, match="staging"):
            store.get_version_by_alias(name, "staging")
        with pytest.raises(AliasNotFound, match="staging"):
            store.delete_alias(name=name, alias="staging", actor="ada")
        assert [e.action for e in _events(store, name)] == [AuditAction.REGISTER]

    @pytest.mark.parametrize("bad", ["", "-lead", "has space", "a/b", "x" * 201, "semi;colon"])
    def test_bad_model_names_are_invalid(self, store: MetadataStore, bad: str) -> None:
        with pytest.raises(InvalidInput, match="model name"):
            register(store, bad)

    @pytest.mark.parametrize("bad", ["", "1st", "v3", "has space", "a" * 64, "a.b"])
    def test_bad_aliases_are_invalid(self, store: MetadataStore, bad: str) -> None:
        name = new_model_name()
        register(store, name)
        with pytest.raises(InvalidInput, match="alias"):
            store.set_alias(name=name, alias=bad, version=1, actor="ada")

    def test_bad_version_input_is_invalid_and_writes_nothing(self, store: MetadataStore) -> None:
        name = new_model_name()
        with pytest.raises(InvalidInput):
            register(store, name, tags={"bad key;": "v"})
        with pytest.raises(InvalidInput):
            register(store, name, files=[ArtifactEntry(path="../escape", digest=_digest("x"), size=1)])
        with pytest.raises(InvalidInput):
            register(store, name, manifest_digest="")
        with pytest.raises(InvalidInput):
            register(store, name, description="x" * 100_001)
        with pytest.raises(InvalidInput):
            register(store, name, reason="nul\x00")
        with pytest.raises(ModelNotFound):
            store.get_registered_model(name)
        assert _events(store, name) == []

    # ------------------------------------------------------------------ the audit log

    def test_audit_events_come_in_id_order_with_what_happened(self, store: MetadataStore) -> None:
        name = new_model_name()
        mv = register(store, name, reason="initial training", actor="ada")
        store.set_alias(name=name, alias="staging", version=1, actor="bob")

        registered, aliased = _events(store, name)

        assert registered.id < aliased.id
        assert (registered.action, registered.model, registered.version) == (AuditAction.REGISTER, name, 1)
        assert (registered.actor, registered.reason) == (self.expected_actor("ada"), "initial training")
        assert registered.details["manifest_digest"] == mv.manifest_digest
        assert registered.at == mv.created_at
        assert abs(registered.at - time.time() * 1000) < 60_000

    def test_audit_filters(self, store: MetadataStore) -> None:
        name, other = new_model_name(), new_model_name()
        register(store, name, actor="ada")
        register(store, other, actor="ada")
        register(store, name, actor="bob")
        store.set_alias(name=name, alias="production", version=1, actor="bob")
        store.set_alias(name=name, alias="staging", version=2, actor="bob")
        every = _events(store, name)

        assert [e.action for e in every] == [AuditAction.REGISTER] * 2 + [AuditAction.ALIAS_SET] * 2
        assert all(e.model == name for e in every)
        assert _events(store, name, action=AuditAction.REGISTER) == every[:2]
        assert _events(store, name, action="alias.set") == every[2:]  # a string works too
        assert _events(store, name, alias="staging") == every[3:]
        bob = self.expected_actor("bob")
        assert _events(store, name, actor=bob) == [e for e in every if e.actor == bob]
        assert _events(store, name, actor=f"nobody-{uuid.uuid4().hex}") == []
        assert _events(store, name, since=every[1].at) == [e for e in every if e.at >= every[1].at]
        assert _events(store, name, until=every[1].at) == [e for e in every if e.at < every[1].at]
        assert _events(store, name, since=every[0].at, until=every[-1].at + 1) == every
        with pytest.raises(InvalidInput, match="audit action"):
            store.search_audit(model=name, action="bogus")  # type: ignore[arg-type]

    def test_audit_pages(self, store: MetadataStore) -> None:
        name = new_model_name()
        for _ in range(5):
            register(store, name)
        every = _events(store, name)

        seen, token, pages = [], None, 0
        while True:
            page = store.search_audit(model=name, max_results=2, page_token=token)
            seen += page.items
            pages += 1
            token = page.next_token
            if token is None:
                break
        assert (seen, pages) == (every, 3)

        first = store.search_audit(model=name, max_results=2)
        assert first.next_token is not None
        with pytest.raises(InvalidInput, match="page_token"):
            store.search_audit(model=new_model_name(), page_token=first.next_token)
        with pytest.raises(InvalidInput, match="page_token"):
            store.search_audit(model=name, page_token="not-a-token")
        for bad in (0, 10_001):
            with pytest.raises(InvalidInput, match="max_results"):
                store.search_audit(model=name, max_results=bad)

    def test_no_method_edits_or_deletes_an_audit_event(self, store: MetadataStore) -> None:
        for methods in (_port_methods(), {m for m in dir(store) if not m.startswith("_")}):
            # record_audit_event appends (outside happenings only), like every other writer
            editors = [m for m in methods if "audit" in m and m not in ("search_audit", "record_audit_event")]
            assert editors == [], editors


def _port_methods() -> set[str]:
    from slipway.store import MetadataStore

    return {n for n, _ in inspect.getmembers(MetadataStore, inspect.isfunction) if not n.startswith("_")}
