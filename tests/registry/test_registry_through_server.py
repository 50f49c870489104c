"""The registry through a real team server: the same code, the server's actor, the CLI over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from tests._team_server import clean_env
from tests.registry._helpers import PASSED

from slipway.artifacts import open_blob_store
from slipway.core import AuditAction
from slipway.errors import GateFailed
from slipway.registry import Registry
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    import pandas as pd
    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def remote(team_server: TeamServer) -> Iterator[TrackingClient]:
    store = open_metadata_store(team_server.url, token=team_server.token)
    blobs = open_blob_store(team_server.url, token=team_server.token)
    client = TrackingClient(store, blobs, flush_interval=0.05)
    yield client
    client.close()


def test_register_promote_load_rollback_through_the_server(
    team_server: TeamServer, remote: TrackingClient, trained: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, X = trained
    name = f"churn-{uuid.uuid4().hex[:8]}"
    with remote.start_run(experiment="registry-e2e") as run:
        run.log_dataset(X, name="train", role="training")
        info = run.log_model(model, "model", input_example=X.head(2))
    registry = Registry(remote.store, remote.blobs)

    first = registry.register(info.uri, name, actor="mallory", reason="baseline")
    assert first.creator == "session"  # the server records its token's name, not the claimed actor
    second = registry.register(info.uri, name, actor="mallory")
    assert (first.version, second.version) == (1, 2)
    assert second.manifest_digest == info.manifest_digest

    with pytest.raises(GateFailed, match="no gate result"):
        registry.promote(name, 2, alias="production", actor="mallory")
    registry.set_alias(name, "production", 1, actor="mallory")
    remote.store.record_gate_result(name, 2, PASSED, actor="ci")
    promoted = registry.promote(name, 2, alias="production", actor="mallory", reason="beats 1")
    assert (promoted.action, promoted.previous_version, promoted.actor) == (AuditAction.PROMOTE, 1, "session")

    loaded = registry.load(f"models:/{name}@production", cache_dir=tmp_path / "cache")
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))

    back = registry.rollback(name, alias="production", actor="mallory", reason="p99")
    assert (back.version, back.previous_version) == (1, 2)
    lineage = registry.lineage(name, 2)
    assert lineage.run_id == run.id
    assert [(c.took, c.other) for c in lineage.alias_changes] == [(True, 1), (False, 1)]
    actions = [e.action.value for e in registry.audit(model=name)]
    assert actions == ["register", "register", "alias.set", "validate", "promote", "rollback"]
    assert {e.actor for e in registry.audit(model=name)} <= {"session"}

    cached = next((tmp_path / "cache").rglob("model.pkl"))
    cached.write_bytes(b"tampered")
    repaired = registry.load(f"models:/{name}/1", cache_dir=tmp_path / "cache")  # downloaded once more
    assert (repaired.path / "model.pkl").read_bytes() != b"tampered"


def test_the_cli_against_the_server(
    team_server: TeamServer, remote: TrackingClient, trained: tuple[Any, pd.DataFrame], tmp_path: Path
) -> None:
    model, X = trained
    name = f"fraud-{uuid.uuid4().hex[:8]}"
    with remote.start_run(experiment="registry-e2e") as run:
        run.log_model(model, "model", input_example=X.head(2))

    def slipway(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "slipway",
                *argv,
                "--store",
                team_server.url,
                "--artifacts",
                team_server.url,
            ],
            env=clean_env(SLIPWAY_TOKEN=team_server.token),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = slipway("models", "register", f"runs:/{run.id[:10]}/model", name, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == 1
    done = slipway("promote", name, "1", "--alias", "production", "--force", "--reason", "launch")
    assert done.returncode == 0, done.stderr
    done = slipway("rollback", name, "--alias", "production")
    assert done.returncode == 2
    assert "no earlier holder" in done.stderr
    done = slipway("audit", "--model", name, "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["action"], e["actor"]) for e in events] == [("register", "session"), ("override", "session")]
    assert events[1]["reason"] == "launch"
