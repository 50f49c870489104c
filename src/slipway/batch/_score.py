"""``score``: a model over a file bigger than memory, chunk by chunk, resumable.

One chunk at a time: read ``chunk_rows`` rows, split off the rows the signature refuses (to the
rejects file, with a reason), predict the rest, write the part, log the rows, record the chunk as
finished. Memory is bounded by a few chunks whatever the input's size.

Resuming: a small JSON file beside the output (``<output>.progress.json``) records the job's
fingerprint (the input files' names, sizes and modification times, the model's manifest digest,
the chunk size and the options) and how many chunks are finished. A rerun of the same job carries
on after the last finished chunk; a different job never overwrites an output it did not write.

The prediction log is written at least once per row: a chunk logged but not yet recorded as
finished when the process stops is logged again on resume, with the same request ids
(``<job>-<row>``), so a reader can drop the repeats.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slipway.batch._check import check_chunk
from slipway.batch._csv import MALFORMED
from slipway.batch._log import JobLog
from slipway.batch._progress import Progress
from slipway.batch._read import Source, arrow_to_pandas, open_source
from slipway.batch._write import Sink
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Generator, Iterator
    from concurrent.futures import Future
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from slipway.artifacts import FileTree
    from slipway.core import Schema
    from slipway.models import Model

__all__ = ["ChunkScorer", "ScoreProgress", "ScoreResult", "ScoredChunk", "score"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreProgress:
    """Reported after each finished chunk (and once before the first, with ``chunk=-1``).

    ``rows`` counts input rows done so far (scored and rejected, including chunks finished by an
    earlier run of the job); ``total_rows`` is None when the format does not say (CSV).

    .. versionadded:: 0.1
    """

    chunk: int
    rows: int
    total_rows: int | None
    scored: int
    rejected: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoreResult:
    """What a scoring job did.

    ``rejects`` is None when no row was rejected; ``resumed_from`` is the first chunk this call
    scored (0 for a fresh job); ``logged`` the prediction-log rows written by this call, and
    ``log_dropped`` the rows it could not write there (the log's storage failed or fell behind).

    .. versionadded:: 0.1
    """

    output: Path | str
    rejects: Path | str | None
    job: str
    rows: int
    scored: int
    rejected: int
    chunks: int
    resumed_from: int
    seconds: float
    logged: int
    log_dropped: int = 0


def score(
    model: Model,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
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
    """Score a CSV or Parquet file (or a folder of them) with ``model``, chunk by chunk.

    Args:
        model: a loaded model (``slipway.load_model``).
        input: a ``.csv`` or ``.parquet`` file, or a folder of one kind (hive partitions kept).
        output: a ``.csv`` file, or a Parquet folder of numbered parts (any other name): the input
            columns (signature columns as the model saw them), ``prediction`` and, when the model
            has ``predict_proba`` and ``proba`` is true, one ``proba_<class>`` per class.
        chunk_rows: rows read, checked and scored at a time; memory is bounded by a few chunks.
        strict: refuse the whole input at the first row the signature refuses (InvalidInput
            naming the row and the column) instead of writing it to ``rejects``.
        rejects: where refused rows go, with ``row`` (their index in the input) and ``reason``;
            by default beside the output (``scored.rejects.parquet`` for ``scored.parquet``).
        log: the prediction log's file tree; rows are logged with variant ``batch`` and request
            ids ``<job>-<row>`` under deployment ``model_name``.
        progress: called after each chunk; what it raises stops the job (which can resume).
        resume: carry on after the last finished chunk of an earlier run of the same job; False
            starts the same job over. An output written by anything else is never overwritten.
        proba: add ``proba_<class>`` columns when the model has ``predict_proba`` (a second
            model call per chunk; False when only the predicted class is wanted).
        model_name: the name logged (default: the model folder's name).
        model_version: the version logged (default: the first 12 hex digits of the manifest digest).

    Raises InvalidInput (a missing or unreadable input, a bad option, a refused row when strict)
    and Conflict (the output exists and is not an earlier run of this job).
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
    source, out, rej, state, start = opened.source, opened.out, opened.rej, opened.state, opened.start
    if state.complete:
        return opened.result(logged=0)

    schema = model.signature.inputs if model.signature is not None else None
    scorer = ChunkScorer(model, proba=opened.proba, strict=strict, source=source.path)
    job_log = None
    if log is not None:
        version = model_version if model_version is not None else opened.digest[:12]
        deployment = model_name or model.path.name
        job_log = JobLog(
            log, deployment=deployment, job=state.job, model_version=version, chunk_rows=chunk_rows
        )
    report = reporter(progress, state, source.total_rows())

    # Parts are written on one background thread (pyarrow writes without the GIL) while the next
    # chunk is read and predicted; a chunk is recorded as finished only once its parts are on disk,
    # and at most two chunks wait to be written, so memory stays bounded by the chunk size.
    pending: list[tuple[Future[None], int, int, int]] = []
    broken = False  # a write failed: no later chunk may be recorded as finished

    def settle(keep: int, *, quiet: bool = False) -> None:
        nonlocal broken
        while len(pending) > keep and not broken:
            future, index, scored, rejected = pending[0]
            try:
                future.result()
            except BaseException:
                broken = True
                raise
            pending.pop(0)
            state.finished(index, scored=scored, rejected=rejected)
            if not quiet:
                report(index)

    try:
        report(-1)
        pieces = source.chunks(chunk_rows, schema=schema, skip=start)
        with ThreadPoolExecutor(1, thread_name_prefix="slipway-score-write") as pool:
            try:
                for index, piece in enumerate(_ahead(pieces), start=start):
                    done = scorer.score(piece, first=index * chunk_rows)
                    if job_log is not None and done.kept:
                        job_log.log(done)
                    future = pool.submit(_write_parts, out, rej, index, done.scored, done.refused)
                    pending.append((future, index, done.kept, done.rejected))
                    settle(keep=1)
                settle(keep=0)
            except BaseException:
                # Whatever stopped the job (a refused row, a bad file, the progress callback,
                # Ctrl-C), the writes already handed over finish (two chunks at most) and are
                # recorded, so a rerun resumes after them instead of redoing parts on disk.
                with contextlib.suppress(BaseException):
                    settle(keep=0, quiet=True)
                raise
            finally:
                for future, *_ in pending:
                    future.cancel()
        opened.finish(scorer)
    finally:
        if job_log is not None:
            job_log.close()
    if job_log is None:
        return opened.result(logged=0)
    return opened.result(logged=job_log.written, log_dropped=job_log.dropped)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedJob:
    """A scoring job ready to run: its input, output, rejects, progress and first chunk to score.

    Opened the same way by a local and a distributed run, so either resumes the other's job.
    """

    source: Source
    out: Sink
    rej: Sink
    state: Progress
    digest: str  # the model's manifest SHA-256
    proba: bool  # proba_<class> columns are written
    start: int  # the first chunk to score
    started: float  # perf_counter() when the job was opened

    def finish(self, scorer: ChunkScorer) -> None:
        """Every chunk is recorded: join CSV outputs, record the job complete, then remove parts.

        A job that scored no row (an empty input, every row refused) still writes its output,
        with no rows: a reader finds the columns it expects, not a missing file.
        """
        empty = not self.state.scored
        if empty:
            self.out.write(0, scorer.empty(self.source.empty()))
        self.out.finish()
        self.rej.finish()
        self.state.done(parts=int(empty))
        self.out.tidy()
        self.rej.tidy()

    def result(self, *, logged: int, log_dropped: int = 0) -> ScoreResult:
        state = self.state
        return ScoreResult(
            output=self.out.path,
            rejects=self.rej.path if state.rejected else None,
            job=state.job,
            rows=state.rows,
            scored=state.scored,
            rejected=state.rejected,
            chunks=state.chunks,
            resumed_from=self.start,
            seconds=time.perf_counter() - self.started,
            logged=logged,
            log_dropped=log_dropped,
        )


def open_job(
    model: Model,
    input: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    chunk_rows: int,
    strict: bool,
    rejects: str | os.PathLike[str] | None,
    resume: bool,
    proba: bool,
) -> OpenedJob:
    """Check the options, open input and outputs, and find where an earlier run of the job stopped."""
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise InvalidInput(f"chunk_rows {chunk_rows!r}: expected a positive whole number")
    started = time.perf_counter()
    source = open_source(input)
    out = Sink(output)
    rej = Sink(rejects if rejects is not None else _default_rejects(out.path))
    if _where(rej.path) == _where(out.path):
        raise InvalidInput(f"{rej.path}: the rejects file must differ from the output")
    digest = hashlib.sha256((model.path / "slipway.yaml").read_bytes()).hexdigest()
    with_proba = proba and "predict_proba" in model.methods
    fingerprint = _fingerprint(source.fingerprint(), digest, chunk_rows, strict, with_proba, out, rej)
    state = Progress(out.path, fingerprint, fingerprint[:12], chunk_rows)
    start = state.begin(out, rej, resume=resume)
    return OpenedJob(
        source=source,
        out=out,
        rej=rej,
        state=state,
        digest=digest,
        proba=with_proba,
        start=start,
        started=started,
    )


def reporter(
    progress: Callable[[ScoreProgress], None] | None, state: Progress, total: int | None
) -> Callable[[int], None]:
    """``report(chunk)``: the caller's progress callback with the job's counts after ``chunk``."""

    def report(index: int) -> None:
        if progress is not None:
            progress(
                ScoreProgress(
                    chunk=index,
                    rows=state.rows,
                    total_rows=total,
                    scored=state.scored,
                    rejected=state.rejected,
                )
            )

    return report


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """One chunk, scored: what goes to the output, to the rejects file and to the prediction log.

    ``scored`` is an Arrow table for a Parquet input and a DataFrame for CSV (None when every row
    was refused); ``rows`` are the scored rows' numbers in the input.
    """

    scored: Any
    refused: pd.DataFrame | None
    model_input: pd.DataFrame
    outputs: dict[str, Any]
    rows: np.ndarray[Any, Any]
    elapsed_ms: float

    @property
    def kept(self) -> int:
        return len(self.rows)

    @property
    def rejected(self) -> int:
        return 0 if self.refused is None else len(self.refused)


class ChunkScorer:
    """Checks and predicts one chunk at a time: the unit of work of a local or a distributed job."""

    def __init__(self, model: Model, *, proba: bool, strict: bool, source: Path | str) -> None:
        self.model = model
        self.schema = model.signature.inputs if model.signature is not None else None
        self.enforcer = _enforcer(model)
        self.proba = proba
        self.classes = _classes(model) if proba else None
        self.strict = strict
        self.source = source

    def empty(self, piece: Any) -> Any:
        """The output of no rows: ``piece``'s columns (none of its rows) and the model's outputs.

        The output columns and their types come from predicting the input example saved with the
        model, once; a model saved without one gives the input columns only.
        """
        import numpy as np

        chunk = _model_frame(piece, self.schema)
        checked = check_chunk(chunk, self.schema, self.enforcer, None)
        example = self.model.input_example
        outputs: dict[str, Any] = {}
        if example is not None:
            for key, values in _predict(self.model, example, self.proba, self.classes).items():
                values = np.asarray(values)
                text = values.dtype == object and all(isinstance(v, str) for v in values)
                outputs[key] = values[:0].astype(str) if text else values[:0]
        return _output(piece, chunk, checked.model_input, None, outputs)

    def score(self, piece: Any, *, first: int) -> ScoredChunk:
        """Score ``piece`` (rows ``first``… of the input); InvalidInput for a refused row when strict."""
        import numpy as np
        import pandas as pd

        t0 = time.perf_counter()
        malformed = None
        if isinstance(piece, pd.DataFrame) and MALFORMED in piece.columns:  # a CSV line gone wrong
            malformed, piece = piece[MALFORMED], piece.drop(columns=MALFORMED)
        chunk = _model_frame(piece, self.schema)
        checked = check_chunk(chunk, self.schema, self.enforcer, malformed)
        model_input, good, reasons = checked.model_input, checked.good, checked.reasons
        if self.strict and reasons is not None and len(reasons):
            at = reasons.index[0]
            raise InvalidInput(f"{self.source}: row {first + int(at)}: {reasons.iloc[0]}")
        outputs = _predict(self.model, model_input, self.proba, self.classes) if len(model_input) else {}
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        kept = len(model_input)
        refused = None
        if reasons is not None and len(reasons):
            bad = _rows(piece, ~good if good is not None else None)
            if isinstance(piece, pd.DataFrame):
                # CSV rows as the file had them, in text: the types pandas guessed for a chunk
                # (a column with a bad value is text there) differ from chunk to chunk.
                bad = bad.astype(str)
            refused = bad.assign(row=reasons.index.to_numpy() + first, reason=reasons.to_numpy())
        rows = (np.flatnonzero(good) if good is not None else np.arange(kept)) + first
        return ScoredChunk(
            scored=_output(piece, chunk, model_input, good, outputs) if kept else None,
            refused=refused,
            model_input=model_input,
            outputs=outputs,
            rows=rows,
            elapsed_ms=elapsed_ms,
        )


def _ahead(pieces: Iterator[Any]) -> Generator[Any, None, None]:
    """``pieces``, with the next one read on a background thread while this one is scored.

    Decoding Parquet and parsing CSV release the GIL, so reading overlaps the model's predict;
    one piece ahead at most, so memory stays bounded by the chunk size.
    """
    import queue
    import threading

    slot: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def read() -> None:
        try:
            for piece in pieces:
                while not stop.is_set():
                    try:
                        slot.put(("piece", piece), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slot.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it as its own
            slot.put(("error", exc))

    reader = threading.Thread(target=read, name="slipway-score-read", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = slot.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while reader.is_alive():
            try:
                slot.get_nowait()
            except queue.Empty:
                reader.join(0.05)


def _write_parts(out: Sink, rej: Sink, index: int, scored: Any, refused: pd.DataFrame | None) -> None:
    if scored is not None:
        out.write(index, scored)
    if refused is not None:
        rej.write(index, refused)


def _default_rejects(output: Path | str) -> Path | str:
    if isinstance(output, str):  # a URL: the same rule on its last part
        stem, dot, suffix = output.rpartition(".")
        return f"{stem}.rejects.{suffix}" if dot and "/" not in suffix else f"{output}.rejects"
    if output.suffix:
        return output.with_name(f"{output.stem}.rejects{output.suffix}")
    return output.with_name(f"{output.name}.rejects")


def _where(path: Path | str) -> str:
    """A comparable name for a local path (resolved) or a URL (as written)."""
    return path if isinstance(path, str) else str(path.resolve())


def _fingerprint(
    files: list[list[Any]], digest: str, chunk_rows: int, strict: bool, proba: bool, out: Sink, rej: Sink
) -> str:
    doc = {
        "input": files,
        "model": digest,
        "chunk_rows": chunk_rows,
        "strict": strict,
        "proba": proba,
        "output": out.kind,
        "rejects": _where(rej.path),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _enforcer(model: Model) -> Any:
    from slipway.models import InputEnforcer

    sig = model.signature
    return InputEnforcer(sig.inputs) if sig is not None else None


def _classes(model: Model) -> list[Any] | None:
    classes = getattr(model.raw, "classes_", None)
    return None if classes is None else [c.item() if hasattr(c, "item") else c for c in classes]


def _predict(model: Model, data: pd.DataFrame, with_proba: bool, classes: list[Any] | None) -> dict[str, Any]:
    """The output columns for one chunk: ``prediction`` (or one per output), ``proba_<class>``."""
    import numpy as np
    import pandas as pd

    pred = model.predict(data)
    outputs: dict[str, Any] = {}
    if isinstance(pred, pd.DataFrame):
        outputs.update({str(c): pred[c].to_numpy() for c in pred.columns})
    else:
        pred = np.asarray(pred)
        if pred.ndim == 2 and pred.shape[1] == 1:
            pred = pred[:, 0]
        if pred.ndim == 1:
            outputs["prediction"] = pred
        else:
            outputs.update({f"prediction_{j}": pred[:, j] for j in range(pred.shape[1])})
    if with_proba:
        p = np.asarray(model.predict_proba(data))
        labels = classes if classes is not None and len(classes) == p.shape[1] else list(range(p.shape[1]))
        outputs.update({f"proba_{c}": p[:, j] for j, c in enumerate(labels)})
    return outputs


def _model_frame(piece: Any, schema: Schema | None) -> pd.DataFrame:
    """The chunk as the model's check reads it: for an Arrow chunk, only the signature's columns."""
    import pandas as pd

    if isinstance(piece, pd.DataFrame):
        return piece
    names = piece.column_names
    if schema is not None and schema.columns is not None:
        wanted = {c.name for c in schema.columns}
        names = [n for n in names if n in wanted]
    frame: pd.DataFrame = piece.select(names).to_pandas()  # one block: the model's array is a view
    return frame


def _rows(piece: Any, mask: np.ndarray[Any, Any] | None) -> pd.DataFrame:
    """The chunk's rows where ``mask`` holds (all of them for None), every input column, in pandas."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    if isinstance(piece, pd.DataFrame):
        return piece if mask is None else piece[mask]
    table = piece if mask is None else piece.filter(pa.array(mask))
    frame = arrow_to_pandas(table)
    if mask is not None:
        frame.index = np.flatnonzero(mask)
    return frame


def _output(
    piece: Any,
    chunk: pd.DataFrame,
    model_input: pd.DataFrame,
    good: np.ndarray[Any, Any] | None,
    outputs: dict[str, Any],
) -> Any:
    """The scored rows: every input column (signature columns as the model saw them) and the outputs.

    An Arrow chunk stays Arrow: a column is replaced only where the check cast it to another type,
    and the outputs are appended, so the input's other columns are never converted at all.
    """
    import pandas as pd
    import pyarrow as pa

    if isinstance(piece, pd.DataFrame):
        kept = piece if good is None else piece[good]
        frame = kept.assign(**{c: model_input[c].to_numpy() for c in model_input.columns if c in kept})
        return frame.assign(**outputs).reset_index(drop=True)
    table = piece if good is None else piece.filter(pa.array(good))
    for c in model_input.columns:
        if c in table.column_names and model_input[c].dtype != chunk[c].dtype:
            table = table.set_column(table.column_names.index(c), c, pa.Array.from_pandas(model_input[c]))
    for key, values in outputs.items():
        column = pa.array(values)
        if key in table.column_names:
            table = table.set_column(table.column_names.index(key), key, column)
        else:
            table = table.append_column(key, column)
    return table
