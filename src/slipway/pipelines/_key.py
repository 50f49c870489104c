"""A step's cache key: SHA-256 over recorded components, and what changed between two of them.

The components are content, never names: the step's normalised source and that of what it calls in
its own module, the digests of the project-local modules it reaches, its parameters as canonical
JSON, the content digests of its inputs (upstream outputs, files), the environment lock and its
external fingerprints. They are stored beside each execution, so a miss can be explained
("module features.py changed") by comparing components, not by guessing from one digest.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["Components", "canonical", "explain"]

#: Bumped when what goes into a key changes, so that old executions stop matching.
KEY_VERSION = 1
_MAX_SHOWN = 60  # characters of a parameter value shown in an explanation


def canonical(value: Any, *, where: str) -> str:
    """``value`` as canonical JSON (sorted keys, no spaces); anything else is a one-line error.

    Tuples read as lists and NumPy scalars as the numbers they are. A float keeps its exact
    ``repr``, so 0.1 and 0.1000000001 are different parameters.
    """
    try:
        return json.dumps(_plain(value, where), sort_keys=True, separators=(",", ":"), allow_nan=True)
    except InvalidInput:
        raise
    except (TypeError, ValueError) as exc:  # a dict with keys that are not strings, a cycle
        raise InvalidInput(f"{where}: cannot be written as JSON ({exc})") from None


def _plain(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise InvalidInput(f"{where}: a dict parameter needs string keys")
        return {k: _plain(v, where) for k, v in value.items()}
    item = getattr(value, "item", None)  # NumPy scalars
    if callable(item) and type(value).__module__ == "numpy" and getattr(value, "shape", None) == ():
        return _plain(item(), where)
    raise InvalidInput(
        f"{where} = {_short(repr(value))}: a parameter must be a JSON value (number, string, bool, "
        f"None, list, dict), not {type(value).__name__}; pass objects as another step's output"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Components:
    """What a step's key is made of; ``labels`` only say where an input came from (not hashed)."""

    code: dict[str, str]  # "step" -> digest of its source; each helper it calls -> its digest
    modules: dict[str, str]  # project-local module file (relative) -> digest
    params: dict[str, str]  # argument -> canonical JSON
    inputs: dict[str, str]  # argument -> content digest (an upstream output, a file or folder)
    environment: dict[str, str]  # "python" -> version, "lock" -> digest of the package lock
    external: dict[str, str]  # name -> fingerprint
    labels: dict[str, str] = field(default_factory=dict)  # argument -> "load.df", "data.parquet"

    def key(self) -> str:
        material = {k: v for k, v in asdict(self).items() if k != "labels"}
        material["version"] = KEY_VERSION
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()

    def to_json(self) -> bytes:
        return json.dumps({"version": KEY_VERSION, **asdict(self)}, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Components:
        raw = json.loads(data)
        return cls(
            **{
                k: {str(a): str(b) for a, b in raw.get(k, {}).items()}
                for k in ("code", "modules", "params", "inputs", "environment", "external", "labels")
            }
        )


def explain(
    old: Components,
    new: Components,
    *,
    environment: Callable[[], list[str]] | None = None,
) -> list[str]:
    """What differs from ``old`` to ``new``, most telling first, one phrase each.

    ``environment`` lists the package changes when the lock differs (reading the old lock is the
    caller's I/O); without it the change is reported without names.
    """
    reasons: list[str] = []
    for name in _changed(old.code, new.code):
        what = "the step's code" if name == "step" else f"{name}"
        reasons.append(f"{what} {_how(old.code, new.code, name)}")
    for name in _changed(old.modules, new.modules):
        reasons.append(f"module {name} {_how(old.modules, new.modules, name)}")
    for name in _changed(old.params, new.params):
        before, after = old.params.get(name), new.params.get(name)
        if before is None or after is None:
            reasons.append(f"parameter {name} {_how(old.params, new.params, name)}")
        else:
            reasons.append(f"parameter {name}: {_short(before)} → {_short(after)}")
    for name in _changed(old.inputs, new.inputs):
        label = new.labels.get(name) or old.labels.get(name) or name
        reasons.append(f"input {label} {_how(old.inputs, new.inputs, name)}")
    if old.environment != new.environment:
        if old.environment.get("python") != new.environment.get("python"):
            reasons.append(
                f"environment changed: Python {old.environment.get('python')} → "
                f"{new.environment.get('python')}"
            )
        elif old.environment.get("lock") != new.environment.get("lock"):
            packages = environment() if environment is not None else []
            shown = ", ".join(packages[:3]) + (f" (+{len(packages) - 3} more)" if len(packages) > 3 else "")
            reasons.append(f"environment changed: {shown}" if packages else "environment changed: packages")
    for name in _changed(old.external, new.external):
        before, after = old.external.get(name), new.external.get(name)
        reasons.append(f"external {name}: {_short(str(before))} → {_short(str(after))}")
    return reasons


def package_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """``scikit-learn 1.5.0 → 1.5.1``, ``+polars 1.0``, ``-numba 0.60`` from two parsed locks."""
    out = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        out.append(f"+{name} {b}" if a is None else f"-{name} {a}" if b is None else f"{name} {a} → {b}")
    return out


def _changed(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def _how(old: Mapping[str, str], new: Mapping[str, str], name: str) -> str:
    if name not in old:
        return "added"
    if name not in new:
        return "removed"
    return "changed"


def _short(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
