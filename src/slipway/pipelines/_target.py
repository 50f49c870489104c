"""``train.py:pipeline`` and ``package.module:objective``: the one way a command names user code.

A pipeline run, a sweep and the retraining loop all start from a reference to a function in the
user's project. The file form loads the file as a module named after it, with its folder first on
``sys.path`` so that its project-local imports (``from features import ...``) resolve as they do
when the user runs the script; the dotted form imports an installed module.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from slipway.errors import InvalidInput, NotFound, SlipwayError

__all__ = ["load_target"]


def load_target(reference: str) -> Any:
    """The object ``reference`` names: ``path/to/file.py:name`` or ``package.module:name``.

    Raises InvalidInput for a malformed reference or a file that fails to import (its error in
    one line) and NotFound for a missing file or attribute.
    """
    module_part, sep, attr = reference.rpartition(":")
    if not sep or not module_part or not attr.isidentifier():
        raise InvalidInput(f"{reference!r}: expected FILE.py:NAME or MODULE:NAME")
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module = _load_file(Path(module_part))
    else:
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            raise NotFound(f"{module_part}: no such module ({exc})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise NotFound(f"{module_part}: has no {attr!r}") from None


def _load_file(path: Path) -> Any:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    stat = path.stat()
    seen = (stat.st_mtime_ns, stat.st_size)
    existing = sys.modules.get(name)
    if (
        existing is not None
        and Path(getattr(existing, "__file__", "") or "").resolve() == path
        and getattr(existing, "__slipway_stat__", None) == seen
    ):
        return existing  # loaded already and unchanged since (a long-lived process reloads edits)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    module.__slipway_stat__ = seen  # type: ignore[attr-defined]
    sys.modules[name] = module  # before exec: pickling a step by reference needs the module found
    try:
        spec.loader.exec_module(module)
    except SlipwayError:  # already one line naming the problem
        sys.modules.pop(name, None)
        raise
    except Exception as exc:
        sys.modules.pop(name, None)
        raise InvalidInput(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    return module
