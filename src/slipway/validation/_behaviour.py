"""Behavioural checks (invariance to a perturbed feature, a directional expectation) and latency.

They run the challenger on perturbed copies of the data, or time it on the data's rows. A model that
raises on the perturbed copy (it cannot take a value its signature refuses, its code crashes) fails
the check with the error in the message and ``details["error"]``: how a model meets inputs it was not
trained on is what these checks are about, and the result is recorded like any other failure. A
policy that cannot be carried out on the data (a column that is not there, noise on text) is still
bad input, and records nothing.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.errors import InvalidInput
from slipway.validation._result import CheckResult, fmt

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd
    from numpy.typing import NDArray

    from slipway.validation._context import Context
    from slipway.validation._metrics import Predictions
    from slipway.validation._policy import DirectionalCheck, InvarianceCheck, LatencyCheck

__all__ = ["directional_check", "invariance_check", "latency_check"]


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
        how = f"Gaussian noise of scale {fmt(check.noise)}"
    else:
        perturbed[check.feature] = column.to_numpy()[rng.permutation(len(column))]
        how = "shuffled across rows"
    challenger = ctx.challenger
    before = challenger.predictions(ctx.features)
    after = _on_perturbed(ctx, perturbed)
    threshold = {
        k: v
        for k, v in (("max_changed_fraction", check.max_changed_fraction), ("max_delta", check.max_delta))
        if v is not None
    }
    if isinstance(after, str):
        return _crashed(check.name, check.kind, ctx, f"{check.feature!r} {how}", after, threshold)
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
        problems.append(f"the largest change is {fmt(largest)} (at most {fmt(check.max_delta)})")
    summary = f"{check.feature!r} {how}: {fraction:.2%} of rows changed, largest change {fmt(largest)}"
    summary += _ignored(ctx, check.feature)
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


def _on_perturbed(ctx: Context, perturbed: pd.DataFrame) -> Predictions | str:
    """The challenger's outputs on the perturbed copy, or its error as one line when it raised."""
    try:
        return ctx.challenger.predict_on(perturbed)
    except Exception as exc:  # the model's own code: any error it raises is its answer
        text = str(exc).strip()
        first = text.splitlines()[0] if text else ""
        return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _crashed(
    name: str, kind: str, ctx: Context, perturbation: str, error: str, threshold: dict[str, Any]
) -> CheckResult:
    return CheckResult(
        name=name,
        kind=kind,
        passed=False,
        message=f"{perturbation}: {ctx.challenger.uri} raised on the perturbed data: {error}",
        threshold=threshold,
        details={"perturbation": perturbation, "error": error, "rows": len(ctx.features)},
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
    threshold = {"min_fraction": check.min_fraction, "expect": check.expect, "tolerance": check.tolerance}
    shifted = _on_perturbed(ctx, perturbed)
    if isinstance(shifted, str):
        change = f"{check.feature} {'+' if delta > 0 else ''}{fmt(float(delta))}"
        return _crashed(check.name, check.kind, ctx, change, shifted, threshold)
    after = ctx.score(shifted, where)
    moved = after - before
    ok = moved >= -check.tolerance if check.expect == "increase" else moved <= check.tolerance
    fraction = float(np.mean(ok)) if len(ok) else 1.0
    passed = fraction >= check.min_fraction
    against = "decreased" if check.expect == "increase" else "increased"
    label = challenger.predictions(ctx.features).pos_label
    score = "value" if challenger.task == "regression" else f"probability of class {label!r}"
    message = (
        f"{check.feature} {'+' if delta > 0 else ''}{fmt(float(delta))}: the predicted {score} "
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
        threshold=threshold,
        details={
            "feature": check.feature,
            "delta": delta,
            "fraction_as_expected": fraction,
            "rows_against": int(np.sum(~ok)),
            "mean_change": float(np.mean(moved)) if len(moved) else 0.0,
            "rows": len(ok),
        },
    )


# ---------------------------------------------------------------------- latency


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
