"""`slipway models`, `promote`, `rollback` and `audit` end to end on a SQLite file and a blob folder."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from slipway.artifacts import open_blob_store
from slipway.cli import main
from slipway.registry import read_audit
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.models import ModelInfo

PASSED = {"passed": True, "checks": [{"name": "auc_min", "passed": True, "value": 0.93}]}
FAILED = {"passed": False, "checks": [{"name": "no_regression", "passed": False, "delta": -0.02}]}


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    return f"sqlite:///{tmp_path / 'cli.db'}", str(tmp_path / "blobs")


@pytest.fixture
def client(urls: tuple[str, str]) -> Iterator[TrackingClient]:
    store = open_metadata_store(urls[0])
    yield TrackingClient(store, open_blob_store(urls[1]), flush_interval=0.05)
    store.close()


@pytest.fixture
def logged(client: TrackingClient) -> ModelInfo:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=200, n_features=4, random_state=1)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with client.start_run(experiment="churn") as run:
        run.log_dataset(frame, name="train", role="training")
        info = run.log_model(LogisticRegression().fit(frame, y), "model", input_example=frame.head(2))
    return info


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")


def cli(capsys: pytest.CaptureFixture[str], urls: tuple[str, str], *argv: str) -> tuple[int, str, str]:
    try:
        main([*argv, "--store", urls[0], "--artifacts", urls[1]])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def ok(capsys: pytest.CaptureFixture[str], urls: tuple[str, str], *argv: str) -> str:
    code, out, err = cli(capsys, urls, *argv)
    assert code == 0, err
    return out


def test_register_from_a_shortened_run_id_list_and_show(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], logged: ModelInfo
) -> None:
    out = ok(capsys, urls, "models", "register", f"runs:/{logged.run_id[:8]}/model", "churn",
             "--description", "baseline", "--tag", "team=risk", "--reason", "first cut")  # fmt: skip
    assert "registered churn version 1" in out
    assert logged.run_id in out  # the whole id is recorded
    registered = json.loads(ok(capsys, urls, "models", "register", logged.uri, "churn", "--json"))
    assert (registered["version"], registered["manifest_digest"]) == (2, logged.manifest_digest)

    listing = ok(capsys, urls, "models", "list")
    assert "churn" in listing
    assert "baseline" not in listing  # that was the version's description, not the model's
    models = json.loads(ok(capsys, urls, "models", "list", "--json"))["models"]
    assert [(m["name"], m["latest_version"]) for m in models] == [("churn", 2)]

    shown = ok(capsys, urls, "models", "show", "churn")
    assert "versions" in shown
    assert logged.uri in shown
    version = json.loads(ok(capsys, urls, "models", "show", "churn", "1", "--json"))
    assert (version["description"], version["tags"], version["source"]) == (
        "baseline",
        {"team": "risk"},
        logged.uri,
    )
    assert version["lineage"]["run_id"] == logged.run_id
    assert "sha256:" + logged.manifest_digest in ok(capsys, urls, "models", "show", "churn", "1")


def test_aliases_tags_and_descriptions(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], logged: ModelInfo
) -> None:
    for _ in range(2):
        ok(capsys, urls, "models", "register", logged.uri, "churn")
    assert "churn@staging -> version 1" in ok(capsys, urls, "models", "alias", "set", "churn", "staging", "1")
    moved = ok(capsys, urls, "models", "alias", "set", "churn", "staging", "2", "--reason", "newer")
    assert "(was version 1)" in moved
    ok(capsys, urls, "models", "tag", "churn", "2", "owner=risk", "stage=beta")
    ok(capsys, urls, "models", "tag", "churn", "2", "--delete", "stage")
    ok(capsys, urls, "models", "describe", "churn", "predicts churn")
    ok(capsys, urls, "models", "describe", "churn", "the second cut", "--version", "2")
    version = json.loads(ok(capsys, urls, "models", "show", "churn", "2", "--json"))
    assert (version["aliases"], version["tags"]) == (["staging"], {"owner": "risk"})
    assert version["description"] == "the second cut"
    assert (
        json.loads(ok(capsys, urls, "models", "show", "churn", "--json"))["description"] == "predicts churn"
    )
    assert "deleted churn@staging (was version 2)" in ok(
        capsys, urls, "models", "alias", "delete", "churn", "staging"
    )


def test_promote_override_rollback_and_audit(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], logged: ModelInfo, tmp_path: Path
) -> None:
    for _ in range(3):
        ok(capsys, urls, "models", "register", logged.uri, "churn")
    store = open_metadata_store(urls[0])
    try:
        store.record_gate_result("churn", 1, PASSED, actor="ci")
        store.record_gate_result("churn", 2, PASSED, actor="ci")
        store.record_gate_result("churn", 3, FAILED, actor="ci")
    finally:
        store.close()

    ok(capsys, urls, "promote", "churn", "1", "--alias", "production")
    assert "gate passed" in ok(capsys, urls, "promote", "churn", "2", "--alias", "production")
    code, _, err = cli(capsys, urls, "promote", "churn", "3", "--alias", "production")
    assert code == 2
    assert err.count("\n") == 1
    assert "models:/churn/3 cannot take alias 'production': failed checks: no_regression" in err
    code, _, err = cli(capsys, urls, "promote", "churn", "3", "--alias", "production", "--force")
    assert code == 2
    assert "needs a reason" in err
    forced = ok(
        capsys, urls, "promote", "churn", "3", "--alias", "production", "--force", "--reason", "hotfix"
    )
    assert "OVERRIDE" in forced

    assert "-> version 2" in ok(capsys, urls, "rollback", "churn", "--alias", "production", "--reason", "p99")
    assert "-> version 1" in ok(capsys, urls, "rollback", "churn", "--alias", "production")
    code, _, err = cli(capsys, urls, "rollback", "churn", "--alias", "production")
    assert code == 2
    assert "no earlier holder" in err

    table = ok(capsys, urls, "audit", "--model", "churn", "--action", "override")
    assert "hotfix" in table
    assert "override" in table
    jsonl = ok(capsys, urls, "audit", "--format", "jsonl", "--alias", "production")
    events = list(read_audit(io.StringIO(jsonl), format="jsonl"))
    assert [e.action.value for e in events] == ["promote", "promote", "override", "rollback", "rollback"]
    assert events[2].reason == "hotfix"
    assert events[3].reason == "p99"

    target = tmp_path / "audit.csv"
    assert "wrote 11 event(s)" in ok(capsys, urls, "audit", "--format", "csv", "--output", str(target))
    with target.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 11  # 3 registrations, 3 gate results, 2 promotions, 1 override, 2 rollbacks
    assert {r["action"] for r in rows} == {"register", "validate", "promote", "override", "rollback"}
    assert ok(capsys, urls, "audit", "--since", "2999-01-01").strip() == "no audit events match"

    lineage = ok(capsys, urls, "models", "lineage", "churn", "2")
    assert logged.run_id in lineage
    assert "train" in lineage
    assert "took it from version 1 (promote)" in lineage
    data = json.loads(ok(capsys, urls, "models", "lineage", "churn", "2", "--json"))
    assert data["previous_version"] == 1
    assert [c["action"] for c in data["alias_changes"]] == ["promote", "override", "rollback", "rollback"]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["models", "show", "nope"], "model 'nope' not found"),
        (["models", "show", "churn", "9"], "9"),
        (["models", "register", "runs:/0123456789abcdef0123456789abcdef/model", "churn"], "0123456789abcdef"),
        (["models", "register", "models:/churn/1", "other"], "cannot be the source"),
        (["models", "register", "runs:/", "churn"], "expected runs:/RUN_ID/PATH"),
        (["models", "alias", "delete", "churn", "staging"], "no alias 'staging'"),
        (["models", "alias", "set", "churn", "v2", "1"], "alias 'v2'"),
        (["models", "tag", "churn", "1", "novalue"], "expected KEY=VALUE"),
        (["rollback", "churn", "--alias", "production"], "no alias 'production'"),
        (["audit", "--since", "yesterday"], "--since 'yesterday'"),
        (["audit", "--action", "promoted"], "audit action 'promoted'"),
        (["audit", "--output", "x.txt"], "--output needs --format"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], logged: ModelInfo, argv: list[str], needle: str
) -> None:
    ok(capsys, urls, "models", "register", logged.uri, "churn")
    code, _, err = cli(capsys, urls, *argv)
    assert code == 2
    assert needle in err
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_in_a_real_process(urls: tuple[str, str], logged: ModelInfo, tmp_path: Path) -> None:
    def slipway(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "slipway", *argv, "--store", urls[0], "--artifacts", urls[1]],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    done = slipway("models", "register", logged.uri, "churn", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["version"] == 1
    done = slipway("promote", "churn", "1", "--alias", "production")
    assert done.returncode == 2
    assert "no gate result" in done.stderr
    assert "Traceback" not in done.stderr
    done = slipway("audit", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["action"] for line in done.stdout.splitlines()] == ["register"]
    assert json.loads(done.stdout)["actor"]  # the local user
