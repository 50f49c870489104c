"""The onnx flavor: the conformance suite over ONNX models made by skl2onnx, run by onnxruntime.

(``torch.onnx.export`` needs the onnxscript package for its current exporter, and its legacy
TorchScript exporter is deprecated, so the models here come from scikit-learn through skl2onnx.)
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
from skl2onnx import to_onnx

from slipway.errors import InvalidInput, MissingExtra
from slipway.models import detect_flavor, load_model, read_manifest, save_model
from slipway.testing.flavor_contract import FlavorContract

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.models import Model


def float32_tolerance(actual: Any, expected: Any) -> None:
    """skl2onnx models compute in float32: agreement with scikit-learn (float64) to about 1e-6."""
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape
    if e.dtype.kind in "fc":
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(a, e)


def run(model: Any, feed: dict[str, Any], output: int = 0) -> Any:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)[output]


def iris() -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y.to_numpy()


class TestClassifierWithZipMap(FlavorContract):
    """skl2onnx's default classifier: a label output and a list of {label: p} dicts."""

    flavor_name = "onnx"

    def assert_same(self, actual: Any, expected: Any) -> None:
        float32_tolerance(actual, expected)

    @pytest.fixture
    def estimator(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        X, y = iris()
        return LogisticRegression(max_iter=500).fit(X.to_numpy(np.float32), y)

    @pytest.fixture
    def model(self, estimator: Any) -> Any:
        return to_onnx(estimator, iris()[0].to_numpy(np.float32)[:1])

    @pytest.fixture
    def example(self) -> Any:
        return iris()[0].iloc[[0, 60, 120, 70]]

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return run(model, {"X": example.to_numpy(np.float32)})

    def test_zipmap_probabilities_become_an_array_in_label_order(
        self, loaded: Model, estimator: Any, example: pd.DataFrame
    ) -> None:
        proba = loaded.predict_proba(example)
        assert proba.shape == (4, 3)
        float32_tolerance(proba, estimator.predict_proba(example.to_numpy(np.float32)))
        np.testing.assert_array_equal(loaded.predict(example), estimator.predict(example.to_numpy()))

    def test_inputs_and_outputs_are_recorded(self, saved: Path) -> None:
        options = read_manifest(saved).options
        assert options["inputs"] == [{"name": "X", "type": "tensor(float)", "shape": [-1, 4]}]
        assert [o["name"] for o in options["outputs"]] == ["output_label", "output_probability"]
        assert (options["predict"], options["predict_proba"]) == ("output_label", "output_probability")
        assert options["producer"] == "skl2onnx"
        names = {line.partition("==")[0] for line in read_manifest(saved).requirements}
        assert "onnxruntime" in names
        assert "onnx" not in names  # loading needs the runtime only
        assert isinstance(load_model(saved).raw, ort.InferenceSession)


class TestClassifierWithoutZipMapOnArrays(FlavorContract):
    flavor_name = "onnx"

    def assert_same(self, actual: Any, expected: Any) -> None:
        float32_tolerance(actual, expected)

    @pytest.fixture
    def estimator(self) -> Any:
        from sklearn.datasets import load_breast_cancer
        from sklearn.tree import DecisionTreeClassifier

        X, y = load_breast_cancer(return_X_y=True)
        return DecisionTreeClassifier(max_depth=4, random_state=0).fit(X.astype(np.float32), y)

    @pytest.fixture
    def model(self, estimator: Any) -> Any:
        return to_onnx(estimator, np.zeros((1, 30), dtype=np.float32), options={"zipmap": False})

    @pytest.fixture
    def example(self) -> Any:
        from sklearn.datasets import load_breast_cancer

        return load_breast_cancer().data[[0, 19, 200]].astype(np.float32)

    @pytest.fixture
    def expected(self, model: Any, example: np.ndarray) -> Any:
        return run(model, {"X": example})

    def test_probability_tensor_matches_the_estimator(
        self, loaded: Model, estimator: Any, example: np.ndarray
    ) -> None:
        assert read_manifest(loaded.path).options["predict_proba"] == "probabilities"
        float32_tolerance(loaded.predict_proba(example), estimator.predict_proba(example))


class TestRegressorFromAPath(FlavorContract):
    """A .onnx file on disk is saved by its path; a regressor predicts shape (n, 1)."""

    flavor_name = "onnx"

    def assert_same(self, actual: Any, expected: Any) -> None:
        float32_tolerance(actual, expected)

    @pytest.fixture
    def proto(self) -> Any:
        from sklearn.datasets import load_diabetes
        from sklearn.linear_model import Ridge

        X, y = load_diabetes(return_X_y=True)
        return to_onnx(Ridge().fit(X, y), X[:1].astype(np.float32))

    @pytest.fixture
    def model(self, proto: Any, tmp_path: Path) -> Any:
        path = tmp_path / "ridge.onnx"
        onnx.save(proto, str(path))
        return str(path)

    @pytest.fixture
    def example(self) -> Any:
        from sklearn.datasets import load_diabetes

        return load_diabetes().data[:5].astype(np.float32)

    @pytest.fixture
    def expected(self, proto: Any, example: np.ndarray) -> Any:
        return run(proto, {"X": example})

    def test_a_regressor_has_no_probabilities(self, loaded: Model, expected: Any) -> None:
        assert loaded.methods == ("predict",)
        assert expected.shape == (5, 1)


class TestOneInputPerColumn(FlavorContract):
    """skl2onnx makes one input per column from a DataFrame: each column is fed by name."""

    flavor_name = "onnx"

    def assert_same(self, actual: Any, expected: Any) -> None:
        float32_tolerance(actual, expected)

    @staticmethod
    def frame(n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        cities = rng.choice(["lyon", "nantes", "paris"], n)
        frame: pd.DataFrame = pd.DataFrame({"income": rng.normal(50, 10, n), "city": cities})
        return frame

    @pytest.fixture
    def estimator(self) -> Any:
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        df = self.frame(120, 0)
        y = ((df["city"] == "lyon") ^ (df["income"] > 55)).astype(int)
        pre = ColumnTransformer([("n", StandardScaler(), ["income"]), ("c", OneHotEncoder(), ["city"])])
        return Pipeline([("pre", pre), ("m", LogisticRegression())]).fit(df, y)

    @pytest.fixture
    def model(self, estimator: Any) -> Any:
        return to_onnx(estimator, self.frame(1, 0), options={"zipmap": False})

    @pytest.fixture
    def example(self) -> Any:
        return self.frame(5, 1)

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        feed = {c: example[[c]].to_numpy() for c in example.columns}
        return run(model, feed)

    def test_probabilities_match_the_pipeline(
        self, loaded: Model, estimator: Any, example: pd.DataFrame
    ) -> None:
        float32_tolerance(loaded.predict_proba(example), estimator.predict_proba(example))


def test_string_labels_come_back_as_strings(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    estimator = LogisticRegression(max_iter=500).fit(X.to_numpy(np.float32), labels)
    rows = X.iloc[[0, 100]]
    save_model(to_onnx(estimator, rows.to_numpy(np.float32)), tmp_path / "m", input_example=rows)
    model = load_model(tmp_path / "m")
    assert model.predict(rows).tolist() == ["setosa", "virginica"]
    float32_tolerance(model.predict_proba(rows), estimator.predict_proba(rows.to_numpy(np.float32)))


def test_outputs_can_be_chosen_and_unknown_ones_are_named(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = iris()
    proto = to_onnx(
        LogisticRegression(max_iter=500).fit(X.to_numpy(np.float32), y), X.to_numpy(np.float32)[:1]
    )
    with pytest.raises(InvalidInput, match=r"predict='nope' is not an output \(\['output_label'"):
        save_model(proto, tmp_path / "a", flavor_options={"predict": "nope"})
    manifest = save_model(proto, tmp_path / "b", flavor_options={"predict": "output_probability"})
    assert manifest.options["predict"] == "output_probability"


def test_detection_by_object_and_by_path(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    proto = to_onnx(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), np.zeros((1, 1), dtype=np.float32))
    assert detect_flavor(proto).name == "onnx"
    onnx.save(proto, str(tmp_path / "m.onnx"))
    assert detect_flavor(str(tmp_path / "m.onnx")).name == "onnx"
    assert detect_flavor(tmp_path / "m.onnx").name == "onnx"


def test_an_invalid_model_is_refused_at_save(tmp_path: Path) -> None:
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(InvalidInput, match="onnxruntime cannot load the model"):
        save_model(str(tmp_path / "broken.onnx"), tmp_path / "m")


def test_a_missing_onnxruntime_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.linear_model import LinearRegression

    proto = to_onnx(LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0]), np.zeros((1, 1), dtype=np.float32))
    save_model(proto, tmp_path / "m")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(MissingExtra, match=r"pip install 'slipway\[onnx\]'"):
        load_model(tmp_path / "m")
