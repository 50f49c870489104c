"""Small real models on scikit-learn's bundled data, saved once as model folders for the gate tests.

Classification: breast cancer (target ``churned``); regression: diabetes (target ``progression``).
Each holdout frame also has a ``name`` (text the models never see) and a ``region`` (slices), and a
tiny region ``tiny`` so that a minimum slice size has something to skip.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from slipway.registry import Registry
    from slipway.validation import GateResult


@dataclass(frozen=True)
class Models:
    """Folders of saved models, the holdout, and what a test needs to know about them."""

    holdout: pd.DataFrame
    folders: dict[str, Path]
    target: str
    radius_coef: float = 0.0  # the sign of "mean radius" in the good classifier (for directional)

    def register(self, registry: Registry, *names: str, model: str = "churn") -> list[int]:
        return [registry.register(self.folders[n], model, actor="ci").version for n in names]


def _decorate(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    frame = frame.reset_index(drop=True).copy()
    frame["name"] = [f"customer-{i}" for i in range(len(frame))]
    region = rng.choice(np.array(["north", "south", "east"], dtype=object), size=len(frame))
    region[:5] = "tiny"
    frame["region"] = region
    return frame


def classifiers(root: Path) -> Models:
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from slipway.models import save_model

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.35, random_state=0, stratify=y)

    def fit(features: list[str], labels: Any) -> Any:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return model.fit(X_train[features], labels)

    every = list(X.columns)
    shuffled = np.random.default_rng(0).permutation(y_train.to_numpy())
    models = {
        "good": fit(every, y_train),
        "bad": fit(every, shuffled),  # trained on shuffled labels: about as good as a coin
        "fewer": fit(every[1:], y_train),  # lacks "mean radius": not signature-compatible
    }
    folders = {}
    for key, model in models.items():
        folders[key] = root / f"clf-{key}"
        cols = every if key != "fewer" else every[1:]
        save_model(model, folders[key], input_example=X_train[cols].head(3))
    holdout = X_test.copy()
    holdout["churned"] = y_test.to_numpy()
    coef = float(models["good"][-1].coef_[0][every.index("mean radius")])
    return Models(holdout=_decorate(holdout, 1), folders=folders, target="churned", radius_coef=coef)


def regressors(root: Path) -> Models:
    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import train_test_split

    from slipway.models import save_model

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.35, random_state=0)
    shuffled = np.random.default_rng(0).permutation(y_train.to_numpy())
    models = {
        "good": LinearRegression().fit(X_train, y_train),
        "bad": LinearRegression().fit(X_train, shuffled),
    }
    folders = {}
    for key, model in models.items():
        folders[key] = root / f"reg-{key}"
        save_model(model, folders[key], input_example=X_train.head(3))
    holdout = X_test.copy()
    holdout["progression"] = y_test.to_numpy()
    return Models(holdout=_decorate(holdout, 2), folders=folders, target="progression")


def gate(
    registry: Registry,
    models: Models,
    uri: str,
    *checks: dict[str, Any],
    alias: str | None = None,
    data: Any = None,
    record: bool = True,
    **policy: Any,
) -> GateResult:
    """Run a policy of ``checks`` on ``uri`` against ``models``' holdout; returns the GateResult."""
    from slipway.validation import validate

    document: dict[str, Any] = {**policy, "checks": list(checks)}
    if alias is not None:
        document["compare"] = {"alias": alias}
    return validate(
        uri,
        models.holdout if data is None else data,
        target=models.target,
        policy=document,
        registry=registry,
        cache_dir="cache",  # each test runs in its own folder (tests/conftest.py)
        actor="ci",
        record=record,
    )


def refuse_large_radius(frame: Any) -> Any:
    """A pipeline step that crashes, as model code may, on values it was never trained on."""
    if (frame["mean radius"] > 1_000).any():
        raise ValueError("mean radius over 1000: cannot happen\nsecond line")
    return frame


def fragile_classifier(models: Models, folder: Path) -> Path:
    """The good classifier behind a step that raises on a mean radius over 1000."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from slipway.models import SlipwayWarning, save_model

    X = models.holdout.drop(columns=[models.target, "name", "region"])
    step = FunctionTransformer(refuse_large_radius)
    model = make_pipeline(step, LogisticRegression(max_iter=5000)).fit(X, models.holdout[models.target])
    with warnings.catch_warnings():  # it imports this test module, which no distribution provides
        warnings.simplefilter("ignore", SlipwayWarning)
        save_model(model, folder, input_example=X.head(3))
    return folder
