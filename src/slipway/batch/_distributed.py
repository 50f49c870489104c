"""``score_distributed``: the job ``score`` runs, with its chunks scored as tasks on an engine.

Same job, same files: chunk ``i`` is still rows ``[i * chunk_rows, (i + 1) * chunk_rows)`` and still
becomes part ``i``; rejects, prediction-log rows (variant ``batch``, request ids ``<job>-<row>``),
the progress file and its fingerprint are ``score``'s own, so a job started by one resumes with the
other. What changes is who does the work:

- **Parquet**: each task reads its own rows. The driver reads only the files' footers and plans
  tasks along row groups: a task takes the chunks that start in one row group, so a row group
  bigger than a chunk (pyarrow writes 1Mi rows by default) is decoded once, not once per chunk;
  parallelism is then one task per row group. A task streams its rows in exact chunks and writes
  each chunk's part itself: memory is a few chunks per worker.
- **CSV**: the driver parses the file (CSV has no row index to split on) and hands each chunk to a
  task, which checks, predicts and writes it; at most two tasks per worker are in flight.

Workers load the model once each (cached by folder and manifest digest), not once per task. Local
paths are made absolute here and opened by the workers themselves, so on a real cluster the model
folder must be on a volume every worker mounts, and the input and output there or in object
storage (``s3://``), with the credentials in the workers' environment.

Tasks finish out of order; the progress file records the finished chunks in order, so a crash can
only lose the chunks finished after the first unfinished one, which are scored again on resume.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.batch._log import JobLog
from slipway.batch._read import open_source, rebatch
from slipway.batch._score import (
    ChunkScorer,
    ScoreProgress,
    _where,
    _write_parts,
    open_job,
    reporter,
)
from slipway.batch._write import Sink
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Iterable, Iterator
    from concurrent.futures import Future

    from slipway.artifacts import FileTree
    from slipway.batch._progress import Progress
    from slipway.batch._read import Source
    from slipway.batch._score import ScoreResult
    from slipway.engines import Engine
    from slipway.models import Model

__all__ = ["score_distributed"]

_TASKS_PER_WORKER = 2  # in flight: one running, one ready, so no worker waits for the driver
_CACHED_MODELS = 4  # models a long-lived worker keeps loaded (a cluster shared by several jobs)


def score_distributed(
    model: Model,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    engine: Engine,
    chunk_rows: int = 100_000,
    strict: bool = False,
    rejects: str | os.PathLike[str] | None = None,
    log: FileTree | None = None,
    progress: Callable[[ScoreProgress], None] | None = None,
    resume: bool = True,
    proba: bool = True,
    model_name: str | None = None,
    model_version: str | int | None = None,
) -> ScoreResult:
    """Score a CSV or Parquet file (or folder) with ``model``, chunks in parallel on ``engine``.

    The options and the result are :func:`~slipway.batch.score`'s; ``engine`` is an open engine
    (``slipway.engines.open_engine("dask")``, or ``"local"`` for worker processes on this machine),
    left open for the caller to reuse. With ``strict``, the refused row reported is the first in
    the input, as with ``score``, even when a later chunk finds one first.

    .. versionadded:: 0.1
    """
    opened = open_job(
        model,
        input,
        output,
        chunk_rows=chunk_rows,
        strict=strict,
        rejects=rejects,
        resume=resume,
        proba=proba,
    )
    source, out, rej, state, start, digest = (
        opened.source,
        opened.out,
        opened.rej,
        opened.state,
        opened.start,
        opened.digest,
    )
    if state.complete:
        return opened.result(logged=0)

    job = _Job(
        model=str(model.path.resolve()),
        digest=digest,
        proba=opened.proba,
        strict=strict,
        source=str(source.path),
        output=_where(out.path),  # absolute: workers may run in another folder
        rejects=_where(rej.path),
        log=log,
        job=state.job,
        name=model_name or model.path.name,
        version=model_version if model_version is not None else digest[:12],
        chunk_rows=chunk_rows,
    )
    report = reporter(progress, state, source.total_rows())
    report(-1)
    if source.kind == "parquet":
        tasks: Iterator[tuple[int, Any]] = _parquet_tasks(source, chunk_rows, start)
    else:
        schema = model.signature.inputs if model.signature is not None else None
        tasks = enumerate(source.chunks(chunk_rows, schema=schema, skip=start), start=start)
    logged, dropped = _run(engine, job, tasks, state, report)
    opened.finish(ChunkScorer(model, proba=opened.proba, strict=strict, source=source.path))
    return opened.result(logged=logged, log_dropped=dropped)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    """What every task of one job needs: small, so it travels with each task."""

    model: str
    digest: str
    proba: bool
    strict: bool
    source: str
    output: str
    rejects: str
    log: FileTree | None
    job: str
    name: str
    version: str | int
    chunk_rows: int


@dataclass(frozen=True, slots=True)
class _Done:
    """One chunk a task finished: its parts are on disk and its rows logged."""

    index: int
    scored: int
    rejected: int
    logged: int
    dropped: int  # prediction-log rows it could not write


def _run(
    engine: Engine,
    job: _Job,
    tasks: Iterable[tuple[int, Any]],
    state: Progress,
    report: Callable[[int], None],
) -> tuple[int, int]:
    """Run the tasks a few per worker at a time, recording finished chunks in input order.

    After a failure (of a task, or of reading the next one) no more tasks start; the tasks for
    earlier chunks are waited for, and the failure of the earliest chunk is raised (so a strict
    job names the first bad row). Whatever else stops the job (the progress callback, Ctrl-C), the
    tasks that have finished by then are recorded, in order, before it stops.
    """
    window = max(_TASKS_PER_WORKER, _TASKS_PER_WORKER * engine.workers)
    todo = iter(tasks)
    running: dict[Future[list[_Done]], int] = {}
    finished: dict[int, _Done] = {}
    failed: tuple[int, BaseException] | None = None
    logged = [0, 0]  # prediction-log rows written, and dropped

    def record(*, quiet: bool = False) -> None:
        while state.chunks in finished:
            chunk = finished.pop(state.chunks)
            logged[0] += chunk.logged
            logged[1] += chunk.dropped
            state.finished(chunk.index, scored=chunk.scored, rejected=chunk.rejected)
            if not quiet:
                report(chunk.index)

    try:
        while True:
            while failed is None and len(running) < window:
                try:
                    task = next(todo, None)
                except Exception as exc:  # the input (CSV parsed here) is bad after the chunks sent
                    failed = (max(running.values(), default=state.chunks - 1) + 1, exc)
                    break
                if task is None:
                    break
                try:
                    running[engine.submit(_score_task, job, *task)] = task[0]
                except Exception as exc:  # the engine is gone (a pool broken by a dead worker)
                    failed = (task[0], exc)
                    break
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                first = running.pop(future)
                try:
                    chunks = future.result()
                except Exception as exc:
                    if failed is None or first < failed[0]:
                        failed = (first, exc)
                    continue
                finished.update((c.index, c) for c in chunks)
            record()
            if failed is not None:
                for future, first in list(running.items()):
                    if first > failed[0] and future.cancel():
                        del running[future]
    except BaseException:
        for future in running:
            if future.done() and not future.cancelled() and future.exception() is None:
                finished.update((c.index, c) for c in future.result())
        with contextlib.suppress(BaseException):
            record(quiet=True)
        raise
    finally:
        for future in running:
            future.cancel()
    if failed is not None:
        chunk, error = failed
        if _lost(error):
            raise InvalidInput(
                f"{job.source}: a worker died or was lost while scoring chunk {chunk} "
                f"({type(error).__name__}: {_line(error)}); run the job again to resume after the last "
                "finished chunk"
            ) from error
        raise error
    return logged[0], logged[1]


def _lost(exc: BaseException) -> bool:
    """Whether the engine lost the task (its worker died, the cluster went away), not the task failed.

    A task's own error (a refused row, a model that raises) is the same error as in ``score``.
    """
    from concurrent.futures import CancelledError
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, (BrokenProcessPool, CancelledError)):
        return True
    # Dask's KilledWorker, CommClosedError...: recognised by their package, Dask being an extra.
    return type(exc).__module__.split(".")[0] == "distributed"


def _line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else "no message"


# ---------------------------------------------------------------------- planning Parquet tasks


@dataclass(frozen=True, slots=True)
class _Span:
    """Rows for one task: row groups of one or more files, ``skip`` rows to drop, ``take`` to score."""

    fragments: list[Any]  # pyarrow ParquetFileFragments narrowed to the row groups read
    schema: Any  # the dataset's schema: hive partition columns come back as in a local job
    skip: int
    take: int


def _parquet_tasks(source: Source, chunk_rows: int, start: int) -> Iterator[tuple[int, _Span]]:
    """(first chunk, span) per task, from the files' footers; chunks from ``start`` on."""
    # Workers may run elsewhere (another folder, another machine): local files by absolute path.
    where = open_source(source.path.resolve()) if isinstance(source.path, Path) else source
    dataset = where._dataset()
    groups: list[tuple[Any, int, int]] = []  # (fragment, row group id, rows), in the input's order
    for fragment in dataset.get_fragments():
        groups.extend((fragment, g.id, g.num_rows) for g in fragment.row_groups if g.num_rows)
    ends = list(itertools.accumulate(rows for _, _, rows in groups))  # each group's end row
    total = ends[-1] if ends else 0

    def group_of(row: int) -> int:
        return bisect.bisect_right(ends, row)

    chunks = -(-total // chunk_rows)
    first = start
    while first < chunks:
        # A task takes the chunks that start in the row group its first chunk starts in: a row
        # group bigger than a chunk is decoded once, and a task decodes at most a chunk it skips.
        group = group_of(first * chunk_rows)
        last = first
        while last + 1 < chunks and group_of((last + 1) * chunk_rows) == group:
            last += 1
        lo, hi = first * chunk_rows, min((last + 1) * chunk_rows, total)
        skip = lo - (ends[group] - groups[group][2])
        yield first, _Span(_narrow(groups[group : group_of(hi - 1) + 1]), dataset.schema, skip, hi - lo)
        first = last + 1


def _narrow(groups: list[tuple[Any, int, int]]) -> list[Any]:
    """One fragment per file, narrowed to its row groups in ``groups``."""
    out: list[Any] = []
    ids: list[int] = []
    for i, (fragment, group, _) in enumerate(groups):
        ids.append(group)
        if i + 1 == len(groups) or groups[i + 1][0] is not fragment:
            out.append(fragment.subset(row_group_ids=ids))
            ids = []
    return out


# ---------------------------------------------------------------------- on a worker


_models: dict[tuple[str, str], Model] = {}  # this worker process's loaded models, oldest first


def _score_task(job: _Job, first: int, piece: Any) -> list[_Done]:
    """Score, write and log the chunks of one task, from chunk ``first`` on; runs on a worker."""
    scorer = ChunkScorer(
        _model(job.model, job.digest), proba=job.proba, strict=job.strict, source=Path(job.source)
    )
    out, rej = Sink(job.output), Sink(job.rejects)
    pieces = _span_chunks(piece, job.chunk_rows) if isinstance(piece, _Span) else iter([piece])
    done: list[_Done] = []
    for index, chunk in enumerate(pieces, start=first):
        scored = scorer.score(chunk, first=index * job.chunk_rows)
        _write_parts(out, rej, index, scored.scored, scored.refused)
        logged = dropped = 0
        if job.log is not None and scored.kept:
            # A log per chunk, closed at once: its rows are on disk before the driver records
            # the chunk as finished, and no chunk waits for another's flush.
            job_log = JobLog(
                job.log,
                deployment=job.name,
                job=job.job,
                model_version=job.version,
                chunk_rows=job.chunk_rows,
            )
            try:
                job_log.log(scored)
            finally:
                job_log.close()
            logged, dropped = job_log.written, job_log.dropped
        done.append(_Done(index, scored.kept, scored.rejected, logged, dropped))
    return done


def _model(folder: str, digest: str) -> Model:
    """The model at ``folder``, loaded once per worker process (as long as its manifest is unchanged)."""
    key = (folder, digest)
    model = _models.get(key)
    if model is not None:
        return model
    from slipway.models import load_model

    manifest = Path(folder) / "slipway.yaml"
    try:
        found = hashlib.sha256(manifest.read_bytes()).hexdigest()
    except FileNotFoundError:
        raise InvalidInput(
            f"{folder}: no model folder on this worker; the model, input and output must be on "
            "storage every worker sees"
        ) from None
    if found != digest:
        raise InvalidInput(f"{folder}: the model changed after the job started; run the job again")
    model = load_model(folder)
    _models[key] = model
    while len(_models) > _CACHED_MODELS:
        del _models[next(iter(_models))]
    return model


def _span_chunks(span: _Span, chunk_rows: int) -> Iterator[Any]:
    """The span's rows as Arrow tables of exactly ``chunk_rows`` rows (the input's last may be short)."""
    batches = (
        batch
        for fragment in span.fragments
        for batch in fragment.to_batches(schema=span.schema, batch_size=chunk_rows, batch_readahead=1)
    )
    return rebatch(batches, chunk_rows, skip=span.skip, take=span.take)
