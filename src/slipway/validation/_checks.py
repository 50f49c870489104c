"""One small function per check kind: ``(check, context) -> CheckResult``.

Each result carries its numbers (``value`` and ``details``), the ``threshold`` it was held to, and a
one-line ``message`` a person can act on. A check that cannot run because there is no champion is
``skipped`` and passes; bad input (a column that is not in the data, a metric the model cannot
produce) raises InvalidInput instead of failing the gate.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.errors import InvalidInput
from slipway.validation._behaviour import directional_check, invariance_check, latency_check
from slipway.validation._metrics import METRICS, metric_values
from slipway.validation._result import CheckResult, fmt
from slipway.validation._signatures import compare_signatures

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import pandas as pd
    from numpy.typing import NDArray

    from slipway.validation._context import Context
    from slipway.validation._metrics import Predictions
    from slipway.validation._policy import (
        Bootstrap,
        Check,
        MetricCheck,
        NoRegressionCheck,
        SignatureCheck,
        SliceCheck,
    )

__all__ = ["CheckResult", "run_check"]

_BOOTSTRAP_CELLS = 4_000_000  # weights held at once: resamples x rows
_SHOWN_SLICES = 100  # slices kept in a result: the failing ones first, then the worst


def run_check(check: Check, ctx: Context) -> CheckResult:
    started = time.perf_counter()
    result = _RUNNERS[check.kind](check, ctx)
    return dataclasses.replace(result, duration_ms=(time.perf_counter() - started) * 1000)


# ---------------------------------------------------------------------- metrics


def _bounds(low: float | None, high: float | None) -> dict[str, Any]:
    return {k: v for k, v in (("min", low), ("max", high)) if v is not None}


def _within(value: float, low: float | None, high: float | None) -> tuple[bool, str]:
    if math.isnan(value):
        return False, "undefined on this data (e.g. a single class in the target)"
    if low is not None and value < low:
        return False, f"{fmt(value)} is below the minimum {fmt(low)}"
    if high is not None and value > high:
        return False, f"{fmt(value)} is above the maximum {fmt(high)}"
    return True, f"{fmt(value)} is within " + ", ".join(
        f"{k} {fmt(v)}" for k, v in _bounds(low, high).items()
    )


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
    direction = "better" if improvement >= 0 else "worse"
    message = (
        f"{check.metric} {fmt(challenger)} vs champion version {ctx.champion.version.version} "
        f"{fmt(champion)}: {fmt(abs(improvement))} {direction}"
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
            f"; {boot.confidence:.0%} CI of the improvement [{fmt(low)}, {fmt(high)}] "
            f"({boot.samples} paired resamples)"
        )
    message += "" if passed else f"; may be at most {fmt(check.tolerance)} worse"
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
    ours = ctx.predictions(ctx.challenger)
    theirs = ctx.predictions(ctx.champion)
    both = bootstrap_values(metric, ctx.target, [ours, theirs], samples=boot.samples, seed=boot.seed)
    values = sign * (both[0] - both[1])
    values = values[~np.isnan(values)]  # e.g. a resample holding one class has no roc_auc
    if len(values) == 0:
        return math.nan, math.nan, 0
    alpha = (1.0 - boot.confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high), len(values)


def resample_rows(n: int, samples: int, seed: int) -> Iterator[NDArray[np.intp]]:
    """The rows drawn for each bootstrap resample, a ``(chunk, n)`` block at a time; fixed by ``seed``."""
    rng = np.random.default_rng(seed)
    chunk = max(1, min(samples, _BOOTSTRAP_CELLS // max(n, 1)))
    done = 0
    while done < samples:
        size = min(chunk, samples - done)
        yield rng.integers(0, n, size=(size, n))
        done += size


def bootstrap_values(
    metric: str, target: NDArray[Any], predictions: Sequence[Predictions], *, samples: int, seed: int
) -> NDArray[np.float64]:
    """``metric`` of each of ``predictions`` on each resample: ``(len(predictions), samples)``.

    Every prediction set is scored on the same resamples (a paired bootstrap); each resample is a row
    of counts (how often each row was drawn), so a chunk of resamples is one call per metric.
    """
    n = len(target)
    blocks: list[NDArray[np.float64]] = []
    for picks in resample_rows(n, samples, seed):
        size = len(picks)
        offsets = (np.arange(size) * n)[:, None]
        counts = np.bincount((picks + offsets).ravel(), minlength=size * n).reshape(size, n)
        blocks.append(np.stack([metric_values(metric, target, p, counts) for p in predictions]))
    return np.concatenate(blocks, axis=1)


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
        names = ", ".join(f"{s['slice']}={fmt(s['value'])}" for s in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        message = f"{len(failed)} of {len(evaluated)} slices of {check.column!r} fail: {names}{more}{skipped}"
        passed = False
    else:
        message = f"all {len(evaluated)} slices of {check.column!r} pass; worst {fmt(worst)}{skipped}"
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
