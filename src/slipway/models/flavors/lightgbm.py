"""LightGBM models, saved as LightGBM's text model (never pickled).

An estimator of LightGBM's scikit-learn API (``LGBMClassifier``, ``LGBMRegressor``, ``LGBMRanker``)
is saved as its fitted booster's text model, with its class labels in the loader options; it loads
back as a ``lightgbm.Booster`` (``model.raw``) behind the estimator's own methods: a classifier's
``predict_proba`` is the booster's probabilities (two columns for a binary model) and its ``predict``
the label of the most probable class, exactly as ``LGBMClassifier`` computes them. A raw
``lightgbm.Booster`` loads back as a Booster whose ``predict`` is ``Booster.predict``.

The text model keeps the categories of pandas ``category`` columns seen in training; the signature
records such columns as strings, so string columns are turned back into categories before predicting
and LightGBM maps them to the codes it was trained on.

A model trained with a custom objective (a Python callable) predicts raw scores: it is refused.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.models._flavor import FlavorData, require
from slipway.models.flavors._tabular import class_labels, strings_as_categories

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

__all__ = ["FLAVOR", "LightGBMFlavor"]

_FILE = "model.txt"
_ESTIMATORS = ("LGBMClassifier", "LGBMRegressor", "LGBMRanker")


class LightGBMFlavor:
    """The ``lightgbm`` flavor (extra ``lightgbm``)."""

    name = "lightgbm"
    extra: str | None = "lightgbm"

    def detect(self, obj: object) -> bool:
        lgb = sys.modules.get("lightgbm")  # not imported: obj cannot be a LightGBM model
        return lgb is not None and isinstance(obj, (lgb.LGBMModel, lgb.Booster))

    def save(self, obj: object, folder: Path) -> FlavorData:
        lgb = require("lightgbm", flavor=self.name, extra=self.extra)
        options: dict[str, Any] = {"file": _FILE, "format": "text", "lightgbm_version": lgb.__version__}
        if isinstance(obj, lgb.LGBMModel):
            kind = next((n for n in _ESTIMATORS if isinstance(obj, getattr(lgb, n))), None)
            if kind is None:
                raise InvalidInput(
                    f"lightgbm: {type(obj).__qualname__} is not an LGBMClassifier, LGBMRegressor or "
                    "LGBMRanker; save its booster_, or use flavor='sklearn' to pickle it"
                )
            if callable(obj.objective):
                raise InvalidInput(
                    "lightgbm: the model was trained with a custom objective function, which the text "
                    "model cannot hold (it would predict raw scores); use flavor='sklearn' to pickle it"
                )
            booster = obj.booster_
            options |= {"api": "sklearn", "estimator": f"lightgbm.{kind}"}
            if kind == "LGBMClassifier":
                classes = class_labels(obj.classes_)
                if classes is None:
                    raise InvalidInput(
                        "lightgbm: the classifier's labels must be strings, integers, floats or booleans "
                        "to be recorded with the model; encode them, or use flavor='sklearn'"
                    )
                options["classes"] = classes
        elif isinstance(obj, lgb.Booster):
            booster = obj
            options["api"] = "booster"
        else:
            raise InvalidInput(
                f"lightgbm: expected a LightGBM estimator or Booster, got {type(obj).__name__}"
            )
        booster.save_model(str(folder / _FILE))
        return FlavorData(options=options, data=(_FILE,))

    def load(self, folder: Path, options: Mapping[str, Any]) -> object:
        lgb = require("lightgbm", flavor=self.name, extra=self.extra)
        return lgb.Booster(model_file=str(folder / str(options.get("file", _FILE))))

    def requirements(self, obj: object) -> list[str]:
        return ["lightgbm", "numpy", "scipy"]

    def methods(self, model: object, options: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
        predict = _predictor(model)
        classes = options.get("classes")
        if options.get("estimator") != "lightgbm.LGBMClassifier" or classes is None:
            return {"predict": predict}

        def predict_proba(data: Any) -> Any:
            import numpy as np

            p = predict(data)
            return np.column_stack([1.0 - p, p]) if p.ndim == 1 else p

        def predict_labels(data: Any) -> Any:
            import numpy as np

            return np.asarray(classes)[np.argmax(predict_proba(data), axis=1)]

        return {"predict": predict_labels, "predict_proba": predict_proba}


def _predictor(model: Any) -> Callable[[Any], Any]:
    lgb = sys.modules.get("lightgbm")
    # The loaded Booster, or at save (when the outputs are inferred) the estimator being saved.
    booster = model.booster_ if lgb is not None and isinstance(model, lgb.LGBMModel) else model
    categorical = bool(getattr(booster, "pandas_categorical", None))

    def predict(data: Any) -> Any:
        return booster.predict(strings_as_categories(data) if categorical else data)

    return predict


FLAVOR = LightGBMFlavor()
