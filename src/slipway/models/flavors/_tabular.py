"""Helpers shared by the flavors of tabular estimators (scikit-learn, XGBoost, LightGBM).

No framework is imported here: these work on what the estimators expose.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["adapted", "class_labels", "strings_as_categories"]

_MAX_CLASSES = 1000  # more labels than this are not worth a manifest line each


def class_labels(classes: Any) -> list[Any] | None:
    """An estimator's ``classes_`` as a JSON list (the columns of ``predict_proba``), or None."""
    if classes is None or getattr(classes, "ndim", 0) != 1 or len(classes) > _MAX_CLASSES:
        return None
    labels = [c.item() if hasattr(c, "item") else c for c in classes]
    if all(isinstance(c, (str, int, float, bool)) for c in labels):
        return labels
    return None


def adapted(fn: Callable[[Any], Any], names: list[str] | None) -> Callable[[Any], Any]:
    """Give the estimator the container it was fitted on, so it has nothing to warn about.

    ``names`` are the columns it was fitted on (``feature_names_in_``), None if it saw an array.
    """

    def call(data: Any) -> Any:
        if names is None and hasattr(data, "columns"):
            data = data.to_numpy()  # a DataFrame to a model fitted on an array
        elif names is not None and getattr(data, "ndim", 0) == 2 and not hasattr(data, "columns"):
            import pandas as pd

            if data.shape[1] == len(names):
                data = pd.DataFrame(data, columns=names)  # an array to a model fitted on a DataFrame
        return fn(data)

    return call


def strings_as_categories(data: Any) -> Any:
    """A DataFrame's string columns as pandas categories (other data unchanged).

    The signature records a category column as strings; XGBoost and LightGBM keep the categories
    they were trained on in the model file and map a category column's values back onto them.
    """
    if not hasattr(data, "columns"):
        return data
    import pandas as pd

    strings = [c for c in data.columns if pd.api.types.is_string_dtype(data[c])]
    return data.astype(dict.fromkeys(strings, "category")) if strings else data
