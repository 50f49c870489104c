"""P-values for the distances, from their no-drift distribution on held-out reference data.

A distance (PSI, KL, Jensen–Shannon, Hellinger, normed Wasserstein) has no textbook null
distribution, so the default mode builds one from the reference. The reference is split in two
at random: the *fit* half is the distance's reference side (its quantiles are the bins), the
*held-out* half is never compared with anything and only tells the shape of the data.

The observed figure is ``d(fit, current)``. Its no-drift distribution is that of ``d(A, B)`` for
two independent samples of the fit half's and the current window's sizes from the data's
distribution, which the held-out half stands in for:

- binned distances (and categories): ``A`` and ``B`` are multinomial draws of those sizes with the
  held-out half's shares over the fit half's bins (its categories), ``N_DRAWS`` pairs;
- Wasserstein: ``sqrt(1/n_fit + 1/n_cur) · ∫|B(F(x))| dx / std(fit)`` with ``B`` a Brownian
  bridge and ``F`` the held-out half's distribution function, the limit of the two-sample
  distance, simulated on at most ``_GRID`` of the held-out half's quantiles.

Both sides are redrawn in every pair, so the held-out half's own sampling noise is common to
them and cancels. Drawing only the current side (chunks of the current window's size from the
held-out half, compared with the fit half, as this module did first) froze that noise into every
chunk: once the window outgrew the held-out half, every chunk sat near ``d(fit, held-out)``, one
draw of a random figure, and 7–13% of windows with no drift were flagged at a nominal 5%.

The p-value is ``(1 + #{null >= observed}) / (N_DRAWS + 1)``, so it is never below about 0.001; it
joins the tests' p-values in the correction across columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from slipway.monitoring import _stats

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = ["N_DRAWS", "binned_distance", "categorical_pvalue", "numeric_pvalue"]

#: Draws from the no-drift distribution: the smallest p-value is 1 / (N_DRAWS + 1).
N_DRAWS = 1000
_BINS = 10
_GRID = 2048
_BATCH = 250  # draws at a time, which bounds the memory of a many-category column


def numeric_pvalue(
    method: str, ref: NDArray[np.float64], cur: NDArray[np.float64], *, rng: np.random.Generator
) -> tuple[float, float]:
    """``(d(fit half, current), p)`` for a numeric column; ``ref`` is the reference's values."""
    perm = rng.permutation(ref.size)
    fit, held = np.sort(ref[perm[: ref.size // 2]]), np.sort(ref[perm[ref.size // 2 :]])
    if method == "wasserstein":
        return _wasserstein_pvalue(fit, held, cur, rng)
    edges = _stats.quantile_edges(fit, _BINS)
    k = edges.size + 1

    def binned(v: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.bincount(np.searchsorted(edges, v, side="right"), minlength=k).astype(np.float64)

    return _binned_pvalue(method, binned(fit), binned(held), binned(cur), rng)


def categorical_pvalue(
    method: str, ref_counts: NDArray[np.float64], cur_counts: NDArray[np.float64], *, rng: np.random.Generator
) -> tuple[float, float]:
    """``(d(fit half, current), p)`` for category counts aligned on the same keys."""
    total = int(ref_counts.sum())
    fit = rng.multivariate_hypergeometric(ref_counts.astype(np.int64), total // 2).astype(np.float64)
    return _binned_pvalue(method, fit, ref_counts - fit, cur_counts, rng)


def binned_distance(
    method: str, ref: NDArray[np.float64], cur: NDArray[np.float64]
) -> NDArray[np.float64] | float:
    """A histogram distance of two count vectors (or stacks of them, on the last axis)."""
    if method == "jensenshannon":
        return _stats.jensenshannon(ref, cur)
    if method == "hellinger":
        return _stats.hellinger(ref, cur)
    # PSI and KL are infinite on an empty bin: half a count in every bin (Jeffreys' prior).
    r = (ref + 0.5) / (ref.sum(axis=-1, keepdims=True) + 0.5 * ref.shape[-1])
    c = (cur + 0.5) / (cur.sum(axis=-1, keepdims=True) + 0.5 * cur.shape[-1])
    return _stats.psi(r, c) if method == "psi" else _stats.kl_divergence(r, c)


def _binned_pvalue(
    method: str,
    fit: NDArray[np.float64],
    held: NDArray[np.float64],
    cur: NDArray[np.float64],
    rng: np.random.Generator,
) -> tuple[float, float]:
    observed = float(binned_distance(method, fit, cur))
    shares = held / held.sum()
    n_fit, n_cur = int(fit.sum()), int(cur.sum())
    null = np.empty(N_DRAWS)
    for start in range(0, N_DRAWS, _BATCH):
        size = min(_BATCH, N_DRAWS - start)
        a = rng.multinomial(n_fit, shares, size=size).astype(np.float64)
        b = rng.multinomial(n_cur, shares, size=size).astype(np.float64)
        null[start : start + size] = binned_distance(method, a, b)
    return observed, _pvalue(observed, null)


def _wasserstein_pvalue(
    fit: NDArray[np.float64], held: NDArray[np.float64], cur: NDArray[np.float64], rng: np.random.Generator
) -> tuple[float, float]:
    norm = max(float(np.std(fit)), 0.001)
    observed = _stats.wasserstein_norm(fit, cur)
    # The held-out distribution function at (at most _GRID of) its distinct values.
    values = np.unique(held)
    if values.size > _GRID:
        values = np.unique(np.quantile(held, np.linspace(0.0, 1.0, _GRID), method="inverted_cdf"))
    u = np.searchsorted(held, values, side="right") / held.size
    dx = np.diff(values)
    du = np.diff(u, prepend=0.0)
    scale = np.sqrt(1.0 / fit.size + 1.0 / cur.size) / norm
    null = np.empty(N_DRAWS)
    for start in range(0, N_DRAWS, _BATCH):
        size = min(_BATCH, N_DRAWS - start)
        walk = np.cumsum(rng.standard_normal((size, u.size)) * np.sqrt(du), axis=1)
        bridge = walk - u * walk[:, -1:]  # u ends at 1, where the bridge is 0
        null[start : start + size] = np.abs(bridge[:, :-1]) @ dx * scale
    return observed, _pvalue(observed, null)


def _pvalue(observed: float, null: NDArray[np.float64]) -> float:
    """The share of no-drift draws at least as large, counting the observed one (never 0)."""
    tol = 1e-12 * max(abs(observed), 1.0)  # a draw equal to the observed up to rounding counts
    return float((1 + np.count_nonzero(null >= observed - tol)) / (null.size + 1))
