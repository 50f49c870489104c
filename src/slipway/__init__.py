"""slipway: take a model from a notebook to production and keep it healthy there.

The tracking API is re-exported here lazily, so that ``import slipway`` loads no database driver,
dataframe library or web framework until a call needs one.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from slipway._version import __version__

if TYPE_CHECKING:  # names for type checkers and IDEs; at run time __getattr__ loads them
    from slipway._api import (
        active_run,
        autolog,
        client,
        end_run,
        get_run,
        load_model,
        log_artifact,
        log_artifacts,
        log_dataset,
        log_dict,
        log_figure,
        log_metric,
        log_metrics,
        log_model,
        log_param,
        log_params,
        log_text,
        register_model,
        search_runs,
        seed,
        set_tag,
        set_tags,
        start_run,
        validate,
    )
    from slipway.pipelines import pipeline, step

# A literal list, so that type checkers see these names as exported.
__all__ = [
    "__version__",
    "active_run",
    "autolog",
    "client",
    "end_run",
    "get_run",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_dataset",
    "log_dict",
    "log_feedback",
    "log_figure",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "log_text",
    "pipeline",
    "read_predictions",
    "register_model",
    "search_runs",
    "seed",
    "set_tag",
    "set_tags",
    "start_run",
    "step",
    "validate",
]

#: Where each name lives: the fluent tracking API, and the decorators of pipelines.
_LAZY = {name: "slipway._api" for name in __all__ if name != "__version__"} | {
    "pipeline": "slipway.pipelines",
    "step": "slipway.pipelines",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'slipway' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
