"""What differs between two runs: params, metrics, environment and code. Pure: runs and locks in, data out.

The question a comparison answers is "why did B score differently from A?", so it lists what
changed (a param, a package version, the commit or the uncommitted diff) rather than everything.
Metrics are the exception: all of them are shown, with B - A, since their values are the point.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from slipway.core import GIT_COMMIT_TAG, GIT_DIRTY_TAG, SOURCE_CWD_TAG
from slipway.tracking._environment import parse_lock

if TYPE_CHECKING:
    from slipway.core import Run

__all__ = ["Difference", "MetricDifference", "RunComparison", "compare"]

#: run tags that describe the environment and the code (written by _environment.capture)
ENVIRONMENT_TAGS = (
    "slipway.python.version",
    "slipway.python.implementation",
    "slipway.platform",
    "slipway.host",
    "slipway.packages.digest",
    "slipway.seed",
)
CODE_TAGS = (
    GIT_COMMIT_TAG,
    "slipway.git.branch",
    GIT_DIRTY_TAG,
    "slipway.git.diff_digest",
    "slipway.git.remote",
    "slipway.source.type",
    "slipway.source.name",
    "slipway.source.command",
    SOURCE_CWD_TAG,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Difference:
    """One key whose value differs; None means the run does not have it."""

    key: str
    a: str | None
    b: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricDifference:
    key: str
    a: float | None
    b: float | None
    delta: float | None  # b - a
    relative: float | None  # (b - a) / |a|

    @property
    def changed(self) -> bool:
        return self.a != self.b and not (
            self.a is not None and self.b is not None and math.isnan(self.a) and math.isnan(self.b)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class RunComparison:
    run_a: str
    run_b: str
    params: list[Difference] = field(default_factory=list)
    same_params: int = 0
    metrics: list[MetricDifference] = field(default_factory=list)
    environment: list[Difference] = field(default_factory=list)
    packages: list[Difference] = field(default_factory=list)  # version a -> b; None = not installed
    code: list[Difference] = field(default_factory=list)
    tags: list[Difference] = field(default_factory=list)  # the user's own tags

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["metrics"] = [{**asdict(m), "changed": m.changed} for m in self.metrics]
        return out

    @property
    def identical(self) -> bool:
        return not (
            self.params
            or any(m.changed for m in self.metrics)
            or self.environment
            or self.packages
            or self.code
            or self.tags
        )


def _diff(a: dict[str, str], b: dict[str, str], keys: tuple[str, ...] | None = None) -> list[Difference]:
    names = keys if keys is not None else tuple(sorted(set(a) | set(b)))
    return [Difference(key=k, a=a.get(k), b=b.get(k)) for k in names if a.get(k) != b.get(k)]


def compare(a: Run, b: Run, *, lock_a: str | None = None, lock_b: str | None = None) -> RunComparison:
    """Compare two runs; ``lock_*`` are their ``slipway/requirements.lock`` texts when available."""
    params = _diff(a.params, b.params)
    same = len(set(a.params) & set(b.params)) - sum(1 for d in params if d.a is not None and d.b is not None)
    metrics = []
    for key in sorted(set(a.metrics) | set(b.metrics)):
        va, vb = a.metrics.get(key), b.metrics.get(key)
        delta = vb - va if va is not None and vb is not None else None
        relative = delta / abs(va) if delta is not None and va else None
        metrics.append(MetricDifference(key=key, a=va, b=vb, delta=delta, relative=relative))
    packages: list[Difference] = []
    if lock_a is not None and lock_b is not None:
        packages = _diff(parse_lock(lock_a), parse_lock(lock_b))
    user_a = {k: v for k, v in a.tags.items() if not k.startswith("slipway.")}
    user_b = {k: v for k, v in b.tags.items() if not k.startswith("slipway.")}
    return RunComparison(
        run_a=a.id,
        run_b=b.id,
        params=params,
        same_params=same,
        metrics=metrics,
        environment=_diff(a.tags, b.tags, ENVIRONMENT_TAGS),
        packages=packages,
        code=_diff(a.tags, b.tags, CODE_TAGS),
        tags=_diff(user_a, user_b),
    )
