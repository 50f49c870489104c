"""Every statistic against SciPy (or its documented formula) to 1e-9."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial import distance

from slipway.monitoring import _stats

TOL = 1e-9


@pytest.fixture
def samples() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return rng.normal(size=800), rng.normal(0.1, 1.1, size=600)


@pytest.mark.parametrize("sizes", [(30, 40), (800, 600), (12_000, 15_000)])
def test_ks_matches_scipy(sizes):
    rng = np.random.default_rng(sizes[0])
    a, b = rng.normal(size=sizes[0]), rng.normal(0.05, 1, size=sizes[1])
    d, p = _stats.ks_2samp(a, b)
    ref = stats.ks_2samp(a, b)
    assert d == pytest.approx(ref.statistic, abs=TOL)
    assert p == pytest.approx(ref.pvalue, abs=TOL)


def test_anderson_and_cvm_match_scipy(samples):
    a, b = samples
    stat, p = _stats.anderson_ksamp(a, b)
    with warnings.catch_warnings():  # SciPy warns when it clips p; the wrapper drops that warning
        warnings.simplefilter("ignore", UserWarning)
        ref = stats.anderson_ksamp([a, b + 1], variant="midrank")
        ref0 = stats.anderson_ksamp([a, b], variant="midrank")
    assert _stats.anderson_ksamp(a, b + 1)[1] == pytest.approx(ref.pvalue, abs=TOL)
    assert (stat, p) == pytest.approx((ref0.statistic, ref0.pvalue), abs=TOL)
    t, p = _stats.cramervonmises_2samp(a, b)
    cvm = stats.cramervonmises_2samp(a, b)
    assert (t, p) == pytest.approx((cvm.statistic, cvm.pvalue), abs=TOL)


@pytest.mark.parametrize(
    ("ref", "cur"), [([50, 30, 20], [45, 40, 15]), ([60, 40], [48, 52]), ([5, 1, 9, 30], [7, 2, 3, 20])]
)
def test_chi2_contingency_matches_scipy_without_yates(ref, cur):
    chi2, p, dof = _stats.chi2_contingency(ref, cur)
    res = stats.chi2_contingency(np.array([ref, cur]), correction=False)
    assert (chi2, p, dof) == pytest.approx((res.statistic, res.pvalue, res.dof), abs=TOL)
    n = sum(ref) + sum(cur)
    assert _stats.cramers_v(chi2, n, len(ref)) == pytest.approx(math.sqrt(chi2 / n), abs=TOL)


def test_two_by_two_chi2_is_the_squared_z_statistic():
    ref = ["a"] * 60 + ["b"] * 40
    cur = ["a"] * 48 + ["b"] * 52
    z, p_z = _stats.z_proportions(ref, cur)
    chi2, p, _ = _stats.chi2_contingency([60, 40], [48, 52])
    assert z**2 == pytest.approx(chi2, abs=TOL)
    assert p_z == pytest.approx(p, abs=TOL)


def test_z_test_follows_evidently_formula():
    ref = [1, 0, 0, 1, 1, 1, 0, 1]
    cur = [0, 0, 0, 1, 0, 1, 0]
    n1, n2 = len(ref), len(cur)
    p1, p2 = sum(ref) / n1, sum(cur) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert _stats.z_proportions(ref, cur) == pytest.approx((z, 2 * (1 - stats.norm.cdf(abs(z)))), abs=TOL)
    assert _stats.z_proportions(["x"] * 3, ["x"] * 5) == (0.0, 1.0)


def test_chi2_gof_is_scipy_chisquare_on_scaled_reference():
    ref, cur = np.array([50, 30, 20]), np.array([45, 40, 15])
    stat, p = _stats.chi2_gof(ref, cur)
    res = stats.chisquare(cur, ref * cur.sum() / ref.sum())
    assert (stat, p) == pytest.approx((res.statistic, res.pvalue), abs=TOL)
    assert _stats.chi2_gof([10, 0], [5, 5]) == (math.inf, 0.0)


def test_fisher_matches_scipy():
    odds, p = _stats.fisher_exact([8, 2], [1, 5])
    res = stats.fisher_exact([[1, 5], [8, 2]])
    assert (odds, p) == pytest.approx((res.statistic, res.pvalue), abs=TOL)
    with pytest.raises(ValueError):
        _stats.fisher_exact([1, 2, 3], [1, 2, 3])


def test_wasserstein_norm_is_evidently_formula(samples):
    a, b = samples
    expected = stats.wasserstein_distance(a, b) / max(np.std(a), 0.001)
    assert _stats.wasserstein_norm(a, b) == pytest.approx(expected, abs=TOL)
    assert _stats.wasserstein_norm([1.0, 1.0], [1.0, 2.0]) == pytest.approx(0.5 / 0.001, abs=TOL)


def test_histogram_distances_match_scipy_and_formulas():
    p = np.array([0.2, 0.3, 0.1, 0.4])
    q = np.array([0.25, 0.25, 0.2, 0.3])
    assert _stats.jensenshannon(p, q) == pytest.approx(distance.jensenshannon(p, q), abs=TOL)
    assert _stats.jensenshannon(p, q, base=2) == pytest.approx(distance.jensenshannon(p, q, 2), abs=TOL)
    assert _stats.jensenshannon([1, 0], [0, 1]) == pytest.approx(
        distance.jensenshannon([1, 0], [0, 1]), abs=TOL
    )
    assert _stats.kl_divergence(p * 3, q) == pytest.approx(stats.entropy(p * 3, q), abs=TOL)
    assert _stats.psi(p, q) == pytest.approx(float(np.sum((p - q) * np.log(p / q))), abs=TOL)
    h = math.sqrt(1 - np.sum(np.sqrt(p * q)))
    assert _stats.hellinger(p, q) == pytest.approx(h, abs=TOL)
    assert _stats.hellinger(p, q) == pytest.approx(
        np.linalg.norm(np.sqrt(p) - np.sqrt(q)) / math.sqrt(2), abs=TOL
    )
    stacked = np.vstack([q, p])
    assert np.allclose(_stats.jensenshannon(p, stacked), [distance.jensenshannon(p, q), 0.0], atol=TOL)


def test_evidently_binning_and_fill():
    rng = np.random.default_rng(3)
    ref, cur = pd.Series(rng.normal(size=500)), pd.Series(rng.normal(size=300))
    r, c = _stats.evidently_binned(ref, cur, numeric=True, fill_zeroes=False)
    bins = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    assert np.allclose(r, np.histogram(ref, bins)[0] / 500, atol=TOL)
    assert np.allclose(c, np.histogram(cur, bins)[0] / 300, atol=TOL)
    r, c = _stats.evidently_binned(pd.Series(["a"] * 9 + ["b"]), pd.Series(["a", "c"]), numeric=False)
    assert sorted(r.tolist()) == pytest.approx([0.0001, 0.1, 0.9])
    assert sorted(c.tolist()) == pytest.approx([0.0001, 0.5, 0.5])


def test_quantile_edges_split_the_reference_evenly():
    ref = np.arange(1000.0)
    edges = _stats.quantile_edges(ref, 10)
    counts = np.bincount(np.searchsorted(edges, ref, side="right"))
    assert counts.tolist() == [100] * 10
    assert _stats.quantile_edges([], 10).size == 0
