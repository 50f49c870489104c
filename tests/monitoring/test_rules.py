"""The rules file: parsed whole, every mistake named by its key path; and rules judged on windows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from slipway.errors import InvalidInput
from slipway.monitoring._alerts import judge
from slipway.monitoring._rules import Rule, check_figure, load_rules, parse_rules

if TYPE_CHECKING:
    from pathlib import Path

RULES = """
drift: {mode: evidently, alpha: 0.01, multivariate: true, methods: {age: psi}}
performance: {label: churned, pos_label: 1}
rules:
  - {name: data-drift, figure: drift.share, above: 0.5, min_rows: 500, consecutive: 2}
  - {figure: drift.columns.age.score, above: 0.2}
  - {figure: performance.roc_auc, below: 0.8, severity: critical}
alerts:
  - {webhook: "http://127.0.0.1:9/hook", headers: {x-token: abc}}
  - {slack: "https://hooks.slack.com/services/T/B/X"}
  - {log: true}
cooldown: 30m
action: {command: [slipway, pipeline, run, retrain.py:pipeline], rules: [data-drift]}
"""


def test_a_full_rules_file_parses(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    rules = load_rules(path)

    assert [r.name for r in rules.rules] == ["data-drift", "drift.columns.age.score", "performance.roc_auc"]
    assert rules.rules[0].consecutive == 2
    assert rules.rules[0].min_rows == 500
    assert rules.rules[2].severity == "critical"
    assert [c.kind for c in rules.alerts] == ["webhook", "slack", "log"]
    assert rules.alerts[0].headers == {"x-token": "abc"}
    assert rules.cooldown_s == 1800
    assert rules.action is not None
    assert rules.action.command == ("slipway", "pipeline", "run", "retrain.py:pipeline")
    assert rules.drift.mode == "evidently"
    assert rules.drift.methods == {"age": "psi"}
    assert rules.drift.multivariate
    assert rules.performance.label == "churned"


def test_defaults_log_alerts_and_an_hour_of_cooldown() -> None:
    rules = parse_rules({"rules": [{"figure": "drift.share", "above": 0.5}]})
    assert [c.kind for c in rules.alerts] == ["log"]
    assert rules.cooldown_s == 3600
    assert rules.drift.mode == "default"
    assert rules.action is None


_ONE = [{"figure": "rows", "above": 1}]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"rules": [{"figure": "drift.shear", "above": 1}]},
            r"rules\[0\]\.figure: figure 'drift\.shear'",
        ),
        ({"rules": [{"figure": "drift.share"}]}, r"rules\[0\]: expected above, below or both"),
        ({"rules": [{"figure": "rows", "below": 5, "above": 1}]}, "the band is empty"),
        ({"rules": [{"figure": "rows", "above": 1, "mni_rows": 3}]}, r"rules\[0\]\.mni_rows: unknown key"),
        ({"rules": []}, "expected at least one rule"),
        (
            {"rules": [{"figure": "rows", "above": 1}, {"figure": "rows", "below": 0}]},
            "another rule has that name",
        ),
        ({"rules": _ONE, "alerts": [{"webhook": "ftp://x"}]}, "expected an http"),
        (
            {"rules": _ONE, "alerts": [{"webhook": "http://a", "log": True}]},
            "exactly one",
        ),
        (
            {"rules": _ONE, "cooldown": "soon"},
            "cooldown 'soon': expected a duration",
        ),
        ({"rules": _ONE, "action": {"command": []}}, "action.command"),
        (
            {"rules": _ONE, "action": {"command": "x", "rules": ["nope"]}},
            "not a rule",
        ),
        ({"rules": _ONE, "drift": {"mode": "fast"}}, "drift.mode 'fast'"),
        (
            {"rules": _ONE, "drift": {"methods": {"age": "pis"}}},
            r"drift\.methods\.age 'pis': unknown method; expected one of anderson, chi2, .*psi",
        ),
        (
            {"rules": _ONE, "drift": {"kinds": {"zip": "text"}}},
            r"drift\.kinds\.zip 'text': expected numeric or",
        ),
        ({"rules": _ONE, "drift": {"weights": {"age": -1}}}, r"drift\.weights\.age -1: expected a finite"),
        ({"rules": _ONE, "drift": {"weights": {"age": float("nan")}}}, r"drift\.weights\.age nan"),
        ({"rules": _ONE, "drift": {"weights": {"age": "2"}}}, r"drift\.weights\.age '2'"),
        ({"rules": _ONE, "variants": ["primary", "a b"]}, r"variants: expected a list of variant names"),
        ({"rules": _ONE, "variants": []}, r"variants: expected a list of variant names"),
        ({"rules": _ONE, "alerts": [{"webhook": "http://host:abc/x"}]}, r"'http://host:abc/x': the port"),
        ({"rules": _ONE, "alerts": [{"webhook": "http://host:99999/x"}]}, r"the port is not a number"),
        ({"rules": _ONE, "alerts": [{"webhook": "http://exa mple.com/x"}]}, r"spaces, control or non-ASCII"),
        ({"rules": _ONE, "alerts": [{"webhook": "http://exämple.com/x"}]}, r"spaces, control or non-ASCII"),
        (
            {"rules": _ONE, "alerts": [{"slack": "https:///services/T"}]},
            r"slack 'https:///services/T': no host",
        ),
        (
            {"rules": _ONE, "alerts": [{"webhook": "http://h/x", "headers": {"x-token": "a\nb"}}]},
            r"alerts\[0\]\.headers\.x-token: expected one line of Latin-1 text",
        ),
        (
            {"rules": _ONE, "alerts": [{"webhook": "http://h/x", "headers": {"x-token": "✓"}}]},
            r"alerts\[0\]\.headers\.x-token: expected one line of Latin-1 text",
        ),
        (
            {"rules": _ONE, "alerts": [{"webhook": "http://h/x", "headers": {"x token": "a"}}]},
            r"alerts\[0\]\.headers 'x token': not a valid header name",
        ),
        ({"ruels": []}, "ruels: unknown key"),
        (None, "expected a mapping"),
    ],
)
def test_every_mistake_names_its_key_path(doc: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_rules(doc, source="rules.yaml")


def test_drift_options_variants_and_a_safe_webhook_parse() -> None:
    rules = parse_rules(
        {
            "rules": _ONE,
            "drift": {
                "methods": {"age": "hellinger"},
                "kinds": {"zip": "categorical"},
                "weights": {"age": 2},
            },
            "variants": ["primary", "canary"],
            "alerts": [{"webhook": "https://h.example:8443/x?y=1", "headers": {"X-Token": "abé"}}],
        }
    )
    assert rules.drift.methods == {"age": "hellinger"}
    assert rules.drift.kinds == {"zip": "categorical"}
    assert rules.drift.weights == {"age": 2.0}
    assert rules.variants == ("primary", "canary")
    assert parse_rules({"rules": _ONE}).variants == ("primary", "batch")


def test_a_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="rules file not found"):
        load_rules(tmp_path / "nope.yaml")
    (tmp_path / "bad.yaml").write_text("rules: [")
    with pytest.raises(InvalidInput, match=r"bad\.yaml: not valid YAML"):
        load_rules(tmp_path / "bad.yaml")


@pytest.mark.parametrize(
    "name",
    [
        "rows",
        "drift.share",
        "drift.columns.age.p_value",
        "performance.f1",
        "quality.columns.age.missing_share",
        "multivariate.error",
    ],
)
def test_figures_every_window_can_produce_are_accepted(name: str) -> None:
    assert check_figure(name) == name


def _w(rows: int, value: float | None) -> dict[str, float | None]:
    return {"rows": float(rows), "drift.share": value}


def test_a_rule_fires_on_the_nth_judged_breach_in_a_row() -> None:
    rule = Rule(name="d", figure="drift.share", above=0.5, min_rows=100, consecutive=3)
    history = [_w(500, 0.7), _w(10, 0.1), _w(500, None), _w(500, 0.8), _w(500, 0.2)]  # newest first

    first = judge([rule], _w(500, 0.9), history[3:])[0]  # history: 0.8 then 0.2
    assert first.state == "breached"
    assert first.run == 2
    assert not first.fires

    # unjudged windows (too few rows, undefined figure) neither count nor break the run
    fired = judge([rule], _w(500, 0.9), history)[0]
    assert fired.run == 3
    assert fired.fires
    assert "3 of 3 windows" in fired.message


def test_a_judged_window_within_bounds_breaks_the_run() -> None:
    rule = Rule(name="d", figure="drift.share", above=0.5, consecutive=2)
    verdict = judge([rule], _w(50, 0.9), [_w(50, 0.4), _w(50, 0.9)])[0]
    assert verdict.run == 1
    assert not verdict.fires


def test_windows_that_cannot_say_anything_are_not_judged() -> None:
    rule = Rule(name="auc", figure="performance.roc_auc", below=0.8, min_rows=100)
    few = judge([rule], {"rows": 20.0, "performance.roc_auc": 0.5})[0]
    undefined = judge([rule], {"rows": 500.0})[0]
    ok = judge([rule], {"rows": 500.0, "performance.roc_auc": 0.9})[0]
    low = judge([rule], {"rows": 500.0, "performance.roc_auc": 0.7})[0]
    assert (few.state, undefined.state, ok.state, low.state) == ("not_judged", "not_judged", "ok", "breached")
    assert "fewer than min_rows 100" in few.message
    assert "undefined" in undefined.message
    assert low.fires
    assert "below 0.8" in low.message
