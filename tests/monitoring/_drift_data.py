"""Seeded synthetic windows shared by the drift tests and the Evidently golden file."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

CATEGORIES = ["a", "b", "c", "d", "e"]
SHARES = [0.4, 0.2, 0.2, 0.1, 0.1]


def mixed_frame(
    n: int, *, seed: int, n_numeric: int = 4, n_categorical: int = 2, **shift: Any
) -> pd.DataFrame:
    """Numeric columns x0.. ~ N(mean_shift, 1), categorical c0.. over five categories.

    ``mean_shift`` moves every numeric mean; ``cat_a_share`` sets category "a"'s share (the rest
    keep their proportions).
    """
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i in range(n_numeric):
        data[f"x{i}"] = rng.normal(shift.get("mean_shift", 0.0), 1.0, n)
    shares = np.array(SHARES)
    if "cat_a_share" in shift:
        rest = shares[1:] / shares[1:].sum() * (1 - shift["cat_a_share"])
        shares = np.concatenate([[shift["cat_a_share"]], rest])
    for j in range(n_categorical):
        data[f"c{j}"] = rng.choice(CATEGORIES, n, p=shares)
    return pd.DataFrame(data)  # type: ignore[no-any-return]


def golden_case(params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One case of tests/monitoring/data/evidently_golden.json: (reference, current)."""
    frames = []
    for side in ("reference", "current"):
        p = params[side]
        rng = np.random.default_rng(p["seed"])
        n = p["n"]
        data: dict[str, Any] = {
            "num": rng.normal(p["mean"], 1.0, n),
            "num_few": rng.choice([0.0, 1.0, 2.5, 4.0], n, p=p["few_p"]),
            "num_three": rng.choice([1.5, 2.5, 3.5], n),
            "num_binary": rng.choice([0.5, 1.5], n, p=[p["binary_p"], 1 - p["binary_p"]]),
            "int_few": rng.integers(0, 4, n),
            "cat": rng.choice(CATEGORIES, n, p=p["cat_p"]),
            "cat_binary": rng.choice(["yes", "no"], n, p=[p["binary_p"], 1 - p["binary_p"]]),
            "flag": rng.random(n) < p["binary_p"],
        }
        frame = pd.DataFrame(data)
        frame.loc[rng.random(n) < 0.02, "num"] = np.nan  # missing values are dropped, as Evidently does
        frames.append(frame)
    return frames[0], frames[1]
