"""gate.yaml: every mistake is one InvalidInput naming the key path and what was expected."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from slipway.errors import InvalidInput
from slipway.validation import (
    Bootstrap,
    DirectionalCheck,
    InvarianceCheck,
    LatencyCheck,
    MetricCheck,
    NoRegressionCheck,
    SignatureCheck,
    SliceCheck,
    load_policy,
    parse_policy,
)

if TYPE_CHECKING:
    from pathlib import Path

FULL = """
task: classification
pos_label: 1
compare: {alias: production}
checks:
  - {kind: metric, metric: roc_auc, min: 0.9}
  - {kind: metric, metric: log_loss, max: 0.3, name: calibrated}
  - kind: no_regression
    metric: roc_auc
    tolerance: 0.01
    bootstrap: {samples: 500, confidence: 0.9, seed: 7}
  - {kind: slice, column: region, metric: recall, min: 0.7, min_size: 50}
  - {kind: slice, column: age, metric: accuracy, min: 0.8, bins: 4}
  - {kind: invariance, feature: name, value: someone else, max_changed_fraction: 0.0}
  - {kind: invariance, feature: income, noise: 10, max_delta: 0.05}
  - {kind: invariance, feature: city, shuffle: true, max_changed_fraction: 0.02}
  - {kind: directional, feature: income, delta: 1000, expect: increase, min_fraction: 0.95}
  - {kind: latency, single_row_p95_ms: 20, batch_p95_ms: 200, batch_size: 100, repetitions: 20}
  - {kind: signature}
"""


def parse(text: str, source: str = "gate.yaml") -> Any:
    import yaml

    return parse_policy(yaml.safe_load(text), source=source)


def test_a_full_policy_parses_into_frozen_checks_with_defaults() -> None:
    policy = parse(FULL)
    assert (policy.task, policy.pos_label, policy.compare_alias) == ("classification", 1, "production")
    c = policy.checks
    assert c[0] == MetricCheck(name="roc_auc >= 0.9", metric="roc_auc", min=0.9)
    assert c[1].name == "calibrated"
    assert c[2] == NoRegressionCheck(
        name="no_regression:roc_auc",
        metric="roc_auc",
        tolerance=0.01,
        bootstrap=Bootstrap(samples=500, confidence=0.9, seed=7),
    )
    assert c[3] == SliceCheck(
        name="slice:region:recall", column="region", metric="recall", min=0.7, min_size=50
    )
    assert isinstance(c[4], SliceCheck)
    assert (c[4].bins, c[4].min_size) == (4, 30)
    assert isinstance(c[5], InvarianceCheck)
    assert (c[5].value, c[5].has_value, c[5].max_changed_fraction) == ("someone else", True, 0.0)
    assert isinstance(c[6], InvarianceCheck)
    assert (c[6].noise, c[6].max_delta, c[6].has_value) == (10.0, 0.05, False)
    assert isinstance(c[7], InvarianceCheck)
    assert c[7].shuffle
    assert c[8] == DirectionalCheck(
        name="directional:income", feature="income", delta=1000.0, expect="increase", min_fraction=0.95
    )
    assert c[9] == LatencyCheck(
        name="latency", single_row_p95_ms=20.0, batch_p95_ms=200.0, batch_size=100, repetitions=20
    )
    assert c[10] == SignatureCheck(name="signature")
    field = "min"
    with pytest.raises(AttributeError):  # frozen
        setattr(c[0], field, 0.5)


def test_the_normalised_policy_round_trips_and_has_a_stable_digest() -> None:
    policy = parse(FULL)
    again = parse_policy(policy.to_dict(), source="gate.yaml")
    assert again == policy
    assert again.digest == policy.digest
    assert len(policy.digest) == 64
    assert parse(FULL.replace("min: 0.9}", "min: 0.91}")).digest != policy.digest


def test_bootstrap_true_takes_the_defaults() -> None:
    policy = parse("compare: {alias: prod}\nchecks: [{kind: no_regression, metric: f1, bootstrap: true}]")
    check = policy.checks[0]
    assert isinstance(check, NoRegressionCheck)
    assert check.bootstrap == Bootstrap(samples=1000, confidence=0.95, seed=0)


BAD = [
    pytest.param(
        "checks: [{kind: metric, metric: roc_auc, min: 0.9}, {kind: metric, metric: accuracy, min: 1},"
        " {kind: metric, metric: acuracy, min: 0.9}]",
        "gate.yaml: checks[2].metric 'acuracy': unknown metric; expected one of accuracy, balanced_accuracy,",
        id="typo'd metric",
    ),
    pytest.param(
        "checks: [{kind: metrc, metric: f1, min: 0.9}]",
        "gate.yaml: checks[0].kind 'metrc': unknown check kind; expected one of metric, no_regression,",
        id="unknown kind",
    ),
    pytest.param(
        "checks: [{metric: f1, min: 0.9}]",
        "gate.yaml: checks[0].kind: missing; expected one of metric, no_regression",
        id="missing kind",
    ),
    pytest.param(
        "checks: [{kind: metric, min: 0.9}]",
        "gate.yaml: checks[0].metric: missing; expected a metric name (one of accuracy,",
        id="missing metric",
    ),
    pytest.param(
        "checks: [{kind: metric, metric: f1, mni: 0.9}]",
        "gate.yaml: checks[0].mni: unknown key; expected one of kind, max, metric, min, name",
        id="unknown key",
    ),
    pytest.param(
        "checks: [{kind: metric, metric: f1, min: high}]",
        "gate.yaml: checks[0].min 'high': expected a number, got text",
        id="wrong type",
    ),
    pytest.param(
        "checks: [{kind: metric, metric: f1}]",
        "gate.yaml: checks[0]: expected min, max or both",
        id="no threshold",
    ),
    pytest.param(
        "checks: [{kind: metric, metric: f1, min: 0.9, max: 0.5}]",
        "gate.yaml: checks[0]: min 0.9 is above max 0.5",
        id="empty range",
    ),
    pytest.param(
        "task: regression\nchecks: [{kind: metric, metric: f1, min: 0.9}]",
        "gate.yaml: checks[0].metric 'f1': a classification metric, but the policy's task is regression",
        id="metric of the other task",
    ),
    pytest.param(
        "task: ranking\nchecks: [{kind: signature}]",
        "gate.yaml: task 'ranking': unknown value; expected one of classification, regression",
        id="unknown task",
    ),
    pytest.param(
        "checks: [{kind: no_regression, metric: f1}]",
        "gate.yaml: checks[0] (no_regression) compares with a champion: add `compare: {alias: NAME}`",
        id="comparison without an alias",
    ),
    pytest.param(
        "compare: {}\nchecks: [{kind: signature}]",
        "gate.yaml: compare.alias: missing; expected an alias name",
        id="compare without alias",
    ),
    pytest.param(
        "compare: {alias: prod}\nchecks: [{kind: no_regression, metric: f1, bootstrap: {samples: 5}}]",
        "gate.yaml: checks[0].bootstrap.samples 5: expected an integer from 100 to 100000",
        id="too few resamples",
    ),
    pytest.param(
        "compare: {alias: prod}\nchecks: [{kind: no_regression, metric: f1, bootstrap: {confidence: 95}}]",
        "gate.yaml: checks[0].bootstrap.confidence 95: expected a number between 0 and 1, exclusive",
        id="confidence as a percentage",
    ),
    pytest.param(
        "checks: [{kind: slice, metric: f1, min: 0.5}]",
        "gate.yaml: checks[0].column: missing; expected text",
        id="slice without a column",
    ),
    pytest.param(
        "checks: [{kind: slice, column: c, metric: f1, min: 0.5, min_size: 0}]",
        "gate.yaml: checks[0].min_size 0: expected an integer >= 1",
        id="slice size zero",
    ),
    pytest.param(
        "checks: [{kind: invariance, feature: name, max_changed_fraction: 0}]",
        "gate.yaml: checks[0]: expected exactly one perturbation: value",
        id="invariance without a perturbation",
    ),
    pytest.param(
        "checks: [{kind: invariance, feature: x, noise: 1, shuffle: true, max_delta: 1}]",
        "gate.yaml: checks[0]: expected exactly one perturbation (got noise, shuffle)",
        id="two perturbations",
    ),
    pytest.param(
        "checks: [{kind: invariance, feature: x, noise: 1}]",
        "gate.yaml: checks[0]: expected max_changed_fraction (0 to 1), max_delta or both",
        id="invariance without a bound",
    ),
    pytest.param(
        "checks: [{kind: invariance, feature: x, noise: 1, max_changed_fraction: 5}]",
        "gate.yaml: checks[0].max_changed_fraction 5: expected a fraction from 0 to 1 (0.95 means 95%)",
        id="fraction as a percentage",
    ),
    pytest.param(
        "checks: [{kind: directional, feature: x, delta: 1, expect: up}]",
        "gate.yaml: checks[0].expect 'up': unknown value; expected one of increase, decrease",
        id="unknown direction",
    ),
    pytest.param(
        "checks: [{kind: directional, feature: x, delta: 0}]",
        "gate.yaml: checks[0].delta: 0: expected a non-zero change",
        id="no change",
    ),
    pytest.param(
        "checks: [{kind: latency, repetitions: 10}]",
        "gate.yaml: checks[0]: expected single_row_p95_ms, batch_p95_ms or both (milliseconds)",
        id="latency without a budget",
    ),
    pytest.param(
        "checks: [{kind: latency, batch_p95_ms: true}]",
        "gate.yaml: checks[0].batch_p95_ms true: expected a number, got a boolean",
        id="boolean budget",
    ),
    pytest.param(
        "checks: [{kind: metric, metric: f1, min: 0.5}, {kind: metric, metric: f1, min: 0.5}]",
        "gate.yaml: checks[1].name 'f1 >= 0.5': another check has that name",
        id="duplicate names",
    ),
    pytest.param("checks: []", "gate.yaml: checks: expected at least one check", id="no checks"),
    pytest.param("task: classification", "gate.yaml: checks: missing; it is required", id="checks missing"),
    pytest.param(
        "checks: {kind: signature}", "gate.yaml: checks: expected a list, got dict", id="checks a map"
    ),
    pytest.param(
        "checks: [signature]",
        "gate.yaml: checks[0]: expected a mapping (key: value), got text",
        id="check as text",
    ),
    pytest.param("- a\n- b", "gate.yaml: expected a mapping (key: value), got a list", id="top-level list"),
    pytest.param("", "gate.yaml: expected a mapping (key: value), got an empty file", id="empty file"),
    pytest.param(
        "version: 2\nchecks: [{kind: signature}]",
        "gate.yaml: version 2: this slipway reads",
        id="newer version",
    ),
    pytest.param(
        "chekcs: []",
        "gate.yaml: chekcs: unknown key; expected one of checks, compare,",
        id="typo'd top-level key",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_each_mistake_names_its_key_path(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse(text)
    assert str(raised.value).startswith(message), str(raised.value)
    assert "\n" not in str(raised.value)


def test_load_policy_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text("checks:\n  - {kind: metric, metric: acuracy, min: 0.9}\n")
    with pytest.raises(InvalidInput, match=r"^gate\.yaml: checks\[0\]\.metric 'acuracy': unknown metric"):
        load_policy(path)
    with pytest.raises(InvalidInput, match="no such file"):
        load_policy(tmp_path / "missing.yaml")
    path.write_text("checks: [{kind: metric\n")
    with pytest.raises(InvalidInput, match=r"^gate\.yaml: not valid YAML \(line 2"):
        load_policy(path)
    path.write_text(FULL)
    assert len(load_policy(str(path)).checks) == 11
    assert load_policy(path).source == "gate.yaml"
