"""What ``slipway reproduce`` found, and the pure rules that decide it.

Nothing here runs a process or touches a file: :func:`entry_point` turns a run's recorded command
line into the one to run in a checkout of its commit, and :func:`compare_metrics` and
:func:`compare_predictions` judge two results as *identical*, *within tolerance* (``|a - b| <=
atol + rtol * |a|``, NumPy's ``isclose``) or *different*. The process side (git worktree, the
re-run, the stores) lives in ``_reproduce``.
"""

from __future__ import annotations

import enum
import math
import os.path
import shlex
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from slipway.core import GIT_ROOT_TAG, SOURCE_CWD_TAG
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Mapping

    from slipway.tracking import Difference

__all__ = [
    "Comparison",
    "DataCheck",
    "EntryPoint",
    "Reproduction",
    "Tolerance",
    "Verdict",
    "compare_metrics",
    "compare_numbers",
    "compare_predictions",
    "entry_point",
    "with_rerun_digest",
]

# The folder the run started in, relative to the repository root (recorded by tracking).
_CWD_TAG = SOURCE_CWD_TAG
# Interpreter options that take the next argument as their value (python -W error, -X dev).
_OPTIONS_WITH_VALUE = frozenset({"-W", "-X", "--check-hash-based-pycs"})
# Interpreter options a re-run may keep: they change how Python runs the checked-out program, never
# which program runs. Anything else before it (-c, -i, a stray -m, an unknown flag) is refused: a
# recorded command line is data from the store, and must not choose the code that executes.
_SAFE_OPTIONS = frozenset({"-u", "-O", "-OO", "-B", "-E", "-s", "-S", "-I", "-q", "-b", "-bb", "-P"})


class Verdict(str, enum.Enum):
    IDENTICAL = "identical"
    WITHIN_TOLERANCE = "within tolerance"
    DIFFERENT = "different"
    UNCHECKED = "cannot check"

    @property
    def ok(self) -> bool:
        """Identical or within tolerance (what could not be checked is neither good nor bad)."""
        return self in (Verdict.IDENTICAL, Verdict.WITHIN_TOLERANCE)


@dataclass(frozen=True, slots=True, kw_only=True)
class Tolerance:
    """``|a - b| <= atol + rtol * |a|`` counts as within tolerance."""

    rtol: float = 1e-6
    atol: float = 1e-12

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise InvalidInput(f"tolerance {name} = {value!r}: expected a number >= 0")


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """One metric, or one prediction method on the input example, original against reproduced."""

    key: str
    original: str
    reproduced: str
    verdict: Verdict
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataCheck:
    """A recorded dataset fingerprinted again: ``path`` is the file checked ("" when there is none)."""

    name: str
    role: str
    recorded: str  # the digest the run recorded
    path: str
    found: str | None  # the digest now, None when it could not be computed
    verdict: Verdict
    note: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryPoint:
    """The command to re-run and its working folder, both inside the checkout."""

    argv: tuple[str, ...]
    cwd: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Reproduction:
    """Everything ``slipway reproduce`` found; :attr:`ok` decides its exit code (0 or 1).

    ``reproduced_model`` is the re-run's model (``runs:/RUN/PATH``), None when it logged none;
    ``unchecked`` holds what had to be compared but could not be, one line each ("cannot check
    predictions: …"), and each one fails the reproduction.

    .. versionadded:: 0.1
    """

    uri: str
    original_run: str
    reproduced_run: str | None
    reproduced_model: str | None = None
    commit: str
    dirty: bool
    command: tuple[str, ...]
    cwd: str
    exit_code: int | None  # of the re-run; None when it timed out
    tolerance: Tolerance
    data: tuple[DataCheck, ...] = ()
    metrics: tuple[Comparison, ...] = ()
    predictions: tuple[Comparison, ...] = ()
    params: tuple[Difference, ...] = ()
    environment: tuple[Difference, ...] = ()
    packages: tuple[Difference, ...] = ()
    code: tuple[Difference, ...] = ()
    unchecked: tuple[str, ...] = ()
    log_tail: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def problems(self) -> list[str]:
        """Why the reproduction does not match (empty when it does).

        It matches only when something was compared: a re-run that logged no model, or whose
        metrics and predictions could none of them be judged, has not shown it rebuilds the model.
        """
        out: list[str] = []
        if self.exit_code != 0:
            out.append(
                "the re-run timed out"
                if self.exit_code is None
                else f"the re-run exited with {self.exit_code}"
            )
        elif self.reproduced_run is None:
            out.append("the re-run recorded no run tagged as this reproduction")
        elif self.reproduced_model is None:
            out.append("the re-run logged no model where the original run had one")
        changed = [d.name or d.recorded[:12] for d in self.data if d.verdict is Verdict.DIFFERENT]
        if changed:
            out.append(f"training data changed: {', '.join(changed)}")
        metrics = [c.key for c in self.metrics if c.verdict is Verdict.DIFFERENT]
        if metrics:
            out.append(f"metrics differ: {', '.join(metrics)}")
        preds = [c.key for c in self.predictions if c.verdict is Verdict.DIFFERENT]
        if preds:
            out.append(f"predictions differ: {', '.join(preds)}")
        out += self.unchecked
        judged = [c for c in (*self.metrics, *self.predictions) if c.verdict is not Verdict.UNCHECKED]
        if not out and not judged:
            out.append("nothing was compared: neither run logged a metric and no prediction was checked")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        out["problems"] = self.problems
        return out


# ---------------------------------------------------------------------- comparing


def compare_numbers(a: float | None, b: float | None, tolerance: Tolerance) -> Verdict:
    if a is None or b is None:
        return Verdict.DIFFERENT
    if a == b or (math.isnan(a) and math.isnan(b)):
        return Verdict.IDENTICAL
    if math.isfinite(a) and math.isfinite(b) and abs(a - b) <= tolerance.atol + tolerance.rtol * abs(a):
        return Verdict.WITHIN_TOLERANCE
    return Verdict.DIFFERENT


def compare_metrics(
    original: Mapping[str, float], reproduced: Mapping[str, float], tolerance: Tolerance
) -> tuple[Comparison, ...]:
    """Every metric of either run (their latest values); one missing on a side is different."""
    out = []
    for key in sorted(set(original) | set(reproduced)):
        a, b = original.get(key), reproduced.get(key)
        verdict = compare_numbers(a, b, tolerance)
        note = ""
        if a is None or b is None:
            note = "not logged by the " + ("original run" if a is None else "re-run")
        elif verdict is not Verdict.IDENTICAL:
            note = f"difference {b - a:+.3g}"
        out.append(Comparison(key=key, original=_num(a), reproduced=_num(b), verdict=verdict, note=note))
    return tuple(out)


def compare_predictions(key: str, original: Any, reproduced: Any, tolerance: Tolerance) -> Comparison:
    """Two outputs of the same method on the same rows: arrays, Series or DataFrames."""
    import numpy as np

    a, b = _array(original), _array(reproduced)
    shown_a, shown_b = _preview(a), _preview(b)

    def judged(verdict: Verdict, note: str = "") -> Comparison:
        return Comparison(key=key, original=shown_a, reproduced=shown_b, verdict=verdict, note=note)

    if a.shape != b.shape:
        return judged(Verdict.DIFFERENT, f"shape {list(a.shape)} vs {list(b.shape)}")
    numeric = a.dtype.kind in "biufc" and b.dtype.kind in "biufc"
    if numeric:
        same = bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc" and b.dtype.kind in "fc"))
    else:
        same = bool(np.array_equal(a.astype(str), b.astype(str)))
    if same:
        return judged(Verdict.IDENTICAL)
    if not numeric:
        count = int((a.astype(str) != b.astype(str)).sum())
        return judged(Verdict.DIFFERENT, f"{count} of {a.size} values differ")
    fa, fb = a.astype("float64"), b.astype("float64")
    close = np.isclose(fb, fa, rtol=tolerance.rtol, atol=tolerance.atol, equal_nan=True)
    finite = np.isfinite(fa) & np.isfinite(fb)
    gap = float(np.max(np.abs(fa - fb)[finite])) if finite.any() else float("nan")
    if bool(close.all()):
        return judged(Verdict.WITHIN_TOLERANCE, f"largest difference {gap:.3g}")
    return judged(
        Verdict.DIFFERENT, f"{int((~close).sum())} of {a.size} values differ; largest difference {gap:.3g}"
    )


def with_rerun_digest(check: DataCheck, rerun_digest: str | None) -> DataCheck:
    """Add what the re-run recorded for the same dataset (name and role) to a data check.

    Where the file could not be fingerprinted again (data logged from memory, a file gone), the
    re-run's recorded digest decides instead: the same as the original's is *identical*, another
    is *different*; a re-run that logged no such dataset leaves it unchecked.
    """
    if rerun_digest is None:
        said = "the re-run logged no dataset of that name and role"
    elif rerun_digest == check.recorded:
        said = "the re-run read the same data"
    else:
        said = f"the re-run read other data (sha256:{rerun_digest[:12]}…)"
    if check.verdict is Verdict.UNCHECKED and rerun_digest is not None:
        why = check.note.removeprefix("cannot check: ")
        return replace(
            check,
            found=rerun_digest,
            verdict=Verdict.IDENTICAL if rerun_digest == check.recorded else Verdict.DIFFERENT,
            note=f"{why}: judged by the digest the re-run recorded; {said}",
        )
    return replace(check, note=f"{check.note}; {said}" if check.note else said)


def _array(value: Any) -> Any:
    import numpy as np

    to_numpy = getattr(value, "to_numpy", None)
    return np.asarray(to_numpy() if callable(to_numpy) else value)


def _preview(a: Any, limit: int = 4) -> str:
    flat = a.reshape(-1)
    items = [_num(float(v)) if a.dtype.kind in "fc" else str(v) for v in flat[:limit]]
    return "[" + ", ".join(items) + (", …" if flat.size > limit else "") + "]"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.6g}"


# ---------------------------------------------------------------------- the entry point


def entry_point(tags: Mapping[str, str], *, checkout: str, python: str) -> EntryPoint:
    """The recorded command line, made to run from ``checkout`` (a checkout of the run's commit).

    The interpreter becomes ``python``; the script (``slipway.source.name``, recorded as an absolute
    path) and every argument that is a path under the recorded repository root
    (``slipway.git.root``) are moved into ``checkout``. The working folder is the one the run
    started in, relative to the repository root (``slipway.source.cwd``), mapped into ``checkout``.
    A run without that tag starts in the folder its command line shows (``python sub/train.py`` run
    from the root, ``python train.py`` from ``sub/``), else in ``checkout`` itself.
    """
    kind = tags.get("slipway.source.type", "")
    if kind not in ("script", "module"):
        started = {"": "an unknown way", "command": "python -c"}.get(kind, f"a {kind}")
        raise InvalidInput(
            f"the run was started from {started}; only a script (python train.py) or a module "
            "(python -m pkg.train) can be re-run"
        )
    command = tags.get("slipway.source.command", "")
    root = tags.get(GIT_ROOT_TAG, "")
    if not command:
        raise InvalidInput("the run recorded no command line (tag slipway.source.command)")
    if not root:
        raise InvalidInput("the run recorded no git repository (tag slipway.git.root)")
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise InvalidInput(f"the recorded command line {command!r} cannot be parsed: {exc}") from None
    if len(argv) < 2:
        raise InvalidInput(f"the recorded command line {command!r} names no script or module")
    root = os.path.normpath(root)
    index = _program_index(argv, module=kind == "module")
    args = list(argv)
    if kind == "script":
        name = os.path.normpath(tags.get("slipway.source.name", ""))
        rel = os.path.relpath(name, root) if name else ".."
        if rel.startswith(".."):
            raise InvalidInput(
                f"the script {name!r} is outside the repository {root!r}; it cannot be checked out again"
            )
        args[index] = os.path.join(checkout, rel)
    cwd, notes = _working_folder(
        tags, given=argv[index] if kind == "script" else None, root=root, checkout=checkout
    )
    for i, arg in enumerate(args):
        if i == 0 or (i == index and kind == "script"):
            continue
        mapped = _moved(arg, root, checkout)
        if mapped != arg:
            notes.append(f"argument {arg!r} points into the repository: using {mapped!r}")
            args[i] = mapped
    args[0] = python
    return EntryPoint(argv=tuple(args), cwd=cwd, notes=tuple(notes))


def _working_folder(
    tags: Mapping[str, str], *, given: str | None, root: str, checkout: str
) -> tuple[str, list[str]]:
    """Where in ``checkout`` the run started (``given``: the script as the command line names it)."""
    started = tags.get(_CWD_TAG)
    if started is not None:
        where = os.path.normpath(started)
        if not (os.path.isabs(where) or where == os.pardir or where.startswith(os.pardir + os.sep)):
            return os.path.normpath(os.path.join(checkout, where)), []
        return checkout, [
            f"the recorded working folder {started!r} is outside the repository; re-run from its root"
        ]
    if given is None:  # a module recorded before slipway.source.cwd: the root is the best guess
        return checkout, []
    # a script recorded before slipway.source.cwd: ``python train.py`` run in sub/ shows it
    name = os.path.normpath(tags.get("slipway.source.name", ""))
    given = os.path.normpath(given)
    if os.path.isabs(given) or not name.endswith(os.sep + given):
        return checkout, []
    started_in = name[: -len(given) - 1]
    where = os.path.relpath(started_in, root)
    if where.startswith(".."):
        return checkout, [f"the run started outside the repository ({started_in}); re-run from its root"]
    return os.path.normpath(os.path.join(checkout, where)), []


def _program_index(argv: list[str], *, module: bool) -> int:
    """Where the script (or, after ``-m``, the module) is in an interpreter's command line."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if module and arg == "-m":
            if i + 1 >= len(argv):
                break
            return i + 1
        if arg.startswith("-m") and module and len(arg) > 2:
            return i  # -mpkg.train
        if not arg.startswith("-") or arg == "-":
            if module:
                break
            return i
        if not _safe_option(arg):
            raise InvalidInput(
                f"the recorded command line {shlex.join(argv)!r}: interpreter option {arg!r} is not one a "
                "re-run keeps (it could run other code than the checked-out program); expected only "
                f"{', '.join(sorted(_SAFE_OPTIONS | _OPTIONS_WITH_VALUE))}"
            )
        i += 2 if arg in _OPTIONS_WITH_VALUE else 1
    what = "module after -m" if module else "script"
    raise InvalidInput(f"the recorded command line {shlex.join(argv)!r} names no {what}")


def _safe_option(arg: str) -> bool:
    """-u, -O … alone, -W/-X with their value next or attached (-Werror, -Xdev), and --check-hash…."""
    if arg in _SAFE_OPTIONS or arg in _OPTIONS_WITH_VALUE:
        return True
    return (arg[:2] in ("-W", "-X") and len(arg) > 2) or arg.startswith("--check-hash-based-pycs=")


def _moved(arg: str, root: str, checkout: str) -> str:
    """A path under ``root`` (alone or as ``--opt=PATH``) moved under ``checkout``; others unchanged."""
    key, sep, value = arg.partition("=") if arg.startswith("-") else ("", "", arg)
    norm = os.path.normpath(value) if value.startswith(os.sep) else ""
    if norm and (norm == root or norm.startswith(root + os.sep)):
        return f"{key}{sep}{os.path.join(checkout, os.path.relpath(norm, root))}"
    return arg
