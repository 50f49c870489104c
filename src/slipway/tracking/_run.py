"""A run being recorded: params and tags written at once, metrics buffered, artifacts by content.

Params and tags go to the store synchronously because their errors belong at the call that caused
them (a param set twice to different values is a Conflict, and a training loop should hear of it
there, not at exit). Metrics are the hot path and go through the background writer.
"""

from __future__ import annotations

import io
import json
import logging
import operator
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.core import ArtifactEntry, DatasetRecord, Run, RunStatus, validate_artifact_path, validate_key
from slipway.errors import InvalidInput, SlipwayError, StoreUnavailable
from slipway.tracking._datasets import fingerprint
from slipway.tracking._writer import Terminated

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from types import TracebackType

    from slipway.artifacts import BlobStore
    from slipway.models import ModelInfo
    from slipway.store import MetadataStore
    from slipway.tracking._writer import RunBuffer, Writer

__all__ = ["ActiveRun"]

log = logging.getLogger("slipway.tracking")
_EXIT_TIMEOUT_S = 10.0
_I64_MIN, _I64_MAX = -(2**63), 2**63 - 1  # what every store keeps in a step or a timestamp column
#: Tags in this namespace are captured by slipway (code, environment, seed, autolog); users cannot set them.
RESERVED_TAG_PREFIX = "slipway."
#: How a run can be ended by its program (RUNNING is not an end; DIED is set when beats stop).
_END_STATUSES = (RunStatus.FINISHED, RunStatus.FAILED, RunStatus.KILLED)


class ActiveRun:
    """A run this process is recording. Use it as a context manager, or call :meth:`end`.

    Leaving the ``with`` block ends the run FINISHED, FAILED on an exception, KILLED on Ctrl-C;
    a run never ended explicitly is ended at interpreter exit. Either way every metric logged is
    flushed first.
    """

    def __init__(
        self,
        *,
        run: Run,
        store: MetadataStore,
        blobs: BlobStore,
        buffer: RunBuffer,
        writer: Writer,
        on_end: Iterable[Callable[[ActiveRun], None]] = (),
    ) -> None:
        self._run = run
        self._store = store
        self._blobs = blobs
        self._buffer = buffer
        self._writer = writer
        self._on_end = list(on_end)
        self._points = buffer.points
        self._batch_size = buffer.batch_size
        self._max_pending = buffer.max_pending
        self._steps: dict[str, int] = {}  # metric key -> next implicit step; doubles as "key validated"
        self._ended = False
        self._pid = os.getpid()  # in a forked child this run belongs to the parent: never end it there

    # ------------------------------------------------------------------ identity
    @property
    def id(self) -> str:
        return self._run.id

    @property
    def experiment_id(self) -> str:
        return self._run.experiment_id

    @property
    def name(self) -> str:
        return self._run.name

    @property
    def parent_run_id(self) -> str | None:
        return self._run.parent_run_id

    @property
    def info(self) -> Run:
        """The run as it was at start (or at end, once ended); :meth:`get` reads the store."""
        return self._run

    @property
    def ended(self) -> bool:
        return self._ended

    def get(self) -> Run:
        """The run as the store has it now, after flushing this process's metrics."""
        if not self._ended:
            self._buffer.flush()
        return self._store.get_run(self._run.id)

    def __repr__(self) -> str:
        state = "ended" if self._ended else "active"
        return f"<ActiveRun {self._run.id} {self._run.name!r} ({state})>"

    # ------------------------------------------------------------------ params and tags
    def log_param(self, key: str, value: object) -> None:
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        """Record params; setting one again to a different value raises Conflict, here."""
        self._check_open()
        values = {validate_key("param", k): _text(v) for k, v in params.items()}
        if values:
            self._store.log_batch(self._run.id, params=values)

    def set_tag(self, key: str, value: object) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        """Record tags (they may change); ``slipway.*`` tags are captured, not set: InvalidInput."""
        self._set_tags(check_user_tags(tags))

    def _set_tags(self, tags: Mapping[str, object]) -> None:
        """Any tag, ``slipway.*`` included: for the capture code (autolog, seed) only."""
        self._check_open()
        values = {validate_key("tag", k): _text(v) for k, v in tags.items()}
        if values:
            self._store.log_batch(self._run.id, tags=values)

    # ------------------------------------------------------------------ metrics (the hot path)
    def log_metric(
        self, key: str, value: float, step: int | None = None, *, timestamp: int | None = None
    ) -> None:
        """Buffer one value; returns in about a microsecond and never waits on the store.

        ``step`` defaults to one more than the last step logged for ``key`` in this run (0 first);
        ``timestamp`` to now, in milliseconds. A value that is not a real number (a bool or a string
        included), or a step or timestamp outside signed 64 bits, is InvalidInput here, at the call.
        """
        steps = self._steps
        if key not in steps:
            self._check_open()
            validate_key("metric", key)
            steps[key] = 0
        elif self._ended:
            self._check_open()
        if step is None:
            step = steps[key]
        if type(step) is not int or not _I64_MIN <= step <= _I64_MAX:  # fast path: a plain int in range
            step = _integer(key, "step", step)
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        elif type(timestamp) is not int or not _I64_MIN <= timestamp <= _I64_MAX:
            timestamp = _integer(key, "timestamp", timestamp)
        if type(value) is not float:
            value = _number(key, value)
        steps[key] = step + 1
        points = self._points
        points.append((key, value, step, timestamp))
        if len(points) >= self._batch_size:
            self._behind()

    def log_metrics(
        self, metrics: Mapping[str, float], step: int | None = None, *, timestamp: int | None = None
    ) -> None:
        ts = time.time_ns() // 1_000_000 if timestamp is None else timestamp
        for key, value in metrics.items():
            self.log_metric(key, value, step, timestamp=ts)

    def _behind(self) -> None:
        # `pending`, not len(points): while the store is down, failed writes move points to the retry list
        if self._buffer.pending < self._max_pending:
            self._writer.wake()
        else:  # the store cannot keep up: write from here, which slows the loop instead of eating memory
            self._buffer.make_room(self._max_pending)

    def flush(self) -> None:
        """Write every metric logged so far before returning (the writer would within flush_interval)."""
        self._buffer.flush()

    # ------------------------------------------------------------------ artifacts
    def log_artifact(self, local_path: str | Path, artifact_path: str | None = None) -> list[ArtifactEntry]:
        """Store a file (or a folder's files) under ``artifact_path/<its name>``; returns the entries."""
        self._check_open()
        path = Path(local_path)
        if path.is_dir():
            return self.log_artifacts(path, f"{artifact_path}/{path.name}" if artifact_path else path.name)
        if not path.is_file():
            raise InvalidInput(f"artifact {str(path)!r}: no such file or folder")
        dest = validate_artifact_path(f"{artifact_path}/{path.name}" if artifact_path else path.name)
        blob = self._blobs.put_file(path)
        entry = ArtifactEntry(path=dest, digest=blob.digest, size=blob.size)
        self._store.record_artifacts(self._run.id, [entry])
        return [entry]

    def log_artifacts(self, local_dir: str | Path, artifact_path: str | None = None) -> list[ArtifactEntry]:
        """Store every file below a folder, keeping the relative layout under ``artifact_path``."""
        self._check_open()
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidInput(f"artifacts folder {str(root)!r}: no such folder")
        entries = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = file.relative_to(root).as_posix()
            dest = validate_artifact_path(f"{artifact_path}/{rel}" if artifact_path else rel)
            blob = self._blobs.put_file(file)
            entries.append(ArtifactEntry(path=dest, digest=blob.digest, size=blob.size))
        if entries:
            self._store.record_artifacts(self._run.id, entries)
        return entries

    def log_bytes(self, data: bytes, artifact_file: str) -> ArtifactEntry:
        self._check_open()
        dest = validate_artifact_path(artifact_file)
        blob = self._blobs.put_bytes(bytes(data))
        entry = ArtifactEntry(path=dest, digest=blob.digest, size=blob.size)
        self._store.record_artifacts(self._run.id, [entry])
        return entry

    def log_text(self, text: str, artifact_file: str) -> ArtifactEntry:
        return self.log_bytes(text.encode(), artifact_file)

    def log_dict(self, data: Mapping[str, Any], artifact_file: str) -> ArtifactEntry:
        """Store a mapping as JSON (which every YAML reader also accepts, for ``.yaml`` names)."""
        return self.log_bytes(json.dumps(data, indent=2, sort_keys=True, default=str).encode(), artifact_file)

    def log_figure(self, figure: Any, artifact_file: str, *, dpi: int | None = None) -> ArtifactEntry:
        """Store a matplotlib figure (or Axes) rendered in the format its name ends with (png, svg, pdf)."""
        fig = getattr(figure, "figure", figure) if not hasattr(figure, "savefig") else figure
        if not hasattr(fig, "savefig"):
            raise InvalidInput(
                f"figure {artifact_file!r}: expected a matplotlib Figure or Axes, got {type(figure)}"
            )
        suffix = Path(artifact_file).suffix.lower().lstrip(".") or "png"
        buf = io.BytesIO()
        fig.savefig(buf, format=suffix, dpi=dpi, bbox_inches="tight")
        return self.log_bytes(
            buf.getvalue(), artifact_file if Path(artifact_file).suffix else f"{artifact_file}.png"
        )

    # ------------------------------------------------------------------ datasets
    def log_model(self, model: object, artifact_path: str = "model", **options: Any) -> ModelInfo:
        """Save a model into this run (see ``slipway.models.save_model`` for ``options``).

        Its lineage is this run: the run id, the datasets it logged and its git commit.
        """
        from slipway.models import log_model

        self._check_open()
        return log_model(model, artifact_path, run=self, store=self._store, **options)

    def log_dataset(
        self, data: object, *, name: str | None = None, role: str = "", source: str | None = None
    ) -> DatasetRecord:
        """Record a dataset by content digest, schema and profile (not a copy of its rows)."""
        self._check_open()
        record = fingerprint(data, name=name, role=role, source=source)
        self._store.log_dataset(self._run.id, record)
        return record

    # ------------------------------------------------------------------ ending
    def end(self, status: RunStatus | str = RunStatus.FINISHED, *, timeout: float = 30.0) -> Run:
        """Flush, then end the run; raises MetricWriteError if metrics could not be written.

        ``timeout`` bounds how long an unavailable store is retried before giving up. ``status``
        is a :class:`RunStatus` or its name in any case (``"finished"``).

        In a forked child (``multiprocessing``) a run inherited from the parent is only flushed:
        the parent owns it and ends it.
        """
        status = parse_status(status)
        if self._ended:
            return self._run
        self._ended = True
        if os.getpid() != self._pid:
            return self._flush_in_child(timeout)
        error: SlipwayError | None = None
        try:
            try:
                self._buffer.flush(final=True, timeout=timeout)
            except SlipwayError as exc:
                error = exc
            self._run = _with_retry(lambda: self._store.end_run(self._run.id, status=status), timeout)
        except SlipwayError:
            self._finish()
            raise
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): the run stays registered, so the exit hook flushes and ends it.
            self._ended = False
            raise
        self._finish()
        if error is not None:
            raise error
        return self._run

    def _flush_in_child(self, timeout: float) -> Run:
        try:
            self._buffer.flush(final=True, timeout=timeout)
        except SlipwayError:
            self._finish()
            raise
        except BaseException:
            self._ended = False
            raise
        self._finish()
        return self._run

    def _finish(self) -> None:
        try:
            self._writer.unregister(self._buffer)
        finally:
            for callback in self._on_end:
                callback(self)

    def _end_at_exit(self, status: RunStatus) -> None:
        if not self._ended:  # a program that is exiting should not hang on a store that is gone
            self.end(status, timeout=_EXIT_TIMEOUT_S)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None or (isinstance(exc, SystemExit) and exc.code in (0, None)):
            status = RunStatus.FINISHED
        elif issubclass(exc_type, (KeyboardInterrupt, Terminated)):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        if exc_type is None:
            self.end(status)
            return
        try:
            self.end(status)
        except Exception as end_error:  # never hide the exception that ended the block
            log.error("run %s: could not end cleanly: %s", self._run.id, end_error)

    def _check_open(self) -> None:
        if self._ended:
            raise InvalidInput(f"run {self._run.id} has ended; start a new run to log more")


def _text(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _integer(key: str, what: str, value: object) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float) and value.is_integer():  # step=2.0, e.g. from epoch arithmetic
            return _integer(key, what, int(value))
        number = operator.index(value)  # type: ignore[arg-type]  # anything with __index__ (NumPy ints)
    except TypeError:
        raise InvalidInput(f"metric {key!r}: {what} must be an integer, got {value!r}") from None
    if not _I64_MIN <= number <= _I64_MAX:
        raise InvalidInput(f"metric {key!r}: {what} {number} does not fit in 64 bits (-2**63 to 2**63-1)")
    return number


def _number(key: str, value: object) -> float:
    """A real number as float; NaN and infinities are values like any other (a diverged loss)."""
    if isinstance(value, (bool, str, bytes)) or type(value).__name__ == "bool_":  # NumPy's bool too
        raise InvalidInput(f"metric {key!r}: expected a number, got {type(value).__name__} {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]  # NumPy scalars, Decimal, 0-d tensors
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"metric {key!r}: expected a number, got {type(value).__name__} {value!r}"
        ) from None


def parse_status(status: RunStatus | str) -> RunStatus:
    """A status given as the enum or its name, in any case."""
    if isinstance(status, RunStatus) and status in _END_STATUSES:
        return status
    name = status.value if isinstance(status, RunStatus) else str(status).strip().upper()
    found = next((s for s in _END_STATUSES if s.value == name), None)
    if found is None:
        allowed = ", ".join(s.value for s in _END_STATUSES)
        raise InvalidInput(f"run status {status!r}: a run ends as one of {allowed} (any case)")
    return found


def check_user_tags(tags: Mapping[str, object]) -> Mapping[str, object]:
    """Refuse tags in the ``slipway.`` namespace: the captured ones must stay what was captured."""
    reserved = sorted(k for k in tags if str(k).lower().startswith(RESERVED_TAG_PREFIX))
    if reserved:
        raise InvalidInput(
            f"tag {reserved[0]!r}: the 'slipway.' namespace is reserved for captured tags; pick another name"
        )
    return tags


def _with_retry(call: Callable[[], Run], timeout: float) -> Run:
    """Ending a run must survive a store that blinks (a restarting server, a locked SQLite file)."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            return call()
        except StoreUnavailable:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
