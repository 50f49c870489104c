"""`slipway validate`: exit 0 when the gate passes, 1 when it fails (recorded), 2 for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest
from tests.validation._models import Models, classifiers

from slipway.artifacts import open_blob_store
from slipway.cli import main
from slipway.registry import Registry
from slipway.store import open_metadata_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

POLICY = """
compare: {alias: production}
checks:
  - {kind: metric, metric: roc_auc, min: 0.9}
  - {kind: no_regression, metric: roc_auc, tolerance: 0.01, bootstrap: {samples: 200}}
  - {kind: invariance, feature: name, value: someone else, max_changed_fraction: 0}
  - {kind: signature}
"""


@pytest.fixture(scope="module")
def clf(tmp_path_factory: pytest.TempPathFactory) -> Models:
    return classifiers(tmp_path_factory.mktemp("classifiers"))


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    return f"sqlite:///{tmp_path / 'cli.db'}", str(tmp_path / "blobs")


@pytest.fixture
def registry(urls: tuple[str, str], clf: Models, tmp_path: Path) -> Iterator[Registry]:
    """churn 1 (good) holds production; 2 is bad, 3 is good again. The files are next to the db."""
    store = open_metadata_store(urls[0])
    registry = Registry(store, open_blob_store(urls[1]))
    clf.register(registry, "good", "bad", "good")
    registry.set_alias("churn", "production", 1, actor="ci")
    clf.holdout.to_parquet(tmp_path / "holdout.parquet")
    (tmp_path / "gate.yaml").write_text(POLICY)
    yield registry
    store.close()


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")


def run(capsys: pytest.CaptureFixture[str], urls: tuple[str, str], *argv: str) -> tuple[int, str, str]:
    try:
        main([*argv, "--store", urls[0], "--artifacts", urls[1]])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def validate(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], uri: str, *extra: str
) -> tuple[int, str, str]:
    args = ["--data", "holdout.parquet", "--target", "churned", "--policy", "gate.yaml"]
    return run(capsys, urls, "validate", uri, *args, *extra)


def test_a_passing_gate_exits_0_prints_a_table_and_lets_promote_through(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], registry: Registry
) -> None:
    code, out, err = validate(capsys, urls, "models:/churn/3", "--reason", "weekly retrain")
    assert (code, err) == (0, "")
    assert "models:/churn/3 (classification) on holdout.parquet" in out
    assert "champion: production -> version 1" in out
    for name in ("roc_auc >= 0.9", "no_regression:roc_auc", "invariance:name:value", "signature"):
        assert name in out
    assert "PASS" in out
    assert "FAIL" not in out
    assert "gate PASSED: 4 checks; recorded on churn version 3" in out
    gate = registry.get_version("churn", 3).gate
    assert gate is not None
    assert gate["passed"] is True
    code, out, err = run(capsys, urls, "promote", "churn", "3", "--alias", "production")
    assert (code, err) == (0, "")
    assert "gate passed" in out
    code, out, _ = run(capsys, urls, "models", "show", "churn", "3")
    assert code == 0
    assert "gate checks" in out
    assert "no_regression:roc_auc" in out


def test_a_failing_gate_exits_1_is_recorded_and_blocks_promote(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], registry: Registry
) -> None:
    code, out, err = validate(capsys, urls, "models:/churn/2", "--json")
    assert (code, err) == (1, "")
    result = json.loads(out)
    assert result["passed"] is False
    assert result["recorded"] is True
    failed = [c["name"] for c in result["checks"] if not c["passed"]]
    assert failed == ["roc_auc >= 0.9", "no_regression:roc_auc"]
    assert result["champion"] == {"alias": "production", "version": 1}
    assert registry.get_version("churn", 2).gate == {k: v for k, v in result.items() if k != "recorded"}
    code, out, err = run(capsys, urls, "promote", "churn", "2", "--alias", "production")
    assert code == 2
    assert "failed checks: roc_auc >= 0.9, no_regression:roc_auc" in err
    code, out, _ = validate(capsys, urls, "models:/churn/2")
    assert code == 1
    assert "gate FAILED: 2 of 4 checks failed (roc_auc >= 0.9, no_regression:roc_auc)" in out


def test_no_record_leaves_the_version_alone(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], registry: Registry
) -> None:
    code, out, _ = validate(capsys, urls, "models:/churn/3", "--no-record")
    assert code == 0
    assert "not recorded (--no-record)" in out
    assert registry.get_version("churn", 3).gate is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--target", "churn"), "holdout.parquet: no target column 'churn' (columns: mean radius"),
        (("--data", "missing.parquet"), "data file 'missing.parquet': no such file"),
        (("--policy", "typo.yaml"), "gate.yaml"),  # replaced below with a typo'd policy
        (("--policy", "absent.yaml"), "policy file 'absent.yaml': no such file"),
        (("--uri", "models:/churn/9"), "churn"),
        (("--uri", "models:/nobody/1"), "nobody"),
        (("--uri", "runs:/abc/model"), "runs:/abc/model"),
    ],
)
def test_bad_input_is_one_line_with_exit_2_and_nothing_recorded(
    capsys: pytest.CaptureFixture[str],
    urls: tuple[str, str],
    registry: Registry,
    tmp_path: Path,
    change: tuple[str, str],
    message: str,
) -> None:
    (tmp_path / "typo.yaml").write_text("checks:\n  - {kind: metric, metric: acuracy, min: 0.9}\n")
    if change[1] == "typo.yaml":
        message = "typo.yaml: checks[0].metric 'acuracy': unknown metric; expected one of accuracy,"
    options = {"--data": "holdout.parquet", "--target": "churned", "--policy": "gate.yaml"}
    uri = "models:/churn/3"
    if change[0] == "--uri":
        uri = change[1]
    else:
        options[change[0]] = change[1]
    argv = [item for pair in options.items() for item in pair]
    code, out, err = run(capsys, urls, "validate", uri, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert message in err
    assert len(err.strip().splitlines()) == 1, err
    assert registry.get_version("churn", 3).gate is None


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "f1"])
def test_text_labels_for_a_model_of_integer_classes_are_bad_input(
    capsys: pytest.CaptureFixture[str],
    urls: tuple[str, str],
    registry: Registry,
    clf: Models,
    tmp_path: Path,
    metric: str,
) -> None:
    words = clf.holdout.assign(churned=clf.holdout["churned"].map({0: "stay", 1: "churn"}))
    words.to_csv(tmp_path / "words.csv", index=False)
    (tmp_path / "one.yaml").write_text(f"checks:\n  - {{kind: metric, metric: {metric}, min: 0.5}}\n")
    argv = ["--data", "words.csv", "--target", "churned", "--policy", "one.yaml"]
    code, out, err = run(capsys, urls, "validate", "models:/churn/3", *argv)
    assert (code, out) == (2, "")
    first = words["churned"].iloc[0]
    assert err == (
        f"error: words.csv: target column 'churned': value '{first}' is not one of "
        "models:/churn/3's classes (0, 1)\n"
    )
    assert registry.get_version("churn", 3).gate is None


def test_a_missing_option_is_a_usage_error(capsys: pytest.CaptureFixture[str], urls: tuple[str, str]) -> None:
    code, _, err = run(capsys, urls, "validate", "models:/churn/1", "--data", "holdout.parquet")
    assert code == 2
    assert "--target" in err or "--policy" in err


def test_exit_codes_in_a_real_process(urls: tuple[str, str], registry: Registry, tmp_path: Path) -> None:
    def slipway(uri: str, *extra: str) -> subprocess.CompletedProcess[str]:
        args = ["--data", "holdout.parquet", "--target", "churned", "--policy", "gate.yaml", *extra]
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "slipway",
                "validate",
                uri,
                *args,
                "--store",
                urls[0],
                "--artifacts",
                urls[1],
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )

    assert slipway("models:/churn/3").returncode == 0
    failed = slipway("models:/churn/2", "--json")
    assert failed.returncode == 1, failed.stderr
    assert json.loads(failed.stdout)["passed"] is False
    bad = slipway("models:/churn/2", "--target", "nope")
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: holdout.parquet: no target column 'nope'")
    assert "Traceback" not in bad.stderr
