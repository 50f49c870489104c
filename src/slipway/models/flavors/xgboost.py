"""XGBoost models, saved in XGBoost's own UBJSON model format (never pickled).

Two kinds of object are saved: an estimator of XGBoost's scikit-learn API (``XGBClassifier``,
``XGBRegressor``, ``XGBRanker``, ``XGBRF…``), loaded back as the same class, with ``predict`` and
(for classifiers) ``predict_proba``; and a raw ``xgboost.Booster``, loaded back as a Booster whose
``predict`` returns what ``Booster.predict`` returns for the objective (probabilities for
``binary:logistic``, margins for ``reg:squarederror`` …): a Booster offers no ``predict_proba``.

The model file is ``model.ubj``, which any XGBoost ≥ 2 reads (and ``xgboost.Booster(model_file=…)``
opens outside slipway). It holds the trees, the objective and the feature names; the estimator class
and its classes are recorded in the loader options. XGBoost estimators subclass scikit-learn's, so
this flavor is tried before ``sklearn``.

A model trained on pandas ``category`` columns (``enable_categorical=True``) gets its string columns
back as categories: the signature records them as strings, and XGBoost (3.1 and later) keeps the
training categories in the model file and maps the values onto them.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.models._flavor import FlavorData, require
from slipway.models.flavors._tabular import adapted, class_labels, strings_as_categories

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

__all__ = ["FLAVOR", "XGBoostFlavor"]

_FILE = "model.ubj"
_METHODS = ("predict", "predict_proba")


class XGBoostFlavor:
    """The ``xgboost`` flavor (extra ``xgboost``)."""

    name = "xgboost"
    extra: str | None = "xgboost"

    def detect(self, obj: object) -> bool:
        xgb = sys.modules.get("xgboost")  # not imported: obj cannot be an XGBoost model
        return xgb is not None and isinstance(obj, (xgb.XGBModel, xgb.Booster))

    def save(self, obj: object, folder: Path) -> FlavorData:
        xgb = require("xgboost", flavor=self.name, extra=self.extra)
        options: dict[str, Any] = {"file": _FILE, "format": "ubj", "xgboost_version": xgb.__version__}
        if isinstance(obj, xgb.XGBModel):
            cls = type(obj)
            if _estimator_class(xgb, cls.__name__) is not cls:
                raise InvalidInput(
                    f"xgboost: {cls.__module__}.{cls.__qualname__} is not one of XGBoost's own estimators, "
                    "so it cannot be rebuilt from the model file; save its get_booster(), or use "
                    "flavor='sklearn' to pickle it"
                )
            options |= {"api": "sklearn", "estimator": f"xgboost.{cls.__name__}"}
            classes = class_labels(getattr(obj, "classes_", None))
            if classes is not None:
                options["classes"] = classes
        elif isinstance(obj, xgb.Booster):
            options["api"] = "booster"
        else:
            raise InvalidInput(f"xgboost: expected an XGBoost estimator or Booster, got {type(obj).__name__}")
        obj.save_model(str(folder / _FILE))
        return FlavorData(options=options, data=(_FILE,))

    def load(self, folder: Path, options: Mapping[str, Any]) -> object:
        xgb = require("xgboost", flavor=self.name, extra=self.extra)
        path = str(folder / str(options.get("file", _FILE)))
        if options.get("api") == "booster":
            return xgb.Booster(model_file=path)
        require("sklearn", flavor=self.name, extra=self.extra)  # XGBoost's scikit-learn API needs it
        estimator = str(options.get("estimator", ""))
        cls = _estimator_class(xgb, estimator.removeprefix("xgboost."))
        if cls is None:
            raise InvalidInput(f"xgboost: unknown estimator {estimator!r} in the model's options")
        model = cls()
        model.load_model(path)
        return model

    def requirements(self, obj: object) -> list[str]:
        base = ["xgboost", "numpy", "scipy"]
        xgb = sys.modules.get("xgboost")
        return [*base, "scikit-learn"] if xgb is not None and isinstance(obj, xgb.XGBModel) else base

    def methods(self, model: object, options: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
        est: Any = model
        booster = est if options.get("api") == "booster" else est.get_booster()
        categorical = "c" in (booster.feature_types or ())  # trained on pandas category columns
        if options.get("api") == "booster":
            return {"predict": _booster_predict(booster, categorical)}
        names = getattr(est, "feature_names_in_", None)
        out: dict[str, Callable[..., Any]] = {}
        for method in _METHODS:
            if hasattr(est, method):
                fn = adapted(getattr(est, method), None if names is None else list(names))
                out[method] = _categories(fn) if categorical else fn
        return out


def _estimator_class(xgb: Any, name: str) -> Any:
    """XGBoost's own estimator class of that name, or None (nothing else is ever instantiated)."""
    cls = getattr(xgb, name, None)
    if isinstance(cls, type) and issubclass(cls, xgb.XGBModel) and cls.__module__.startswith("xgboost."):
        return cls
    return None


def _categories(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda data: fn(strings_as_categories(data))


def _booster_predict(booster: Any, categorical: bool) -> Callable[[Any], Any]:
    import xgboost as xgb

    names = booster.feature_names

    def predict(data: Any) -> Any:
        if hasattr(data, "columns"):
            matrix = (
                xgb.DMatrix(strings_as_categories(data), enable_categorical=True)
                if categorical
                else xgb.DMatrix(data)
            )
        else:  # an array: the Booster checks its feature names, so give them
            width = data.shape[1] if getattr(data, "ndim", 0) == 2 else None
            named = names is not None and width == len(names)
            matrix = xgb.DMatrix(data, feature_names=names if named else None)
        return booster.predict(matrix)

    return predict


FLAVOR = XGBoostFlavor()
