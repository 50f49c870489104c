"""Helpers for the model tests: user code written to a folder and imported, as a user's would be."""

from __future__ import annotations

import importlib
import sys
import textwrap
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

_PYFUNC_SOURCE = textwrap.dedent(
    """
    import numpy as np


    class ChurnRules:
        '''Scores churn risk from two columns; a stand-in for any custom model.'''

        def __init__(self, threshold):
            self.threshold = threshold

        def predict(self, df):
            score = df["tickets"].to_numpy() * 0.1 + (df["tenure"].to_numpy() < 12) * 0.5
            return (score > self.threshold).astype("int64")

        def predict_proba(self, df):
            p = np.clip(df["tickets"].to_numpy() * 0.1, 0, 1)
            return np.column_stack([1 - p, p])
    """
)


def write_module(folder: Path, name: str, source: str = _PYFUNC_SOURCE) -> Any:
    """Write ``name.py`` into ``folder`` and import it (as user code would be)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(source)
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))


BROKEN_SOURCE = textwrap.dedent(
    """
    class Broken:
        def predict(self, df):
            raise ValueError("no")
    """
)
