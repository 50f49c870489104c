"""Lineage of a version, and the audit log: filters, every page, JSON lines and CSV round trips."""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING

import pytest
from tests.registry._helpers import PASSED, register_many

from slipway.core import AuditAction
from slipway.errors import InvalidInput, ModelVersionNotFound
from slipway.registry import AUDIT_FIELDS, read_audit, write_audit
from slipway.registry import _service as service

if TYPE_CHECKING:
    from slipway.models import ModelInfo
    from slipway.registry import Registry
    from slipway.store import MetadataStore
    from slipway.tracking import TrackingClient


def test_lineage_links_run_datasets_commit_and_replaced_versions(
    registry: Registry, store: MetadataStore, client: TrackingClient, logged: ModelInfo
) -> None:
    register_many(registry, logged.uri, 3)
    registry.set_alias("churn", "production", 1, actor="alice")
    store.record_gate_result("churn", 2, PASSED, actor="ci")
    registry.promote("churn", 2, alias="production", actor="alice", reason="better auc")
    registry.set_alias("churn", "production", 3, actor="bob")

    found = registry.lineage("churn", 2)
    assert (found.run_id, found.source, found.previous_version) == (logged.run_id, logged.uri, 1)
    assert found.manifest_digest == logged.manifest_digest
    datasets = {(d.name, d.role) for d in found.datasets}
    assert datasets == {("train", "training"), ("holdout", "evaluation")}
    train = client.get_datasets(logged.run_id)
    assert {d.digest for d in found.datasets} == {d.digest for d in train}
    run = client.get_run(logged.run_id)
    assert found.git_commit == run.tags.get("slipway.git.commit")
    changes = [(c.alias, c.action, c.took, c.other, c.actor) for c in found.alias_changes]
    assert changes == [
        ("production", AuditAction.PROMOTE, True, 1, "alice"),  # it replaced version 1
        ("production", AuditAction.ALIAS_SET, False, 3, "bob"),  # and was replaced by 3
    ]
    assert found.alias_changes[0].reason == "better auc"
    as_json = json.loads(json.dumps(found.to_dict()))
    assert as_json["alias_changes"][0]["action"] == "promote"
    assert registry.lineage("churn", 1).previous_version is None
    with pytest.raises(ModelVersionNotFound):
        registry.lineage("churn", 7)


def test_audit_filters_by_model_action_alias_actor_and_time(registry: Registry, logged: ModelInfo) -> None:
    register_many(registry, logged.uri, 2)
    registry.register(logged.uri, "fraud", actor="bob")
    registry.set_alias("churn", "production", 1, actor="alice")
    registry.set_alias("churn", "staging", 2, actor="bob")
    registry.set_alias("fraud", "production", 1, actor="carol", reason="launch")

    assert [e.model for e in registry.audit(model="fraud")] == ["fraud", "fraud"]
    assert len(list(registry.audit(action=AuditAction.REGISTER))) == 3
    assert [e.model for e in registry.audit(alias="production")] == ["churn", "fraud"]
    assert [e.action.value for e in registry.audit(actor="bob")] == ["register", "alias.set"]
    # Time: cut at every recorded moment (events may share a millisecond, so no cut is assumed to
    # fall between two of them): `since` keeps the events at or after it, `until` those before it.
    everything = list(registry.audit())
    last = everything[-1]
    assert (last.model, last.actor, last.reason) == ("fraud", "carol", "launch")
    for cut in [*sorted({e.at for e in everything}), last.at + 1]:
        assert [e.id for e in registry.audit(since=cut)] == [e.id for e in everything if e.at >= cut]
        assert [e.id for e in registry.audit(until=cut)] == [e.id for e in everything if e.at < cut]
    assert last in registry.audit(since=last.at, until=last.at + 1)
    assert list(registry.audit(since=last.at + 1)) == []
    assert list(registry.audit(model="fraud", since=last.at)) == [last]
    ids = [e.id for e in registry.audit()]
    assert ids == sorted(ids)
    assert len(ids) == 6
    with pytest.raises(InvalidInput, match="audit action 'promoted'"):
        list(registry.audit(action="promoted"))


def test_audit_reads_every_page(
    registry: Registry, logged: ModelInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "_AUDIT_PAGE", 2)
    register_many(registry, logged.uri, 5)
    assert [e.version for e in registry.audit(model="churn")] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_exports_round_trip(registry: Registry, store: MetadataStore, logged: ModelInfo, fmt: str) -> None:
    register_many(registry, logged.uri, 2)
    store.record_gate_result("churn", 2, PASSED, actor="ci")
    registry.promote("churn", 2, alias="production", actor="alice", reason='comma, "quote"\nnewline ünï')
    registry.promote("churn", 1, alias="production", actor="bob", force=True, reason="=cmd|' /C calc'!A0")
    registry.rollback("churn", alias="production", actor="carol")
    events = list(registry.audit())

    out = io.StringIO(newline="")
    assert write_audit(events, out, format=fmt) == len(events)  # type: ignore[arg-type]
    text = out.getvalue()
    assert list(read_audit(io.StringIO(text, newline=""), format=fmt)) == events  # type: ignore[arg-type]
    if fmt == "jsonl":
        first = json.loads(text.splitlines()[0])
        assert list(first) == list(AUDIT_FIELDS)
        assert first["time"].endswith("Z")
    else:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert list(rows[0]) == list(AUDIT_FIELDS)
        assert rows[-1]["action"] == "rollback"
        promoted = next(r for r in rows if r["action"] == "promote")
        assert json.loads(promoted["details"])["gate"] == PASSED
        assert promoted["alias"] == "production"
        assert promoted["previous_version"] == ""


def test_a_damaged_export_names_its_line() -> None:
    with pytest.raises(InvalidInput, match="line 2"):
        list(
            read_audit(
                io.StringIO('{"id": 1, "at": 1, "action": "register", "model": "m"}\n{"id": "x"}\n'),
                format="jsonl",
            )
        )
    with pytest.raises(InvalidInput, match="format 'xml'"):
        write_audit([], io.StringIO(), format="xml")  # type: ignore[arg-type]
