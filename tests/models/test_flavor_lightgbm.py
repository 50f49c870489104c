"""The lightgbm flavor: the conformance suite with real LightGBM models, and what is specific to it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput, MissingExtra
from slipway.models import detect_flavor, load_model, read_manifest, save_model
from slipway.testing.flavor_contract import FlavorContract

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.models import Model

_SMALL: dict[str, Any] = {"n_estimators": 10, "num_leaves": 7, "n_jobs": 1, "verbose": -1}


def iris() -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def cancer() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:, :10], y


class TestMulticlassWithStringLabels(FlavorContract):
    flavor_name = "lightgbm"

    @pytest.fixture
    def model(self) -> Any:
        return lgb.LGBMClassifier(**_SMALL).fit(*iris())

    @pytest.fixture
    def example(self) -> Any:
        return iris()[0].iloc[[0, 60, 120, 149]]

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_probabilities_and_labels_match_the_estimator(
        self, loaded: Model, model: Any, example: pd.DataFrame
    ) -> None:
        np.testing.assert_allclose(loaded.predict_proba(example), model.predict_proba(example))
        assert list(loaded.predict(example)) == ["setosa", "versicolor", "virginica", "virginica"]
        assert isinstance(loaded.raw, lgb.Booster)

    def test_saved_as_lightgbm_text(self, saved: Path) -> None:
        manifest = read_manifest(saved)
        assert manifest.data == ("model.txt",)
        assert manifest.options["estimator"] == "lightgbm.LGBMClassifier"
        assert manifest.options["classes"] == ["setosa", "versicolor", "virginica"]
        assert (saved / "model.txt").read_text().startswith("tree\n")
        lgb.Booster(model_file=str(saved / "model.txt"))  # plain LightGBM reads it


class TestBinaryClassifier(FlavorContract):
    flavor_name = "lightgbm"

    @pytest.fixture
    def model(self) -> Any:
        return lgb.LGBMClassifier(**_SMALL).fit(*cancer())

    @pytest.fixture
    def example(self) -> Any:
        return cancer()[0].iloc[[0, 19, 200]]

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_binary_probabilities_have_two_columns(
        self, loaded: Model, model: Any, example: pd.DataFrame
    ) -> None:
        proba = loaded.predict_proba(example)
        assert proba.shape == (3, 2)
        np.testing.assert_allclose(proba, model.predict_proba(example))


class TestRegressorOnArrays(FlavorContract):
    flavor_name = "lightgbm"

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
        return lgb.LGBMRegressor(**_SMALL).fit(X, y)

    @pytest.fixture
    def example(self) -> Any:
        from sklearn.datasets import load_diabetes

        return load_diabetes().data[:5]

    @pytest.fixture
    def expected(self, model: Any, example: np.ndarray) -> Any:
        return model.predict(example)

    def test_a_regressor_has_no_probabilities(self, loaded: Model) -> None:
        assert loaded.methods == ("predict",)


class TestBooster(FlavorContract):
    flavor_name = "lightgbm"

    @pytest.fixture
    def model(self) -> Any:
        X, y = cancer()
        params = {"objective": "binary", "num_leaves": 7, "num_threads": 1, "verbose": -1}
        return lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=10)

    @pytest.fixture
    def example(self) -> Any:
        return cancer()[0].iloc[[0, 19, 200]]

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_a_booster_offers_its_own_predict(self, loaded: Model, saved: Path) -> None:
        assert loaded.methods == ("predict",)
        assert read_manifest(saved).options["api"] == "booster"


class TestCategoricalColumns(FlavorContract):
    """A pandas category column: the signature says string, the booster gets its categories back."""

    flavor_name = "lightgbm"

    @staticmethod
    def frame(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        frame: pd.DataFrame = pd.DataFrame(
            {
                "tenure": rng.integers(0, 60, n).astype("int64"),
                "plan": pd.Categorical(rng.choice(["basic", "pro", "team"], n)),
            }
        )
        return frame

    @pytest.fixture
    def model(self) -> Any:
        X = self.frame(300, 0)
        y = ((X["plan"] == "pro") ^ (X["tenure"] > 30)).astype(int)
        return lgb.LGBMClassifier(**_SMALL, min_child_samples=5).fit(X, y)

    @pytest.fixture
    def example(self) -> Any:
        return self.frame(6, 1)

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_strings_are_mapped_to_the_training_categories(
        self, loaded: Model, model: Any, example: pd.DataFrame
    ) -> None:
        # Only some categories, in another order: LightGBM must still use the training codes.
        rows = pd.DataFrame({"tenure": [5, 50, 5], "plan": ["team", "pro", "pro"]})
        trained = rows.astype({"plan": pd.CategoricalDtype(["basic", "pro", "team"])})
        np.testing.assert_allclose(loaded.predict_proba(rows), model.predict_proba(trained))


def test_lightgbm_is_detected_before_sklearn() -> None:
    assert detect_flavor(lgb.LGBMRegressor()).name == "lightgbm"


def test_a_custom_objective_is_refused(tmp_path: Path) -> None:
    def squared(y: Any, pred: Any) -> tuple[Any, Any]:
        return pred - y, np.ones_like(pred)

    X, y = cancer()
    model = lgb.LGBMRegressor(**_SMALL, objective=squared).fit(X, y)
    with pytest.raises(InvalidInput, match="custom objective"):
        save_model(model, tmp_path / "m")


def test_a_missing_lightgbm_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_model(lgb.LGBMClassifier(**_SMALL).fit(*cancer()), tmp_path / "m")
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(MissingExtra, match=r"pip install 'slipway\[lightgbm\]'"):
        load_model(tmp_path / "m")
