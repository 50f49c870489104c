"""The gate policy (``gate.yaml``): parsed and checked into frozen values before any model is loaded.

Every mistake a person can make in the file is an :class:`~slipway.errors.InvalidInput` that names
the key path and what was expected: an unknown check kind or metric (with the known ones listed),
an unknown key (a typo such as ``mni:``), a missing required field, a wrong type or a value out of
range. A policy that parses is complete: checks never meet a half-specified field at run time.

::

    task: classification          # optional; inferred from the model otherwise
    pos_label: 1                  # optional; the positive class of binary metrics and scores
    compare: {alias: production}  # the champion: the current holder of this alias
    checks:
      - {kind: metric, metric: roc_auc, min: 0.9}
      - {kind: no_regression, metric: roc_auc, tolerance: 0.01, bootstrap: {samples: 1000}}
      - {kind: slice, column: region, metric: recall, min: 0.7, min_size: 50}
      - {kind: invariance, feature: name, value: "someone else", max_changed_fraction: 0.0}
      - {kind: directional, feature: income, delta: 1000, expect: increase, min_fraction: 0.95}
      - {kind: latency, single_row_p95_ms: 20, batch_p95_ms: 200, repetitions: 50}
      - {kind: signature}
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from slipway.errors import InvalidInput
from slipway.validation._metrics import METRICS

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "Bootstrap",
    "Check",
    "DirectionalCheck",
    "InvarianceCheck",
    "LatencyCheck",
    "MetricCheck",
    "NoRegressionCheck",
    "Policy",
    "SignatureCheck",
    "SliceCheck",
    "load_policy",
    "parse_policy",
]

Task = Literal["classification", "regression"]
_TASKS = ("classification", "regression")
_MAX_BOOTSTRAP = 100_000
_MAX_REPETITIONS = 100_000


# ---------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True, kw_only=True)
class Bootstrap:
    """A paired bootstrap over rows: ``samples`` resamples, a ``confidence`` interval, a fixed ``seed``."""

    samples: int = 1000
    confidence: float = 0.95
    seed: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricCheck:
    """The challenger's ``metric`` on the whole data must be within ``[min, max]``."""

    name: str
    metric: str
    min: float | None = None
    max: float | None = None
    kind: Literal["metric"] = "metric"


@dataclass(frozen=True, slots=True, kw_only=True)
class NoRegressionCheck:
    """The challenger may be worse than the champion on ``metric`` by at most ``tolerance``.

    With ``bootstrap``, the lower bound of the confidence interval of the improvement (challenger
    minus champion, sign-flipped for metrics where lower is better) must be ``>= -tolerance``.
    """

    name: str
    metric: str
    tolerance: float = 0.0
    bootstrap: Bootstrap | None = None
    kind: Literal["no_regression"] = "no_regression"


@dataclass(frozen=True, slots=True, kw_only=True)
class SliceCheck:
    """``metric`` within ``[min, max]`` on every slice of ``column`` holding at least ``min_size`` rows.

    A numeric ``column`` can be cut into ``bins`` quantile bins first.
    """

    name: str
    column: str
    metric: str
    min: float | None = None
    max: float | None = None
    min_size: int = 30
    bins: int | None = None
    kind: Literal["slice"] = "slice"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvarianceCheck:
    """Perturbing ``feature`` (one of ``value``, ``noise``, ``shuffle``) must barely change the outputs.

    ``max_changed_fraction``: at most this fraction of rows may change their prediction (the label of
    a classifier, the value of a regressor). ``max_delta``: no row's score (the positive-class
    probability, or the value) may move by more than this.
    """

    name: str
    feature: str
    value: Any = None
    has_value: bool = False
    noise: float | None = None
    shuffle: bool = False
    max_changed_fraction: float | None = None
    max_delta: float | None = None
    seed: int = 0
    kind: Literal["invariance"] = "invariance"


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectionalCheck:
    """Adding ``delta`` to ``feature`` must not move the score against ``expect``.

    ``expect: increase`` means the score (positive-class probability, or value) must not decrease
    (by more than ``tolerance``) for at least ``min_fraction`` of the rows; ``decrease`` the reverse.
    """

    name: str
    feature: str
    delta: float
    expect: Literal["increase", "decrease"] = "increase"
    min_fraction: float = 1.0
    tolerance: float = 0.0
    kind: Literal["directional"] = "directional"


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyCheck:
    """The p95 of ``predict`` on one row and on a batch of ``batch_size`` rows, in milliseconds."""

    name: str
    single_row_p95_ms: float | None = None
    batch_p95_ms: float | None = None
    batch_size: int = 1000
    repetitions: int = 50
    warmup: int = 3
    kind: Literal["latency"] = "latency"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignatureCheck:
    """The challenger takes whatever the champion takes: no removed or retyped inputs.

    Added inputs must be optional; a dtype may widen (int32 → int64, float32 → float64, any → object).
    """

    name: str
    kind: Literal["signature"] = "signature"


Check = (
    MetricCheck
    | NoRegressionCheck
    | SliceCheck
    | InvarianceCheck
    | DirectionalCheck
    | LatencyCheck
    | SignatureCheck
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """A parsed gate policy: its checks, the alias whose holder is the champion, the task.

    Build one with :func:`parse_policy` or :func:`load_policy`, which check every field; ``source``
    names the file in messages.

    .. versionadded:: 0.1
    """

    checks: tuple[Check, ...]
    compare_alias: str | None = None
    task: Task | None = None
    pos_label: Any = None
    source: str = "policy"

    def to_dict(self) -> dict[str, Any]:
        """The policy with every default filled in, as stored with a gate result."""
        out: dict[str, Any] = {}
        if self.task is not None:
            out["task"] = self.task
        if self.pos_label is not None:
            out["pos_label"] = self.pos_label
        if self.compare_alias is not None:
            out["compare"] = {"alias": self.compare_alias}
        out["checks"] = [_check_dict(c) for c in self.checks]
        plain: dict[str, Any] = _plain(out)
        return plain

    @property
    def digest(self) -> str:
        """SHA-256 of the policy's canonical JSON: two results with the same digest ran the same gate."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


def _check_dict(check: Check) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": check.kind}
    for f in fields(check):
        value = getattr(check, f.name)
        if isinstance(check, InvarianceCheck) and f.name in ("value", "shuffle"):
            if check.has_value if f.name == "value" else value:
                out[f.name] = value
            continue
        if f.name in ("kind", "has_value") or value is None:
            continue
        out[f.name] = asdict(value) if isinstance(value, Bootstrap) else value
    return out


# ---------------------------------------------------------------------- parsing


def load_policy(path: str | Path) -> Policy:
    """Read and parse a ``gate.yaml`` file; errors are prefixed with the file's name."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"policy file {str(p)!r}: no such file") from None
    except IsADirectoryError:
        raise InvalidInput(f"policy file {str(p)!r}: is a folder; expected a YAML file") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"policy file {str(p)!r}: not UTF-8 text; expected YAML") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise InvalidInput(f"{p.name}: not valid YAML{where}: {problem}") from None
    return parse_policy(doc, source=p.name)


def parse_policy(document: object, *, source: str = "policy") -> Policy:
    """Check a policy given as a mapping (e.g. ``yaml.safe_load`` of ``gate.yaml``)."""
    top = _Reader(source, "", document).mapping()
    top.only("task", "pos_label", "compare", "checks", "version")
    version = top.optional("version", _integer)
    if version is not None and version != 1:
        raise InvalidInput(f"{source}: version {version}: this slipway reads policy version 1")
    task = top.optional("task", _choice(_TASKS))
    pos_label = top.optional("pos_label", _label)
    compare_alias: str | None = None
    if "compare" in top.data:
        compare = top.child("compare").mapping()
        compare.only("alias")
        compare_alias = compare.required("alias", _alias)
    checks_reader = top.child("checks")
    items = checks_reader.sequence()
    if not items:
        raise InvalidInput(f"{source}: checks: expected at least one check")
    checks: list[Check] = []
    for i, item in enumerate(items):
        check = _parse_check(_Reader(source, f"checks[{i}]", item), task=task)
        if check.kind in ("no_regression", "signature") and compare_alias is None:
            raise InvalidInput(
                f"{source}: checks[{i}] ({check.kind}) compares with a champion: "
                "add `compare: {alias: NAME}` naming the alias whose holder is the champion"
            )
        checks.append(check)
    names = [c.name for c in checks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidInput(
                f"{source}: checks[{i}].name {name!r}: another check has that name; "
                "give one of them a distinct `name:`"
            )
    return Policy(
        checks=tuple(checks), compare_alias=compare_alias, task=task, pos_label=pos_label, source=source
    )


_KINDS = ("metric", "no_regression", "slice", "invariance", "directional", "latency", "signature")


def _parse_check(r: _Reader, *, task: Task | None) -> Check:
    m = r.mapping()
    kind = m.required("kind", _choice(_KINDS, "check kind"))
    name = m.optional("name", _text)
    if kind == "metric":
        m.only("kind", "name", "metric", "min", "max")
        metric = m.required("metric", _metric(task))
        low, high = _bounds(m)
        return MetricCheck(name=name or _bounds_name(metric, low, high), metric=metric, min=low, max=high)
    if kind == "no_regression":
        m.only("kind", "name", "metric", "tolerance", "bootstrap")
        metric = m.required("metric", _metric(task))
        tolerance = m.optional("tolerance", _non_negative) or 0.0
        boot = _bootstrap(m.child("bootstrap")) if "bootstrap" in m.data else None
        return NoRegressionCheck(
            name=name or f"no_regression:{metric}", metric=metric, tolerance=tolerance, bootstrap=boot
        )
    if kind == "slice":
        m.only("kind", "name", "column", "metric", "min", "max", "min_size", "bins")
        column = m.required("column", _text)
        metric = m.required("metric", _metric(task))
        low, high = _bounds(m)
        min_size = m.optional("min_size", _positive_int)
        bins = m.optional("bins", _at_least(2))
        return SliceCheck(
            name=name or f"slice:{column}:{metric}",
            column=column,
            metric=metric,
            min=low,
            max=high,
            min_size=30 if min_size is None else min_size,
            bins=bins,
        )
    if kind == "invariance":
        return _invariance(m, name)
    if kind == "directional":
        m.only("kind", "name", "feature", "delta", "expect", "min_fraction", "tolerance")
        feature = m.required("feature", _text)
        delta = m.required("delta", _number)
        if delta == 0:
            raise InvalidInput(f"{m.at('delta')}: 0: expected a non-zero change")
        expect = m.optional("expect", _choice(("increase", "decrease"))) or "increase"
        min_fraction = m.optional("min_fraction", _fraction)
        return DirectionalCheck(
            name=name or f"directional:{feature}",
            feature=feature,
            delta=delta,
            expect=expect,  # type: ignore[arg-type]  # _choice checked it
            min_fraction=1.0 if min_fraction is None else min_fraction,
            tolerance=m.optional("tolerance", _non_negative) or 0.0,
        )
    if kind == "latency":
        m.only("kind", "name", "single_row_p95_ms", "batch_p95_ms", "batch_size", "repetitions", "warmup")
        single = m.optional("single_row_p95_ms", _positive)
        batch = m.optional("batch_p95_ms", _positive)
        if single is None and batch is None:
            raise InvalidInput(f"{m.where}: expected single_row_p95_ms, batch_p95_ms or both (milliseconds)")
        return LatencyCheck(
            name=name or "latency",
            single_row_p95_ms=single,
            batch_p95_ms=batch,
            batch_size=m.optional("batch_size", _positive_int) or 1000,
            repetitions=m.optional("repetitions", _between_int(1, _MAX_REPETITIONS)) or 50,
            warmup=_default(m.optional("warmup", _between_int(0, 1000)), 3),
        )
    m.only("kind", "name")
    return SignatureCheck(name=name or "signature")


def _invariance(m: _Mapping, name: str | None) -> InvarianceCheck:
    m.only(
        "kind", "name", "feature", "value", "noise", "shuffle", "max_changed_fraction", "max_delta", "seed"
    )
    feature = m.required("feature", _text)
    perturbations = [k for k in ("value", "noise", "shuffle") if k in m.data]
    if len(perturbations) != 1:
        got = f" (got {', '.join(perturbations)})" if perturbations else ""
        raise InvalidInput(
            f"{m.where}: expected exactly one perturbation{got}: value (set the feature to it), "
            "noise (add Gaussian noise of that standard deviation) or shuffle: true"
        )
    noise = m.required("noise", _positive) if "noise" in m.data else None
    shuffle = m.required("shuffle", _boolean) if "shuffle" in m.data else False
    if "shuffle" in m.data and not shuffle:
        raise InvalidInput(f"{m.at('shuffle')}: false: expected true, or another perturbation")
    changed = m.optional("max_changed_fraction", _fraction)
    delta = m.optional("max_delta", _non_negative)
    if changed is None and delta is None:
        raise InvalidInput(f"{m.where}: expected max_changed_fraction (0 to 1), max_delta or both")
    return InvarianceCheck(
        name=name or f"invariance:{feature}:{perturbations[0]}",
        feature=feature,
        value=m.data.get("value"),
        has_value="value" in m.data,
        noise=noise,
        shuffle=shuffle,
        max_changed_fraction=changed,
        max_delta=delta,
        seed=_default(m.optional("seed", _integer), 0),
    )


def _bootstrap(r: _Reader) -> Bootstrap:
    if r.data is True:
        return Bootstrap()
    m = r.mapping()
    m.only("samples", "confidence", "seed")
    samples = m.optional("samples", _between_int(100, _MAX_BOOTSTRAP))
    confidence = m.optional("confidence", _open_unit)
    return Bootstrap(
        samples=1000 if samples is None else samples,
        confidence=0.95 if confidence is None else confidence,
        seed=_default(m.optional("seed", _integer), 0),
    )


def _bounds(m: _Mapping) -> tuple[float | None, float | None]:
    low = m.optional("min", _number)
    high = m.optional("max", _number)
    if low is None and high is None:
        raise InvalidInput(f"{m.where}: expected min, max or both")
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{m.where}: min {low} is above max {high}")
    return low, high


def _bounds_name(metric: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{metric} in [{low:g}, {high:g}]"
    return f"{metric} >= {low:g}" if low is not None else f"{metric} <= {high:g}"


def _default(value: int | None, default: int) -> int:
    return default if value is None else value


# ---------------------------------------------------------------------- readers


class _Reader:
    """A value at a key path of the document, with the file name for messages."""

    def __init__(self, source: str, path: str, data: object) -> None:
        self.source = source
        self.path = path
        self.data = data

    @property
    def where(self) -> str:
        return f"{self.source}: {self.path}" if self.path else self.source

    def mapping(self) -> _Mapping:
        if not isinstance(self.data, dict):
            what = "an empty file" if self.data is None and not self.path else _type(self.data)
            raise InvalidInput(f"{self.where}: expected a mapping (key: value), got {what}")
        bad = [k for k in self.data if not isinstance(k, str)]
        if bad:
            raise InvalidInput(f"{self.where}: key {bad[0]!r}: expected text keys")
        return _Mapping(self.source, self.path, self.data)

    def sequence(self) -> list[object]:
        if not isinstance(self.data, list):
            raise InvalidInput(f"{self.where}: expected a list, got {_type(self.data)}")
        return self.data


class _Mapping(_Reader):
    data: dict[str, Any]

    def at(self, key: str) -> str:
        return f"{self.source}: {self.path}.{key}" if self.path else f"{self.source}: {key}"

    def child(self, key: str) -> _Reader:
        if key not in self.data:
            raise InvalidInput(f"{self.at(key)}: missing; it is required")
        return _Reader(self.source, f"{self.path}.{key}" if self.path else key, self.data[key])

    def only(self, *keys: str) -> None:
        for key in self.data:
            if key not in keys:
                raise InvalidInput(f"{self.at(key)}: unknown key; expected one of {', '.join(sorted(keys))}")

    def required(self, key: str, parse: Callable[[object], Any]) -> Any:
        if key not in self.data or self.data[key] is None:
            raise InvalidInput(f"{self.at(key)}: missing; expected {_describe(parse)}")
        return self._parse(key, parse)

    def optional(self, key: str, parse: Callable[[object], Any]) -> Any:
        if key not in self.data or self.data[key] is None:
            return None
        return self._parse(key, parse)

    def _parse(self, key: str, parse: Callable[[object], Any]) -> Any:
        value = self.data[key]
        try:
            return parse(value)
        except _Bad as exc:
            raise InvalidInput(f"{self.at(key)} {_show(value)}: {exc}") from None


_F = TypeVar("_F", bound="Callable[[object], Any]")


class _Bad(Exception):
    """A value that does not parse; the message says what was expected."""


def _describe(parse: Callable[[object], Any]) -> str:
    return getattr(parse, "expected", "a value")


def _expects(text: str) -> Callable[[_F], _F]:
    def mark(fn: _F) -> _F:
        fn.expected = text  # type: ignore[attr-defined]
        return fn

    return mark


def _show(value: object) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _type(value: object) -> str:
    if value is None:
        return "nothing"
    return {bool: "a boolean", int: "a number", float: "a number", str: "text", list: "a list"}.get(
        type(value), type(value).__name__
    )


@_expects("a number")
def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"expected a number, got {_type(value)}")
    if not math.isfinite(value):
        raise _Bad("expected a finite number")
    return float(value)


@_expects("a number >= 0")
def _non_negative(value: object) -> float:
    out = _number(value)
    if out < 0:
        raise _Bad("expected a number >= 0")
    return out


@_expects("a number > 0")
def _positive(value: object) -> float:
    out = _number(value)
    if out <= 0:
        raise _Bad("expected a number > 0")
    return out


@_expects("a fraction from 0 to 1")
def _fraction(value: object) -> float:
    out = _number(value)
    if not 0 <= out <= 1:
        raise _Bad("expected a fraction from 0 to 1 (0.95 means 95%)")
    return out


@_expects("a number between 0 and 1, exclusive")
def _open_unit(value: object) -> float:
    out = _number(value)
    if not 0 < out < 1:
        raise _Bad("expected a number between 0 and 1, exclusive (e.g. 0.95)")
    return out


@_expects("an integer")
def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"expected an integer, got {_type(value)}")
    return value


def _between_int(low: int, high: int) -> Callable[[object], int]:
    @_expects(f"an integer from {low} to {high}")
    def parse(value: object) -> int:
        out = _integer(value)
        if not low <= out <= high:
            raise _Bad(f"expected an integer from {low} to {high}")
        return out

    return parse


def _at_least(low: int) -> Callable[[object], int]:
    @_expects(f"an integer >= {low}")
    def parse(value: object) -> int:
        out = _integer(value)
        if out < low:
            raise _Bad(f"expected an integer >= {low}")
        return out

    return parse


_positive_int = _at_least(1)


@_expects("true or false")
def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {_type(value)}")
    return value


@_expects("text")
def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"expected non-empty text, got {_type(value)}")
    return value


@_expects("an alias name")
def _alias(value: object) -> str:
    from slipway.core import validate_alias

    text = _text(value)
    try:
        return validate_alias(text)
    except InvalidInput as exc:
        raise _Bad(str(exc)) from None


@_expects("a class label (text, a number or a boolean)")
def _label(value: object) -> Any:
    if not isinstance(value, (str, int, float, bool)):
        raise _Bad(f"expected a class label (text, a number or a boolean), got {_type(value)}")
    return value


def _choice(options: tuple[str, ...], noun: str = "value") -> Callable[[object], str]:
    @_expects(f"one of {', '.join(options)}")
    def parse(value: object) -> str:
        if not isinstance(value, str) or value not in options:
            what = f"unknown {noun}" if isinstance(value, str) else f"got {_type(value)}"
            raise _Bad(f"{what}; expected one of {', '.join(options)}")
        return value

    return parse


def _metric(task: Task | None) -> Callable[[object], str]:
    known = sorted(name for name, spec in METRICS.items() if task is None or spec.task == task)

    @_expects(f"a metric name (one of {', '.join(known)})")
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise _Bad(f"expected a metric name, got {_type(value)}")
        if value not in METRICS:
            raise _Bad(f"unknown metric; expected one of {', '.join(known)}")
        if task is not None and METRICS[value].task != task:
            raise _Bad(f"a {METRICS[value].task} metric, but the policy's task is {task}")
        return value

    return parse


def _plain(value: Any) -> Any:
    """The document with JSON-safe values only (YAML dates become ISO text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def policy_from(policy: Policy | Mapping[str, Any] | str | Path) -> Policy:
    """A Policy as given, parsed from a mapping, or read from a path."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, (str, Path)):
        return load_policy(policy)
    return parse_policy(dict(policy))
