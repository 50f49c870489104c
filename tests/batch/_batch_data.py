"""The data the batch tests score: three features of the types a signature checks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pathlib import Path


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


def write_csv(path: Path, frame: pd.DataFrame, *, extra: dict[int, str]) -> None:
    """``frame`` as CSV with ``extra`` fields appended to the lines of some rows (malformed lines)."""
    lines = frame.to_csv(index=False).splitlines()
    for row, fields in extra.items():
        lines[1 + row] += fields
    path.write_text("\n".join(lines) + "\n")


def recorded(output: Path) -> int:
    """The chunks the job writing ``output`` has recorded as finished in its progress file."""
    doc = json.loads(output.with_name(f"{output.name}.progress.json").read_text())
    chunks: int = doc["chunks"]
    return chunks
