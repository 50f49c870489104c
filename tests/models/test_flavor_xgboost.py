"""The xgboost flavor: the conformance suite with real XGBoost models, and what is specific to it."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import xgboost as xgb

from slipway.errors import InvalidInput, MissingExtra
from slipway.models import detect_flavor, load_model, read_manifest, save_model
from slipway.testing.flavor_contract import FlavorContract

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from slipway.models import Model

_SMALL: dict[str, Any] = {"n_estimators": 12, "max_depth": 3, "n_jobs": 1}


def cancer() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X.iloc[:, :10], y


class TestXGBClassifier(FlavorContract):
    flavor_name = "xgboost"

    @pytest.fixture
    def model(self) -> Any:
        X, y = cancer()
        return xgb.XGBClassifier(**_SMALL).fit(X, y)

    @pytest.fixture
    def example(self) -> Any:
        return cancer()[0].iloc[[0, 19, 200, 400]]

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_probabilities_match_the_estimator(
        self, loaded: Model, model: Any, example: pd.DataFrame
    ) -> None:
        np.testing.assert_allclose(loaded.predict_proba(example), model.predict_proba(example))
        assert type(loaded.raw) is xgb.XGBClassifier
        assert loaded.signature is not None
        assert loaded.signature.probabilities is not None
        assert loaded.signature.probabilities.tensor is not None
        assert loaded.signature.probabilities.tensor.shape == (-1, 2)

    def test_saved_in_xgboost_format_not_pickle(self, saved: Path, example: pd.DataFrame, model: Any) -> None:
        manifest = read_manifest(saved)
        assert manifest.data == ("model.ubj",)
        assert manifest.options["api"] == "sklearn"
        assert manifest.options["estimator"] == "xgboost.XGBClassifier"
        assert manifest.options["classes"] == [0, 1]
        assert not (saved / "model.ubj").read_bytes().startswith(b"\x80")  # no pickle protocol header
        booster = xgb.Booster(model_file=str(saved / "model.ubj"))  # plain XGBoost reads it
        np.testing.assert_allclose(booster.predict(xgb.DMatrix(example)), model.predict_proba(example)[:, 1])

    def test_requirements_name_xgboost_and_its_sklearn_api(self, saved: Path) -> None:
        names = {line.partition("==")[0] for line in read_manifest(saved).requirements}
        assert {"xgboost", "scikit-learn", "numpy", "scipy", "pandas"} <= names


class TestXGBRegressorOnArrays(FlavorContract):
    flavor_name = "xgboost"

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
        return xgb.XGBRegressor(**_SMALL).fit(X, y)

    @pytest.fixture
    def example(self) -> Any:
        from sklearn.datasets import load_diabetes

        return load_diabetes().data[:5]

    @pytest.fixture
    def expected(self, model: Any, example: np.ndarray) -> Any:
        return model.predict(example)

    def test_a_regressor_has_no_probabilities(self, loaded: Model) -> None:
        assert loaded.methods == ("predict",)
        assert type(loaded.raw) is xgb.XGBRegressor


class TestBooster(FlavorContract):
    """A raw Booster trained with xgboost.train on a DataFrame (so it knows its feature names)."""

    flavor_name = "xgboost"

    @pytest.fixture
    def model(self) -> Any:
        X, y = cancer()
        params = {"objective": "binary:logistic", "max_depth": 3, "nthread": 1}
        return xgb.train(params, xgb.DMatrix(X, label=y), num_boost_round=12)

    @pytest.fixture
    def example(self) -> Any:
        return cancer()[0].iloc[[0, 19, 200]]

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(xgb.DMatrix(example))

    def test_a_booster_loads_as_a_booster_without_predict_proba(self, loaded: Model, saved: Path) -> None:
        assert isinstance(loaded.raw, xgb.Booster)
        assert loaded.methods == ("predict",)
        assert read_manifest(saved).options["api"] == "booster"
        names = {line.partition("==")[0] for line in read_manifest(saved).requirements}
        assert "scikit-learn" not in names  # a Booster needs no scikit-learn


class TestBoosterOnArrays(FlavorContract):
    flavor_name = "xgboost"

    @pytest.fixture
    def model(self) -> Any:
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
        return xgb.train({"max_depth": 3, "nthread": 1}, xgb.DMatrix(X, label=y), num_boost_round=8)

    @pytest.fixture
    def example(self) -> Any:
        from sklearn.datasets import load_diabetes

        return load_diabetes().data[:3]

    @pytest.fixture
    def expected(self, model: Any, example: np.ndarray) -> Any:
        return model.predict(xgb.DMatrix(example))


class TestCategoricalColumns(FlavorContract):
    """enable_categorical: the signature says string, the model gets its training categories back."""

    flavor_name = "xgboost"

    @staticmethod
    def frame(n: int, seed: int) -> pd.DataFrame:
        import pandas as pd

        rng = np.random.default_rng(seed)
        plans = pd.Categorical(rng.choice(["basic", "pro", "team"], n))
        frame: pd.DataFrame = pd.DataFrame({"tenure": rng.integers(0, 60, n).astype("int64"), "plan": plans})
        return frame

    @pytest.fixture
    def model(self) -> Any:
        X = self.frame(300, 0)
        y = ((X["plan"] == "pro") ^ (X["tenure"] > 30)).astype(int)
        return xgb.XGBClassifier(**_SMALL, enable_categorical=True).fit(X, y)

    @pytest.fixture
    def example(self) -> Any:
        return self.frame(6, 1)

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return model.predict(example)

    def test_strings_are_mapped_to_the_training_categories(
        self, loaded: Model, model: Any, saved: Path
    ) -> None:
        import pandas as pd

        # Only some categories, in another order: the model must still use the training codes.
        rows = pd.DataFrame({"tenure": [5, 50, 5], "plan": ["team", "pro", "pro"]})
        trained = rows.astype({"plan": pd.CategoricalDtype(["basic", "pro", "team"])})
        np.testing.assert_allclose(loaded.predict_proba(rows), model.predict_proba(trained))
        booster = save_model(model.get_booster(), saved.parent / "booster")
        assert booster.options["api"] == "booster"
        got = load_model(saved.parent / "booster").predict(rows)
        np.testing.assert_allclose(got, model.predict_proba(trained)[:, 1], rtol=1e-6)


def test_xgboost_is_detected_before_sklearn() -> None:
    assert detect_flavor(xgb.XGBClassifier()).name == "xgboost"
    assert detect_flavor(xgb.Booster()).name == "xgboost"


def test_a_subclass_of_an_xgboost_estimator_is_refused_with_the_way_out(tmp_path: Path) -> None:
    class Tweaked(xgb.XGBRegressor):
        pass

    model = Tweaked(**_SMALL).fit(np.arange(20.0).reshape(10, 2), np.arange(10.0))
    with pytest.raises(InvalidInput, match=r"not one of XGBoost's own estimators.*flavor='sklearn'"):
        save_model(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_a_missing_xgboost_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    X, y = cancer()
    save_model(xgb.XGBClassifier(**_SMALL).fit(X, y), tmp_path / "m")
    monkeypatch.setitem(sys.modules, "xgboost", None)  # import xgboost now raises ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'slipway\[xgboost\]'"):
        load_model(tmp_path / "m")
