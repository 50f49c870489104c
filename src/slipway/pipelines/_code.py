"""The code a step depends on, by content: its own source, what it calls in its module, local modules.

Read from the files with ``ast``, nothing imported or executed:

- the step's function, normalised (``ast.unparse`` without docstrings), so that a comment or a
  reformat does not run it again;
- every top-level function, class or constant of its module that it uses, transitively, each by
  name: editing one step of ``train.py`` does not invalidate the others;
- every project-local module reached from the names it uses (``from features import build``),
  and transitively every local module those import, each a whole file. "Local" means a file below
  the pipeline's folder; installed packages are covered by the environment lock instead.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import inspect
import marshal
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

__all__ = ["CodeScanner"]

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
#: Folders whose modules are installed packages even below the project (a virtualenv in it).
_INSTALLED = frozenset({"site-packages", "dist-packages", "__pypackages__"})


@dataclass(frozen=True, slots=True)
class _Module:
    """One parsed file: its top-level names and the modules it imports."""

    name: str  # the module's dotted name ("" when unknown)
    tree: ast.Module | None  # None when the file does not parse
    digest: str
    definitions: dict[str, ast.stmt]  # top-level def/class/assignment by the name it binds
    bindings: dict[str, tuple[str, ...]]  # top-level name bound by an import -> candidate modules
    imports: tuple[str, ...]  # every module imported anywhere in the file


class CodeScanner:
    """Code components of steps, parsing each file once (make one per pipeline run).

    Args:
        root: the project folder; only modules in files below it are followed.
        search: folders that import resolution searches (the root first, then ``sys.path``
            entries below it).
    """

    def __init__(self, root: Path, *, search: Sequence[Path] | None = None) -> None:
        self._root = root.resolve()
        if search is None:
            search = [self._root, *(Path(p).resolve() for p in sys.path if p and _local(Path(p), self._root))]
        self._search = list(dict.fromkeys(search))
        self._modules: dict[Path, _Module] = {}
        self._closure: dict[Path, dict[str, str]] = {}

    def components(self, fn: Callable[..., Any]) -> tuple[dict[str, str], dict[str, str]]:
        """(code: "step" and each helper -> digest, modules: local file -> digest) of ``fn``."""
        module_name = getattr(fn, "__module__", "") or ""
        file = getattr(sys.modules.get(module_name), "__file__", None)
        module = self._parse(Path(file).resolve(), module_name) if file and file.endswith(".py") else None
        node = _find(module, fn) if module is not None else None
        if node is None:
            node = _from_source(fn)
        if node is None:  # no source anywhere (built in a string): the compiled code stands for it
            return {"step": hashlib.sha256(marshal.dumps(fn.__code__)).hexdigest()}, {}
        code = {"step": _digest(node)}
        modules: dict[str, str] = {}
        pending = list(_names(node))
        wanted = set(_imports(node, module_name))
        seen: set[str] = set(pending)
        while pending:
            name = pending.pop()
            if module is None:
                continue
            found = module.definitions.get(name)
            if found is not None and name != fn.__name__:
                code[name] = _digest(found)
                wanted.update(_imports(found, module_name))
                for used in _names(found) - seen:
                    seen.add(used)
                    pending.append(used)
            wanted.update(module.bindings.get(name, ()))
        for candidate in sorted(wanted):
            path = self._resolve(candidate)
            if path is not None:
                modules.update(self._local_closure(path))
        return code, modules

    # ---------------------------------------------------------------- modules
    def _local_closure(self, path: Path) -> dict[str, str]:
        """The file and every local module it imports, transitively: relative name -> digest."""
        if path in self._closure:
            return self._closure[path]
        out: dict[str, str] = {}
        stack = [path]
        while stack:
            current = stack.pop()
            rel = current.relative_to(self._root).as_posix()
            if rel in out:
                continue
            parsed = self._parse(current, _module_name(current, self._search))
            out[rel] = parsed.digest
            stack.extend(p for p in map(self._resolve, parsed.imports) if p is not None)
        self._closure[path] = out
        return out

    def _resolve(self, dotted: str) -> Path | None:
        """The local file of a module (``a.b`` -> ``a/b.py`` or ``a/b/__init__.py``), or None."""
        parts = dotted.split(".")
        for folder in self._search:
            base = folder.joinpath(*parts)
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file() and _local(candidate, self._root):
                    return candidate.resolve()
        return None

    def _parse(self, path: Path, name: str) -> _Module:
        if path in self._modules:
            return self._modules[path]
        data = path.read_bytes()
        try:
            tree = ast.parse(data, filename=str(path))
        except (SyntaxError, ValueError):
            parsed = _Module(name, None, hashlib.sha256(data).hexdigest(), {}, {}, ())
        else:
            parsed = _index(name, tree)
        self._modules[path] = parsed
        return parsed


def _index(name: str, tree: ast.Module) -> _Module:
    definitions: dict[str, ast.stmt] = {}
    bindings: dict[str, tuple[str, ...]] = {}
    for stmt in tree.body:
        if isinstance(stmt, _DEFINITIONS):
            definitions[stmt.name] = stmt
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        definitions[n.id] = stmt
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                bound = alias.asname or alias.name.split(".")[0]
                bindings[bound] = (*bindings.get(bound, ()), *_parents(alias.name))
        elif isinstance(stmt, ast.ImportFrom):
            base = _absolute(stmt, name)
            if base is None:
                continue
            for alias in stmt.names:
                bound = alias.asname or alias.name
                bindings[bound] = (*bindings.get(bound, ()), *_parents(base), f"{base}.{alias.name}")
    return _Module(name, tree, _digest(tree), definitions, bindings, tuple(sorted(set(_imports(tree, name)))))


def _imports(node: ast.AST, module_name: str) -> Iterable[str]:
    """Every module an import inside ``node`` may load (a ``from a import b`` may mean ``a.b``)."""
    for n in ast.walk(node):
        if isinstance(n, ast.Import):
            for alias in n.names:
                yield from _parents(alias.name)
        elif isinstance(n, ast.ImportFrom):
            base = _absolute(n, module_name)
            if base is not None:
                yield from _parents(base)
                for alias in n.names:
                    yield f"{base}.{alias.name}"


def _absolute(stmt: ast.ImportFrom, module_name: str) -> str | None:
    if not stmt.level:
        return stmt.module
    parts = module_name.split(".")[: -stmt.level] if module_name else []
    if not parts and not stmt.module:
        return None
    return ".".join([*parts, *([stmt.module] if stmt.module else [])])


def _parents(dotted: str) -> list[str]:
    """``a.b.c`` loads ``a``, ``a.b`` and ``a.b.c`` (each package's ``__init__`` runs)."""
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _module_name(path: Path, search: Sequence[Path]) -> str:
    for folder in search:
        if _below(path, folder):
            rel = path.relative_to(folder).with_suffix("")
            parts = list(rel.parts[:-1]) if rel.name == "__init__" else list(rel.parts)
            return ".".join(parts)
    return path.stem


def _find(module: _Module, fn: Callable[..., Any]) -> ast.stmt | None:
    if "." in getattr(fn, "__qualname__", "") or module.tree is None:
        return None  # a method or a nested function: read from its own source below
    found = module.definitions.get(fn.__name__)
    return found if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


def _from_source(fn: Callable[..., Any]) -> ast.stmt | None:
    try:
        source = textwrap.dedent(inspect.getsource(fn))
        body = ast.parse(source).body
    except (OSError, TypeError, SyntaxError):
        return None
    return body[0] if body else None


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _digest(node: ast.AST) -> str:
    """SHA-256 of the node's source as ``ast.unparse`` writes it, docstrings left out."""
    bare = copy.deepcopy(node)
    for n in ast.walk(bare):
        if isinstance(n, (*_DEFINITIONS, ast.Module)) and n.body:
            first = n.body[0]
            docstring = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            if docstring and isinstance(first.value.value, str):  # type: ignore[attr-defined]
                n.body = n.body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.unparse(bare).encode()).hexdigest()


def _below(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


def _local(path: Path, root: Path) -> bool:
    """Project code: below the root, but not in an environment kept there (``.venv``, site-packages)."""
    resolved = path.resolve()
    if not resolved.is_relative_to(root):
        return False
    parts = resolved.relative_to(root).parts
    return not any(p.startswith(".") or p in _INSTALLED for p in parts)
