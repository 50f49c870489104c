"""``reproduce``: rebuild a registered version from its run's record and compare the result.

The steps, each checked before the next, so that bad input fails fast with one line and leaves
nothing behind:

1. resolve the version and read its run: the commit, the dirty flag, the entry point;
2. check the repository: a git work tree that holds the commit (``--repo``, or where the command runs);
3. ``git worktree add --detach`` the commit into a temporary folder, and ``git apply`` the run's
   ``slipway/git.diff`` when its tree was dirty;
4. fingerprint each recorded dataset that was a file again, the way tracking does, and compare
   digests (for a dataset logged from memory, the digest the re-run records decides, step 6);
5. re-run the recorded command line from the checkout's copy of the folder the run started in,
   with the same stores (the caller's environment), the checkout first on ``PYTHONPATH``, and
   ``SLIPWAY_RUN_TAGS`` tagging every run it starts ``slipway.reproduces=models:/NAME/VERSION#NONCE``
   (a nonce new at each call, so concurrent reproductions of one version never mix their runs);
6. find that run and its model, and compare metrics, predictions on the input example, parameters
   and environment (see :mod:`slipway.registry._reproduction` for the rules).

The worktree is removed whatever happens (``git worktree remove --force``, or ``git worktree
prune`` when adding it failed half-way). This module runs processes (git, the entry point); the
judging is pure and lives in ``_reproduction``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.core import GIT_COMMIT_TAG, GIT_DIRTY_TAG, GIT_ROOT_TAG, RunModelUri, parse_model_uri
from slipway.errors import ArtifactNotFound, InvalidInput, RunNotFound, SlipwayError
from slipway.registry._reproduction import (
    Comparison,
    DataCheck,
    Reproduction,
    Tolerance,
    Verdict,
    compare_metrics,
    compare_predictions,
    entry_point,
    with_rerun_digest,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from slipway.core import DatasetRecord, ModelVersion, Run
    from slipway.registry._service import Registry
    from slipway.tracking import TrackingClient

__all__ = ["REPRODUCES_TAG", "reproduce"]

REPRODUCES_TAG = "slipway.reproduces"
_RUN_TAGS_VARIABLE = "SLIPWAY_RUN_TAGS"
_GIT_TIMEOUT = 120.0
_LOG_TAIL_LINES = 30
_DATA_SUFFIXES = (".parquet", ".pq", ".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".tsv")
_CODE_KEYS = (GIT_COMMIT_TAG, GIT_DIRTY_TAG, "slipway.git.diff_digest")


def reproduce(
    registry: Registry,
    uri: str,
    *,
    repo: str | os.PathLike[str],
    python: str,
    environ: Mapping[str, str],
    cache_dir: str | os.PathLike[str],
    tolerance: Tolerance | None = None,
    timeout: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> Reproduction:
    """Re-run the training of the version ``uri`` names from its recorded commit and compare.

    Args:
        registry: where the version, its run and the re-run's run live.
        uri: ``models:/NAME/VERSION`` (or ``@ALIAS``, ``/latest``).
        repo: a git work tree holding the run's commit.
        python: the interpreter that re-runs the entry point.
        environ: the re-run's environment; it must name the same stores (``SLIPWAY_*``).
        cache_dir: where models are downloaded to be loaded.
        tolerance: what "within tolerance" means (default ``rtol=1e-6, atol=1e-12``).
        timeout: seconds the re-run may take (None: no limit).
        progress: called with a line before each slow step.

    Bad input (an unknown version, a run without a commit or entry point, not a git repository,
    a commit the repository does not hold, a diff that does not apply) raises a SlipwayError
    before anything is re-run.

    .. versionadded:: 0.1
    """
    say = progress or (lambda _line: None)
    tol = tolerance or Tolerance()
    mv = registry.resolve(uri)
    where = f"models:/{mv.name}/{mv.version}"
    run = _run_of(registry, mv, where)
    commit = run.tags.get(GIT_COMMIT_TAG, "")
    if not commit:
        raise InvalidInput(f"{where}: its run {run.id} recorded no git commit; there is nothing to check out")
    dirty = run.tags.get(GIT_DIRTY_TAG) == "true"
    entry_point(run.tags, checkout="/", python=python)  # the recorded entry point can be re-run at all
    top = _repository(Path(repo))
    if _git(["cat-file", "-e", f"{commit}^{{commit}}"], top, check=False).returncode != 0:
        raise InvalidInput(
            f"commit {commit[:12]} of {where} is not in the repository {top}; fetch it (git fetch) "
            "or pass --repo PATH of a clone that has it"
        )
    diff = _recorded_diff(registry, run, where) if dirty else b""
    with (
        tempfile.TemporaryDirectory(prefix="slipway-reproduce-") as scratch,
        _worktree(top, Path(scratch) / "tree", commit, say) as checkout,
    ):
        notes: list[str] = []
        if dirty:
            notes += _apply(diff, checkout, Path(scratch) / "git.diff", where)
        entry = entry_point(run.tags, checkout=str(checkout), python=python)
        notes += entry.notes
        say("checking the training data")
        records = registry.store.get_run_datasets(run.id)
        data = [_check_data(r, root=run.tags.get(GIT_ROOT_TAG, ""), checkout=checkout) for r in records]
        notes += [d.note for d in data if d.note.startswith("linked")]
        # this call's own tag value: another reproduction of the same version, running at the
        # same time, tags its runs with another nonce, so neither can pick the other's run
        tag = f"{where}#{uuid.uuid4().hex}"
        env = _env(
            environ, tag=tag, checkout=checkout, repositories=(run.tags.get(GIT_ROOT_TAG, ""), str(top))
        )
        say(f"re-running: {' '.join(entry.argv)}")
        code, tail = _rerun(entry.argv, entry.cwd, env, Path(scratch) / "rerun.log", timeout)
        new = _new_run(registry, tag, _model_path(registry, mv, run)) if code == 0 else None
        report = Reproduction(
            uri=where,
            original_run=run.id,
            reproduced_run=new[0].id if new else None,
            reproduced_model=f"runs:/{new[0].id}/{new[1]}" if new and new[1] is not None else None,
            commit=commit,
            dirty=dirty,
            command=entry.argv,
            cwd=entry.cwd,
            exit_code=code,
            tolerance=tol,
            data=tuple(data),
            log_tail=tail if code != 0 else "",
            notes=tuple(notes),
        )
        if new is None:
            return report
        return _compared(registry, report, mv, run, new[0], cache_dir=Path(cache_dir), say=say)


# ---------------------------------------------------------------------- reading the record


def _run_of(registry: Registry, mv: ModelVersion, where: str) -> Run:
    run_id = mv.lineage.get("run_id") or mv.run_id
    if not run_id:
        raise InvalidInput(f"{where} has no training run recorded; there is nothing to re-run")
    try:
        return registry.store.get_run(run_id)
    except RunNotFound:
        raise InvalidInput(
            f"{where}: its run {run_id} is not in this store; reproduce it against the store that tracked it"
        ) from None


def _recorded_diff(registry: Registry, run: Run, where: str) -> bytes:
    from slipway.tracking import DIFF_ARTIFACT, TrackingClient

    try:
        return TrackingClient(registry.store, registry.blobs).read_artifact(run.id, DIFF_ARTIFACT)
    except ArtifactNotFound:
        raise InvalidInput(
            f"{where}: its run {run.id} had uncommitted changes but recorded no {DIFF_ARTIFACT}; "
            "the code it ran cannot be rebuilt"
        ) from None


def _model_path(registry: Registry, mv: ModelVersion, run: Run) -> str | None:
    """The artifact path of the version's model inside its run (``model`` for ``runs:/RUN/model``)."""
    with contextlib.suppress(InvalidInput):
        ref = parse_model_uri(mv.source)
        if isinstance(ref, RunModelUri):
            return ref.path.strip("/")
    for entry in registry.store.list_artifacts(run.id):
        if entry.path.endswith("/slipway.yaml") and entry.digest == mv.manifest_digest:
            return entry.path.rsplit("/", 1)[0]
    return None


# ---------------------------------------------------------------------- git


def _git(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=_GIT_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise InvalidInput("git is not installed (or not on PATH); reproduce needs it") from None
    except subprocess.TimeoutExpired:
        raise InvalidInput(f"git {args[0]} in {cwd} took more than {_GIT_TIMEOUT:g} s") from None
    if check and done.returncode != 0:
        raise InvalidInput(f"git {' '.join(args[:2])} in {cwd} failed: {_first_line(done.stderr)}")
    return done


def _repository(path: Path) -> Path:
    if not path.is_dir():
        raise InvalidInput(f"repository {str(path)!r}: no such folder")
    done = _git(["rev-parse", "--show-toplevel"], path, check=False)
    if done.returncode != 0:
        raise InvalidInput(f"{path} is not a git repository (pass --repo PATH of the training code's clone)")
    return Path(done.stdout.strip())


@contextlib.contextmanager
def _worktree(top: Path, path: Path, commit: str, say: Callable[[str], None]) -> Iterator[Path]:
    say(f"checking out {commit[:12]} in a temporary worktree")
    try:
        _git(["worktree", "add", "--detach", "--quiet", str(path), commit], top)
    except BaseException:  # failed or interrupted (Ctrl-C, a timeout) half-way: leave no entry behind
        shutil.rmtree(path, ignore_errors=True)
        _git(["worktree", "prune"], top, check=False)
        raise
    try:
        yield path
    finally:
        removed = _git(["worktree", "remove", "--force", "--force", str(path)], top, check=False)
        if removed.returncode != 0:  # a process still writing in it, a folder gone: clean up anyway
            shutil.rmtree(path, ignore_errors=True)
            _git(["worktree", "prune"], top, check=False)


def _apply(diff: bytes, checkout: Path, file: Path, where: str) -> list[str]:
    """Apply the recorded diff in ``checkout``; notes for what it says it left out."""
    text = diff.decode(errors="replace")
    notes = [
        f"not rebuilt: untracked {line.removeprefix('# untracked: ')}"
        for line in text.splitlines()
        if line.startswith("# untracked: ") and "(not included:" in line
    ]
    if "diff --git " not in text:
        return [*notes, "the recorded diff holds no change git can apply"]
    file.write_bytes(diff)
    done = _git(["apply", "--whitespace=nowarn", str(file)], checkout, check=False)
    if done.returncode != 0:
        raise InvalidInput(
            f"{where}: the run's recorded diff does not apply to its commit: {_first_line(done.stderr)}"
        )
    return [*notes, "applied the run's uncommitted changes (slipway/git.diff)"]


def _first_line(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "no message")
    return line.removeprefix("error: ").removeprefix("fatal: ")


# ---------------------------------------------------------------------- data


def _check_data(record: DatasetRecord, *, root: str, checkout: Path) -> DataCheck:
    """Fingerprint a dataset's source file again; a file under the repository is read in the checkout."""
    from slipway.tracking import fingerprint

    base = {"name": record.name, "role": record.role, "recorded": record.digest}
    source = record.source
    if not _looks_like_file(source):
        return DataCheck(
            **base, path="", found=None, verdict=Verdict.UNCHECKED, note="cannot check: not a file"
        )
    path, note = Path(source), ""
    if root and (source == root or source.startswith(root.rstrip("/") + "/")):
        inside = checkout / os.path.relpath(source, root)
        if inside.exists():
            path = inside
        elif path.exists():  # ignored by git (data usually is): the re-run reads the same file
            inside.parent.mkdir(parents=True, exist_ok=True)
            inside.symlink_to(path.resolve(), target_is_directory=path.is_dir())
            note = f"linked the untracked data file {source} into the checkout"
    if not path.exists():
        return DataCheck(
            **base, path=str(path), found=None, verdict=Verdict.UNCHECKED, note="cannot check: file not found"
        )
    try:
        found = fingerprint(path).digest
    except SlipwayError as exc:
        return DataCheck(
            **base, path=str(path), found=None, verdict=Verdict.UNCHECKED, note=f"cannot check: {exc}"
        )
    verdict = Verdict.IDENTICAL if found == record.digest else Verdict.DIFFERENT
    return DataCheck(**base, path=str(path), found=found, verdict=verdict, note=note)


def _looks_like_file(source: str) -> bool:
    return os.path.isabs(source) and (source.lower().endswith(_DATA_SUFFIXES) or os.path.isdir(source))


# ---------------------------------------------------------------------- the re-run


def _env(
    environ: Mapping[str, str], *, tag: str, checkout: Path, repositories: tuple[str, ...]
) -> dict[str, str]:
    """The re-run's environment: ``environ`` with its run tag and the checkout first on the path.

    The checkout (and its ``src/``) come first on ``PYTHONPATH``, and the entries under the
    repositories (the recorded root, the clone the checkout came from) are dropped: they hold
    today's code, which an editable install or a ``PYTHONPATH=src`` would otherwise import.
    """
    env = dict(environ)
    tags: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        given = json.loads(env.get(_RUN_TAGS_VARIABLE) or "{}")
        tags = given if isinstance(given, dict) else {}
    env[_RUN_TAGS_VARIABLE] = json.dumps({**tags, REPRODUCES_TAG: tag})
    first = [str(checkout)] + ([str(checkout / "src")] if (checkout / "src").is_dir() else [])
    roots = [os.path.realpath(r) for r in repositories if r]
    kept = [
        entry
        for entry in env.get("PYTHONPATH", "").split(os.pathsep)
        if entry and not any(_inside(os.path.realpath(entry), root) for root in roots)
    ]
    env["PYTHONPATH"] = os.pathsep.join([*first, *kept])
    return env


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _rerun(
    argv: tuple[str, ...], cwd: str, env: dict[str, str], log: Path, timeout: float | None
) -> tuple[int | None, str]:
    """Run the entry point, its output to ``log``; (exit code or None on timeout, the log's tail)."""
    if not Path(cwd).is_dir():
        raise InvalidInput(f"the re-run's working folder {cwd} does not exist in the checkout")
    with log.open("wb") as out:
        try:
            code: int | None = subprocess.run(
                list(argv),
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            ).returncode
        except subprocess.TimeoutExpired:
            code = None
        except OSError as exc:
            raise InvalidInput(f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    lines = log.read_text(errors="replace").splitlines()
    return code, "\n".join(lines[-_LOG_TAIL_LINES:])


def _tagged(registry: Registry, tag: str) -> list[Run]:
    """Runs tagged ``slipway.reproduces=tag``, newest first."""
    return registry.store.search_runs(
        filter=f"tags.`{REPRODUCES_TAG}` = '{tag}'", order_by="attributes.start_time desc", max_results=1000
    ).items


def _new_run(registry: Registry, tag: str, model_path: str | None) -> tuple[Run, str | None] | None:
    """The run the re-run tagged ``tag`` (this call's nonce), preferring one that logged the model.

    A script may start several runs (nested ones, say); each carries the tag, and the one holding
    the model where the original held it is the one compared.
    """
    runs = _tagged(registry, tag)
    if not runs:
        return None
    for candidate in runs:
        found = _logged_model(registry, candidate.id, model_path)
        if found is not None:
            return registry.store.get_run(candidate.id), found
    return registry.store.get_run(runs[0].id), None


def _logged_model(registry: Registry, run_id: str, path: str | None) -> str | None:
    manifests = [e.path for e in registry.store.list_artifacts(run_id) if e.path.endswith("slipway.yaml")]
    folders = [m.rsplit("/", 1)[0] if "/" in m else "" for m in manifests]
    if path is not None:
        return path if path in folders else None
    return folders[0] if len(folders) == 1 else None


# ---------------------------------------------------------------------- comparing


def _compared(
    registry: Registry,
    report: Reproduction,
    mv: ModelVersion,
    run: Run,
    new_run: Run,
    *,
    cache_dir: Path,
    say: Callable[[str], None],
) -> Reproduction:
    import dataclasses

    from slipway.tracking import TrackingClient, compare

    tol = report.tolerance
    tracking = TrackingClient(registry.store, registry.blobs)
    comparison = compare(run, new_run, lock_a=_lock(tracking, run.id), lock_b=_lock(tracking, new_run.id))
    notes = list(report.notes)
    predictions: tuple[Comparison, ...] = ()
    unchecked: tuple[str, ...] = ()
    if report.reproduced_model is not None:  # without it, Reproduction.problems says so
        say("comparing predictions on the input example")
        predictions, unchecked = _predictions(registry, mv, report.reproduced_model, cache_dir, tol, notes)
    datasets = {(d.name, d.role): d.digest for d in registry.store.get_run_datasets(new_run.id)}
    return dataclasses.replace(
        report,
        data=tuple(with_rerun_digest(d, datasets.get((d.name, d.role))) for d in report.data),
        metrics=compare_metrics(run.metrics, new_run.metrics, tol),
        predictions=predictions,
        params=tuple(comparison.params),
        environment=tuple(d for d in comparison.environment if d.key != "slipway.packages.digest"),
        packages=tuple(comparison.packages),
        code=tuple(d for d in comparison.code if d.key in _CODE_KEYS),
        unchecked=unchecked,
        notes=tuple(notes),
    )


def _lock(tracking: TrackingClient, run_id: str) -> str | None:
    from slipway.tracking import LOCK_ARTIFACT

    try:
        return tracking.read_artifact(run_id, LOCK_ARTIFACT).decode()
    except ArtifactNotFound:
        return None


class _CannotCheck(Exception):
    """Loading a model or predicting failed; the message is the one line the report shows."""


def _predictions(
    registry: Registry, mv: ModelVersion, new_uri: str, cache_dir: Path, tol: Tolerance, notes: list[str]
) -> tuple[tuple[Comparison, ...], tuple[str, ...]]:
    """Both models' outputs on the version's input example; and why they could not be compared.

    Loading a model unpickles it and predicting runs its code, so any error can come out of
    either: each becomes one "cannot check predictions: …" line, which fails the reproduction.
    """
    from slipway.models import EnvironmentMismatchWarning, load_model

    where = f"models:/{mv.name}/{mv.version}"
    try:
        with warnings.catch_warnings():  # environment differences are reported, side by side
            warnings.simplefilter("ignore", EnvironmentMismatchWarning)
            original = _checked(
                f"the original model {where} did not load", registry.load, mv, cache_dir=cache_dir
            )
            reproduced = _checked(
                f"the re-run's model {new_uri} did not load",
                load_model,
                new_uri,
                store=registry.store,
                blobs=registry.blobs,
                cache_dir=cache_dir,
            )
    except _CannotCheck as exc:
        return (), (f"cannot check predictions: {exc}",)
    example = original.input_example
    if example is None:
        notes.append("the version has no input example; predictions not compared")
        return (
            Comparison(
                key="predict",
                original="-",
                reproduced="-",
                verdict=Verdict.UNCHECKED,
                note="no input example",
            ),
        ), ()
    out: list[Comparison] = []
    unchecked: list[str] = []
    for method in ("predict", "predict_proba"):
        if method not in original.methods or method not in reproduced.methods:
            continue
        try:
            a = _checked(
                f"the original model's {method} on the input example raised",
                getattr(original, method),
                example,
            )
            b = _checked(
                f"the re-run's model's {method} on the input example raised",
                getattr(reproduced, method),
                example,
            )
        except _CannotCheck as exc:
            unchecked.append(f"cannot check predictions: {exc}")
            continue
        out.append(compare_predictions(method, a, b, tol))
    return tuple(out), tuple(unchecked)


def _checked(what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``; any error it raises becomes a :class:`_CannotCheck` saying ``what``."""
    try:
        return call(*args, **kwargs)
    except Exception as exc:  # the model's own code runs here: any exception is its failure to report
        text = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        if not isinstance(exc, SlipwayError) or not text:  # slipway's own messages say what failed
            text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
        raise _CannotCheck(f"{what}: {text}") from exc
