"""The explicit tracking API: a client over a metadata store and a blob store, no hidden globals.

The fluent ``slipway.log_metric`` API is a thin layer over this (see ``slipway._api``); services,
tests and notebooks that want several stores at once use the client directly.
"""

from __future__ import annotations

import dataclasses
import getpass
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.core import ArtifactEntry, Experiment, Metric, Page, Run, RunStatus, now_ms
from slipway.errors import AlreadyExists, ArtifactNotFound, ExperimentNotFound, InvalidInput, RunNotFound
from slipway.tracking._compare import RunComparison, compare
from slipway.tracking._environment import LOCK_ARTIFACT, capture
from slipway.tracking._run import ActiveRun, check_user_tags
from slipway.tracking._seed import current_seed
from slipway.tracking._writer import RunBuffer, Writer, get_writer

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from slipway.artifacts import BlobStore
    from slipway.core import DatasetRecord
    from slipway.store import MetadataStore

__all__ = ["DEFAULT_EXPERIMENT", "TrackingClient"]

DEFAULT_EXPERIMENT = "Default"
_ID_LENGTH = 32
_MARK_DEAD_EVERY_MAX_S = 5.0

log = logging.getLogger("slipway.tracking")


class TrackingClient:
    """Experiments and runs over the two stores.

    Args:
        store: where runs, params, metrics, tags and artifact listings live.
        blobs: where artifact bytes live, by SHA-256.
        flush_interval: seconds between background metric writes.
        heartbeat_interval: seconds between a live run's heartbeats.
        dead_after: seconds without a heartbeat after which a RUNNING run reads as DIED; keep it
            several heartbeats long. Searches mark such runs DIED in the store, at most once per
            ``min(heartbeat_interval, 5 s)`` per client (it is a write), never on a read-only
            store, and a failing mark never fails the read.
        environ: the process environment as the edge read it (for notebook detection).
        writer: the background writer; the process-wide one by default.
    """

    def __init__(
        self,
        store: MetadataStore,
        blobs: BlobStore,
        *,
        flush_interval: float = 0.5,
        heartbeat_interval: float = 10.0,
        dead_after: float = 60.0,
        environ: Mapping[str, str] | None = None,
        writer: Writer | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.flush_interval = flush_interval
        self.heartbeat_interval = heartbeat_interval
        self.dead_after = dead_after
        self.environ = environ
        self.writer = writer
        self._marked_at = -float("inf")  # monotonic time of the last mark_dead_runs
        self._mark_lock = threading.Lock()

    def close(self) -> None:
        """Close both stores (a team server's blob client holds connections; a folder holds none)."""
        try:
            self.store.close()
        finally:
            close = getattr(self.blobs, "close", None)
            if callable(close):
                close()

    # ------------------------------------------------------------------ experiments
    def get_or_create_experiment(self, name: str) -> Experiment:
        found = self.store.get_experiment_by_name(name)
        if found is not None:
            return found
        try:
            return self.store.create_experiment(name=name)
        except AlreadyExists:  # another process created it between the two calls
            again = self.store.get_experiment_by_name(name)
            if again is None:
                raise
            return again

    def get_experiment_by_name(self, name: str) -> Experiment:
        found = self.store.get_experiment_by_name(name)
        if found is None:
            known = ", ".join(sorted(e.name for e in self.store.list_experiments())[:10]) or "none yet"
            raise ExperimentNotFound(f"experiment {name!r} does not exist (known: {known})")
        return found

    def list_experiments(self) -> list[Experiment]:
        return self.store.list_experiments()

    # ------------------------------------------------------------------ runs
    def start_run(
        self,
        *,
        experiment: str | None = None,
        name: str | None = None,
        parent: ActiveRun | str | None = None,
        tags: Mapping[str, object] | None = None,
        user: str | None = None,
        capture_environment: bool = True,
        on_end: Iterable[Callable[[ActiveRun], None]] = (),
    ) -> ActiveRun:
        """Create a RUNNING run and start beating for it; nested under ``parent`` when given.

        A nested run defaults to its parent's experiment; any other run to ``Default``.
        """
        parent_id = parent.id if isinstance(parent, ActiveRun) else parent
        if experiment is not None:
            experiment_id = self.get_or_create_experiment(experiment).id
        elif isinstance(parent, ActiveRun):
            experiment_id = parent.experiment_id
        elif parent_id is not None:
            experiment_id = self.store.get_run(parent_id).experiment_id
        else:
            experiment_id = self.get_or_create_experiment(DEFAULT_EXPERIMENT).id
        env = capture(environ=self.environ) if capture_environment else None
        all_tags: dict[str, str] = dict(env.tags) if env else {}
        seed = current_seed()
        if seed is not None:
            all_tags["slipway.seed"] = str(seed)
        all_tags.update({k: str(v) for k, v in check_user_tags(tags or {}).items()})
        run = self.store.create_run(
            experiment_id=experiment_id,
            name=name,
            user=user if user is not None else local_user(),
            parent_run_id=parent_id,
            tags=all_tags,
        )
        writer = self.writer or get_writer()
        buffer = RunBuffer(
            run_id=run.id,
            sink=self.store,
            flush_interval=self.flush_interval,
            heartbeat_interval=self.heartbeat_interval,
        )
        active = ActiveRun(
            run=run, store=self.store, blobs=self.blobs, buffer=buffer, writer=writer, on_end=on_end
        )
        buffer.on_exit = active._end_at_exit
        writer.register(buffer)
        if env is not None and env.artifacts:
            try:
                for path, data in env.artifacts.items():
                    active.log_bytes(data, path)
            except BaseException:
                active.end(RunStatus.FAILED)
                raise
        return active

    def get_run(self, run_id: str) -> Run:
        """A run by id (or unique id prefix); a RUNNING run whose heartbeat stopped reads as DIED."""
        run = self.store.get_run(self.resolve_run_id(run_id))
        if self._looks_dead(run):
            if self._mark_dead_runs():
                run = self.store.get_run(run.id)
            if self._looks_dead(run):  # not marked (rate limit, read-only store): it still reads DIED
                run = dataclasses.replace(run, status=RunStatus.DIED)
        return run

    def _looks_dead(self, run: Run) -> bool:
        last_seen = run.heartbeat_at if run.heartbeat_at is not None else run.start_time
        return run.status is RunStatus.RUNNING and last_seen < self._cutoff()

    def _mark_dead_runs(self) -> bool:
        """Mark runs whose beats stopped as DIED, at most once per interval; True if it ran.

        Marking is a write on a read path (on SQLite it queues behind every logging process), so it
        is rate-limited, skipped on a read-only store, and its failure is logged, never raised.
        """
        if getattr(self.store, "read_only", False):
            return False
        every = min(self.heartbeat_interval, _MARK_DEAD_EVERY_MAX_S)
        with self._mark_lock:
            now = time.monotonic()
            if now - self._marked_at < every:
                return False
            self._marked_at = now
        try:
            self.store.mark_dead_runs(heartbeat_before=self._cutoff())
        except Exception as exc:  # a read must not fail because marking failed (read-only, no rights)
            log.warning("could not mark runs whose heartbeat stopped as DIED: %s", exc)
            return False
        return True

    def resolve_run_id(self, run_id: str) -> str:
        """Accept a unique prefix of a run id, as users copy them from tables."""
        run_id = run_id.strip()
        if len(run_id) >= _ID_LENGTH:
            return run_id
        if not run_id or not all(c in "0123456789abcdef" for c in run_id):
            raise RunNotFound(f"run {run_id!r} does not exist (expected a run id or a unique prefix of one)")
        page = self.store.search_runs(filter=f"attributes.run_id like '{run_id}%'", max_results=2)
        if not page.items:
            raise RunNotFound(f"run {run_id!r} does not exist")
        if len(page.items) > 1:
            raise InvalidInput(f"run id prefix {run_id!r} is ambiguous; give more characters")
        return page.items[0].id

    def search_runs(
        self,
        *,
        experiments: str | Sequence[str] = (),
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Run]:
        """Runs matching a filter (see :mod:`slipway.core._search`); dead runs are marked DIED first.

        A run whose heartbeat stopped reads DIED even when it could not be marked (see ``dead_after``),
        though a filter on ``status`` only sees it once it is marked.
        """
        names = [experiments] if isinstance(experiments, str) else list(experiments)
        ids = [self.get_experiment_by_name(n).id for n in names]
        self._mark_dead_runs()
        page = self.store.search_runs(
            experiment_ids=ids,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )
        if not any(self._looks_dead(r) for r in page.items):
            return page
        # not marked yet (rate limit, read-only store): they still read DIED
        items = [
            dataclasses.replace(r, status=RunStatus.DIED) if self._looks_dead(r) else r for r in page.items
        ]
        return dataclasses.replace(page, items=items)

    def _cutoff(self) -> int:
        return now_ms() - int(self.dead_after * 1000)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self.store.get_metric_history(self.resolve_run_id(run_id), key)

    def get_datasets(self, run_id: str) -> list[DatasetRecord]:
        return self.store.get_run_datasets(self.resolve_run_id(run_id))

    # ------------------------------------------------------------------ artifacts
    def list_artifacts(self, run_id: str, *, prefix: str = "") -> list[ArtifactEntry]:
        return self.store.list_artifacts(self.resolve_run_id(run_id), prefix=prefix)

    def _entries(self, run_id: str, path: str) -> list[ArtifactEntry]:
        path = path.strip("/")
        entries = self.store.list_artifacts(self.resolve_run_id(run_id), prefix=path)
        exact = [e for e in entries if e.path == path]
        if exact:
            return exact
        inside = [e for e in entries if not path or e.path.startswith(path + "/")]
        if not inside:
            raise ArtifactNotFound(f"run {run_id}: no artifact {path!r}")
        return inside

    def read_artifact(self, run_id: str, path: str) -> bytes:
        entries = self._entries(run_id, path)
        if len(entries) != 1 or entries[0].path != path.strip("/"):
            raise InvalidInput(
                f"run {run_id}: {path!r} is a folder of {len(entries)} files; download it instead"
            )
        return self.blobs.get_bytes(entries[0].digest)

    def download_artifacts(self, run_id: str, path: str, dest: str | Path) -> Path:
        """Download a file or a folder of artifacts; each file is verified against its digest."""
        entries = self._entries(run_id, path)
        target = Path(dest)
        path = path.strip("/")
        if len(entries) == 1 and entries[0].path == path:
            out = target / Path(path).name if target.is_dir() else target
            return self.blobs.download(entries[0].digest, out)
        base = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
        for entry in entries:
            self.blobs.download(entry.digest, target / entry.path[len(base) :])
        return target / (path.rsplit("/", 1)[-1] if path else "")

    # ------------------------------------------------------------------ compare
    def compare_runs(self, run_a: str, run_b: str) -> RunComparison:
        a, b = self.get_run(run_a), self.get_run(run_b)
        return compare(a, b, lock_a=self._lock(a.id), lock_b=self._lock(b.id))

    def _lock(self, run_id: str) -> str | None:
        try:
            return self.read_artifact(run_id, LOCK_ARTIFACT).decode()
        except ArtifactNotFound:
            return None


def local_user() -> str:
    """Who runs this process, for runs and audit events; "" in a container without a passwd entry."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return ""
