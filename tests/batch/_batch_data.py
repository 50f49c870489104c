"""The data the batch tests score: three features of the types a signature checks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    """Three features of the types a signature checks: int64, float64 and int64."""
    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {
        "age": rng.integers(18, 90, rows).astype("int64"),
        "income": rng.normal(50_000, 15_000, rows),
        "tickets": rng.integers(0, 10, rows).astype("int64"),
    }
    frame: pd.DataFrame = pd.DataFrame(columns)
    return frame
