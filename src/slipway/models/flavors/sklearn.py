"""scikit-learn estimators and pipelines, saved with pickle (the format scikit-learn documents).

The scikit-learn version is recorded in the loader options (and pinned in the requirements), so a
load under another version is named by the environment check before scikit-learn's own warning.
A model fitted on a DataFrame receives a DataFrame (column names matter to a ColumnTransformer);
one fitted on an array receives an array, so scikit-learn never warns about feature names.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from slipway.models import _pickling
from slipway.models._flavor import FlavorData, require
from slipway.models.flavors._tabular import adapted, class_labels

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

__all__ = ["FLAVOR", "SklearnFlavor"]

_FILE = "model.pkl"
_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")


class SklearnFlavor:
    """The ``sklearn`` flavor (extra ``sklearn``)."""

    name = "sklearn"
    extra: str | None = "sklearn"

    def detect(self, obj: object) -> bool:
        base = sys.modules.get("sklearn.base")  # not imported: obj cannot be an estimator
        return base is not None and isinstance(obj, base.BaseEstimator)

    def save(self, obj: object, folder: Path) -> FlavorData:
        sklearn = require("sklearn", flavor=self.name, extra=self.extra)
        modules = _pickling.dump(obj, folder / _FILE)
        cls = type(obj)
        options: dict[str, Any] = {
            "file": _FILE,
            "serialization": "pickle",
            "sklearn_version": sklearn.__version__,
            "estimator": f"{cls.__module__}.{cls.__qualname__}",
        }
        classes = class_labels(getattr(obj, "classes_", None))
        if classes is not None:
            options["classes"] = classes  # the columns of predict_proba, for readers of the manifest
        return FlavorData(options=options, data=(_FILE,), modules=frozenset(modules))

    def load(self, folder: Path, options: Mapping[str, Any]) -> object:
        require("sklearn", flavor=self.name, extra=self.extra)
        return _pickling.load(folder / str(options.get("file", _FILE)))

    def requirements(self, obj: object) -> list[str]:
        return ["scikit-learn", "numpy", "scipy"]

    def methods(self, model: object, options: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
        names = getattr(model, "feature_names_in_", None)
        out: dict[str, Callable[..., Any]] = {}
        for method in _METHODS:
            if hasattr(model, method):  # available_if hides e.g. SVC(probability=False).predict_proba
                out[method] = adapted(getattr(model, method), None if names is None else list(names))
        return out

    def finite_check(self, model: object) -> Callable[[], None] | None:
        """Turn off scikit-learn's NaN/infinity search (``assume_finite``) in the calling thread.

        Only for a single estimator of a family that reads its input as float64 as given (linear
        models, SVMs, neighbours, naive Bayes, discriminant analysis, kernel ridge) and refuses NaN
        (its ``allow_nan`` tag is false): there the search of its input is the only check, so a
        caller that checked the input is finite leaves nothing unchecked. Not for a pipeline or any
        other estimator holding estimators (its later steps check what earlier ones produce), nor for
        trees and ensembles, whose float32 conversion also refuses finite values too large for it.
        """
        if not _single_estimator(model):
            return None
        try:
            allows_nan = bool(model.__sklearn_tags__().input_tags.allow_nan)  # type: ignore[attr-defined]
        except Exception:  # tags from before scikit-learn 1.6, or a broken third-party estimator
            return None
        if allows_nan:
            return None
        import sklearn

        return lambda: sklearn.set_config(assume_finite=True)  # thread-local in scikit-learn


_FINITE_FAMILIES = (
    "sklearn.linear_model.",
    "sklearn.svm.",
    "sklearn.neighbors.",
    "sklearn.naive_bayes.",
    "sklearn.discriminant_analysis.",
    "sklearn.kernel_ridge.",
)


def _single_estimator(model: object) -> bool:
    """One of scikit-learn's own estimators of :data:`_FINITE_FAMILIES`, holding no other estimator."""
    if not type(model).__module__.startswith(_FINITE_FAMILIES):
        return False
    from sklearn.base import MetaEstimatorMixin

    return not isinstance(model, MetaEstimatorMixin)  # RANSACRegressor, say, even with its default


FLAVOR = SklearnFlavor()
