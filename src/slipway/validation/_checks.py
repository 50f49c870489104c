"""One small function per check kind: ``(check, context) -> CheckResult``.

Each result carries its numbers (``value`` and ``details``), the ``threshold`` it was held to, and a
one-line ``message`` a person can act on. A check that cannot run because there is no champion is
``skipped`` and passes; bad input (a column that is not in the data, a metric the model cannot
produce) raises InvalidInput instead of failing the gate.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.errors import InvalidInput
from slipway.validation._metrics import METRICS, metric_values
from slipway.validation._signatures import compare_signatures

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd
    from numpy.typing import NDArray

    from slipway.validation._context import Context
    from slipway.validation._policy import (
        Bootstrap,
        Check,
        DirectionalCheck,
        InvarianceCheck,
        LatencyCheck,
        MetricCheck,
        NoRegressionCheck,
        SignatureCheck,
        SliceCheck,
    )

__all__ = ["CheckResult", "run_check"]

_BOOTSTRAP_CELLS = 4_000_000  # weights held at once: resamples x rows
_SHOWN_SLICES = 100  # slices kept in a result: the failing ones first, then the worst


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckResult:
    """The outcome of one check.

    .. versionadded:: 0.1
    """

    name: str
    kind: str
    passed: bool
    message: str
    value: float | None = None
    threshold: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "skipped": self.skipped,
            "value": _finite(self.value),
            "threshold": _json(self.threshold),
            "message": self.message,
            "details": _json(self.details),
            "duration_ms": round(self.duration_ms, 3),
        }


def run_check(check: Check, ctx: Context) -> CheckResult:
    started = time.perf_counter()
    result = _RUNNERS[check.kind](check, ctx)
    return CheckResult(
        name=result.name,
        kind=result.kind,
        passed=result.passed,
        message=result.message,
        value=result.value,
        threshold=result.threshold,
        details=result.details,
        skipped=result.skipped,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


# ---------------------------------------------------------------------- metrics


def _bounds(low: float | None, high: float | None) -> dict[str, Any]:
    return {k: v for k, v in (("min", low), ("max", high)) if v is not None}


def _within(value: float, low: float | None, high: float | None) -> tuple[bool, str]:
    if math.isnan(value):
        return False, "undefined on this data (e.g. a single class in the target)"
    if low is not None and value < low:
        return False, f"{_g(value)} is below the minimum {_g(low)}"
    if high is not None and value > high:
        return False, f"{_g(value)} is above the maximum {_g(high)}"
    return True, f"{_g(value)} is within " + ", ".join(f"{k} {_g(v)}" for k, v in _bounds(low, high).items())


def metric_check(check: MetricCheck, ctx: Context) -> CheckResult:
    value = ctx.metric(check.metric, ctx.challenger)
    passed, why = _within(value, check.min, check.max)
    return CheckResult(
        name=check.name,
        kind=check.kind,
        passed=passed,
        message=f"{check.metric} {why}",
        value=value,
        threshold=_bounds(check.min, check.max),
        details={"metric": check.metric, "rows": len(ctx.target)},
    )


def no_regression_check(check: NoRegressionCheck, ctx: Context) -> CheckResult:
    threshold: dict[str, Any] = {"tolerance": check.tolerance}
    if ctx.champion is None:
        return CheckResult(
            name=check.name,
            kind=check.kind,
            passed=True,
            skipped=True,
            message=f"skipped: {ctx.champion_note}",
            threshold=threshold,
        )
    spec = METRICS[check.metric]
    sign = 1.0 if spec.higher_is_better else -1.0
    ctx.require(check.metric, ctx.champion)
    challenger = ctx.metric(check.metric, ctx.challenger)
    champion = ctx.metric(check.metric, ctx.champion)
    improvement = sign * (challenger - champion)
    details: dict[str, Any] = {
        "metric": check.metric,
        "challenger": challenger,
        "champion": champion,
        "champion_version": ctx.champion.version.version,
        "improvement": improvement,
        "higher_is_better": spec.higher_is_better,
    }
    passed = not math.isnan(improvement) and improvement >= -check.tolerance
    worse = "better" if improvement >= 0 else "worse"
    message = (
        f"{check.metric} {_g(challenger)} vs champion version {ctx.champion.version.version} "
        f"{_g(champion)}: {_g(abs(improvement))} {worse}"
    )
    if check.bootstrap is not None:
        boot = check.bootstrap
        threshold["confidence"] = boot.confidence
        low, high, used = _paired_bootstrap(check.metric, ctx, sign=sign, boot=boot)
        details.update(
            ci_low=low, ci_high=high, confidence=boot.confidence, samples=boot.samples, seed=boot.seed
        )
        details["samples_defined"] = used
        passed = passed and not math.isnan(low) and low >= -check.tolerance
        message += (
            f"; {boot.confidence:.0%} CI of the improvement [{_g(low)}, {_g(high)}] "
            f"({boot.samples} paired resamples)"
        )
    message += "" if passed else f"; may be at most {_g(check.tolerance)} worse"
    return CheckResult(
        name=check.name,
        kind=check.kind,
        passed=passed,
        message=message,
        value=improvement,
        threshold=threshold,
        details=details,
    )


def _paired_bootstrap(metric: str, ctx: Context, *, sign: float, boot: Bootstrap) -> tuple[float, float, int]:
    """The confidence interval of the challenger's improvement, resampling rows for both models at once."""
    assert ctx.champion is not None
    n = len(ctx.target)
    ours = ctx.challenger.predictions(ctx.features)
    theirs = ctx.champion.predictions(ctx.features)
    rng = np.random.default_rng(boot.seed)
    chunk = max(1, min(boot.samples, _BOOTSTRAP_CELLS // max(n, 1)))
    diffs: list[NDArray[np.float64]] = []
    done = 0
    while done < boot.samples:
        size = min(chunk, boot.samples - done)
        picks = rng.integers(0, n, size=(size, n))
        offsets = (np.arange(size) * n)[:, None]
        counts = np.bincount((picks + offsets).ravel(), minlength=size * n).reshape(size, n)
        a = metric_values(metric, ctx.target, ours, counts)
        b = metric_values(metric, ctx.target, theirs, counts)
        diffs.append(sign * (a - b))
        done += size
    values = np.concatenate(diffs)
    values = values[~np.isnan(values)]  # e.g. a resample holding one class has no roc_auc
    if len(values) == 0:
        return math.nan, math.nan, 0
    alpha = (1.0 - boot.confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high), len(values)


# ---------------------------------------------------------------------- slices


def slice_check(check: SliceCheck, ctx: Context) -> CheckResult:
    ctx.require(check.metric, ctx.challenger)
    where = f"slice check {check.name!r}"
    column = ctx.column(check.column, where)
    groups = _slices(column, check.bins, where)
    higher = METRICS[check.metric].higher_is_better
    evaluated: list[dict[str, Any]] = []
    small: list[str] = []
    undefined: list[str] = []
    for label, rows in groups:
        if len(rows) < check.min_size:
            small.append(label)
            continue
        value = ctx.metric(check.metric, ctx.challenger, rows)
        if math.isnan(value):
            undefined.append(label)
            continue
        ok, _ = _within(value, check.min, check.max)
        evaluated.append({"slice": label, "rows": len(rows), "value": value, "passed": ok})
    failed = [s for s in evaluated if not s["passed"]]
    evaluated.sort(key=lambda s: (s["passed"], s["value"] if higher else -s["value"]))
    worst = evaluated[0]["value"] if evaluated else None
    details: dict[str, Any] = {
        "metric": check.metric,
        "column": check.column,
        "slices": evaluated[:_SHOWN_SLICES],
        "slices_evaluated": len(evaluated),
        "slices_too_small": len(small),
        "slices_undefined": len(undefined),
    }
    if small:
        details["too_small"] = small[:_SHOWN_SLICES]
    if undefined:
        details["undefined"] = undefined[:_SHOWN_SLICES]
    skipped = f"; {len(small)} below {check.min_size} rows skipped" if small else ""
    skipped += f"; {len(undefined)} undefined" if undefined else ""
    if not evaluated:
        message = (
            f"no slice of {check.column!r} has {check.min_size} rows or more with a defined {check.metric}"
        )
        passed = False
    elif failed:
        names = ", ".join(f"{s['slice']}={_g(s['value'])}" for s in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        message = f"{len(failed)} of {len(evaluated)} slices of {check.column!r} fail: {names}{more}{skipped}"
        passed = False
    else:
        message = f"all {len(evaluated)} slices of {check.column!r} pass; worst {_g(worst)}{skipped}"
        passed = True
    threshold = {**_bounds(check.min, check.max), "min_size": check.min_size}
    return CheckResult(
        name=check.name,
        kind=check.kind,
        passed=passed,
        message=f"{check.metric}: {message}",
        value=worst,
        threshold=threshold,
        details=details,
    )


def _slices(column: pd.Series[Any], bins: int | None, where: str) -> list[tuple[str, NDArray[np.intp]]]:
    import pandas as pd

    values = column.reset_index(drop=True)
    if bins is not None:
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise InvalidInput(f"{where}: bins: column {column.name!r} is not numeric ({values.dtype})")
        values = pd.qcut(values, q=bins, duplicates="drop").astype(object)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    out: list[tuple[str, NDArray[np.intp]]] = []
    for code, label in enumerate(uniques):
        out.append((str(label), np.flatnonzero(codes == code)))
    missing = np.flatnonzero(codes == -1)
    if len(missing):
        out.append(("<missing>", missing))
    return out


# ---------------------------------------------------------------------- behaviour


def invariance_check(check: InvarianceCheck, ctx: Context) -> CheckResult:
    where = f"invariance check {check.name!r}"
    column = ctx.column(check.feature, where)
    rng = np.random.default_rng(check.seed)
    perturbed = ctx.features.copy()
    if check.has_value:
        perturbed[check.feature] = [check.value] * len(perturbed)
        how = f"set to {check.value!r}"
    elif check.noise is not None:
        perturbed[check.feature] = _noisy(column, check.noise, rng, where)
        how = f"Gaussian noise of scale {_g(check.noise)}"
    else:
        perturbed[check.feature] = column.to_numpy()[rng.permutation(len(column))]
        how = "shuffled across rows"
    challenger = ctx.challenger
    before = challenger.predictions(ctx.features)
    after = challenger.predict_on(perturbed)
    changed = before.labels != after.labels
    if challenger.task == "regression":
        moved = np.abs(after.labels - before.labels)
    elif before.proba is not None and after.proba is not None:
        moved = np.max(np.abs(after.proba - before.proba), axis=1)
    elif check.max_delta is not None:
        raise InvalidInput(
            f"{where}: max_delta compares probabilities, and {challenger.uri} has no predict_proba; "
            "use max_changed_fraction"
        )
    else:
        moved = np.zeros(len(changed))
    fraction = float(np.mean(changed)) if len(changed) else 0.0
    largest = float(np.max(moved)) if len(moved) else 0.0
    problems = []
    if check.max_changed_fraction is not None and fraction > check.max_changed_fraction:
        problems.append(
            f"{fraction:.2%} of rows changed their prediction (at most {check.max_changed_fraction:.2%})"
        )
    if check.max_delta is not None and largest > check.max_delta:
        problems.append(f"the largest change is {_g(largest)} (at most {_g(check.max_delta)})")
    summary = f"{check.feature!r} {how}: {fraction:.2%} of rows changed, largest change {_g(largest)}"
    summary += _ignored(ctx, check.feature)
    threshold = {
        k: v
        for k, v in (("max_changed_fraction", check.max_changed_fraction), ("max_delta", check.max_delta))
        if v is not None
    }
    return CheckResult(
        name=check.name,
        kind=check.kind,
        passed=not problems,
        message="; ".join(problems) if problems else summary,
        value=fraction if check.max_changed_fraction is not None else largest,
        threshold=threshold,
        details={
            "feature": check.feature,
            "perturbation": how,
            "changed_fraction": fraction,
            "changed_rows": int(np.sum(changed)),
            "max_delta": largest,
            "mean_delta": float(np.mean(moved)) if len(moved) else 0.0,
            "rows": len(changed),
        },
    )


def _ignored(ctx: Context, feature: str) -> str:
    """A note when the model does not take ``feature``: the check passes, but proves nothing."""
    signature = ctx.challenger.model.signature
    if signature is None or signature.inputs.columns is None or feature in signature.inputs.names:
        return ""
    return f" (the model does not take {feature!r})"


def _noisy(column: pd.Series[Any], scale: float, rng: np.random.Generator, where: str) -> NDArray[Any]:
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise InvalidInput(f"{where}: noise: column {column.name!r} is not numeric ({column.dtype})")
    dtype = column.to_numpy().dtype
    values = column.to_numpy(dtype=np.float64) + rng.normal(0.0, scale, len(column))
    if dtype.kind in "iu":  # an integer feature stays an integer
        return np.rint(values).astype(dtype)
    return values.astype(dtype)


def directional_check(check: DirectionalCheck, ctx: Context) -> CheckResult:
    import pandas as pd

    where = f"directional check {check.name!r}"
    column = ctx.column(check.feature, where)
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        raise InvalidInput(f"{where}: column {check.feature!r} is not numeric ({column.dtype})")
    delta: float | int = check.delta
    if pd.api.types.is_integer_dtype(column):
        if not float(check.delta).is_integer():
            raise InvalidInput(
                f"{where}: delta {check.delta:g} on the integer column {check.feature!r}: "
                "expected a whole number"
            )
        delta = int(check.delta)
    perturbed = ctx.features.copy()
    perturbed[check.feature] = column + delta
    challenger = ctx.challenger
    before = ctx.score(challenger.predictions(ctx.features), where)
    after = ctx.score(challenger.predict_on(perturbed), where)
    moved = after - before
    ok = moved >= -check.tolerance if check.expect == "increase" else moved <= check.tolerance
    fraction = float(np.mean(ok)) if len(ok) else 1.0
    passed = fraction >= check.min_fraction
    against = "decreased" if check.expect == "increase" else "increased"
    label = challenger.predictions(ctx.features).pos_label
    score = "value" if challenger.task == "regression" else f"probability of class {label!r}"
    message = (
        f"{check.feature} {'+' if delta > 0 else ''}{_g(float(delta))}: the predicted {score} "
        f"{against} for {1 - fraction:.2%} of rows"
    )
    if not passed:
        message += f"; expected it not to for at least {check.min_fraction:.2%}"
    message += _ignored(ctx, check.feature)
    return CheckResult(
        name=check.name,
        kind=check.kind,
        passed=passed,
        message=message,
        value=fraction,
        threshold={"min_fraction": check.min_fraction, "expect": check.expect, "tolerance": check.tolerance},
        details={
            "feature": check.feature,
            "delta": delta,
            "fraction_as_expected": fraction,
            "rows_against": int(np.sum(~ok)),
            "mean_change": float(np.mean(moved)) if len(moved) else 0.0,
            "rows": len(ok),
        },
    )


# ---------------------------------------------------------------------- latency and signature


def latency_check(check: LatencyCheck, ctx: Context) -> CheckResult:
    model = ctx.challenger.model
    frame = ctx.features
    n = len(frame)
    details: dict[str, Any] = {"repetitions": check.repetitions, "warmup": check.warmup}
    problems: list[str] = []
    parts: list[str] = []
    value: float | None = None
    if check.single_row_p95_ms is not None:
        rows = [frame.iloc[[i % n]] for i in range(check.repetitions + check.warmup)]
        times = _timed(model.predict, rows, check.warmup)
        p95 = float(np.percentile(times, 95))
        details["single_row_ms"] = _summary(times)
        parts.append(f"single row p95 {p95:.3g} ms")
        value = p95
        if p95 > check.single_row_p95_ms:
            problems.append(f"single row p95 {p95:.3g} ms is over the budget {check.single_row_p95_ms:g} ms")
    if check.batch_p95_ms is not None:
        size = min(check.batch_size, n)
        batch = frame.iloc[:size]
        times = _timed(model.predict, [batch] * (check.repetitions + check.warmup), check.warmup)
        p95 = float(np.percentile(times, 95))
        details["batch_ms"] = _summary(times)
        details["batch_size"] = size
        parts.append(f"batch of {size} p95 {p95:.3g} ms")
        value = p95 if value is None else value
        if p95 > check.batch_p95_ms:
            problems.append(f"batch of {size} p95 {p95:.3g} ms is over the budget {check.batch_p95_ms:g} ms")
    threshold = {
        k: v
        for k, v in (("single_row_p95_ms", check.single_row_p95_ms), ("batch_p95_ms", check.batch_p95_ms))
        if v is not None
    }
    return CheckResult(
        name=check.name,
        kind=check.kind,
        passed=not problems,
        message="; ".join(problems) if problems else ", ".join(parts) + " (within budget)",
        value=value,
        threshold=threshold,
        details=details,
    )


def _timed(fn: Callable[[Any], Any], inputs: list[Any], warmup: int) -> NDArray[np.float64]:
    times: list[float] = []
    for i, data in enumerate(inputs):
        started = time.perf_counter_ns()
        fn(data)
        if i >= warmup:
            times.append((time.perf_counter_ns() - started) / 1e6)
    return np.asarray(times)


def _summary(times: NDArray[np.float64]) -> dict[str, float]:
    p50, p95 = np.percentile(times, [50, 95])
    return {"p50": float(p50), "p95": float(p95), "max": float(np.max(times))}


def signature_check(check: SignatureCheck, ctx: Context) -> CheckResult:
    if ctx.champion is None:
        return CheckResult(
            name=check.name,
            kind=check.kind,
            passed=True,
            skipped=True,
            message=f"skipped: {ctx.champion_note}",
        )
    version = ctx.champion.version.version
    problems, notes = compare_signatures(ctx.champion.model.signature, ctx.challenger.model.signature)
    if problems:
        message = f"incompatible with champion version {version}: " + "; ".join(problems)
    else:
        message = f"takes every input champion version {version} takes" + (
            f" ({'; '.join(notes)})" if notes else ""
        )
    return CheckResult(
        name=check.name,
        kind=check.kind,
        passed=not problems,
        message=message,
        details={"champion_version": version, "problems": problems, "notes": notes},
    )


_RUNNERS: dict[str, Callable[[Any, Context], CheckResult]] = {
    "metric": metric_check,
    "no_regression": no_regression_check,
    "slice": slice_check,
    "invariance": invariance_check,
    "directional": directional_check,
    "latency": latency_check,
    "signature": signature_check,
}


# ---------------------------------------------------------------------- formatting


def _g(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def _finite(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _json(value: Any) -> Any:
    """JSON-safe: NumPy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return _finite(value)
