"""The flavor conformance suite over every built-in flavor, with the real libraries."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from tests.models._helpers import write_module

from slipway.testing.flavor_contract import FlavorContract

if TYPE_CHECKING:
    from pathlib import Path


def mixed_frame(n: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Numeric and categorical columns of several dtypes, and a label that depends on them."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype("int64"),
            "income": rng.normal(50_000, 15_000, n),
            "visits": rng.integers(0, 20, n).astype("int32"),
            "city": rng.choice(["paris", "lyon", "nantes"], n),
            "plan": pd.Categorical(rng.choice(["basic", "pro"], n)),
            "active": rng.random(n) > 0.3,
        }
    )
    y = ((df["age"] > 40) ^ (df["city"] == "lyon") ^ df["active"]).to_numpy().astype(int)
    return df, y


class TestSklearnClassifier(FlavorContract):
    flavor_name = "sklearn"

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.datasets import load_iris
        from sklearn.linear_model import LogisticRegression

        X, y = load_iris(return_X_y=True, as_frame=True)
        return LogisticRegression(max_iter=1000).fit(X, y)

    @pytest.fixture
    def example(self) -> Any:
        from sklearn.datasets import load_iris

        return load_iris(as_frame=True).data.iloc[[0, 60, 120]]

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_probabilities_match_the_estimator(self, loaded: Any, model: Any, example: pd.DataFrame) -> None:
        np.testing.assert_allclose(loaded.predict_proba(example), model.predict_proba(example))
        assert loaded.signature.probabilities.tensor.shape == (-1, 3)
        assert loaded.manifest.options["classes"] == [0, 1, 2]


class TestSklearnRegressorOnArrays(FlavorContract):
    flavor_name = "sklearn"

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.datasets import load_diabetes
        from sklearn.linear_model import Ridge

        X, y = load_diabetes(return_X_y=True)
        return Ridge().fit(X, y)

    @pytest.fixture
    def example(self) -> Any:
        from sklearn.datasets import load_diabetes

        return load_diabetes().data[:4]

    @pytest.fixture
    def expected(self, model: Any, example: np.ndarray) -> Any:
        return model.predict(example)

    def test_a_regressor_has_no_probabilities(self, loaded: Any) -> None:
        assert "predict_proba" not in loaded.methods


class TestSklearnPipelineWithColumnTransformer(FlavorContract):
    flavor_name = "sklearn"

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        df, y = mixed_frame()
        pre = ColumnTransformer(
            [
                ("num", StandardScaler(), ["age", "income", "visits"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "plan", "active"]),
            ]
        )
        return Pipeline([("pre", pre), ("clf", RandomForestClassifier(n_estimators=10, random_state=0))]).fit(
            df, y
        )

    @pytest.fixture
    def example(self) -> Any:
        return mixed_frame(5, seed=1)[0]

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_column_types_are_recorded(self, loaded: Any) -> None:
        types = {c.name: c.dtype for c in loaded.signature.inputs.columns}
        assert types == {
            "age": "int64",
            "income": "float64",
            "visits": "int32",
            "city": "string",
            "plan": "string",
            "active": "bool",
        }

    def test_columns_in_another_order_are_reordered(
        self, loaded: Any, example: pd.DataFrame, expected: Any
    ) -> None:
        np.testing.assert_array_equal(loaded.predict(example[example.columns[::-1]]), expected)


class TestPythonFunction(FlavorContract):
    flavor_name = "pyfunc"

    @pytest.fixture
    def module_file(self, tmp_path: Path) -> Path:
        name = f"churn_rules_{tmp_path.name.replace('-', '_')}"
        write_module(tmp_path / "src", name)
        return tmp_path / "src" / f"{name}.py"

    @pytest.fixture
    def model(self, module_file: Path) -> Any:
        return sys.modules[module_file.stem].ChurnRules(threshold=0.6)

    @pytest.fixture
    def save_kwargs(self, module_file: Path) -> dict[str, Any]:
        return {"code_paths": [module_file]}

    @pytest.fixture
    def example(self) -> Any:
        return pd.DataFrame({"tenure": [3, 30, 5], "tickets": [2, 9, 7]})

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_code_is_copied_and_listed(self, saved: Path, module_file: Path) -> None:
        from slipway.models import read_manifest

        manifest = read_manifest(saved)
        assert manifest.code == "code"
        assert f"code/{module_file.name}" in manifest.files
        assert manifest.options["class"] == f"{module_file.stem}.ChurnRules"
