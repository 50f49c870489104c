"""Pipeline steps on an engine: each step that must run is one task, run and recorded in a worker.

The coordinator (``_runner``) submits a :class:`StepJob` of plain values: the step by module, name
and file, its arguments and input refs, where runs go, and the pipeline run's id. The worker builds
its own client from the store locations (``_stores``), makes the project's modules importable,
finds the step, and runs it through the same ``run_recorded`` as a thread of the coordinator does,
so the step's nested run is recorded alike and ``slipway.log_*`` inside the step reaches it.

A worker may outlive one run (a scheduler's cluster) and serve several projects. It keeps the
project modules it imported while their files are unchanged, and imports them afresh when one
changed or the step comes from another project folder: the key is computed from the files, so
the worker must run the code in them, not an older copy it imported for an earlier run.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import sys
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.engines import check_engine, open_engine
from slipway.errors import InvalidInput, SlipwayError
from slipway.pipelines._code import _local
from slipway.pipelines._records import _quote
from slipway.pipelines._runner import StepResult, StepTask, execute_step, run_recorded
from slipway.pipelines._step import Step, _find_step
from slipway.pipelines._stores import Stores, end_orphans, own_client, refuse_rerun, why_lost, worker_client
from slipway.pipelines._target import load_target

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from slipway.engines import Engine
    from slipway.pipelines._values import OutputRef

__all__ = ["Remote", "StepJob", "run_job"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StepJob:
    """One step for a worker, as plain values: the step is found there, after its modules are current."""

    step: tuple[str, str, str | None]  # module, qualified name, file (as a Step pickles)
    folder: str  # the project folder: modules below it are the project's
    node: str
    arguments: dict[str, Any]  # parameters, and file paths made absolute
    inputs: dict[str, OutputRef]
    cache: Path
    scratch: Path
    stores: Stores
    parent_run_id: str
    pipeline: str
    key: str
    params: dict[str, str]
    components: bytes


class Remote:
    """Where a pipeline run's steps go: an engine, opened on first use when that is costly.

    Open it with :meth:`open`, which checks the options before anything is recorded.
    """

    def __init__(
        self,
        *,
        engine: Engine | None,
        opener: Callable[[], Engine] | None,
        owned: bool,
        stores: Stores,
        folder: Path,
    ) -> None:
        self._engine = engine
        self._opener = opener
        self._owned = owned
        self._stores = stores
        self._folder = folder

    @classmethod
    @contextlib.contextmanager
    def open(
        cls,
        engine: str | Engine,
        *,
        scheduler: str | None,
        workers: int | None,
        parallel: int | None,
        stores: Stores,
        folder: Path,
    ) -> Iterator[Remote]:
        """The engine named (closed on leaving) or given (left open).

        A Dask LocalCluster is started when the first step must run, so a run whose steps are
        all cached starts none; a scheduler is connected to at once, so an address that does not
        answer fails before the pipeline run is recorded, as do stores its workers cannot reach.
        """
        if parallel is not None:
            raise InvalidInput(
                f"parallel {parallel!r}: on an engine its workers run the steps; size them with workers "
                "(--workers) instead"
            )
        if not isinstance(engine, str):
            if scheduler is not None or workers is not None:
                raise InvalidInput(
                    f"scheduler, workers: {engine!r} is open already; pass them when opening it"
                )
            stores.check_shared(getattr(engine, "address", None))  # a DaskEngine connected to one
            remote = cls(engine=engine, opener=None, owned=False, stores=stores, folder=folder)
        else:
            check_engine(engine, workers=workers, scheduler=scheduler)
            stores.check_shared(scheduler)
            opener = functools.partial(open_engine, engine, workers=workers, address=scheduler)
            if engine == "dask" and scheduler is None:  # a LocalCluster: started for the first step to run
                remote = cls(engine=None, opener=opener, owned=True, stores=stores, folder=folder)
            else:
                remote = cls(engine=opener(), opener=None, owned=True, stores=stores, folder=folder)
        try:
            yield remote
        finally:
            remote.close()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            assert self._opener is not None  # either given or opened on first use
            self._engine = self._opener()
        return self._engine

    def submit(
        self,
        task: StepTask,
        *,
        parent_run_id: str,
        pipeline: str,
        key: str,
        params: Mapping[str, str],
        components: bytes,
    ) -> Future[StepResult]:
        _, found = task.step.__reduce__()  # how a worker finds the step: module, name and file
        job = StepJob(
            step=found,
            folder=str(self._folder),
            node=task.node,
            # A relative path means the folder this run started in, whatever the worker's is.
            arguments={k: v.absolute() if isinstance(v, Path) else v for k, v in task.arguments.items()},
            inputs=task.inputs,
            cache=task.cache,
            scratch=task.scratch,
            stores=self._stores,
            parent_run_id=parent_run_id,
            pipeline=pipeline,
            key=key,
            params=dict(params),
            components=components,
        )
        return _Settled(self.engine.submit(run_job, job), functools.partial(self._lost, job))

    def _lost(self, job: StepJob, exc: Exception) -> StepResult:
        """The step's task did not come back: end its run KILLED (its worker cannot), say why.

        An exception that is not a loss (the worker could not open the stores) is raised after
        the same clean-up, for the runner to report as any failed step.
        """
        run_id = None
        with contextlib.suppress(SlipwayError):  # a store that fails now: the run reads DIED later
            client = own_client(self._stores)
            try:
                run_id = end_orphans(client, _step_runs(job.parent_run_id, job.node))
            finally:
                client.close()
        why = why_lost(exc)
        if why is None:
            raise exc
        return StepResult(
            name=job.node, status="failed", run_id=run_id, key=job.key, error=f"step {job.node}: {why}"
        )

    def close(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None and self._owned:
            engine.close()


def run_job(job: StepJob) -> StepResult:
    """In a worker: the step, run and recorded as its nested run under the pipeline's run."""
    client = worker_client(job.stores)
    refuse_rerun(client, _step_runs(job.parent_run_id, job.node))

    def work() -> tuple[OutputRef, ...]:
        with _project_step(job.folder, *job.step) as step:
            task = StepTask(
                step=step,
                node=job.node,
                arguments=job.arguments,
                inputs=job.inputs,
                blobs=client.blobs,
                cache=job.cache,
                scratch=job.scratch,
            )
            return execute_step(task)

    return run_recorded(
        job.node,
        work,
        client=client,
        parent=job.parent_run_id,
        pipeline=job.pipeline,
        key=job.key,
        params=job.params,
        components=job.components,
    )


def _step_runs(parent_run_id: str, node: str) -> str:
    """The filter for the run of step ``node`` in the pipeline run ``parent_run_id``."""
    return f"attributes.parent_run_id = '{parent_run_id}' and attributes.name = {_quote(node)}"


class _Settled(Future["StepResult"]):
    """A step's task as the runner sees it: a task the engine lost comes back as a failed step.

    ``settle`` runs on the engine's callback thread when the task raised, before this future is
    done, so the step's run is ended before the runner ends the pipeline's. Cancelling this
    cancels the task.
    """

    def __init__(self, task: Future[StepResult], settle: Callable[[Exception], StepResult]) -> None:
        super().__init__()
        self._task = task
        self._settle = settle
        task.add_done_callback(self._copy)

    def cancel(self) -> bool:
        return self._task.cancel()  # this future follows in _copy

    def _copy(self, task: Future[StepResult]) -> None:
        if task.cancelled():
            super().cancel()
            self.set_running_or_notify_cancel()
            return
        if not self.set_running_or_notify_cancel():
            return
        error = task.exception()
        if error is None:
            self.set_result(task.result())
        elif not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit: nothing to settle
            self.set_exception(error)
        else:
            try:
                self.set_result(self._settle(error))
            except BaseException as raised:
                self.set_exception(raised)


# ---------------------------------------------------------------------- the project's modules in a worker

# A worker with several threads runs several steps at once: the modules of the project stay as
# they are while any step runs, and are forgotten only when none does (a step of another project,
# or of changed files, waits for that; steps of the same files wait behind it, so it is not starved).
_lock = threading.Condition()
_root: str | None = None  # the project folder whose modules this worker imported
_seen: dict[str, tuple[int, int, int] | None] = {}  # their files' (size, mtime_ns, inode) then
_running = 0  # steps running in this worker now, on the modules of _root
_waiting = 0  # steps waiting for those to finish before the modules are imported afresh


@contextlib.contextmanager
def _project_step(folder: str, module: str, qualname: str, file: str | None) -> Iterator[Step]:
    """The step, from the project's files as they are now, held current until it returns."""
    global _running, _waiting
    with _lock:
        counted = False  # whether this step is one of those _waiting
        try:
            while True:
                stale = _stale(folder)
                if stale and not counted:
                    _waiting, counted = _waiting + 1, True
                if not _running or not (stale or _waiting):
                    break
                _lock.wait()
        finally:
            _waiting -= counted
        if stale:
            _refresh(folder)
        found = _find(module, qualname, file)
        _running += 1
    try:
        yield found
    finally:
        with _lock:
            _running -= 1
            _remember(folder)  # modules the step imported as it ran are the project's too
            _lock.notify_all()


def _find(module: str, qualname: str, file: str | None) -> Step:
    if module != "__main__" or file is None:
        return _find_step(module, qualname, file)
    found = load_target(f"{file}:{qualname}")  # a script run directly: its module by its file
    if not isinstance(found, Step):
        raise InvalidInput(
            f"{file}:{qualname}: expected a @slipway.step function, got {type(found).__name__}"
        )
    return found


def _stale(folder: str) -> bool:
    """The step is another project's, or one of the imported files changed since."""
    return _root != folder or any(_stat(f) != s for f, s in _seen.items())


def _refresh(folder: str) -> None:
    """Forget the modules of the project imported before; the next import reads the files."""
    global _root
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if path and any(_project(path, root) for root in (folder, _root) if root is not None):
            del sys.modules[name]
    _seen.clear()
    for root in {folder, _root}:
        if root is not None and root in sys.path:
            sys.path.remove(root)
    sys.path.insert(0, folder)  # its local imports (from features import ...) resolve here first
    importlib.invalidate_caches()  # a file written since the last import is seen
    _root = folder


def _remember(folder: str) -> None:
    if _root != folder:
        return
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and path not in _seen and _project(path, folder):
            _seen[path] = _stat(path)


def _project(path: str, root: str) -> bool:
    """A module of the project: a file below its folder, not in an environment kept there (.venv)."""
    return path.startswith(root + os.sep) and _local(Path(path), Path(root))


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino
