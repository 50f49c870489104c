"""What a run needs to be rebuilt, captured automatically: code, entry point, interpreter, packages.

Everything is recorded as ``slipway.*`` tags (searchable, shown by ``runs show`` and compared by
``runs compare``) plus two artifacts: ``slipway/requirements.lock`` (every installed distribution
as ``name==version``) and, when the working tree differs from its commit, ``slipway/git.diff``
(``git diff HEAD`` and the list of untracked files). MLflow records the clean commit of an edited
tree with no dirty flag or diff; a run here always says whether its commit is the whole story.

It must cost milliseconds, since it runs at every ``start_run``: one ``git status`` call (plus a
``git diff`` only when dirty), and the package list is read from the installed metadata once per
process, never by running pip.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import platform
import re
import shlex
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = [
    "DIFF_ARTIFACT",
    "LOCK_ARTIFACT",
    "Environment",
    "GitState",
    "capture",
    "git_state",
    "package_lock",
]

LOCK_ARTIFACT = "slipway/requirements.lock"
DIFF_ARTIFACT = "slipway/git.diff"
_GIT_TIMEOUT = 5.0
_MAX_TAG = 5_000


@dataclass(frozen=True, slots=True, kw_only=True)
class GitState:
    root: str
    commit: str | None
    branch: str | None
    dirty: bool
    remote: str | None = None
    diff: bytes = b""  # git diff HEAD, then "# untracked: path" lines; empty when clean
    untracked: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Environment:
    tags: dict[str, str]
    artifacts: dict[str, bytes] = field(default_factory=dict)  # artifact path -> content


def capture(
    *,
    environ: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
    cwd: Path | None = None,
    exclude: Sequence[str] = (".slipway",),
) -> Environment:
    """Tags and artifacts describing this process; never raises (a missing git is simply absent)."""
    tags: dict[str, str] = {}
    artifacts: dict[str, bytes] = {}
    source = _source(environ or {}, list(sys.argv if argv is None else argv))
    tags.update({k: v[:_MAX_TAG] for k, v in source.items() if v})
    tags["slipway.python.version"] = platform.python_version()
    tags["slipway.python.implementation"] = platform.python_implementation()
    tags["slipway.platform"] = platform.platform()
    with contextlib.suppress(OSError):  # sandboxes without a hostname
        tags["slipway.host"] = socket.gethostname()
    lock = package_lock()
    artifacts[LOCK_ARTIFACT] = lock
    tags["slipway.packages.digest"] = hashlib.sha256(lock).hexdigest()
    tags["slipway.packages.count"] = str(lock.count(b"\n"))

    where = cwd or Path.cwd()
    script = source.get("slipway.source.name", "")
    if source.get("slipway.source.type") == "script" and script:
        where = Path(script).parent
    git = git_state(where, exclude=exclude)
    if git is not None:
        tags["slipway.git.root"] = git.root
        if git.commit:
            tags["slipway.git.commit"] = git.commit
        if git.branch:
            tags["slipway.git.branch"] = git.branch
        if git.remote:
            tags["slipway.git.remote"] = git.remote
        tags["slipway.git.dirty"] = "true" if git.dirty else "false"
        if git.dirty:
            artifacts[DIFF_ARTIFACT] = git.diff
            tags["slipway.git.diff_digest"] = hashlib.sha256(git.diff).hexdigest()
    return Environment(tags=tags, artifacts=artifacts)


def _source(environ: Mapping[str, str], argv: list[str]) -> dict[str, str]:
    """The entry point: a script, ``python -m module``, a notebook, or an interactive session."""
    command = shlex.join(getattr(sys, "orig_argv", None) or [sys.executable, *argv])
    notebook = _notebook(environ)
    if notebook is not None:
        return {"slipway.source.type": "notebook", "slipway.source.name": notebook}
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name not in ("__main__", ""):
        name = spec.name.removesuffix(".__main__")
        return {
            "slipway.source.type": "module",
            "slipway.source.name": name,
            "slipway.source.command": command,
        }
    first = argv[0] if argv else ""
    if first in ("", "-c") or getattr(main, "__file__", None) is None:
        kind = "command" if first == "-c" else "interactive"
        return {"slipway.source.type": kind, "slipway.source.command": command}
    return {
        "slipway.source.type": "script",
        "slipway.source.name": str(Path(first).resolve()),
        "slipway.source.command": command,
    }


def _notebook(environ: Mapping[str, str]) -> str | None:
    if "ipykernel" not in sys.modules:
        return None
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return None
    user_ns = getattr(shell, "user_ns", {})
    # VS Code puts the notebook's path in the namespace; Jupyter Server in JPY_SESSION_NAME.
    path = user_ns.get("__vsc_ipynb_file__") or environ.get("JPY_SESSION_NAME") or ""
    return str(path) or "notebook"


_lock_cache: bytes | None = None
_NORMALIZE = re.compile(r"[-_.]+")


def package_lock() -> bytes:
    """Installed distributions as sorted ``name==version`` lines (PEP 503 names), once per process.

    Read from the metadata on ``sys.path`` the way importlib resolves them (the first of two copies
    wins), never by running pip, which would take seconds.
    """
    global _lock_cache
    if _lock_cache is None:
        seen: dict[str, str] = {}
        for dist in importlib.metadata.distributions():
            # _normalized_name comes from the folder name: no METADATA parse, 3x faster than .name
            raw = getattr(dist, "_normalized_name", None) or dist.metadata["Name"] or ""
            name = _NORMALIZE.sub("-", str(raw)).lower()
            if name and name not in seen:
                seen[name] = dist.version
        _lock_cache = "".join(f"{n}=={v}\n" for n, v in sorted(seen.items())).encode()
    return _lock_cache


def parse_lock(text: str) -> dict[str, str]:
    """``name==version`` lines back into a mapping (comments and blank lines ignored)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and name and not name.startswith("#"):
            out[name] = version
    return out


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes] | None:
    try:
        # --no-optional-locks: never take the index lock, so a capture cannot break a concurrent commit
        return subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=cwd,
            capture_output=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None


def git_state(where: Path, *, exclude: Sequence[str] = (".slipway",)) -> GitState | None:
    """Commit, branch, dirty flag and diff of the repository containing ``where``; None outside one."""
    top = _git(["rev-parse", "--show-toplevel"], where)
    if top is None or top.returncode != 0:
        return None
    root = top.stdout.decode(errors="replace").strip()
    status = _git(["status", "--porcelain=v2", "--branch", "-z"], Path(root))
    if status is None or status.returncode != 0:
        return None
    commit: str | None = None
    branch: str | None = None
    changed = False
    untracked: list[str] = []
    fields = status.stdout.decode(errors="surrogateescape").split("\0")
    i = 0
    while i < len(fields):
        entry = fields[i]
        i += 1
        if entry.startswith("# branch.oid "):
            oid = entry.removeprefix("# branch.oid ")
            commit = None if oid == "(initial)" else oid
        elif entry.startswith("# branch.head "):
            head = entry.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif entry.startswith(("1 ", "u ")):
            changed = True
        elif entry.startswith("2 "):
            changed = True
            i += 1  # a rename carries its original path in the next field
        elif entry.startswith("? "):
            path = entry[2:]
            if not any(path == e or path.startswith(e.rstrip("/") + "/") for e in exclude):
                untracked.append(path)
    dirty = changed or bool(untracked)
    diff = b""
    if dirty:
        if changed and commit is not None:
            out = _git(["diff", "HEAD", "--no-color", "--no-ext-diff"], Path(root))
            if out is not None and out.returncode == 0:
                diff = out.stdout
        if untracked:
            diff += b"".join(f"# untracked: {p}\n".encode(errors="surrogateescape") for p in untracked)
    remote = _git(["config", "--get", "remote.origin.url"], Path(root))
    remote_url = remote.stdout.decode(errors="replace").strip() if remote and remote.returncode == 0 else None
    return GitState(
        root=root,
        commit=commit,
        branch=branch,
        dirty=dirty,
        remote=_without_credentials(remote_url) if remote_url else None,
        diff=diff,
        untracked=tuple(untracked),
    )


def _without_credentials(url: str) -> str:
    """A remote as it may be stored: ``https://user:token@host/x`` loses its user and token."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url
