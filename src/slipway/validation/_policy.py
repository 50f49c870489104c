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
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from slipway.errors import InvalidInput
from slipway.validation._fields import (
    Fields,
    Reader,
    alias,
    at_least,
    between_int,
    boolean,
    choice,
    fraction,
    integer,
    label,
    metric_name,
    non_negative,
    number,
    open_unit,
    plain,
    positive,
    positive_int,
    read_yaml,
    text,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

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
        document: dict[str, Any] = plain(out)
        return document

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
    return parse_policy(read_yaml(path, "policy"), source=Path(path).name)


def parse_policy(document: object, *, source: str = "policy") -> Policy:
    """Check a policy given as a mapping (e.g. ``yaml.safe_load`` of ``gate.yaml``)."""
    top = Reader(source, "", document).mapping()
    top.only("task", "pos_label", "compare", "checks", "version")
    version = top.optional("version", integer)
    if version is not None and version != 1:
        raise InvalidInput(f"{source}: version {version}: this slipway reads policy version 1")
    task = top.optional("task", choice(_TASKS))
    pos_label = top.optional("pos_label", label)
    compare_alias: str | None = None
    if "compare" in top.data:
        compare = top.child("compare").mapping()
        compare.only("alias")
        compare_alias = compare.required("alias", alias)
    checks_reader = top.child("checks")
    items = checks_reader.sequence()
    if not items:
        raise InvalidInput(f"{source}: checks: expected at least one check")
    checks: list[Check] = []
    for i, item in enumerate(items):
        check = _parse_check(Reader(source, f"checks[{i}]", item), task=task)
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


def _parse_check(r: Reader, *, task: Task | None) -> Check:
    m = r.mapping()
    kind = m.required("kind", choice(_KINDS, "check kind"))
    name = m.optional("name", text)
    if kind == "metric":
        m.only("kind", "name", "metric", "min", "max")
        metric = m.required("metric", metric_name(task))
        low, high = _bounds(m)
        return MetricCheck(name=name or _bounds_name(metric, low, high), metric=metric, min=low, max=high)
    if kind == "no_regression":
        m.only("kind", "name", "metric", "tolerance", "bootstrap")
        metric = m.required("metric", metric_name(task))
        tolerance = m.optional("tolerance", non_negative) or 0.0
        boot = _bootstrap(m.child("bootstrap")) if "bootstrap" in m.data else None
        return NoRegressionCheck(
            name=name or f"no_regression:{metric}", metric=metric, tolerance=tolerance, bootstrap=boot
        )
    if kind == "slice":
        m.only("kind", "name", "column", "metric", "min", "max", "min_size", "bins")
        column = m.required("column", text)
        metric = m.required("metric", metric_name(task))
        low, high = _bounds(m)
        min_size = m.optional("min_size", positive_int)
        bins = m.optional("bins", at_least(2))
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
        feature = m.required("feature", text)
        delta = m.required("delta", number)
        if delta == 0:
            raise InvalidInput(f"{m.at('delta')}: 0: expected a non-zero change")
        expect = m.optional("expect", choice(("increase", "decrease"))) or "increase"
        min_fraction = m.optional("min_fraction", fraction)
        return DirectionalCheck(
            name=name or f"directional:{feature}",
            feature=feature,
            delta=delta,
            expect=expect,  # type: ignore[arg-type]  # choice checked it
            min_fraction=1.0 if min_fraction is None else min_fraction,
            tolerance=m.optional("tolerance", non_negative) or 0.0,
        )
    if kind == "latency":
        m.only("kind", "name", "single_row_p95_ms", "batch_p95_ms", "batch_size", "repetitions", "warmup")
        single = m.optional("single_row_p95_ms", positive)
        batch = m.optional("batch_p95_ms", positive)
        if single is None and batch is None:
            raise InvalidInput(f"{m.where}: expected single_row_p95_ms, batch_p95_ms or both (milliseconds)")
        return LatencyCheck(
            name=name or "latency",
            single_row_p95_ms=single,
            batch_p95_ms=batch,
            batch_size=m.optional("batch_size", positive_int) or 1000,
            repetitions=m.optional("repetitions", between_int(1, _MAX_REPETITIONS)) or 50,
            warmup=_default(m.optional("warmup", between_int(0, 1000)), 3),
        )
    m.only("kind", "name")
    return SignatureCheck(name=name or "signature")


def _invariance(m: Fields, name: str | None) -> InvarianceCheck:
    m.only(
        "kind", "name", "feature", "value", "noise", "shuffle", "max_changed_fraction", "max_delta", "seed"
    )
    feature = m.required("feature", text)
    perturbations = [k for k in ("value", "noise", "shuffle") if k in m.data]
    if len(perturbations) != 1:
        got = f" (got {', '.join(perturbations)})" if perturbations else ""
        raise InvalidInput(
            f"{m.where}: expected exactly one perturbation{got}: value (set the feature to it), "
            "noise (add Gaussian noise of that standard deviation) or shuffle: true"
        )
    noise = m.required("noise", positive) if "noise" in m.data else None
    shuffle = m.required("shuffle", boolean) if "shuffle" in m.data else False
    if "shuffle" in m.data and not shuffle:
        raise InvalidInput(f"{m.at('shuffle')}: false: expected true, or another perturbation")
    changed = m.optional("max_changed_fraction", fraction)
    delta = m.optional("max_delta", non_negative)
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
        seed=_default(m.optional("seed", integer), 0),
    )


def _bootstrap(r: Reader) -> Bootstrap:
    if r.data is True:
        return Bootstrap()
    m = r.mapping()
    m.only("samples", "confidence", "seed")
    samples = m.optional("samples", between_int(100, _MAX_BOOTSTRAP))
    confidence = m.optional("confidence", open_unit)
    return Bootstrap(
        samples=1000 if samples is None else samples,
        confidence=0.95 if confidence is None else confidence,
        seed=_default(m.optional("seed", integer), 0),
    )


def _bounds(m: Fields) -> tuple[float | None, float | None]:
    low = m.optional("min", number)
    high = m.optional("max", number)
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


def policy_from(policy: Policy | Mapping[str, Any] | str | Path) -> Policy:
    """A Policy as given, parsed from a mapping, or read from a path."""
    if isinstance(policy, Policy):
        return policy
    if isinstance(policy, (str, Path)):
        return load_policy(policy)
    return parse_policy(dict(policy))
