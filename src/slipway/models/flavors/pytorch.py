"""PyTorch modules on the CPU: the weights as a state dict, the code as source, never a pickled module.

An ``nn.Module`` is saved as three things, so that loading it needs no pickle:

- its weights, ``torch.save(module.state_dict())`` in ``state_dict.pt``, read back with
  ``torch.load(..., weights_only=True)``, which refuses anything but tensors and plain containers;
- its class, by reference (``package.module:Class``), imported at load;
- its constructor arguments, JSON in the loader options. They are read from the module the way
  scikit-learn's ``get_params`` does, from an attribute of the same name as each ``__init__``
  parameter (``def __init__(self, n_in, hidden): self.n_in = n_in; self.hidden = hidden``), or given
  explicitly with ``save_model(..., flavor_options={"init": {"n_in": 4, "hidden": 16}})``.
  Saving rebuilds the module from them on PyTorch's ``meta`` device (no memory) and checks that every
  weight has the same name and shape, so a module that would not load is not saved.

The class's source must travel with the model: a module that no installed distribution provides
(the project's own code) is found from the class and copied into ``code/`` (the whole top-level
package when it is one); or pass the file or package folder in ``code_paths``.

``predict`` runs the module in eval mode under ``torch.no_grad()``: a DataFrame or array becomes one
float32 tensor (``flavor_options={"input_dtype": "int64"}`` for index inputs), named tensors become
keyword arguments, and the output tensor (or dict of tensors) comes back as NumPy. A module that
defines ``predict_proba`` offers it too, called the same way.

A ``torch.export.ExportedProgram`` (a graph with its weights, no code needed) is saved with
``torch.export.save`` and loaded with ``torch.export.load``; export it with a dynamic batch dimension.
TorchScript is deprecated by PyTorch and refused.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.models._flavor import FlavorData, require

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["FLAVOR", "PyTorchFlavor"]

_STATE_FILE = "state_dict.pt"
_PROGRAM_FILE = "model.pt2"
_OPTIONS = ("init", "input_dtype")
_DTYPES = ("float32", "float64", "float16", "int64", "int32", "bool")


class PyTorchFlavor:
    """The ``pytorch`` flavor (extra ``torch``)."""

    name = "pytorch"
    extra: str | None = "torch"

    def detect(self, obj: object) -> bool:
        torch = sys.modules.get("torch")  # not imported: obj cannot be a module
        if torch is None:
            return False
        export = sys.modules.get("torch.export")
        return isinstance(obj, torch.nn.Module) or (
            export is not None and isinstance(obj, export.ExportedProgram)
        )

    def save(self, obj: object, folder: Path, *, options: Mapping[str, Any] | None = None) -> FlavorData:
        torch = require("torch", flavor=self.name, extra=self.extra)
        given = dict(options or {})
        unknown = sorted(set(given) - set(_OPTIONS))
        if unknown:
            raise InvalidInput(f"pytorch: unknown flavor_options {unknown} (known: {', '.join(_OPTIONS)})")
        dtype = str(given.get("input_dtype", "float32"))
        if dtype not in _DTYPES:
            raise InvalidInput(f"pytorch: input_dtype {dtype!r} is not one of {', '.join(_DTYPES)}")
        common = {"torch_version": str(torch.__version__), "input_dtype": dtype}  # a str subclass
        if isinstance(obj, torch.export.ExportedProgram):
            if "init" in given:
                raise InvalidInput(
                    "pytorch: an ExportedProgram has no constructor; drop flavor_options['init']"
                )
            torch.export.save(obj, str(folder / _PROGRAM_FILE))
            return FlavorData(
                options={"file": _PROGRAM_FILE, "format": "torch.export", **common}, data=(_PROGRAM_FILE,)
            )
        if isinstance(obj, torch.jit.ScriptModule):
            raise InvalidInput(
                "pytorch: TorchScript is deprecated by PyTorch and not saved; save the nn.Module itself "
                "(its weights and code) or a torch.export.ExportedProgram"
            )
        if not isinstance(obj, torch.nn.Module):
            raise InvalidInput(f"pytorch: expected a torch.nn.Module, got {type(obj).__name__}")
        cls = type(obj)
        if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
            raise InvalidInput(
                f"pytorch: class {cls.__qualname__} is defined in {cls.__module__}, so it cannot be imported "
                "when the model loads; move it into a module (it is then copied into the model's code/)"
            )
        init = dict(given["init"]) if "init" in given else _constructor_arguments(obj)
        state = obj.state_dict()
        _check_rebuilds(torch, cls, init, state)
        torch.save(state, folder / _STATE_FILE)
        options = {
            "file": _STATE_FILE,
            "format": "state_dict",
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "init": init,
            **common,
        }
        return FlavorData(
            options=options,
            data=(_STATE_FILE,),
            modules=frozenset({cls.__module__}),
            code=_project_code(cls.__module__),
        )

    def load(self, folder: Path, options: Mapping[str, Any]) -> object:
        torch = require("torch", flavor=self.name, extra=self.extra)
        path = folder / str(options.get("file", _STATE_FILE))
        if options.get("format") == "torch.export":
            return torch.export.load(str(path))
        cls = _import_class(torch, str(options.get("class", "")))
        state = torch.load(path, map_location="cpu", weights_only=True)
        module = cls(**dict(options.get("init") or {}))
        module.load_state_dict(state)
        module.eval()
        return module

    def requirements(self, obj: object) -> list[str]:
        return ["torch", "numpy"]

    def methods(self, model: object, options: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
        import torch

        dtype = str(options.get("input_dtype", "float32"))
        if isinstance(model, torch.export.ExportedProgram):
            return {"predict": _runner(torch, model.module(), dtype, train_mode=False)}
        assert isinstance(model, torch.nn.Module)
        out = {"predict": _runner(torch, model, dtype, train_mode=True)}
        proba = getattr(model, "predict_proba", None)
        if callable(proba):
            out["predict_proba"] = _runner(torch, model, dtype, train_mode=True, call=proba)
        return out


# ---------------------------------------------------------------------- save


def _json_value(value: object) -> bool:
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_json_value(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_value(v) for k, v in value.items())
    return False


def _constructor_arguments(module: object) -> dict[str, Any]:
    """Each ``__init__`` parameter, read from the attribute of the same name (scikit-learn's rule)."""
    cls = type(module)
    fix = (
        f"store each constructor argument as an attribute of the same name, or pass "
        f"flavor_options={{'init': {{...}}}} with the arguments that rebuild {cls.__qualname__}"
    )
    missing = object()
    init: dict[str, Any] = {}
    for param in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidInput(f"pytorch: {cls.__qualname__}.__init__ takes *{param.name}; {fix}")
        value = getattr(module, param.name, missing)
        if value is missing:
            raise InvalidInput(f"pytorch: {cls.__qualname__} has no attribute {param.name!r}; {fix}")
        if not _json_value(value):
            raise InvalidInput(
                f"pytorch: {cls.__qualname__}.{param.name} is a {type(value).__name__}, not the JSON "
                f"value the constructor was given; {fix}"
            )
        init[param.name] = list(value) if isinstance(value, tuple) else value
    return init


def _check_rebuilds(torch: Any, cls: type, init: dict[str, Any], state: Mapping[str, Any]) -> None:
    """Build the class on the meta device (no memory) and compare every weight's name and shape.

    A constructor that needs real tensors (it reads a value from one) is built on the CPU instead.
    """
    probe = None
    with contextlib.suppress(Exception), torch.device("meta"):
        probe = cls(**init)
    if probe is None:
        try:
            probe = cls(**init)
        except Exception as exc:
            raise InvalidInput(
                f"pytorch: {cls.__qualname__}(**{init!r}) fails ({type(exc).__name__}: {exc}); pass "
                "flavor_options={'init': {...}} with the arguments that rebuild it"
            ) from exc
    expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    actual = {k: tuple(v.shape) for k, v in state.items() if hasattr(v, "shape")}
    if expected != actual:
        diff = sorted(set(expected) ^ set(actual)) or sorted(k for k in actual if expected[k] != actual[k])
        raise InvalidInput(
            f"pytorch: {cls.__qualname__}(**{init!r}) does not rebuild this module: its weights differ at "
            f"{', '.join(diff[:5])}; pass flavor_options={{'init': {{...}}}} with the arguments "
            "it was built with"
        )


def _project_code(module_name: str) -> tuple[Path, ...]:
    """The top-level module or package of the class when it is the project's own (not installed)."""
    top = module_name.split(".")[0]
    file = getattr(sys.modules.get(top), "__file__", None)
    if file is None or top in sys.stdlib_module_names:
        return ()
    path = Path(file).resolve()
    if _installed(path):
        return ()
    return (path.parent,) if path.name == "__init__.py" else (path,)


def _installed(path: Path) -> bool:
    import site
    import sysconfig

    roots = {sysconfig.get_path(k) for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    roots |= {*site.getsitepackages(), site.getusersitepackages()}
    return any(path.is_relative_to(Path(r).resolve()) for r in roots if r)


# ---------------------------------------------------------------------- load and predict


def _import_class(torch: Any, ref: str) -> Any:
    module_name, _, qualname = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or module_name.split(".")[0] != exc.name.split(".")[0]:
            raise
        raise InvalidInput(
            f"pytorch: the model's class {ref} cannot be imported: module {exc.name!r} is neither in the "
            "model's code/ nor installed; save the model with its source in code_paths"
        ) from exc
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and issubclass(obj, torch.nn.Module)):
        raise InvalidInput(f"pytorch: {ref} is not a torch.nn.Module class")
    return obj


def _runner(
    torch: Any, module: Any, dtype: str, *, train_mode: bool, call: Callable[..., Any] | None = None
) -> Callable[[Any], Any]:
    fn = module if call is None else call

    def run(data: Any) -> Any:
        if isinstance(data, dict):
            args: tuple[Any, ...] = ()
            kwargs = {name: _tensor(torch, value, dtype) for name, value in data.items()}
        else:
            args, kwargs = (_tensor(torch, data, dtype),), {}
        was_training = train_mode and module.training  # only a module being saved is still training
        if was_training:
            module.eval()
        try:
            with torch.no_grad():
                out = fn(*args, **kwargs)
        finally:
            if was_training:
                module.train()
        return _numpy(torch, out)

    return run


def _tensor(torch: Any, data: Any, dtype: str) -> Any:
    import numpy as np

    array = data.to_numpy(dtype=dtype) if hasattr(data, "columns") else np.asarray(data, dtype=dtype)
    if not array.flags.writeable:  # torch warns about (and could write into) a read-only buffer
        array = array.copy()
    return torch.from_numpy(array)


def _numpy(torch: Any, out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.detach().cpu().numpy()
    if isinstance(out, dict) and all(isinstance(v, torch.Tensor) for v in out.values()):
        return {k: v.detach().cpu().numpy() for k, v in out.items()}
    raise InvalidInput(
        f"pytorch: the module returned a {type(out).__name__}; predict needs a tensor or a dict of tensors"
    )


FLAVOR = PyTorchFlavor()
