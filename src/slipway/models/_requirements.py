"""Pinned requirements at save, and the environment check at load.

MLflow spends most of ``log_model`` inferring requirements by importing the model in a subprocess
and tracing imports. Here nothing is traced: each flavor declares the distributions it needs, and the
pickle the flavor wrote already names every module it will import at load (its GLOBAL opcodes), so
those are mapped to distributions too. Versions come from the installed metadata
(``importlib.metadata``), which costs well under a millisecond per package.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "Mismatch",
    "check_environment",
    "distributions_for_modules",
    "normalize",
    "pin",
    "public_version",
]

_NORMALIZE = re.compile(r"[-_.]+")
_SPLIT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._\-]*)\s*(?:\[[^\]]*\])?\s*(.*?)\s*(?:;.*)?$")
# Import names that differ from their distribution's, for the common cases; anything else not found
# by name falls back to importlib's full map (about 0.1 s, so only when needed).
_KNOWN = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "PIL": "pillow",
    "cv2": "opencv-python",
    "skimage": "scikit-image",
    "attr": "attrs",
    "google.protobuf": "protobuf",
    "dateutil": "python-dateutil",
}
_IGNORED = frozenset({"__main__", "builtins", "copyreg", "_codecs", "__builtin__"})


def normalize(name: str) -> str:
    """PEP 503 form: ``Scikit_Learn`` -> ``scikit-learn``."""
    return _NORMALIZE.sub("-", name).lower()


def installed_version(dist: str) -> str | None:
    import importlib.metadata  # imported on first use: it costs ~15 ms, and import slipway.models should not

    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def pin(names: Iterable[str]) -> list[str]:
    """``name==installed version`` for each installed distribution; lines with a specifier are kept.

    The pin is the public version: a local label (``torch 2.13.0+cpu``) names a build that no
    package index serves, and PEP 440's ``==2.13.0`` already matches every local build of it.
    A bare name that is not installed is kept bare (the user asked for it; pip will resolve it).
    """
    out: dict[str, str] = {}
    for raw in names:
        m = _SPLIT.match(raw)
        if not m:
            continue
        name, spec = normalize(m.group(1)), m.group(2)
        if spec:
            out[name] = f"{name}{spec.replace(' ', '')}"
            continue
        version = installed_version(name)
        out.setdefault(name, f"{name}=={public_version(version)}" if version else name)
    return sorted(out.values())


def public_version(version: str) -> str:
    """The version without its local label: ``2.13.0+cpu`` -> ``2.13.0``."""
    return version.partition("+")[0]


def _same_version(recorded: str, installed: str) -> bool:
    """PEP 440 ``==``: a recorded version without a local label matches any local build of it."""
    return installed == recorded or ("+" not in recorded and public_version(installed) == recorded)


_packages_map: dict[str, list[str]] | None = None


def _dist_of(module: str) -> str | None:
    global _packages_map
    top = module.split(".")[0]
    known = _KNOWN.get(module) or _KNOWN.get(top)
    if known:
        return known
    if installed_version(top) is not None:
        return normalize(top)
    if _packages_map is None:
        import importlib.metadata

        _packages_map = dict(importlib.metadata.packages_distributions())
    dists = _packages_map.get(top)
    return normalize(dists[0]) if dists else None


def distributions_for_modules(
    modules: Iterable[str], *, local: Iterable[Path] = ()
) -> tuple[set[str], set[str]]:
    """Map module names to distributions: ``(distributions, modules no distribution provides)``.

    Standard-library modules are skipped, and so are modules whose file lies in one of the ``local``
    folders (the model's own code, copied with it).
    """
    roots = [p.resolve() for p in local]
    dists: set[str] = set()
    unknown: set[str] = set()
    for module in sorted({m.split(".")[0] for m in modules} - _IGNORED):
        if module in sys.stdlib_module_names or module.startswith("_"):
            continue
        file = getattr(sys.modules.get(module), "__file__", None)
        if file and any(_inside(Path(file), r) for r in roots):
            continue
        dist = _dist_of(module)
        if dist is None:
            unknown.add(module)
        else:
            dists.add(dist)
    return dists, unknown


def _inside(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True, kw_only=True)
class Mismatch:
    """One difference between the recorded environment and this one (``installed`` None: missing)."""

    package: str
    recorded: str
    installed: str | None

    def __str__(self) -> str:
        got = "not installed" if self.installed is None else f"{self.installed} installed"
        return f"{self.package} {self.recorded} recorded, {got}"


def check_environment(
    requirements: Iterable[str],
    *,
    python_version: str | None = None,
    installed: dict[str, str | None] | None = None,
    current_python: str | None = None,
) -> list[Mismatch]:
    """Every recorded requirement this environment does not satisfy, by name and both versions.

    Pins (``==``) must match (a pin without a local label matches any local build, as in PEP 440);
    other lines only need the distribution installed. Python is
    compared by major.minor, since that is what decides whether a pickle loads. ``installed`` and
    ``current_python`` replace what is looked up, for tests and for checking another environment.
    """
    out: list[Mismatch] = []
    if python_version:
        here = current_python or f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
        if here.split(".")[:2] != python_version.split(".")[:2]:
            out.append(Mismatch(package="python", recorded=python_version, installed=here))
    for line in requirements:
        m = _SPLIT.match(line)
        if not m or line.lstrip().startswith("#"):
            continue
        name, spec = normalize(m.group(1)), m.group(2).replace(" ", "")
        have = installed[name] if installed is not None and name in installed else installed_version(name)
        if have is None:
            recorded = spec[2:] if spec.startswith("==") else spec or "(any version)"
            out.append(Mismatch(package=name, recorded=recorded, installed=None))
        elif spec.startswith("==") and "," not in spec and not _same_version(spec[2:], have):
            out.append(Mismatch(package=name, recorded=spec[2:], installed=have))
    return out
