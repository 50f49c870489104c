"""PCA reconstruction drift: a correlation change no single column shows, thresholds from held-out rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.monitoring._drift import dataset_drift
from slipway.monitoring._multivariate import multivariate_drift


def correlated(n: int, r: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    y = r * x + np.sqrt(1 - r * r) * rng.normal(size=n)
    frame: pd.DataFrame = pd.DataFrame(
        {"x": x, "y": y, "z": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n)}
    )
    return frame


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return correlated(20_000, 0.9, seed=1)


def test_a_flipped_correlation_is_caught_while_no_column_drifts(reference):
    current = correlated(2_000, -0.9, seed=2)
    result = dataset_drift(reference, current, multivariate=True)
    assert not any(c.drifted for c in result.columns)
    mv = result.multivariate
    assert mv is not None
    assert mv.drifted
    assert mv.error is not None
    assert mv.threshold is not None
    assert mv.error > mv.threshold
    assert result.drifted
    assert result.to_dict()["multivariate"]["components"] == mv.components


def test_no_drift_stays_under_the_held_out_threshold(reference):
    alarms = [
        multivariate_drift(reference, correlated(1_000, 0.9, seed=s), seed=s).drifted for s in range(10, 30)
    ]
    assert sum(alarms) <= 1


def test_big_reference_uses_disjoint_chunks_of_the_window_size():
    ref = correlated(30_000, 0.5, seed=3)
    result = multivariate_drift(ref, correlated(500, 0.5, seed=4))
    assert result.status == "ok"
    assert result.reference_error is not None
    assert result.threshold is not None
    assert result.reference_error < result.threshold


def test_not_enough_data_and_bad_input(reference):
    assert multivariate_drift(reference, reference.head(0)).status == "not_enough_data"
    assert multivariate_drift(reference.head(10), reference.head(10)).status == "not_enough_data"
    one = multivariate_drift(reference, reference.head(100), columns=["x"])
    assert one.status == "not_enough_data"
    assert "2 columns" in one.message
    with pytest.raises(InvalidInput, match="'y'"):
        multivariate_drift(reference, reference[["x", "z", "c"]])
    with pytest.raises(InvalidInput, match="variance"):
        multivariate_drift(reference, reference, variance=0)


@pytest.mark.parametrize("seed", range(6))
def test_two_independent_features_that_start_moving_together_are_caught(seed):
    """With 2 columns a PCA keeping every component reconstructs any row; one fewer is kept."""
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"x": rng.normal(size=5_000), "y": rng.normal(size=5_000)})
    x = rng.normal(size=1_000)
    result = multivariate_drift(ref, pd.DataFrame({"x": x, "y": x}), seed=seed)
    assert result.status == "ok"
    assert result.components == 1
    assert result.drifted
    calm = multivariate_drift(
        ref, pd.DataFrame({"x": rng.normal(size=1_000), "y": rng.normal(size=1_000)}), seed=seed
    )
    assert not calm.drifted


def test_fewer_than_two_varying_columns_is_not_enough_data(reference):
    constant = reference[["x"]].assign(k=1.0)
    result = multivariate_drift(constant, constant.head(100))
    assert result.status == "not_enough_data"
    assert "'k'" in result.message
    assert result.error is None
