"""What a run needs to be rebuilt, captured automatically: code, entry point, interpreter, packages.

Everything is recorded as ``slipway.*`` tags (searchable, shown by ``runs show`` and compared by
``runs compare``) plus two artifacts: ``slipway/requirements.lock`` (every installed distribution
as ``name==version``, or ``name @ url`` for one installed from a folder, a VCS or an archive) and,
when the working tree differs from its commit, ``slipway/git.diff``: ``git diff HEAD``, the list of
untracked files, and the content of the untracked text files as new-file diffs (bounded; what is
left out is said), so that ``git apply`` on a checkout of the commit rebuilds the tree. MLflow
records the clean commit of an edited tree with no dirty flag or diff; a run here always says
whether its commit is the whole story.

It must cost milliseconds, since it runs at every ``start_run``: one ``git status`` call (plus a
``git diff`` and a listing of untracked files only when dirty), and the package list is read from
the installed metadata once per process, never by running pip.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
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

from slipway.core import GIT_COMMIT_TAG, GIT_DIRTY_TAG, GIT_ROOT_TAG, SOURCE_CWD_TAG

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

# The folder the process started in, relative to the repository root ("." for the root).
_CWD_TAG = SOURCE_CWD_TAG
LOCK_ARTIFACT = "slipway/requirements.lock"
DIFF_ARTIFACT = "slipway/git.diff"
_GIT_TIMEOUT = 5.0
_MAX_TAG = 5_000
_MAX_UNTRACKED_FILE = 1_000_000  # bytes: larger untracked files are listed, not included
_MAX_UNTRACKED_TOTAL = 5_000_000  # bytes of untracked content per run
_MAX_UNTRACKED_LISTED = 1_000  # names listed; past it, a count
_BINARY_SNIFF = 8_000  # as git: a NUL byte in the first 8000 bytes makes a file binary


@dataclass(frozen=True, slots=True, kw_only=True)
class GitState:
    root: str
    commit: str | None
    branch: str | None
    dirty: bool
    remote: str | None = None
    diff: bytes = b""  # git diff HEAD, "# untracked: path" lines, new-file diffs; empty when clean
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

    started = cwd or Path.cwd()
    where = started
    script = source.get("slipway.source.name", "")
    if source.get("slipway.source.type") == "script" and script:
        where = Path(script).parent
    git = git_state(where, exclude=exclude)
    if git is not None:
        tags[GIT_ROOT_TAG] = git.root
        folder = _relative_folder(started, git.root)
        if folder is not None:  # `python -m pkg.train` run from sub/ is re-run from sub/ (reproduce)
            tags[_CWD_TAG] = folder
        if git.commit:
            tags[GIT_COMMIT_TAG] = git.commit
        if git.branch:
            tags["slipway.git.branch"] = git.branch
        if git.remote:
            tags["slipway.git.remote"] = git.remote
        tags[GIT_DIRTY_TAG] = "true" if git.dirty else "false"
        if git.dirty:
            artifacts[DIFF_ARTIFACT] = git.diff
            tags["slipway.git.diff_digest"] = hashlib.sha256(git.diff).hexdigest()
    return Environment(tags=tags, artifacts=artifacts)


def _relative_folder(folder: Path, root: str) -> str | None:
    """``folder`` relative to the repository ``root`` (``.`` for the root); None outside it."""
    try:
        rel = os.path.relpath(os.path.realpath(folder), os.path.realpath(root))
    except ValueError:  # another drive (Windows)
        return None
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        return None
    return Path(rel).as_posix()


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
    """Installed distributions as sorted lines (PEP 503 names), once per process.

    ``name==version``, or ``name @ url  # version`` for a distribution installed from a folder
    (editable or not), a VCS or an archive, as its PEP 610 ``direct_url.json`` tells. Read from the
    metadata on ``sys.path`` the way importlib resolves them (the first of two copies wins), never
    by running pip, which would take seconds.
    """
    global _lock_cache
    if _lock_cache is None:
        seen: dict[str, str] = {}
        for dist in importlib.metadata.distributions():
            raw_name, version = _name_and_version(dist)
            name = _NORMALIZE.sub("-", raw_name).lower()
            if not name or name in seen:
                continue
            url = _direct_url(dist)
            seen[name] = f"{name} @ {url}  # {version}" if url else f"{name}=={version}"
        _lock_cache = "".join(f"{line}\n" for _, line in sorted(seen.items())).encode()
    return _lock_cache


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str, str]:
    """Name and Version from the metadata's header lines: a full parse costs 7x more for the same."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = ""
    for line in text.splitlines():
        if not line:  # the end of the headers
            break
        if line.startswith("Name:"):
            name = line[5:].strip()
        elif line.startswith("Version:"):
            version = line[8:].strip()
        if name and version:
            break
    return name, version


def _direct_url(dist: importlib.metadata.Distribution) -> str | None:
    """A PEP 440 direct reference from PEP 610's ``direct_url.json``, or None for an index install."""
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        data = json.loads(text)
        url = _without_credentials(str(data["url"]))
    except (ValueError, KeyError, TypeError):
        return None
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") and vcs.get("commit_id"):
        return f"{vcs['vcs']}+{url}@{vcs['commit_id']}"
    archive = data.get("archive_info")
    if isinstance(archive, dict) and isinstance(archive.get("hashes"), dict) and archive["hashes"]:
        algorithm, digest = sorted(archive["hashes"].items())[0]
        return f"{url}#{algorithm}={digest}"
    return url


def parse_lock(text: str) -> dict[str, str]:
    """Lock lines back into name -> version (``1.0 @ url`` for a direct reference)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        if sep and name:
            out[name] = version
            continue
        name, sep, ref = line.partition(" @ ")
        if sep and name:
            url, _, comment = ref.partition("  # ")
            out[name.strip()] = (
                f"{comment.strip()} @ {url.strip()}" if comment.strip() else f"@ {url.strip()}"
            )
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


def _excluded(path: str, exclude: Sequence[str]) -> bool:
    """A name (``.slipway``) excludes that folder at any depth; a path with ``/``, from the root."""
    parts = path.rstrip("/").split("/")
    for e in exclude:
        e = e.strip("/")
        if "/" in e:
            if path == e or path.startswith(e + "/"):
                return True
        elif e in parts:
            return True
    return False


def git_state(where: Path, *, exclude: Sequence[str] = (".slipway",)) -> GitState | None:
    """Commit, branch, dirty flag and diff of the repository containing ``where``; None outside one.

    ``exclude`` names folders whose untracked files do not make the tree dirty: slipway's own home
    (``.slipway``, wherever under the repository the project runs from).
    """
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
            if not _excluded(path, exclude):
                untracked.append(path)
    dirty = changed or bool(untracked)
    diff = b""
    if dirty:
        if changed and commit is not None:
            out = _git(["diff", "HEAD", "--binary", "--no-color", "--no-ext-diff"], Path(root))
            if out is not None and out.returncode == 0:
                diff = out.stdout
        if untracked:
            diff += _untracked_diff(Path(root), exclude)
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


def _untracked_diff(root: Path, exclude: Sequence[str]) -> bytes:
    """``# untracked:`` lines, then each untracked text file as a new-file diff ``git apply`` takes."""
    listing = _git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    if listing is None or listing.returncode != 0:
        return b""
    names = [n for n in listing.stdout.decode(errors="surrogateescape").split("\0") if n]
    names = sorted(n for n in names if not _excluded(n, exclude))
    notes: list[bytes] = []
    patches: list[bytes] = []
    budget = _MAX_UNTRACKED_TOTAL
    for i, name in enumerate(names):
        if i == _MAX_UNTRACKED_LISTED:
            notes.append(f"# ... and {len(names) - i} more untracked files, not listed\n".encode())
            break
        path = root / name
        why, patch = _new_file_patch(path, name, budget)
        if patch:
            budget -= len(patch)
            patches.append(patch)
        note = f"# untracked: {name}" + (f" (not included: {why})" if why else "") + "\n"
        notes.append(note.encode(errors="surrogateescape"))
    return b"".join(notes) + b"".join(patches)


def _new_file_patch(path: Path, name: str, budget: int) -> tuple[str, bytes]:
    """(why it is left out, "") or ("", the diff that creates it)."""
    try:
        if path.is_symlink():
            return "a symbolic link", b""
        st = path.stat()
        if st.st_size > _MAX_UNTRACKED_FILE:
            return f"{st.st_size / 1e6:.1f} MB, over {_MAX_UNTRACKED_FILE / 1e6:g} MB", b""
        if st.st_size > budget:
            return f"over the {_MAX_UNTRACKED_TOTAL / 1e6:g} MB of untracked content kept per run", b""
        data = path.read_bytes()
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}", b""
    if b"\0" in data[:_BINARY_SNIFF]:
        return "binary", b""
    quoted = _quote(f"a/{name}"), _quote(f"b/{name}")
    mode = "100755" if os.access(path, os.X_OK) else "100644"
    head = f"diff --git {quoted[0]} {quoted[1]}\nnew file mode {mode}\n".encode()
    if not data:
        return "", head
    lines = data.split(b"\n")
    complete = lines[-1] == b""
    if complete:
        lines.pop()
    count = len(lines)
    hunk = f"--- /dev/null\n+++ {quoted[1]}\n@@ -0,0 +1{'' if count == 1 else f',{count}'} @@\n".encode()
    body = b"".join(b"+" + line + b"\n" for line in lines)
    if not complete:
        body += b"\\ No newline at end of file\n"
    return "", head + hunk + body


def _quote(path: str) -> str:
    """A path as git writes it in a diff header: C-quoted when it holds quotes, controls or non-ASCII."""
    raw = path.encode(errors="surrogateescape")
    if all(32 <= b < 127 and b not in b'"\\' for b in raw):
        return path
    escapes = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\t"): "\\t", ord("\n"): "\\n"}
    body = "".join(escapes.get(b) or (chr(b) if 32 <= b < 127 else f"\\{b:03o}") for b in raw)
    return f'"{body}"'


def _without_credentials(url: str) -> str:
    """A remote as it may be stored: ``https://user:token@host/x`` loses its user and token."""
    parts = urlsplit(url)
    if parts.scheme and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return url
