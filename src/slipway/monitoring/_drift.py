"""Drift of a current window against the reference: per column, for the dataset, for the outputs.

Each column is read once (its sorted finite values, or its category counts aligned with the
reference's) and tested once; the p-values of all columns are then corrected together
(Benjamini–Hochberg by default), because a window with 50 columns tested at 5% would otherwise
flag two or three of them on data that has not changed at all. See ``_drift_methods.py`` for the
tests each mode chooses.

The reference is a :class:`~slipway.models.ReferenceSummary` (or a DataFrame, summarised here):
category counts are exact over all reference rows, numeric tests read its row sample.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from slipway.errors import InvalidInput
from slipway.models._reference import ReferenceSummary, as_reference
from slipway.monitoring import _drift_columns as read
from slipway.monitoring import _drift_methods as m
from slipway.monitoring._results import ColumnDrift, DatasetDrift, finite

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["Correction", "Mode", "adjust_pvalues", "column_drift", "dataset_drift", "prediction_drift"]

Mode = Literal["default", "evidently"]
Correction = Literal["bh", "holm", "none"]
Kind = Literal["numeric", "categorical"]
_MIN_VALUES = {"default": 5, "evidently": 1}


def dataset_drift(
    reference: ReferenceSummary | pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    mode: Mode = "default",
    methods: Mapping[str, str] | None = None,
    kinds: Mapping[str, Kind] | None = None,
    alpha: float = 0.05,
    correction: Correction = "bh",
    share_threshold: float = 0.5,
    weights: Mapping[str, float] | None = None,
    multivariate: bool = False,
    seed: int = 0,
) -> DatasetDrift:
    """Every column's drift verdict and the weighted share of drifted columns.

    ``columns`` defaults to the reference's features (its model outputs excluded; datetime
    columns are not tested); ``current`` must have no column the reference lacks, so that a
    renamed feature is an error rather than a silently untested column. A reference column missing
    from ``current`` is reported as a ``not_enough_data`` :class:`ColumnDrift` saying so (the
    other columns are still tested); a column named in ``columns`` must be there. A column that
    holds numbers on one side and text on the other gets status ``type_mismatch`` and a message,
    and is left out of the share. Column labels are compared as text (``0`` and ``"0"`` are one
    column), so a label that appears twice in ``current`` is an error.
    ``methods`` picks a test or distance per column by name, ``kinds`` treats a column as
    ``numeric`` or ``categorical`` whatever its dtype. In ``evidently`` mode the rules, thresholds
    and implementations are Evidently's defaults (``alpha`` and ``correction`` do not apply, as in
    Evidently); exact when the reference has at most 50,000 rows or is given as a DataFrame.
    ``weights`` must be finite and at least 0, not all 0 (a column not named weighs 1).
    ``seed`` makes the calibration of distance thresholds reproducible.
    """
    _check_options(mode, alpha, correction, share_threshold)
    ref = _as_reference(reference, mode)
    current = _current(current)
    names, absent = _columns(ref, current, columns)
    methods, kinds, weights = dict(methods or {}), dict(kinds or {}), dict(weights or {})
    _check_mapping("methods", methods, names)
    _check_mapping("kinds", kinds, names)
    _check_mapping("weights", weights, names)
    _check_weights(weights, names)
    rng = np.random.default_rng(seed)
    results = [
        _absent(ref, name, alpha)
        if name in absent
        else _column(
            ref,
            current,
            name,
            mode=mode,
            method=methods.get(name),
            kind=kinds.get(name),
            alpha=alpha,
            rng=rng,
        )
        for name in names
    ]
    if mode == "default":
        results = _corrected(results, alpha=alpha, correction=correction)
    else:
        correction = "none"
    results = [_with_weight(r, weights.get(r.column, 1.0)) for r in results]
    mv = None
    if multivariate:
        from slipway.monitoring._multivariate import multivariate_drift

        readable = [r.column for r in results if r.status != "type_mismatch" and r.column not in absent]
        mv = multivariate_drift(ref, current, columns=readable, seed=seed)
    return _aggregate(results, mode, alpha, correction, share_threshold, ref, current, mv)


def prediction_drift(
    reference: ReferenceSummary | pd.DataFrame,
    current: pd.DataFrame,
    *,
    outputs: Sequence[str] | None = None,
    **options: Any,
) -> DatasetDrift:
    """Drift of the model's outputs: :func:`dataset_drift` on the output columns.

    The outputs are those the reference recorded when it was summarised from a model (its
    ``outputs``), or the names given here. A two-class model's ``proba_<class>`` columns say one
    thing twice (one is 1 minus the other), so only the positive class's is tested (the greater
    class, as scikit-learn orders them): otherwise one change would count as two drifted columns.
    """
    mode = options.get("mode", "default")
    ref = _as_reference(reference, mode)
    names = list(outputs) if outputs is not None else list(ref.outputs)
    if not names:
        raise InvalidInput(
            "prediction drift: the reference records no model outputs; pass outputs=[...] naming them"
        )
    return dataset_drift(ref, current, columns=_one_probability(ref, names), **options)


def column_drift(
    reference: ReferenceSummary | pd.DataFrame,
    current: pd.DataFrame,
    column: str,
    *,
    mode: Mode = "default",
    method: str | None = None,
    kind: Kind | None = None,
    alpha: float = 0.05,
    seed: int = 0,
) -> ColumnDrift:
    """One column's drift verdict (uncorrected: ``p_adjusted`` is the raw p-value)."""
    _check_options(mode, alpha, "none", 0.5)
    ref = _as_reference(reference, mode)
    current = _current(current)
    column = str(column)
    _columns(ref, current, [column])
    rng = np.random.default_rng(seed)
    result = _column(ref, current, column, mode=mode, method=method, kind=kind, alpha=alpha, rng=rng)
    return _corrected([result], alpha=alpha, correction="none")[0] if mode == "default" else result


def adjust_pvalues(p_values: Sequence[float], correction: Correction) -> NDArray[np.float64]:
    """P-values adjusted for testing them together: Benjamini–Hochberg (``bh``), Holm or none.

    BH controls the expected share of false discoveries among flagged columns, which is what a
    drift dashboard needs; Holm controls the chance of any false flag (stricter, less power).
    """
    p = np.asarray(p_values, dtype=np.float64)
    n = p.size
    if n == 0 or correction == "none":
        return np.array(p, dtype=np.float64)
    if correction == "bh":
        order = np.argsort(p)[::-1]
        ranked = p[order] * n / np.arange(n, 0, -1)
        adjusted = np.minimum.accumulate(ranked)
    elif correction == "holm":
        order = np.argsort(p)
        ranked = p[order] * np.arange(n, 0, -1)
        adjusted = np.maximum.accumulate(ranked)
    else:
        raise InvalidInput(f"correction: expected 'bh', 'holm' or 'none', got {correction!r}")
    out = np.empty(n)
    out[order] = np.minimum(adjusted, 1.0)
    return out


# ----------------------------------------------------------------------------- inputs


def _check_options(mode: str, alpha: float, correction: str, share_threshold: float) -> None:
    if mode not in ("default", "evidently"):
        raise InvalidInput(f"mode: expected 'default' or 'evidently', got {mode!r}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInput(f"alpha: expected a level between 0 and 1, got {alpha!r}")
    if correction not in ("bh", "holm", "none"):
        raise InvalidInput(f"correction: expected 'bh', 'holm' or 'none', got {correction!r}")
    if not 0.0 <= share_threshold <= 1.0:
        raise InvalidInput(f"share_threshold: expected a share between 0 and 1, got {share_threshold!r}")


def _as_reference(reference: object, mode: str) -> ReferenceSummary:
    import pandas as pd

    if isinstance(reference, pd.DataFrame) and mode == "evidently":
        # Evidently reads every reference row; keep them all so that its statistics match exactly.
        return as_reference(reference, max_rows=max(len(reference), 1))
    if not isinstance(reference, (ReferenceSummary, pd.DataFrame)):
        raise InvalidInput(
            f"reference: expected a DataFrame or a ReferenceSummary, got {type(reference).__name__}"
        )
    return as_reference(reference)


def _current(current: object) -> pd.DataFrame:
    """The current window with text column labels (as the reference summary has), each once."""
    import pandas as pd

    if not isinstance(current, pd.DataFrame):
        raise InvalidInput(f"current: expected a pandas DataFrame, got {type(current).__name__}")
    labels = [str(c) for c in current.columns]
    if len(set(labels)) != len(labels):
        twice = next(c for i, c in enumerate(labels) if c in labels[:i])
        raise InvalidInput(f"current: column {twice!r} appears twice; give each column one name")
    if all(isinstance(c, str) for c in current.columns):
        return current
    renamed: pd.DataFrame = current.set_axis(labels, axis=1)
    return renamed


def _columns(
    ref: ReferenceSummary, current: pd.DataFrame, columns: Sequence[str] | None
) -> tuple[list[str], set[str]]:
    """The columns to compare and, when they were not named, those missing from the window."""
    have = set(current.columns)
    if columns is None:
        names = ref.comparable
        extra = sorted(have - set(ref.columns))
        if extra:
            raise InvalidInput(
                f"column {extra[0]!r}: in the current window but not in the reference "
                f"(pass columns=[...] to choose the columns to compare)"
            )
        return names, {n for n in names if n not in have}
    names = [str(c) for c in columns]
    for name in names:
        if name not in ref.columns:
            raise InvalidInput(f"column {name!r}: not in the reference (it has {', '.join(ref.columns)})")
    missing = [n for n in names if n not in have]
    if missing:
        raise InvalidInput(f"column {missing[0]!r}: in the reference but missing from the current window")
    return names, set()


def _one_probability(ref: ReferenceSummary, names: list[str]) -> list[str]:
    """``names`` without the negative class's probability when a two-class model gives both."""
    proba = [n for n in names if n.startswith("proba_") and n in ref.columns]
    if len(proba) != 2 or not all(ref.columns[n].kind == "numeric" for n in proba):
        return names
    total = ref.sample[proba].to_numpy(dtype=np.float64, na_value=np.nan).sum(axis=1)
    total = total[np.isfinite(total)]
    if total.size == 0 or not np.allclose(total, 1.0, atol=1e-6):
        return names  # not complementary (a multi-label model, say): both carry information
    classes = [n[len("proba_") :] for n in proba]
    numeric = all(c.lstrip("-").isdigit() for c in classes)
    positive = max(classes, key=int) if numeric else max(classes)
    return [n for n in names if n not in proba or n == f"proba_{positive}"]


def _check_mapping(what: str, mapping: Mapping[str, object], names: list[str]) -> None:
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise InvalidInput(f"{what}: column {unknown[0]!r} is not among the columns compared")
    if what == "methods":
        for name, method in mapping.items():
            if method not in m.METHODS:
                raise InvalidInput(
                    f"methods[{name!r}]: expected one of {', '.join(sorted(m.METHODS))}, got {method!r}"
                )
    if what == "kinds":
        for name, kind in mapping.items():
            if kind not in ("numeric", "categorical"):
                raise InvalidInput(f"kinds[{name!r}]: expected 'numeric' or 'categorical', got {kind!r}")


def _check_weights(weights: Mapping[str, object], names: list[str]) -> None:
    for name, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, numbers.Real) or not (math.isfinite(w) and float(w) >= 0):
            raise InvalidInput(f"weights[{name!r}]: expected a finite weight of 0 or more, got {w!r}")
    if names and all(weights.get(n, 1.0) == 0 for n in names):
        raise InvalidInput(
            f"weights: every column compared has weight 0 ({', '.join(names)}), so no share can be "
            "computed; give at least one column a positive weight"
        )


# ----------------------------------------------------------------------------- one column


def _column(
    ref: ReferenceSummary,
    current: pd.DataFrame,
    name: str,
    *,
    mode: Mode,
    method: str | None,
    kind: Kind | None,
    alpha: float,
    rng: np.random.Generator,
) -> ColumnDrift:
    try:
        col = read.prepare(ref, current, name, mode=mode, method=method, kind=kind)
    except read.TypeMismatch as exc:
        return ColumnDrift(
            column=name,
            kind=exc.kind,
            method=method or "",
            statistic=None,
            threshold=alpha,
            drifted=False,
            n_reference=ref.column(name).count,
            n_current=int(current[name].notna().sum()),
            status="type_mismatch",
            message=str(exc),
        )
    short = _too_short(col, mode)
    report_kind = col.kind
    if short:
        return ColumnDrift(
            column=name,
            kind=report_kind,
            method=method or "",
            statistic=None,
            threshold=alpha,
            drifted=False,
            n_reference=col.n_ref,
            n_current=col.n_cur,
            status="not_enough_data",
            message=short,
        )
    if mode == "evidently":
        chosen = method or m.evidently_method(col)
        if col.kind == "numeric" and chosen in m.CATEGORICAL_ONLY | {"jensenshannon"} and method is None:
            col = read.as_counts(col)  # Evidently tests a numeric column with <= 5 values as categories
        verdict = m.run_evidently(col, chosen)
    else:
        chosen = method or m.default_method(col)
        verdict = m.run_default(col, chosen, alpha=alpha, rng=rng)
    ok = verdict.statistic is not None or verdict.p_value is not None
    return ColumnDrift(
        column=name,
        kind=report_kind,
        method=verdict.method,
        statistic=finite(verdict.statistic),
        threshold=verdict.threshold if np.isfinite(verdict.threshold) else alpha,
        drifted=verdict.drifted and ok,
        n_reference=col.n_ref,
        n_current=col.n_cur,
        p_value=finite(verdict.p_value),
        p_adjusted=finite(verdict.p_value),
        effect_size=finite(verdict.effect_size),
        effect_measure=verdict.effect_measure,
        score=finite(verdict.score),
        status="ok" if ok else "not_enough_data",
        message=verdict.message,
    )


def _absent(ref: ReferenceSummary, name: str, alpha: float) -> ColumnDrift:
    summary = ref.column(name)
    return ColumnDrift(
        column=name,
        kind="numeric" if summary.kind == "numeric" else "categorical",
        method="",
        statistic=None,
        threshold=alpha,
        drifted=False,
        n_reference=summary.count,
        n_current=0,
        status="not_enough_data",
        message=f"column {name!r}: in the reference but missing from the current window; not tested",
    )


def _too_short(col: m.Prepared, mode: Mode) -> str:
    need = _MIN_VALUES[mode]
    for side, n in (("reference", col.n_ref), ("current window", col.n_cur)):
        if n < need:
            what = "no values" if n == 0 else f"{n} value{'s' if n != 1 else ''}"
            return f"column {col.name!r}: the {side} has {what} (missing ones aside); at least {need} needed"
    return ""


# ----------------------------------------------------------------------------- many columns


def _corrected(results: list[ColumnDrift], *, alpha: float, correction: Correction) -> list[ColumnDrift]:
    import dataclasses

    tested = [i for i, r in enumerate(results) if r.status == "ok" and r.p_value is not None]
    adjusted = adjust_pvalues([results[i].p_value or 0.0 for i in tested], correction)
    out = list(results)
    for i, p_adj in zip(tested, adjusted.tolist(), strict=True):
        out[i] = dataclasses.replace(
            results[i], p_adjusted=p_adj, drifted=p_adj < alpha, score=1.0 - p_adj, threshold=alpha
        )
    return out


def _with_weight(result: ColumnDrift, weight: float) -> ColumnDrift:
    import dataclasses

    return result if weight == 1.0 else dataclasses.replace(result, weight=float(weight))


def _aggregate(
    results: list[ColumnDrift],
    mode: Mode,
    alpha: float,
    correction: str,
    share_threshold: float,
    ref: ReferenceSummary,
    current: pd.DataFrame,
    mv: Any,
) -> DatasetDrift:
    ok = [r for r in results if r.status == "ok"]
    total = sum(r.weight for r in ok)
    share = sum(r.weight for r in ok if r.drifted) / total if total > 0 else None
    drifted = share is not None and share >= share_threshold
    if mv is not None and mv.status == "ok" and mv.drifted:
        drifted = True
    status: Literal["ok", "not_enough_data"] = "ok" if share is not None else "not_enough_data"
    message = ""
    if share is None:
        reasons = "; ".join(
            r.message or f"column {r.column!r}: {r.status}" for r in results if r.status != "ok"
        )
        if not results:
            message = "no columns to compare"
        elif ok:
            tested = ", ".join(repr(r.column) for r in ok)
            message = (
                f"the columns tested ({tested}) all have weight 0, and the others were not tested: {reasons}"
            )
        else:
            message = f"no column could be tested: {reasons}"
    return DatasetDrift(
        mode=mode,
        columns=tuple(results),
        share=share,
        share_threshold=share_threshold,
        drifted=drifted,
        alpha=alpha,
        correction=correction,
        n_reference=ref.n_rows,
        n_current=len(current),
        multivariate=mv,
        status=status,
        message=message,
    )
