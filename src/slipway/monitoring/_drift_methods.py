"""One column's drift figure, per method and mode: which test, which bins, which threshold.

``_drift.py`` prepares each column once (sorted numeric values, or aligned category counts) and
hands it here; this module turns it into a :class:`Verdict` (statistic, p-value, effect size,
threshold). Multiple-testing correction happens afterwards, over all columns.

Two modes:

- ``default``: numeric columns get the two-sample Kolmogorov–Smirnov test, categorical ones the
  two-sample chi-square on the 2×k table (rare categories pooled so that every expected count is at
  least 5; a 2×2 table that still has a small expected count gets Fisher's exact test). A distance
  chosen per column (``psi``, ``kl``, ``jensenshannon``, ``hellinger``, ``wasserstein``) gets a
  p-value from its no-drift distribution on held-out reference data (``_calibration.py``), and is
  then corrected across columns like the tests' p-values.
- ``evidently``: Evidently's default rules and implementations, from
  evidently/legacy/calculations/stattests/registry.py (``_get_default_stattest``) and the
  stattests/*.py it names; see :func:`evidently_method`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from slipway.monitoring import _calibration, _stats

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "DISTANCES",
    "EVIDENTLY_THRESHOLDS",
    "METHODS",
    "NUMERIC_ONLY",
    "TESTS",
    "Prepared",
    "Verdict",
    "default_method",
    "evidently_method",
    "run_default",
    "run_evidently",
]

Kind = Literal["numeric", "categorical"]

#: Methods that give a p-value (corrected for many columns in the default mode).
TESTS = frozenset({"ks", "chi2", "chi2_gof", "z", "anderson", "cramervonmises", "fisher"})
#: Methods that give a distance, held to a threshold.
DISTANCES = frozenset({"wasserstein", "jensenshannon", "psi", "kl", "hellinger"})
METHODS = TESTS | DISTANCES
NUMERIC_ONLY = frozenset({"ks", "anderson", "cramervonmises", "wasserstein"})
CATEGORICAL_ONLY = frozenset({"chi2", "chi2_gof", "z", "fisher"})

#: Evidently's default threshold per method and whether a value equal to it counts as drift
#: (each stattests/*.py compares with its own operator: KS and CvM ``p <= t``, the others ``p < t``,
#: distances ``d >= t``).
EVIDENTLY_THRESHOLDS: dict[str, tuple[float, bool]] = {
    "ks": (0.05, True),
    "chi2_gof": (0.05, False),
    "chi2": (0.05, False),
    "z": (0.05, False),
    "anderson": (0.1, False),
    "cramervonmises": (0.1, True),
    "fisher": (0.1, False),
    "wasserstein": (0.1, True),
    "jensenshannon": (0.1, True),
    "psi": (0.1, True),
    "kl": (0.1, True),
    "hellinger": (0.1, True),
}

_MIN_EXPECTED = 5.0
_MIN_CALIBRATION_VALUES = 40
#: A numeric column with at most this many distinct reference values is tested as categories in
#: the default mode: KS on heavily tied values is conservative to the point of losing most power.
FEW_DISTINCT = 10


@dataclass(slots=True)
class Prepared:
    """A column's data, read once: sorted finite values (numeric) or aligned counts (categorical).

    ``keys`` is the union of categories, reference first; ``ref_counts`` is exact over all
    reference rows when the summary kept the counts.
    """

    name: str
    kind: Kind
    n_ref: int
    n_cur: int
    ref_values: NDArray[np.float64] | None = None
    cur_values: NDArray[np.float64] | None = None
    keys: list[object] | None = None
    ref_counts: NDArray[np.float64] | None = None
    cur_counts: NDArray[np.float64] | None = None


@dataclass(slots=True, kw_only=True)
class Verdict:
    """What a method says about one column, before any correction across columns."""

    method: str
    statistic: float | None
    threshold: float
    drifted: bool = False
    p_value: float | None = None
    effect_size: float | None = None
    effect_measure: str = ""
    score: float | None = None
    message: str = ""


# ----------------------------------------------------------------------------- default mode


def default_method(col: Prepared) -> str:
    return "ks" if col.kind == "numeric" else "chi2"


def run_default(col: Prepared, method: str, *, alpha: float, rng: np.random.Generator) -> Verdict:
    """The default mode's verdict; tests leave ``drifted`` to the correction across columns."""
    if method in DISTANCES:
        return _calibrated_distance(col, method, alpha=alpha, rng=rng)
    if col.kind == "numeric":
        ref, cur = _values(col)
        if method == "ks":
            d, p = _stats.ks_2samp(ref, cur, reference_sorted=True)
            return Verdict(
                method="ks", statistic=d, threshold=alpha, p_value=p, effect_size=d, effect_measure="ks_d"
            )
        if method == "anderson":
            stat, p = _stats.anderson_ksamp(ref, cur)
        else:
            stat, p = _stats.cramervonmises_2samp(ref, cur)
        d, _ = _ks_d(ref, cur)
        return Verdict(
            method=method, statistic=stat, threshold=alpha, p_value=p, effect_size=d, effect_measure="ks_d"
        )
    ref_c, cur_c = _counts(col)
    if method == "chi2_gof":
        stat, p = _stats.chi2_gof(ref_c, cur_c)
        v = _contingency_v(ref_c, cur_c)
        return Verdict(
            method=method,
            statistic=stat,
            threshold=alpha,
            p_value=p,
            effect_size=v,
            effect_measure="cramers_v",
        )
    if method == "z":
        z, p = _stats.z_proportions_counts(ref_c, cur_c, first=_first_key(col))
        return Verdict(
            method="z",
            statistic=z,
            threshold=alpha,
            p_value=p,
            effect_size=_share_diff(ref_c, cur_c),
            effect_measure="share_diff",
        )
    if method == "fisher":
        if len(ref_c) != 2:
            return Verdict(
                method="fisher",
                statistic=None,
                threshold=alpha,
                message=f"fisher needs 2 categories, {col.name!r} has {len(ref_c)}",
            )
        odds, p = _stats.fisher_exact(ref_c, cur_c)
        return Verdict(
            method="fisher",
            statistic=odds,
            threshold=alpha,
            p_value=p,
            effect_size=_contingency_v(ref_c, cur_c),
            effect_measure="cramers_v",
        )
    return _two_sample_chi2(col, ref_c, cur_c, alpha)


def _two_sample_chi2(
    col: Prepared, ref_c: NDArray[np.float64], cur_c: NDArray[np.float64], alpha: float
) -> Verdict:
    """Pearson's chi-square on the 2×k table, rare categories pooled first (Cochran's rule)."""
    ref_p, cur_p = _pool_rare(ref_c, cur_c)
    if len(ref_p) < 2:  # one value on both sides: nothing can have changed
        return Verdict(
            method="chi2",
            statistic=0.0,
            threshold=alpha,
            p_value=1.0,
            effect_size=0.0,
            effect_measure="cramers_v",
        )
    n = ref_p.sum() + cur_p.sum()
    expected_min = min(ref_p.sum(), cur_p.sum()) * (ref_p + cur_p).min() / n
    chi2, p, _ = _stats.chi2_contingency(ref_p, cur_p)
    v = _stats.cramers_v(chi2, n, len(ref_p))
    if len(ref_p) == 2 and expected_min < _MIN_EXPECTED:
        odds, p = _stats.fisher_exact(ref_p, cur_p)  # its statistic, as when Fisher is chosen
        return Verdict(
            method="fisher",
            statistic=odds,
            threshold=alpha,
            p_value=p,
            effect_size=v,
            effect_measure="cramers_v",
        )
    return Verdict(
        method="chi2", statistic=chi2, threshold=alpha, p_value=p, effect_size=v, effect_measure="cramers_v"
    )


def _pool_rare(
    ref_c: NDArray[np.float64], cur_c: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Merge the categories whose smallest expected count is below 5 into one "other" category.

    The chi-square approximation needs expected counts of about 5; below that, a few rare values
    give p-values that are too small. If the pooled category is itself still too small, it absorbs
    the next-rarest category until it is not (or one category is left).
    """
    nz = (ref_c + cur_c) > 0
    ref_c, cur_c = ref_c[nz], cur_c[nz]
    scale = min(ref_c.sum(), cur_c.sum()) / (ref_c.sum() + cur_c.sum())
    total = ref_c + cur_c
    order = np.argsort(total, kind="stable")
    small = total[order] * scale < _MIN_EXPECTED
    n_small = int(small.sum())
    if n_small == 0 or len(order) <= 2:  # a 2×2 table is left to Fisher's exact test
        return ref_c, cur_c
    while n_small < len(order) and total[order[:n_small]].sum() * scale < _MIN_EXPECTED:
        n_small += 1
    # A single rare category has nothing to pool with but the next one; keep 2 categories at least.
    n_small = min(max(n_small, 2), len(order) - 1)
    pooled, kept = order[:n_small], order[n_small:]
    ref_out = np.append(ref_c[kept], ref_c[pooled].sum())
    cur_out = np.append(cur_c[kept], cur_c[pooled].sum())
    return ref_out, cur_out


# ----------------------------------------------------------------------------- calibrated distances


def _calibrated_distance(col: Prepared, method: str, *, alpha: float, rng: np.random.Generator) -> Verdict:
    """The distance from half the reference, with its p-value from held-out reference data."""
    measure = "wasserstein_norm" if method == "wasserstein" else method
    if col.n_ref < _MIN_CALIBRATION_VALUES:
        return Verdict(
            method=method,
            statistic=None,
            threshold=math.nan,
            message=(
                f"column {col.name!r}: calibrating a {method} threshold needs at least "
                f"{_MIN_CALIBRATION_VALUES} reference values, the reference has {col.n_ref}"
            ),
        )
    if col.kind == "numeric":
        observed, p = _calibration.numeric_pvalue(method, *_values(col), rng=rng)
    else:
        observed, p = _calibration.categorical_pvalue(method, *_counts(col), rng=rng)
    return Verdict(
        method=method,
        statistic=observed,
        threshold=alpha,
        p_value=p,
        effect_size=observed,
        effect_measure=measure,
    )


# ----------------------------------------------------------------------------- evidently mode


def evidently_method(col: Prepared) -> str:
    """Evidently's ``_get_default_stattest`` (evidently/legacy/calculations/stattests/registry.py).

    ``n_values`` is the number of distinct values of both samples together (missing and infinite
    values dropped first, as its data_drift.py does), ``n_ref`` the reference's non-missing rows:
    up to 1000 reference rows, numeric columns get KS (or, with at most 5 values, chi-square when
    more than 2 values, else the z-test) and categorical ones chi-square (z-test when binary); above
    1000 rows, numeric columns get the normed Wasserstein distance (Jensen–Shannon with at most 5
    values) and categorical ones Jensen–Shannon.
    """
    n_values = _n_values(col)
    if col.n_ref <= 1000:
        if col.kind == "numeric" and n_values > 5:
            return "ks"
        return "chi2_gof" if n_values > 2 else "z"
    if col.kind == "numeric" and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


def run_evidently(col: Prepared, method: str) -> Verdict:
    """Evidently's implementation of ``method`` with its default threshold and comparison."""
    threshold, inclusive = EVIDENTLY_THRESHOLDS[method]
    p: float | None = None
    effect: float | None = None
    measure = ""
    if col.kind == "numeric":
        ref, cur = _values(col)
        if method in {"jensenshannon", "psi", "kl", "hellinger"}:
            stat = _evidently_numeric_distance(method, ref, cur)
            effect, measure = stat, method
        elif method == "wasserstein":
            stat = _stats.wasserstein_norm(ref, cur)
            effect, measure = stat, "wasserstein_norm"
        else:
            fn = {
                "ks": _ks_d,
                "anderson": _stats.anderson_ksamp,
                "cramervonmises": _stats.cramervonmises_2samp,
            }
            stat, p = fn[method](ref, cur)
            effect, measure = _ks_d(ref, cur)[0], "ks_d"
    else:
        ref_c, cur_c = _counts(col)
        effect, measure = _contingency_v(ref_c, cur_c), "cramers_v"
        if method == "chi2_gof":
            stat, p = _stats.chi2_gof(ref_c, cur_c)
        elif method == "chi2":
            stat, p, _ = _stats.chi2_contingency(ref_c, cur_c)
        elif method == "z":
            stat, p = _stats.z_proportions_counts(ref_c, cur_c, first=_first_key(col))
            effect, measure = _share_diff(ref_c, cur_c), "share_diff"
        elif method == "fisher":
            if len(ref_c) != 2:
                return Verdict(
                    method=method,
                    statistic=None,
                    threshold=threshold,
                    message=f"fisher needs 2 categories, {col.name!r} has {len(ref_c)}",
                )
            stat, p = _stats.fisher_exact(ref_c, cur_c)
        else:
            stat = _evidently_distance(method, ref_c / ref_c.sum(), cur_c / cur_c.sum())
            effect, measure = stat, method
    value = p if p is not None else stat
    drifted = (
        (value <= threshold if inclusive else value < threshold)
        if p is not None
        else (stat >= threshold if inclusive else stat > threshold)
    )
    score = (1.0 - p) if p is not None else stat
    return Verdict(
        method=method, statistic=stat, threshold=threshold, drifted=bool(drifted), p_value=p,
        effect_size=effect, effect_measure=measure, score=score,
    )  # fmt: skip


def _evidently_numeric_distance(method: str, ref: NDArray[np.float64], cur: NDArray[np.float64]) -> float:
    """Evidently's binning of a numeric column (stattests/utils.py, hellinger_distance.py).

    More than 20 distinct reference values: Sturges bins over both samples (Hellinger: over their
    distinct values, densities times the mean bin width); otherwise one bin per value.
    """
    if method == "hellinger":
        bins = np.histogram_bin_edges(np.union1d(ref, cur), bins="sturges")
        h1 = np.histogram(ref, bins=bins, density=True)[0]
        h2 = np.histogram(cur, bins=bins, density=True)[0]
        width = (bins.max() - bins.min()) / (len(bins) - 1)
        return math.sqrt(1 - float(np.clip(np.sum(np.sqrt(h1 * h2) * width), 0, 1)))
    if np.unique(ref).size > 20:
        bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
        ref_pct = np.histogram(ref, bins)[0] / ref.size
        cur_pct = np.histogram(cur, bins)[0] / cur.size
    else:
        keys = np.union1d(ref, cur)
        ref_pct = np.bincount(np.searchsorted(keys, ref), minlength=keys.size) / ref.size
        cur_pct = np.bincount(np.searchsorted(keys, cur), minlength=keys.size) / cur.size
    return _evidently_distance(method, ref_pct.astype(np.float64), cur_pct.astype(np.float64))


def _evidently_distance(method: str, ref_pct: NDArray[np.float64], cur_pct: NDArray[np.float64]) -> float:
    """JS, PSI, KL or Hellinger on per-value shares, with Evidently's zero filling where it fills."""
    if method == "jensenshannon":
        return float(_stats.jensenshannon(ref_pct, cur_pct))
    if method == "hellinger":
        return float(_stats.hellinger(ref_pct, cur_pct))
    r, c = _stats.evidently_fill(ref_pct), _stats.evidently_fill(cur_pct)
    return float(_stats.psi(r, c) if method == "psi" else _stats.kl_divergence(r, c))


# ----------------------------------------------------------------------------- helpers


def _values(col: Prepared) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    assert col.ref_values is not None
    assert col.cur_values is not None
    return col.ref_values, col.cur_values


def _counts(col: Prepared) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    assert col.ref_counts is not None
    assert col.cur_counts is not None
    return col.ref_counts, col.cur_counts


def _n_values(col: Prepared) -> int:
    if col.kind == "categorical":
        return len(col.keys or ())
    ref, cur = _values(col)
    n_ref_unique = int(np.count_nonzero(np.diff(ref))) + 1 if ref.size else 0
    if n_ref_unique > 5:
        return n_ref_unique
    return int(np.union1d(ref, cur).size)


def _first_key(col: Prepared) -> int:
    """Index of the smallest key (Evidently's z-test compares against it)."""
    keys = list(col.keys or ())
    try:
        first = min(keys)  # type: ignore[type-var]
    except TypeError:  # values of several types: the smallest by text
        first = min(keys, key=str)
    return keys.index(first)


def _ks_d(ref: NDArray[np.float64], cur: NDArray[np.float64]) -> tuple[float, float]:
    return _stats.ks_2samp(ref, cur, reference_sorted=True)


def _contingency_v(ref_c: NDArray[np.float64], cur_c: NDArray[np.float64]) -> float:
    nz = (ref_c + cur_c) > 0
    if nz.sum() < 2:
        return 0.0
    chi2, _, _ = _stats.chi2_contingency(ref_c[nz], cur_c[nz])
    return _stats.cramers_v(chi2, float(ref_c.sum() + cur_c.sum()), int(nz.sum()))


def _share_diff(ref_c: NDArray[np.float64], cur_c: NDArray[np.float64]) -> float:
    """Largest absolute change in a category's share (for a binary column, the change of either)."""
    return float(np.max(np.abs(ref_c / ref_c.sum() - cur_c / cur_c.sum())))
