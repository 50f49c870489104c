"""Multivariate drift: how badly a PCA fitted on the reference reconstructs the current rows.

A change in how features move together (a correlation that flips) leaves every marginal
distribution, and so every per-column test, unchanged; a low-rank model of the reference's joint
structure no longer fits, and its reconstruction error rises. This is NannyML's data
reconstruction drift, with one difference that matters: its threshold comes from reference rows
the PCA never saw. The reference sample is split in two; the first half fits the encoders, the
scaler and the PCA, the second half gives chunks of the current window's size, and the
thresholds are the mean of their mean errors plus and minus 3 standard deviations (NannyML's
rule). Thresholds from the fitting rows are too low, since the PCA fits its own rows best, and
alert on windows with no drift.

An error below the lower threshold is drift too: the rows lie closer to the reference's main
components than its own rows do, i.e. features that moved independently now move together.
With two independent features this is the only sign a new correlation gives half the time: the
standardised features' components are the two diagonals, and the new correlation lines the rows
up along either the kept one (the error falls) or the dropped one (it rises). ``threshold`` is
the upper one; a window below the lower one says so in its ``message``.

Encoding: categorical values become their frequency in the fitting half (unseen values 0,
missing values a category of their own), numeric missing values the fitting half's median; every
column is then standardised, and the PCA (NumPy's SVD) keeps the fewest components explaining at
least 65% of the variance, and at most one fewer than the columns that vary in the fitting half:
keeping them all would reconstruct every row exactly, leaving an error of float noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from slipway.errors import InvalidInput
from slipway.models._reference import ReferenceSummary, as_reference, column_kind
from slipway.monitoring._results import MultivariateDrift

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pandas as pd
    from numpy.typing import NDArray

__all__ = ["multivariate_drift"]

_MISSING = "\x00missing"
_MIN_FIT_ROWS = 20


def multivariate_drift(
    reference: ReferenceSummary | pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    variance: float = 0.65,
    n_chunks: int = 100,
    seed: int = 0,
) -> MultivariateDrift:
    """The current window's mean reconstruction error against a threshold from held-out reference.

    ``columns`` defaults to the reference's features (model outputs and datetime columns aside);
    at least two that vary in the reference are needed, since one column has no joint structure.
    """
    if not 0.0 < variance <= 1.0:
        raise InvalidInput(f"variance: expected a share in (0, 1], got {variance!r}")
    ref = as_reference(reference)
    if columns is None:
        names = ref.comparable
    else:
        names = [str(c) for c in columns if ref.columns[str(c)].kind != "datetime"]
    for name in names:
        if name not in current.columns:
            raise InvalidInput(f"column {name!r}: in the reference but missing from the current window")
    n_ref, n_cur = len(ref.sample), len(current)

    def empty(message: str) -> MultivariateDrift:
        return MultivariateDrift(
            error=None,
            threshold=None,
            reference_error=None,
            drifted=False,
            components=0,
            columns=tuple(names),
            n_reference=n_ref,
            n_current=n_cur,
            status="not_enough_data",
            message=message,
        )

    if len(names) < 2:
        return empty(f"multivariate drift needs at least 2 columns, {len(names)} given")
    if n_cur == 0:
        return empty("the current window is empty")
    if n_ref < 2 * _MIN_FIT_ROWS:
        return empty(f"the reference sample has {n_ref} rows; at least {2 * _MIN_FIT_ROWS} needed")

    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_ref)
    fit_rows, held_rows = perm[: n_ref // 2], perm[n_ref // 2 :]
    sample = ref.sample[names]
    fit_frame = sample.iloc[fit_rows]
    encoders = [_encoder(fit_frame[n], ref.columns[n].kind) for n in names]
    fit = _encode(fit_frame, names, encoders)
    mean, std = fit.mean(axis=0), fit.std(axis=0)
    varying = int(np.count_nonzero(std > 0))
    if varying < 2:
        constant = ", ".join(repr(n) for n, sd in zip(names, std, strict=True) if sd == 0)
        return empty(
            f"multivariate drift needs at least 2 columns that vary in the reference, {varying} do "
            f"(constant: {constant})"
        )
    std[std == 0] = 1.0
    fit = (fit - mean) / std
    _, s, vt = np.linalg.svd(fit, full_matrices=False)
    explained = np.cumsum(s**2) / max(float(np.sum(s**2)), 1e-300)
    k = min(int(np.searchsorted(explained, variance - 1e-12) + 1), varying - 1)
    basis = vt[:k].T

    def errors(frame: pd.DataFrame) -> NDArray[np.float64]:
        z = (_encode(frame, names, encoders) - mean) / std
        out: NDArray[np.float64] = np.linalg.norm(z - (z @ basis) @ basis.T, axis=1)
        return out

    held_err = errors(sample.iloc[held_rows])
    cur_err = errors(current[names])
    size = n_cur
    if held_err.size >= 10 * size:  # disjoint chunks of real reference rows
        n = min(n_chunks, held_err.size // size)
        chunks = held_err[rng.permutation(held_err.size)[: n * size]].reshape(n, size).mean(axis=1)
    else:  # too few held-out rows for disjoint chunks: chunks drawn with replacement
        chunks = np.array([held_err[rng.integers(0, held_err.size, size)].mean() for _ in range(n_chunks)])
    centre, spread = float(chunks.mean()), float(chunks.std(ddof=1)) if chunks.size > 1 else 0.0
    threshold, lower = centre + 3.0 * spread, max(centre - 3.0 * spread, 0.0)
    error = float(cur_err.mean())
    message = ""
    if error < lower:
        message = (
            f"mean reconstruction error {error:.4g} is below the lower threshold {lower:.4g}: the rows "
            "lie closer to the reference's main components than its own rows do (features that "
            "varied independently now move together)"
        )
    return MultivariateDrift(
        error=error,
        threshold=threshold,
        reference_error=centre,
        drifted=error > threshold or error < lower,
        components=k,
        columns=tuple(names),
        n_reference=n_ref,
        n_current=n_cur,
        message=message,
    )


def _encoder(fit: pd.Series[Any], kind: str) -> dict[Any, float] | float:
    """A category → frequency map, or the median that fills missing numbers."""
    if kind == "numeric" and column_kind(fit) == "numeric":
        values = fit.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = values[np.isfinite(values)]
        return float(np.median(finite)) if finite.size else 0.0
    freq = fit.astype(object).where(fit.notna(), _MISSING).value_counts(normalize=True)
    return {k: float(v) for k, v in freq.items()}


def _encode(
    frame: pd.DataFrame, names: list[str], encoders: list[dict[Any, float] | float]
) -> NDArray[np.float64]:
    out = np.empty((len(frame), len(names)))
    for j, (name, enc) in enumerate(zip(names, encoders, strict=True)):
        col = frame[name]
        if isinstance(enc, dict):
            keys = col.astype(object).where(col.notna(), _MISSING)
            out[:, j] = keys.map(enc).to_numpy(dtype=np.float64, na_value=0.0)
        else:
            try:
                values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"column {name!r}: numeric in the reference but not in the current window"
                ) from None
            out[:, j] = np.where(np.isfinite(values), values, enc)
    return out
