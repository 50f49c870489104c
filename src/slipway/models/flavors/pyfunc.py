"""The Python-function flavor: any object with a ``predict`` method, plus the code that defines it.

The object is pickled by reference, the way the standard library does it: the pickle names the class
(``my_model.Churn``) and unpickling imports that module. Pass the module's file (or its package
folder) as ``code_paths``: it is copied into the model's ``code/`` folder, which is put on
``sys.path`` before loading, so the model loads where that code is not installed.

A class defined in ``__main__`` (a notebook, a script) cannot be imported by name elsewhere; it is
pickled by value with cloudpickle when cloudpickle is installed (and then pinned as a requirement),
otherwise saving says to move the class into a module and pass it in ``code_paths``.
"""

from __future__ import annotations

import importlib.util
import inspect
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.models import _pickling
from slipway.models._flavor import FlavorData, require

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

__all__ = ["FLAVOR", "PythonFunctionFlavor"]

_FILE = "python_model.pkl"
_METHODS = ("predict", "predict_proba")


def _by_value(obj: object) -> bool:
    return type(obj).__module__ == "__main__"


class PythonFunctionFlavor:
    """The ``pyfunc`` flavor: no framework, no extra."""

    name = "pyfunc"
    extra: str | None = None

    def detect(self, obj: object) -> bool:
        return not isinstance(obj, type) and callable(getattr(obj, "predict", None))

    def save(self, obj: object, folder: Path) -> FlavorData:
        if not callable(getattr(obj, "predict", None)):
            raise InvalidInput(f"pyfunc: expected an object with a predict method, got {type(obj).__name__}")
        by_value = _by_value(obj)
        if by_value and importlib.util.find_spec("cloudpickle") is None:
            raise InvalidInput(
                f"pyfunc: class {type(obj).__qualname__} is defined in __main__, so it cannot be imported "
                "when the model loads elsewhere; move it into a module and pass that file in code_paths "
                "(or install cloudpickle to save it by value)"
            )
        modules = _pickling.dump(obj, folder / _FILE, by_value=by_value)
        cls = type(obj)
        options = {
            "file": _FILE,
            "serialization": "cloudpickle" if by_value else "pickle",
            "class": f"{cls.__module__}.{cls.__qualname__}",
        }
        return FlavorData(options=options, data=(_FILE,), modules=frozenset(modules))

    def load(self, folder: Path, options: Mapping[str, Any]) -> object:
        if options.get("serialization") == "cloudpickle":
            require("cloudpickle", flavor=self.name, extra=None)
        return _pickling.load(folder / str(options.get("file", _FILE)))

    def requirements(self, obj: object) -> list[str]:
        return ["cloudpickle"] if _by_value(obj) else []

    def methods(self, model: object, options: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
        out: dict[str, Callable[..., Any]] = {}
        for method in _METHODS:
            fn = getattr(model, method, None)
            if callable(fn):
                out[method] = _with_params(fn)
        return out


def _with_params(fn: Callable[..., Any]) -> Callable[..., Any]:
    try:
        takes_params = "params" in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        takes_params = False
    if takes_params:
        return fn

    def call(data: Any, params: Mapping[str, Any] | None = None) -> Any:
        if params:
            raise InvalidInput(f"this model's {fn.__name__} takes no params; got {sorted(params)}")
        return fn(data)

    return call


FLAVOR = PythonFunctionFlavor()
