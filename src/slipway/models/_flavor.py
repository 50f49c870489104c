"""The flavor protocol and the registry that finds a flavor by name or by the object it saves.

A flavor knows one framework: how to tell its objects apart (``detect``), write one into a folder
(``save``), read it back (``load``), which distributions it needs (``requirements``), and which
prediction methods a loaded object offers (``methods``). Everything else (the manifest, digests,
signatures, the environment check, the one ``Model`` interface) is shared, so a flavor is small.

Built-in flavors are listed in ``_BUILTIN`` in detection order, most specific first (a framework
whose estimators subclass scikit-learn's must come before ``sklearn``); ``pyfunc`` (anything with
``predict``) is always tried last. Third-party flavors register a ``Flavor`` object under the
``slipway.flavors`` entry-point group; they are looked up only when a name is not built in or no
built-in flavor recognises an object, so installing one costs nothing until it is needed.

A flavor imports its framework inside its functions, never at module level, so that finding a flavor
stays cheap and a missing framework surfaces as :class:`MissingExtra` naming the extra to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from slipway.errors import InvalidInput, MissingExtra

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from importlib.metadata import EntryPoint
    from pathlib import Path
    from types import ModuleType

__all__ = [
    "ENTRY_POINT_GROUP",
    "Flavor",
    "FlavorData",
    "detect_flavor",
    "flavor_names",
    "get_flavor",
    "require",
]

ENTRY_POINT_GROUP = "slipway.flavors"

# name -> "module:attribute" of its Flavor object, in detection order (pyfunc must stay last).
_BUILTIN: dict[str, str] = {
    # XGBoost's and LightGBM's estimators subclass scikit-learn's, so they come first.
    "xgboost": "slipway.models.flavors.xgboost:FLAVOR",
    "lightgbm": "slipway.models.flavors.lightgbm:FLAVOR",
    "sklearn": "slipway.models.flavors.sklearn:FLAVOR",
    "pytorch": "slipway.models.flavors.pytorch:FLAVOR",
    "onnx": "slipway.models.flavors.onnx:FLAVOR",
    "pyfunc": "slipway.models.flavors.pyfunc:FLAVOR",
}
_FALLBACK = "pyfunc"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlavorData:
    """What ``Flavor.save`` wrote: loader options for the manifest, its files, and referenced modules.

    ``options`` must be JSON-compatible; they come back to ``load`` and ``methods`` unchanged.
    ``modules`` are top-level modules the saved data imports when loaded (e.g. read from a pickle);
    they are mapped to distributions and pinned alongside ``Flavor.requirements``.
    ``code`` are source files or package folders the model imports and no installed distribution
    provides (the project's own code): they are copied into ``code/`` unless ``code_paths``
    already holds them.
    """

    options: dict[str, Any]
    data: tuple[str, ...]
    modules: frozenset[str] = field(default_factory=frozenset)
    code: tuple[Path, ...] = ()


@runtime_checkable
class Flavor(Protocol):
    """One framework's way of saving and loading models (see the module docstring).

    .. versionadded:: 0.1
    """

    name: str
    extra: str | None  # the slipway extra that installs the framework, named by MissingExtra

    def detect(self, obj: object) -> bool:
        """Whether ``obj`` is this framework's model; must not import the framework."""
        ...

    def save(self, obj: object, folder: Path) -> FlavorData:
        """Write ``obj``'s data files into ``folder`` (which exists and may hold other files).

        A flavor that takes options from the caller (``save_model(..., flavor_options={...})``)
        accepts them as an ``options`` keyword: ``save(obj, folder, *, options)``.
        """
        ...

    def load(self, folder: Path, options: Mapping[str, Any]) -> object:
        """Read the model back; called only after every file's digest was verified."""
        ...

    def requirements(self, obj: object) -> list[str]:
        """Distribution names the model needs at load (pinned at their installed versions)."""
        ...

    def methods(self, model: object, options: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
        """Prediction methods by name (``predict``, ``predict_proba`` …) taking enforced input.

        Each callable gets the input after signature enforcement: a DataFrame for a column
        schema, an ndarray for a tensor schema, a dict of arrays for named tensors, or the caller's
        data unchanged when the model has no signature. A callable that accepts inference params
        takes them as a ``params`` keyword.

        A flavor may also define ``finite_check(model) -> Callable[[], None] | None`` (optional):
        for a model that refuses NaN and infinity and looks for them on every call, a function that
        turns that search off in the thread calling it. A caller that has checked every input is
        finite (the inference server's codec does, for a tensor model) runs it once in the thread
        that calls the model, and the model does not search the same values a second time.
        """
        ...


def require(module: str, *, flavor: str, extra: str | None) -> ModuleType:
    """Import a flavor's framework, or raise MissingExtra naming what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        how = f"pip install 'slipway[{extra}]'" if extra else f"install the package that provides {module!r}"
        raise MissingExtra(f"the {flavor} flavor needs {module!r}, which is not installed: {how}") from exc


_loaded: dict[str, Flavor] = {}
_entry_points: dict[str, EntryPoint] | None = None


def _third_party() -> dict[str, EntryPoint]:
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points  # ~15 ms to import: only when a name is not built in

        _entry_points = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    return _entry_points


def _resolve(name: str, target: str | EntryPoint) -> Flavor:
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        obj = getattr(importlib.import_module(module), attr)
    else:
        obj = target.load()
    if not isinstance(obj, Flavor) or obj.name != name:
        raise InvalidInput(f"flavor {name!r} ({target}) does not implement slipway.models.Flavor as {name!r}")
    return obj


def get_flavor(name: str) -> Flavor:
    """The flavor registered under ``name`` (built in, or a ``slipway.flavors`` entry point)."""
    flavor = _loaded.get(name)
    if flavor is not None:
        return flavor
    target: str | EntryPoint | None = _BUILTIN.get(name) or _third_party().get(name)
    if target is None:
        raise MissingExtra(
            f"model flavor {name!r} is not available (known: {', '.join(flavor_names())}); "
            "a third-party flavor is installed as a package registering the "
            f"{ENTRY_POINT_GROUP!r} entry point"
        )
    flavor = _loaded[name] = _resolve(name, target)
    return flavor


def flavor_names() -> list[str]:
    return [*_BUILTIN, *sorted(set(_third_party()) - set(_BUILTIN))]


def detect_flavor(obj: object) -> Flavor:
    """The first flavor that recognises ``obj``: built-ins, then third parties, then ``pyfunc``."""
    for name in _BUILTIN:
        if name != _FALLBACK and get_flavor(name).detect(obj):
            return get_flavor(name)
    for name in _third_party():
        if name not in _BUILTIN and get_flavor(name).detect(obj):
            return get_flavor(name)
    fallback = get_flavor(_FALLBACK)
    if fallback.detect(obj):
        return fallback
    raise InvalidInput(
        f"cannot tell which flavor saves a {type(obj).__module__}.{type(obj).__qualname__}: "
        "no flavor recognises it and it has no predict method; "
        f"pass flavor= (known: {', '.join(flavor_names())})"
    )
