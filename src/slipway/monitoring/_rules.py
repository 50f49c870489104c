"""A monitor's rules file: which figures to hold to which thresholds, whom to tell, what to start.

Parsed and checked whole before anything runs, like the gate policy: an unknown key, a figure name
no window can produce (a typo would otherwise mean a rule that silently never fires), a rule with
neither ``above`` nor ``below``: each an InvalidInput naming the key path.

::

    drift: {mode: default, alpha: 0.05, multivariate: true,   # options for the drift figures
            methods: {age: psi}, kinds: {zip: categorical}, weights: {age: 2}}
    performance: {label: label, pos_label: 1}                 # measured from feedback labels
    variants: [primary, batch]         # the log's variants watched (default: these two)
    rules:
      - {name: data-drift, figure: drift.share, above: 0.5, min_rows: 500, consecutive: 2}
      - {figure: drift.columns.age.score, above: 0.2}
      - {figure: performance.roc_auc, below: 0.8, min_rows: 200, severity: critical}
    alerts:
      - {webhook: "https://example.com/hook"}
      - {slack: "https://hooks.slack.com/services/T000/B000/XXXX"}
      - {log: true}
    cooldown: 1h                       # a rule that fired stays quiet this long (default 1h)
    delay: 0s                          # evaluate a window this long after it ends (late labels)
    action: {command: [slipway, pipeline, run, retrain.py:pipeline]}

Names that depend on the data (the columns in ``drift.columns.COLUMN.*``, ``drift.methods``...,
the metric in ``performance.METRIC``) are checked against the reference when the monitor is
created (``_names.check_names``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from slipway.errors import InvalidInput
from slipway.validation._fields import (
    Bad,
    Fields,
    Reader,
    boolean,
    choice,
    number,
    open_unit,
    positive_int,
    text,
)

__all__ = [
    "DEFAULT_VARIANTS",
    "Action",
    "Channel",
    "DriftOptions",
    "MonitorRules",
    "PerformanceOptions",
    "Rule",
    "check_figure",
    "load_rules",
    "parse_duration",
    "parse_rules",
    "read_document",
]

Severity = Literal["warning", "critical"]

_NAME = r"[^.\s]+"
#: Every figure a monitoring window can produce; rules may name only these.
FIGURE_PATTERNS: tuple[str, ...] = (
    r"rows",
    r"drift\.(share|drifted|drifted_columns)",
    rf"drift\.columns\.{_NAME}\.(score|statistic|p_value|p_adjusted|effect_size|drifted)",
    r"prediction_drift\.(share|drifted|drifted_columns)",
    rf"prediction_drift\.columns\.{_NAME}\.(score|statistic|p_value|p_adjusted|effect_size|drifted)",
    r"multivariate\.(error|drifted)",
    r"quality\.(missing_share|duplicated_rows_share|new_category_share|out_of_range_share|schema_violations)",
    rf"quality\.columns\.{_NAME}\.(missing_share|missing_share_change|out_of_range_share|new_category_share)",
    rf"performance\.{_NAME}",
    rf"estimated\.{_NAME}(\.(lower|upper|alert))?",
    r"labelled_rows",
)
_FIGURE = re.compile("|".join(f"(?:{p})" for p in FIGURE_PATTERNS))
_VARIANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # the prediction log's variant names
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)
#: The variants a monitor watches unless told: live traffic and batch scoring, not canaries,
#: shadows or A/B arms, whose model is not the one the reference describes.
DEFAULT_VARIANTS = ("primary", "batch")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def check_figure(name: str) -> str:
    """``name`` when some window can produce it; else InvalidInput listing the forms allowed."""
    if not _FIGURE.fullmatch(name):
        raise InvalidInput(
            f"figure {name!r}: unknown; expected one of rows, labelled_rows, drift.share, "
            "drift.columns.COLUMN.score, prediction_drift.share, multivariate.error, "
            "quality.missing_share, quality.columns.COLUMN.missing_share, performance.METRIC, "
            "estimated.METRIC (docs/monitoring.md lists them all)"
        )
    return name


def parse_duration(value: object) -> float:
    """Seconds, from a number of seconds or text such as ``90s``, ``5m``, ``1h``, ``2d``."""
    if isinstance(value, bool):
        raise Bad("expected a duration such as 30s, 5m, 1h or 2d")
    if isinstance(value, (int, float)):
        if value < 0:
            raise Bad("expected a duration >= 0")
        return float(value)
    match = _DURATION.match(str(value))
    if not match:
        raise Bad("expected a duration such as 30s, 5m, 1h or 2d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


parse_duration.expected = "a duration such as 30s, 5m, 1h or 2d"  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A threshold on one figure, held over ``consecutive`` judged windows in a row.

    Windows with fewer than ``min_rows`` rows (or where the figure is undefined) are not judged and
    do not break a run of breaches.
    """

    name: str
    figure: str
    above: float | None = None
    below: float | None = None
    min_rows: int = 0
    consecutive: int = 1
    severity: Severity = "warning"

    def breached_by(self, value: float) -> bool:
        return (self.above is not None and value > self.above) or (
            self.below is not None and value < self.below
        )

    def describe(self, value: float) -> str:
        bound = f"above {self.above:g}" if self.above is not None and value > self.above else None
        if bound is None and self.below is not None:
            bound = f"below {self.below:g}"
        return f"{self.figure} = {value:.4g}, {bound or 'within bounds'}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """Where an alert goes: a webhook (JSON body), a Slack-compatible webhook, or the log."""

    kind: Literal["webhook", "slack", "log"]
    url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """What a breach starts (the retraining pipeline): a command, run without a shell."""

    command: tuple[str, ...]
    rules: tuple[str, ...] = ()  # the rules whose breach starts it (all when empty)


@dataclass(frozen=True, slots=True, kw_only=True)
class DriftOptions:
    mode: Literal["default", "evidently"] = "default"
    alpha: float = 0.05
    correction: str = "bh"
    share_threshold: float = 0.5
    multivariate: bool = False
    columns: tuple[str, ...] | None = None
    methods: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, Literal["numeric", "categorical"]] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PerformanceOptions:
    label: str = "label"
    pos_label: Any = None
    estimate: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorRules:
    rules: tuple[Rule, ...]
    alerts: tuple[Channel, ...] = (Channel(kind="log"),)
    cooldown_s: float = 3600.0
    delay_s: float = 0.0
    action: Action | None = None
    drift: DriftOptions = DriftOptions()
    performance: PerformanceOptions = PerformanceOptions()
    variants: tuple[str, ...] = DEFAULT_VARIANTS
    source: str = "rules"


def read_document(path: str | Path) -> dict[str, Any]:
    """The rules file's YAML mapping, checked whole by :func:`parse_rules` (a monitor stores it)."""
    import yaml

    file = Path(path)
    try:
        data = yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"{file}: rules file not found") from None
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{file}: not valid YAML ({str(exc).splitlines()[0]})") from None
    parse_rules(data, source=str(file))
    assert isinstance(data, dict)  # parse_rules refuses anything else
    return data


def load_rules(path: str | Path) -> MonitorRules:
    return parse_rules(read_document(path), source=str(path))


def parse_rules(data: object, *, source: str = "rules") -> MonitorRules:
    """Rules from a parsed document (the YAML's mapping)."""
    m = Reader(source, "", data).mapping()
    m.only("rules", "alerts", "cooldown", "delay", "action", "drift", "performance", "variants")
    rules = [_rule(Reader(source, f"rules[{i}]", r)) for i, r in enumerate(m.child("rules").sequence())]
    if not rules:
        raise InvalidInput(f"{source}: rules: expected at least one rule")
    names = [r.name for r in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidInput(f"{source}: rules[{i}].name {name!r}: another rule has that name")
    alerts = (
        tuple(_channel(Reader(source, f"alerts[{i}]", a)) for i, a in enumerate(m.child("alerts").sequence()))
        if "alerts" in m.data
        else (Channel(kind="log"),)
    )
    cooldown = m.optional("cooldown", parse_duration)
    delay = m.optional("delay", parse_duration)
    action = _action(m.child("action"), names) if m.data.get("action") is not None else None
    return MonitorRules(
        rules=tuple(rules),
        alerts=alerts,
        cooldown_s=3600.0 if cooldown is None else cooldown,
        delay_s=delay or 0.0,
        action=action,
        drift=_drift(m.child("drift")) if m.data.get("drift") is not None else DriftOptions(),
        performance=(
            _performance(m.child("performance"))
            if m.data.get("performance") is not None
            else PerformanceOptions()
        ),
        variants=_variants(m.child("variants")) if m.data.get("variants") is not None else DEFAULT_VARIANTS,
        source=source,
    )


def _variants(r: Reader) -> tuple[str, ...]:
    values = r.sequence()
    if not values or not all(isinstance(v, str) and _VARIANT.fullmatch(v) for v in values):
        raise InvalidInput(
            f"{r.where}: expected a list of variant names (primary, batch, canary, shadow, an A/B arm's name)"
        )
    return tuple(dict.fromkeys(str(v) for v in values))


def _rule(r: Reader) -> Rule:
    m = r.mapping()
    m.only("name", "figure", "above", "below", "min_rows", "consecutive", "severity")
    figure = m.required("figure", text)
    try:
        check_figure(figure)
    except InvalidInput as exc:
        raise InvalidInput(f"{m.at('figure')}: {exc}") from None
    above = m.optional("above", number)
    below = m.optional("below", number)
    if above is None and below is None:
        raise InvalidInput(f"{m.where}: expected above, below or both")
    if above is not None and below is not None and below > above:
        # a band rule: breached outside [below, above]
        raise InvalidInput(f"{m.where}: below {below:g} is above above {above:g}; the band is empty")
    severity = m.optional("severity", choice(("warning", "critical")))
    return Rule(
        name=m.optional("name", text) or figure,
        figure=figure,
        above=above,
        below=below,
        min_rows=m.optional("min_rows", positive_int) or 0,
        consecutive=m.optional("consecutive", positive_int) or 1,
        severity=severity or "warning",
    )


def _channel(r: Reader) -> Channel:
    m = r.mapping()
    kinds = [k for k in ("webhook", "slack", "log") if k in m.data]
    if len(kinds) != 1:
        raise InvalidInput(f"{m.where}: expected exactly one of webhook, slack or log")
    kind = kinds[0]
    m.only(kind, "headers")
    if kind == "log":
        if not m.required("log", boolean):
            raise InvalidInput(f"{m.at('log')}: false: leave the entry out instead")
        return Channel(kind="log")
    url = m.required(kind, text)
    why = _bad_url(url)
    if why:
        raise InvalidInput(f"{m.at(kind)} {url!r}: {why}; expected an http:// or https:// URL")
    headers = m.data.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise InvalidInput(f"{m.at('headers')}: expected a mapping of header names to text")
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            raise InvalidInput(f"{m.at('headers')} {name!r}: not a valid header name (letters, digits, -)")
        if any(c in value for c in "\r\n\0") or not _latin1(value):
            raise InvalidInput(
                f"{m.at('headers')}.{name}: expected one line of Latin-1 text (no line breaks)"
            )
    return Channel(kind=kind, url=url, headers={str(k): v for k, v in headers.items()})


def _bad_url(url: str) -> str:
    """Why ``url`` cannot be posted to (empty when it can)."""
    if any(c.isspace() or ord(c) < 32 or ord(c) > 126 for c in url):
        return "spaces, control or non-ASCII characters (percent-encode them)"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "not an http or https URL"
    if not parts.hostname:
        return "no host"
    try:
        parts.port  # noqa: B018  # raises on a port that is not a number from 0 to 65535
    except ValueError:
        return "the port is not a number from 1 to 65535"
    if parts.port == 0:
        return "the port is not a number from 1 to 65535"
    return ""


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _action(r: Reader, rule_names: list[str]) -> Action:
    m = r.mapping()
    m.only("command", "rules")
    raw = m.child("command").data
    command = [raw] if isinstance(raw, str) else raw
    if not isinstance(command, list) or not command or not all(isinstance(c, str) and c for c in command):
        raise InvalidInput(f"{m.at('command')}: expected a command as a list of words (or one word)")
    rules = tuple(str(x) for x in (m.data.get("rules") or []))
    unknown = [x for x in rules if x not in rule_names]
    if unknown:
        raise InvalidInput(f"{m.at('rules')}: {unknown[0]!r} is not a rule name ({', '.join(rule_names)})")
    return Action(command=tuple(command), rules=rules)


def _drift(r: Reader) -> DriftOptions:
    from slipway.monitoring._drift_methods import METHODS

    m: Fields = r.mapping()
    m.only(
        "mode",
        "alpha",
        "correction",
        "share_threshold",
        "multivariate",
        "columns",
        "methods",
        "kinds",
        "weights",
    )
    columns = m.data.get("columns")
    if columns is not None and (
        not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns)
    ):
        raise InvalidInput(f"{m.at('columns')}: expected a list of column names")
    methods = _names_to(m, "methods", "method names")
    for column, method in methods.items():
        if method not in METHODS:
            raise InvalidInput(
                f"{m.at('methods')}.{column} {method!r}: unknown method; "
                f"expected one of {', '.join(sorted(METHODS))}"
            )
    kinds = _names_to(m, "kinds", "numeric or categorical")
    for column, kind in kinds.items():
        if kind not in ("numeric", "categorical"):
            raise InvalidInput(f"{m.at('kinds')}.{column} {kind!r}: expected numeric or categorical")
    weights = m.data.get("weights") or {}
    if not isinstance(weights, dict):
        raise InvalidInput(f"{m.at('weights')}: expected a mapping of column names to weights")
    for column, weight in weights.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, (int, float))
            or not math.isfinite(weight)
            or weight < 0
        ):
            raise InvalidInput(f"{m.at('weights')}.{column} {weight!r}: expected a finite number >= 0")
    mode = m.optional("mode", choice(("default", "evidently")))
    alpha = m.optional("alpha", open_unit)
    share = m.optional("share_threshold", open_unit)
    return DriftOptions(
        mode=mode or "default",  # choice checked it
        alpha=0.05 if alpha is None else alpha,
        correction=m.optional("correction", choice(("bh", "holm", "none"))) or "bh",
        share_threshold=0.5 if share is None else share,
        multivariate=bool(m.optional("multivariate", boolean)),
        columns=None if columns is None else tuple(columns),
        methods=methods,
        kinds=kinds,  # type: ignore[arg-type]  # each checked above
        weights={str(k): float(v) for k, v in weights.items()},
    )


def _names_to(m: Fields, key: str, what: str) -> dict[str, str]:
    """A mapping of column names to text at ``key`` (empty when absent)."""
    value = m.data.get(key) or {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise InvalidInput(f"{m.at(key)}: expected a mapping of column names to {what}")
    return {str(k): v for k, v in value.items()}


def _performance(r: Reader) -> PerformanceOptions:
    m = r.mapping()
    m.only("label", "pos_label", "estimate")
    estimate = m.optional("estimate", boolean)
    return PerformanceOptions(
        label=m.optional("label", text) or "label",
        pos_label=m.data.get("pos_label"),
        estimate=True if estimate is None else estimate,
    )
