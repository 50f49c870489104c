"""Pickle files for the flavors that use them, and the modules a pickle will import when loaded.

Unpickling imports every module the pickle names (its GLOBAL and STACK_GLOBAL opcodes): exactly the
code the model needs. Reading those names from the bytes just written gives the model's requirements
without importing or tracing anything. ``load`` is only ever called after the folder's digests were
verified (see :mod:`slipway.models._integrity`).
"""

from __future__ import annotations

import pickle
import pickletools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["dump", "load", "modules_in_pickle"]

_STRINGS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING", "BINSTRING"})
_GETS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUTS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})


def modules_in_pickle(data: bytes) -> set[str]:
    """The modules a pickle imports when loaded, read from its opcodes (nothing is executed)."""
    modules: set[str] = set()
    memo: dict[int, Any] = {}
    recent: list[Any] = []  # the values of the last two pushes, enough for STACK_GLOBAL
    for op, arg, _ in pickletools.genops(data):
        name = op.name
        if name in ("FRAME", "PROTO", "STOP"):
            continue
        if name == "MEMOIZE":
            memo[len(memo)] = recent[-1] if recent else None
            continue
        if name in _PUTS:
            memo[int(arg)] = recent[-1] if recent else None  # type: ignore[arg-type]
            continue
        value: Any = None
        if name in _STRINGS:
            value = arg
        elif name in _GETS:
            value = memo.get(int(arg))  # type: ignore[arg-type]
        elif name == "STACK_GLOBAL":
            if len(recent) >= 2 and isinstance(recent[-2], str):
                modules.add(recent[-2])
        elif name in ("GLOBAL", "INST"):
            modules.add(str(arg).split(" ", 1)[0])
        recent = [*recent[-1:], value]
    return modules


def dump(obj: object, path: Path, *, by_value: bool = False) -> set[str]:
    """Pickle ``obj`` to ``path`` (cloudpickle when ``by_value``); return the modules it references."""
    if by_value:
        import cloudpickle

        data = cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    path.write_bytes(data)
    return modules_in_pickle(data)


def load(path: Path) -> Any:
    """Unpickle a file whose digest the caller has already verified."""
    with path.open("rb") as f:
        return pickle.load(f)  # verified against the manifest before this call
