"""Models that refuse NaN and infinity: who checks, and calls on input a caller already checked."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import AdaBoostClassifier, GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, RANSACRegressor
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from slipway.models import load_model, save_model

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.models import Model


def _saved(tmp_path: Path, estimator: Any) -> Model:
    X, y = load_iris(return_X_y=True)
    save_model(estimator.fit(X, y), tmp_path / "m", input_example=X[:3])
    return load_model(tmp_path / "m")


@pytest.mark.parametrize(
    ("estimator", "finite_only"),
    [
        (LogisticRegression(max_iter=500), True),  # refuses NaN: its own search is the only one
        (HistGradientBoostingClassifier(max_iter=5), False),  # takes NaN as missing values
        (make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), False),  # inner steps check
        (SVC(), True),
        (KNeighborsClassifier(), True),
        (AdaBoostClassifier(n_estimators=3), False),  # holds estimators, though none is passed to it
        (GradientBoostingClassifier(n_estimators=3), False),  # float32 inside: refuses 1e300 too
        (DummyClassifier(), False),  # takes NaN
        (RANSACRegressor(), False),  # a meta-estimator with its default estimator
    ],
)
def test_only_a_single_estimator_that_refuses_nan_leaves_the_check_to_its_caller(
    tmp_path: Path, estimator: Any, finite_only: bool
) -> None:
    assert _saved(tmp_path, estimator).finite_only is finite_only


def test_trusting_finite_inputs_turns_scikit_learns_search_off_in_that_thread_only(tmp_path: Path) -> None:
    from sklearn import get_config

    model = _saved(tmp_path, LogisticRegression(max_iter=500))
    nan_row = np.array([[5.1, np.nan, 1.4, 0.2]])
    seen: dict[str, Any] = {}

    def predict_thread() -> None:
        model.trust_finite_inputs()
        seen["assume_finite"] = get_config()["assume_finite"]
        seen["row"] = model.call_checked("predict", np.array([[5.1, 3.5, 1.4, 0.2]]))

    thread = threading.Thread(target=predict_thread)
    thread.start()
    thread.join()
    assert seen["assume_finite"] is True
    assert seen["row"].tolist() == model.predict(np.array([[5.1, 3.5, 1.4, 0.2]])).tolist()
    assert get_config()["assume_finite"] is False  # this thread still searches
    with pytest.raises(ValueError, match="NaN"):
        model.predict(nan_row)


def test_call_checked_answers_what_predict_answers_without_enforcing_again(tmp_path: Path) -> None:
    model = _saved(tmp_path, LogisticRegression(max_iter=500))
    X, _ = load_iris(return_X_y=True)
    assert model.call_checked("predict", X).tolist() == model.predict(X).tolist()
    np.testing.assert_allclose(model.call_checked("predict_proba", X), model.predict_proba(X))
    # predict casts and checks: a list of rows is enforced into the signature's array...
    assert model.predict(X[:2].tolist()).tolist() == model.predict(X[:2]).tolist()
    # ...which call_checked leaves to its caller: it hands the model what it was given
    with pytest.raises(ValueError, match="2 features"):
        model.call_checked("predict", X[:, :2])


def test_an_object_tensor_keeps_the_models_own_check(tmp_path: Path) -> None:
    from slipway.serving._served import ServedModel

    X, y = load_iris(return_X_y=True)
    save_model(
        LogisticRegression(max_iter=500).fit(X, y), tmp_path / "obj", input_example=X[:3].astype(object)
    )
    model = load_model(tmp_path / "obj")
    assert model.finite_only  # the estimator refuses NaN...
    served = ServedModel(model, name="obj", version="1", source=str(tmp_path / "obj"))
    assert served.codec.kind == "tensor"
    assert not served.codec.finite  # ...but text or objects become numbers inside it: it checks them
    numeric = ServedModel(
        _saved(tmp_path, LogisticRegression(max_iter=500)), name="n", version="1", source="n"
    )
    assert numeric.codec.finite
