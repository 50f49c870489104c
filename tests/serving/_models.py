"""Models the serving tests serve: real scikit-learn models and small pyfunc models with code."""

from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING

import pandas as pd

from slipway.models import save_model

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris() -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return pd.DataFrame(X, columns=FEATURES), y


def save_iris_frame(path: Path) -> Path:
    """LogisticRegression fitted on a DataFrame: a column signature (four float64 columns)."""
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    save_model(LogisticRegression(max_iter=500).fit(X, y), path, input_example=X.iloc[:3])
    return path


def save_iris_array(path: Path) -> Path:
    """LogisticRegression fitted on an ndarray: one float64 tensor of shape (-1, 4)."""
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    save_model(LogisticRegression(max_iter=500).fit(X.to_numpy(), y), path, input_example=X.to_numpy()[:3])
    return path


def save_pyfunc(path: Path, module: str, body: str) -> Path:
    """A pyfunc model: class ``Model`` in ``module`` (its code saved with it), one float64 column x.

    ``body`` is the class body; it sees ``np`` and ``time``.
    """
    indented = textwrap.indent(textwrap.dedent(body), "    ")
    return save_module(path, module, f"import time\n\nimport numpy as np\n\n\nclass Model:\n{indented}\n")


def save_module(path: Path, module: str, source: str) -> Path:
    """A pyfunc model whose module is ``source`` (class ``Model``), its code saved with it."""
    code = path.parent / f"{path.name}-src"
    code.mkdir(parents=True)
    (code / f"{module}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(code))
    try:
        mod = __import__(module)
        save_model(
            mod.Model(),
            path,
            code_paths=[code / f"{module}.py"],
            input_example=pd.DataFrame({"x": [1.0, 2.0]}),
        )
    finally:
        sys.path.remove(str(code))
        sys.modules.pop(module, None)
    return path


def v2_body(
    rows: list[list[float]], *, columns: list[str] | None = None, **extra: object
) -> dict[str, object]:
    """An OIP v2 request: one FP64 input per column, or one 2-D tensor ``input-0``."""
    if columns is None:
        inputs = [
            {
                "name": "input-0",
                "shape": [len(rows), len(rows[0])],
                "datatype": "FP64",
                "data": [v for r in rows for v in r],
            }
        ]
    else:
        inputs = [
            {"name": c, "shape": [len(rows)], "datatype": "FP64", "data": [r[j] for r in rows]}
            for j, c in enumerate(columns)
        ]
    return {"inputs": inputs, **extra}
