"""The code a step depends on, by content: its own source, what it calls in its module, local modules.

Read from the files with ``ast``, nothing imported or executed:

- the step's function, normalised (``ast.unparse`` without docstrings), so that a comment or a
  reformat does not run it again;
- every top-level statement of its module that binds or may change a name it uses, transitively,
  by name: the ``def`` of a helper, ``X = ...``, ``X += 1``, ``X[k] = ...``, ``X.append(...)``,
  and an ``if``/``try``/``with``/``for`` block (whole, its condition included) that binds or
  changes it. Editing one step of ``train.py`` does not invalidate the others;
- the whole file instead, when reading it cannot say where a name comes from: a star import
  (``from features import *``), ``globals()``, ``exec``, a ``global`` statement,
  ``sys.modules[__name__]``;
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
    from collections.abc import Callable, Iterable, Iterator, Sequence

__all__ = ["CodeScanner"]

_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORTS = (ast.Import, ast.ImportFrom)
#: Calls that bind module names no reading of the code can see (with no arguments: vars(), locals()).
_DYNAMIC = frozenset({"globals", "exec"})
_DYNAMIC_BARE = frozenset({"vars", "locals"})
#: Folders whose modules are installed packages even below the project (a virtualenv in it).
_INSTALLED = frozenset({"site-packages", "dist-packages", "__pypackages__"})


@dataclass(frozen=True, slots=True)
class _Module:
    """One parsed file: its top-level names and the modules it imports."""

    name: str  # the module's dotted name ("" when unknown)
    tree: ast.Module | None  # None when the file does not parse
    digest: str
    definitions: dict[str, tuple[ast.stmt, ...]]  # name -> the top-level statements binding or changing it
    bindings: dict[str, tuple[str, ...]]  # top-level name bound by an import -> candidate modules
    imports: tuple[str, ...]  # every module imported anywhere in the file
    opaque: bool  # a star import or a dynamic binding: the whole file stands for each step in it


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
        # In name order, breadth first: a statement binding two names (``with ... as f: X = ...``)
        # is listed once, under the same name in every process.
        pending = sorted(_names(node))
        wanted = set(_imports(node, module_name))
        seen: set[str] = set(pending)
        listed: set[int] = {id(node)}
        for name in pending:  # grows while it is walked
            if module is None:
                break
            found = [s for s in module.definitions.get(name, ()) if id(s) not in listed]
            if found:
                code[name] = _digest(*found)
                listed.update(map(id, found))
                for stmt in found:
                    wanted.update(_imports(stmt, module_name))
                    used = sorted(_names(stmt) - seen)
                    seen.update(used)
                    pending.extend(used)
            wanted.update(module.bindings.get(name, ()))
        if module is not None and module.opaque:
            wanted.update(module.imports)
            own = Path(str(file)).resolve()
            if _local(own, self._root):
                modules.update(self._local_closure(own))
            else:
                code["module"] = module.digest
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
            parsed = _Module(name, None, hashlib.sha256(data).hexdigest(), {}, {}, (), opaque=True)
        else:
            parsed = _index(name, tree)
        self._modules[path] = parsed
        return parsed


def _index(name: str, tree: ast.Module) -> _Module:
    definitions: dict[str, list[ast.stmt]] = {}
    bindings: dict[str, tuple[str, ...]] = {}
    for stmt in tree.body:
        for n in _shallow(stmt):
            if isinstance(n, _IMPORTS):
                for bound, candidates in _bound(n, name).items():
                    bindings[bound] = (*bindings.get(bound, ()), *candidates)
        if isinstance(stmt, _IMPORTS):
            continue  # a top-level import is followed as a module instead
        for touched in _touched(stmt):
            definitions.setdefault(touched, []).append(stmt)
    return _Module(
        name,
        tree,
        _digest(tree),
        {k: tuple(v) for k, v in definitions.items()},
        bindings,
        tuple(sorted(set(_imports(tree, name)))),
        opaque=_opaque(tree),
    )


def _shallow(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a top-level statement, without the bodies of the functions and classes in it."""
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (*_DEFINITIONS, ast.Lambda)):  # what runs inside one is its own
            stack.extend(ast.iter_child_nodes(node))


def _touched(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds or may change (a call at the top level may change its arguments)."""
    names: set[str] = set()
    for n in _shallow(stmt):
        if isinstance(n, _DEFINITIONS):
            names.add(n.name)
        elif isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
            names.add(n.id)
        elif isinstance(n, (ast.Attribute, ast.Subscript)) and not isinstance(n.ctx, ast.Load):
            names |= _root(n)
        elif isinstance(n, ast.Expr):
            names |= _names(n)
        elif isinstance(n, _IMPORTS):
            names |= {alias.asname or alias.name.split(".")[0] for alias in n.names if alias.name != "*"}
        elif isinstance(n, ast.ExceptHandler) and n.name:
            names.add(n.name)
    return names


def _root(target: ast.Attribute | ast.Subscript) -> set[str]:
    """``X`` of ``X.a[k].b = ...``: the name whose value the assignment changes."""
    value: ast.expr = target
    while isinstance(value, (ast.Attribute, ast.Subscript)):
        value = value.value
    return {value.id} if isinstance(value, ast.Name) else _names(value)


def _bound(stmt: ast.Import | ast.ImportFrom, module_name: str) -> dict[str, tuple[str, ...]]:
    """Name an import binds -> the modules it may be (``from a import b``: ``a``'s parents, ``a.b``)."""
    if isinstance(stmt, ast.Import):
        return {alias.asname or alias.name.split(".")[0]: tuple(_parents(alias.name)) for alias in stmt.names}
    base = _absolute(stmt, module_name)
    if base is None:
        return {}
    return {
        alias.asname or alias.name: (*_parents(base), f"{base}.{alias.name}")
        for alias in stmt.names
        if alias.name != "*"
    }


def _opaque(tree: ast.Module) -> bool:
    """Whether the file binds names that reading it cannot attribute (then the whole file counts)."""
    return any(_dynamic(n) for n in ast.walk(tree))


def _dynamic(n: ast.AST) -> bool:
    if isinstance(n, ast.ImportFrom):
        return any(alias.name == "*" for alias in n.names)
    if isinstance(n, (ast.Global, ast.Match)):
        return True
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
        bare = not n.args and not n.keywords
        return n.func.id in _DYNAMIC or (n.func.id in _DYNAMIC_BARE and bare)
    # sys.modules[__name__] and the like: the module reached as an object
    return (
        isinstance(n, ast.Attribute)
        and n.attr == "modules"
        and isinstance(n.value, ast.Name)
        and n.value.id == "sys"
    )


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
    defs = module.definitions.get(fn.__name__, ())
    found = defs[-1] if defs else None  # the last binding is the one the module ends with
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


def _digest(node: ast.AST, *more: ast.stmt) -> str:
    """SHA-256 of the nodes' source as ``ast.unparse`` writes it, docstrings left out."""
    whole = ast.Module(body=[node, *more], type_ignores=[]) if more and isinstance(node, ast.stmt) else node
    bare = copy.deepcopy(whole)
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
