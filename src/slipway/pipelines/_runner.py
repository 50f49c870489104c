"""Running a pipeline: a topological scheduler that reuses what it can and runs the rest in parallel.

The coordinator (the calling thread) walks the graph: a step whose upstream steps are done gets its
key; an earlier execution with that key stands in for it (a nested run records the reuse, nothing
is loaded); otherwise the step is handed to a pool of ``parallel`` threads, or to an engine. Threads
by default, because the work of a step (NumPy, pandas, scikit-learn, I/O) mostly releases the GIL,
and because a thread shares the open stores and the active run. What runs is :func:`run_recorded`
around :func:`execute_step`: the step's nested run opened, the step called with its inputs loaded
from the artifact store and its outputs stored there, the run ended. On an engine (``_remote``) the
same function runs in the worker, which builds its own client from the store locations, so a step's
record is the same wherever it ran.

A step that fails stops the scheduling of new steps; the ones already running finish, the others
are ``skipped``, and the pipeline run ends FAILED. ``resume=True`` then reuses every step that
finished in that run, ``always_run`` ones included.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
import sys
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.core import ArtifactEntry, RunStatus
from slipway.errors import InvalidInput, SlipwayError, first_line
from slipway.pipelines._components import ComponentBuilder, reusable
from slipway.pipelines._key import canonical
from slipway.pipelines._records import (
    COMPONENTS_ARTIFACT,
    OUTPUTS_TAG,
    PIPELINE_TAG,
    TRACEBACK_ARTIFACT,
    Records,
    outputs_tag,
)
from slipway.pipelines._stores import Stores, bound
from slipway.pipelines._values import OutputRef, load_value, store_value

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from slipway.artifacts import BlobStore
    from slipway.config import Settings
    from slipway.engines import Engine
    from slipway.pipelines._graph import Graph, Node, Pipeline
    from slipway.pipelines._records import Execution
    from slipway.pipelines._remote import Remote
    from slipway.pipelines._step import Step
    from slipway.tracking import ActiveRun, TrackingClient

__all__ = ["PipelineResult", "Session", "StepResult", "StepTask", "execute_step", "run", "run_recorded"]

#: Where a run of a pipeline keeps its working files, below the project's home.
CACHE_FOLDER = Path("cache") / "pipelines"
STAT_CACHE = Path("pipelines") / "file-hashes.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepResult:
    """What happened to one step: ``ran``, ``cached``, ``failed`` or ``skipped`` (after a failure).

    .. versionadded:: 0.1
    """

    name: str
    status: str
    seconds: float = 0.0
    run_id: str | None = None
    key: str | None = None
    outputs: dict[str, OutputRef] = field(default_factory=dict)
    cached_from: str | None = None
    error: str | None = None
    traceback: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "run_id": self.run_id,
            "key": self.key,
            "cached_from": self.cached_from,
            "error": self.error,
            "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineResult:
    """A pipeline run: each step's result; outputs are loaded only when asked for.

    .. versionadded:: 0.1
    """

    name: str
    run_id: str
    steps: dict[str, StepResult]
    seconds: float
    files_hashed: int  # input files read to hash them (0 when the stat cache knew them all)
    resumed_from: str | None = None
    _load: Callable[[OutputRef], Any] = field(repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return all(s.status in ("ran", "cached") for s in self.steps.values())

    @property
    def error(self) -> str | None:
        """The first failed step's one-line error."""
        return next((s.error for s in self.steps.values() if s.status == "failed"), None)

    def output(self, step: str, name: str | None = None) -> Any:
        """Load an output of ``step`` (its only one, or the one called ``name``)."""
        if step not in self.steps:
            raise InvalidInput(f"pipeline {self.name}: no step {step!r} (steps: {', '.join(self.steps)})")
        outputs = self.steps[step].outputs
        if name is None and len(outputs) == 1:
            name = next(iter(outputs))
        if name not in outputs:
            raise InvalidInput(f"step {step}: no output {name!r} (outputs: {', '.join(outputs) or 'none'})")
        return self._load(outputs[name])

    def to_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.name,
            "run_id": self.run_id,
            "ok": self.ok,
            "seconds": round(self.seconds, 4),
            "files_hashed": self.files_hashed,
            "resumed_from": self.resumed_from,
            "error": self.error,
            "steps": [s.to_dict() for s in self.steps.values()],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class StepTask:
    """Everything one execution of a step needs, picklable.

    An engine can run it anywhere the artifact store and the step's module can be reached.
    """

    step: Step
    node: str
    arguments: dict[str, Any]  # parameters and file paths, by argument
    inputs: dict[str, OutputRef]  # upstream outputs, by argument
    blobs: BlobStore
    cache: Path  # where downloaded inputs are kept
    scratch: Path  # where outputs are written before they are stored


def execute_step(task: StepTask) -> tuple[OutputRef, ...]:
    """Load the inputs, call the step, store its outputs; returns them in declared order."""
    values = dict(task.arguments)
    for arg, ref in task.inputs.items():
        values[arg] = load_value(ref, blobs=task.blobs, cache=task.cache)
    signature = inspect.signature(task.step.fn)
    bound = inspect.BoundArguments(signature, {k: values[k] for k in signature.parameters if k in values})
    result = task.step.fn(*bound.args, **bound.kwargs)
    names = task.step.output_names
    if len(names) == 1:
        items: tuple[Any, ...] = (result,)
    elif isinstance(result, (tuple, list)) and len(result) == len(names):
        items = tuple(result)
    else:
        got = f"{len(result)} items" if isinstance(result, (tuple, list)) else type(result).__name__
        raise InvalidInput(f"step {task.node}: declared outputs {', '.join(names)}, but it returned {got}")
    return tuple(
        store_value(v, blobs=task.blobs, scratch=task.scratch, step=task.node, output=n)
        for n, v in zip(names, items, strict=True)
    )


def run_recorded(
    node: str,
    work: Callable[[], tuple[OutputRef, ...]],
    *,
    client: TrackingClient,
    parent: ActiveRun | str,
    pipeline: str,
    key: str,
    params: Mapping[str, str],
    components: bytes,
    on_start: Callable[[ActiveRun], None] | None = None,
) -> StepResult:
    """Run ``work`` (the step) in its own nested run, the active one for ``slipway.log_*`` inside it.

    The one place a step's execution is recorded, on a thread here or in an engine's worker: its
    key, status, params and key components first, then its outputs or its traceback.
    ``on_start`` is given the step's run as soon as it exists.
    """
    t0 = time.monotonic()
    step_run = client.start_run(name=node, parent=parent, capture_environment=False)
    if on_start is not None:
        on_start(step_run)
    store = client.store
    tags = Records(client).step_tags(pipeline=pipeline, step=node, key=key, status="ran")
    store.log_batch(step_run.id, params=dict(params), tags=tags)
    step_run.log_bytes(components, COMPONENTS_ARTIFACT)
    result = functools.partial(StepResult, name=node, run_id=step_run.id, key=key)
    try:
        with bound(client, step_run):
            outputs = work()
    except BaseException as exc:
        trace = traceback.format_exc()
        try:
            step_run.log_text(trace, TRACEBACK_ARTIFACT)
        finally:
            step_run.end(RunStatus.FAILED if isinstance(exc, Exception) else RunStatus.KILLED)
        if not isinstance(exc, Exception):
            raise
        return result(
            status="failed", seconds=time.monotonic() - t0, error=_one_line(node, exc), traceback=trace
        )
    store.record_artifacts(
        step_run.id, [ArtifactEntry(path=o.artifact, digest=o.digest, size=o.size) for o in outputs]
    )
    store.log_batch(step_run.id, tags={OUTPUTS_TAG: outputs_tag(outputs)})
    step_run.end(RunStatus.FINISHED)
    return result(status="ran", seconds=time.monotonic() - t0, outputs={o.name: o for o in outputs})


def run(
    pipeline: Pipeline,
    *,
    params: Mapping[str, Any] | None = None,
    parallel: int | None = None,
    resume: bool = False,
    use_cache: bool = True,
    experiment: str | None = None,
    progress: Callable[[StepResult], None] | None = None,
    engine: str | Engine | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    settings: Settings | None = None,
) -> PipelineResult:
    """Run ``pipeline`` as a tracked run with one nested run per step, reusing cached steps.

    Args:
        pipeline: a ``@slipway.pipeline``.
        params: the pipeline's parameters (defaults fill the rest).
        parallel: how many steps run at once on threads here (default: the machine's cores).
        resume: reuse every step that finished in the pipeline's last run, if that run failed.
        use_cache: False runs every step (their results are still recorded for later runs).
        experiment: the experiment of the run (default: the pipeline's name).
        progress: called with each step's result as it is known, in the calling thread.
        engine: run the steps that must run on an engine instead of threads: ``local`` (worker
            processes here), ``dask`` (a LocalCluster, started when the first step must run), or
            an open :class:`~slipway.engines.Engine` (left open).
        scheduler: a running Dask scheduler's address, for ``engine="dask"``.
        workers: worker processes of the engine it starts (``local``, a LocalCluster), or a cap
            on the steps in flight on a scheduler's cluster.
        settings: where runs and outputs go, as the caller resolved them (the CLI does); when
            None, the fluent API's (``slipway.start_run``), and the pipeline run nests under its
            active run, if any.

    A step that fails does not raise: the result says which (``ok``, ``error``), and the
    pipeline run ends FAILED. Bad input (an unknown parameter, a missing input file, a cycle, an
    unknown engine, an unreachable scheduler) raises InvalidInput before any run is recorded.

    .. versionadded:: 0.1
    """
    if parallel is not None and (isinstance(parallel, bool) or parallel < 1):
        raise InvalidInput(f"parallel {parallel!r}: expected a positive whole number")
    if engine is None and (scheduler is not None or workers is not None):
        option = f"scheduler {scheduler!r}" if scheduler is not None else f"workers {workers!r}"
        raise InvalidInput(f"{option}: choose where the steps run with engine='local' or 'dask' (--engine)")
    started = time.monotonic()
    graph = pipeline.build(params)
    session = Session(settings)
    home = session.settings.home
    builder = ComponentBuilder(graph, stat_cache=home / STAT_CACHE)
    builder.prepare()
    with contextlib.ExitStack() as stack:
        stack.callback(session.close)
        remote = None
        if engine is not None:
            from slipway.pipelines._remote import Remote

            remote = stack.enter_context(
                Remote.open(
                    engine,
                    scheduler=scheduler,
                    workers=workers,
                    parallel=parallel,
                    stores=Stores.of(session.settings),
                    folder=graph.folder,
                )
            )
        client = session.client()
        records = Records(client)
        resumed_from, resumed = records.resumable(graph.name) if resume else (None, {})
        runner = _Runner(
            graph,
            client=client,
            records=records,
            builder=builder,
            home=home,
            use_cache=use_cache,
            resumed=resumed,
            progress=progress,
            remote=remote,
        )
        with session.start_run(experiment=experiment or graph.name, name=graph.name) as parent:
            tags = {PIPELINE_TAG: graph.name}
            if resumed_from is not None:
                tags["slipway.pipeline.resumed_from"] = resumed_from
            client.store.log_batch(parent.id, params=_texts(graph.params, graph.name), tags=tags)
            steps = runner.run(parent, parallel=parallel or os.cpu_count() or 1)
            if any(s.status != "ran" and s.status != "cached" for s in steps.values()):
                parent.end(RunStatus.FAILED)
    builder.hasher.save()
    return PipelineResult(
        name=graph.name,
        run_id=parent.id,
        steps=steps,
        seconds=time.monotonic() - started,
        files_hashed=builder.hasher.hashed,
        resumed_from=resumed_from,
        _load=lambda ref: load_value(ref, blobs=client.blobs, cache=home / CACHE_FOLDER),
    )


class Session:
    """The settings and the stores a run, ``plan`` or ``why`` works with; the client opens on first use.

    Given settings (the CLI resolves them at its edge, as for every command) are used as they
    are, with a client of their own, closed at the end. Without them (a Python call such as
    ``run(pipeline)``) it is the fluent API's: its settings, its client, and the pipeline run
    nested under its active run. This is the one place the pipelines read settings themselves.
    """

    def __init__(self, settings: Settings | None) -> None:
        self.fluent = settings is None
        if settings is None:
            from slipway.config import load_settings

            settings = load_settings()
        self.settings = settings
        self._client: TrackingClient | None = None

    def client(self) -> TrackingClient:
        if self._client is None:
            if self.fluent:
                import slipway

                self._client = slipway.client()
            else:
                self._client = Stores.of(self.settings).client(token=self.settings.token)
        return self._client

    def start_run(self, *, experiment: str, name: str) -> ActiveRun:
        if self.fluent:
            import slipway

            return slipway.start_run(experiment=experiment, name=name)
        return self.client().start_run(experiment=experiment, name=name)

    def close(self) -> None:
        """Close a client of its own; its blob store stays usable to load a result's outputs."""
        if not self.fluent and self._client is not None:
            self._client.store.close()


class _Runner:
    def __init__(
        self,
        graph: Graph,
        *,
        client: TrackingClient,
        records: Records,
        builder: ComponentBuilder,
        home: Path,
        use_cache: bool,
        resumed: Mapping[str, Execution],
        progress: Callable[[StepResult], None] | None,
        remote: Remote | None,
    ) -> None:
        self.graph = graph
        self.client = client
        self.records = records
        self.builder = builder
        self.cache = home / CACHE_FOLDER
        self.use_cache = use_cache
        self.resumed = resumed
        self.progress = progress or (lambda _result: None)
        self.remote = remote
        self.threads = _Threads(graph.name)
        self.done: dict[str, StepResult] = {}

    def run(self, parent: ActiveRun, *, parallel: int) -> dict[str, StepResult]:
        pending = dict(self.graph.nodes)
        queued: list[tuple[str, Callable[[], Future[StepResult]]]] = []  # to run, once a thread is free
        running: dict[Future[StepResult], str] = {}
        failed = False
        try:
            while pending or running:
                advanced = True
                while advanced and not failed:  # a reused step may make others ready at once
                    advanced = False
                    for name, node in list(pending.items()):
                        if all(u in self.done for u in node.upstream):
                            del pending[name]
                            advanced = True
                            started = self._start(node, parent)
                            if isinstance(started, StepResult):
                                self._finish(started)
                            else:
                                queued.append((name, started))
                if failed:
                    for name in [*pending, *(name for name, _ in queued)]:
                        self._finish(StepResult(name=name, status="skipped"))
                    pending.clear()
                    queued.clear()
                while queued and (self.remote is not None or len(running) < parallel):
                    name, launch = queued.pop(0)
                    running[launch()] = name
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = self._outcome(future, running.pop(future))
                    self._finish(result)
                    failed = failed or result.status == "failed"
        except KeyboardInterrupt:
            self._interrupted(parent, running)
            raise
        except BaseException:  # SIGTERM, or the coordinator failed: stop the steps as for Ctrl-C
            for future in running:  # what the engine has not started never starts
                future.cancel()
            if self.remote is None:
                self.threads.interrupt()
                wait(running)  # their runs end KILLED before the pipeline's does
            raise
        return {name: self.done[name] for name in self.graph.nodes}

    def _interrupted(self, parent: ActiveRun, running: Mapping[Future[StepResult], str]) -> None:
        """Ctrl-C: stop the running steps and wait for their runs to end KILLED; Ctrl-C again: leave now.

        On threads each step is interrupted as a script's main thread would be (``_Threads``); an
        engine's workers get the terminal's signal themselves, or finish the task. Leaving at the
        second Ctrl-C ends the step runs still RUNNING as KILLED, so none is left running.
        """
        for future in running:
            future.cancel()  # an engine's task not started yet
        started = [f for f in running if not f.cancelled()]
        if not started:
            return
        n = len(started)
        try:  # from the first word on: the second Ctrl-C may come at any moment
            sys.stderr.write(
                f"interrupted; waiting for {n} running step{'s' if n > 1 else ''} (Ctrl-C again to abandon)\n"
            )
            sys.stderr.flush()
            self.threads.interrupt()
            wait(started)
        except KeyboardInterrupt:
            if self.remote is None:
                self.threads.abandon()
            else:  # the runs are the workers': end them in the store
                for future in started:
                    future.cancel()
                self.records.end_running(parent.id, status=RunStatus.KILLED)
            raise
        for future in started:
            if isinstance(future.exception(), KeyboardInterrupt):
                self._finish(StepResult(name=running[future], status="killed"))
            else:
                self._finish(self._outcome(future, running[future]))

    def _outcome(self, future: Future[StepResult], name: str) -> StepResult:
        """The step's result; an engine that lost the task (a worker died) fails the step with why."""
        if self.remote is None:
            return future.result()
        try:
            return future.result()
        except Exception as exc:
            return StepResult(
                name=name, status="failed", error=_one_line(name, exc), traceback=traceback.format_exc()
            )

    def _finish(self, result: StepResult) -> None:
        self.done[result.name] = result
        self.progress(result)

    def _start(self, node: Node, parent: ActiveRun) -> StepResult | Callable[[], Future[StepResult]]:
        """Reuse an earlier execution (its result), or say how to launch the step (thread or engine)."""
        upstream = {u: self.done[u].outputs for u in node.upstream}
        components = self.builder.full(node, upstream)
        key = components.key()
        arguments = {k: v for k, v in node.arguments.items() if k not in node.inputs}
        params = _texts(arguments, node.name)
        found = reusable(
            node,
            key,
            records=self.records,
            blobs=self.client.blobs,
            use_cache=self.use_cache,
            resumed=self.resumed,
        )
        if found is not None:
            t0 = time.monotonic()
            blob = self.client.blobs.put_bytes(components.to_json())
            run_id = self.records.record_cached(
                parent_run_id=parent.id,
                experiment_id=parent.experiment_id,
                pipeline=self.graph.name,
                step=node.name,
                key=key,
                params=params,
                execution=found,
                components_entry=ArtifactEntry(path=COMPONENTS_ARTIFACT, digest=blob.digest, size=blob.size),
            )
            return StepResult(
                name=node.name,
                status="cached",
                seconds=time.monotonic() - t0,
                run_id=run_id,
                key=key,
                outputs={o.name: o for o in found.outputs},
                cached_from=found.run_id,
            )
        task = StepTask(
            step=node.step,
            node=node.name,
            arguments=arguments,
            inputs={arg: upstream[h.node][h.output] for arg, h in node.inputs.items()},
            blobs=self.client.blobs,
            cache=self.cache,
            scratch=self.cache / "tmp",
        )
        payload = components.to_json()
        remote = self.remote
        if remote is not None:
            return functools.partial(
                remote.submit,
                task,
                parent_run_id=parent.id,
                pipeline=self.graph.name,
                key=key,
                params=params,
                components=payload,
            )
        return functools.partial(
            self.threads.submit,
            run_recorded,
            node.name,
            functools.partial(self.threads.step, functools.partial(execute_step, task)),
            client=self.client,
            parent=parent,
            pipeline=self.graph.name,
            key=key,
            params=params,
            components=payload,
            on_start=self.threads.started,
        )


class _Threads:
    """Steps on threads of this process, and Ctrl-C for them.

    Daemon threads, not a ThreadPoolExecutor, whose threads the interpreter waits for at exit:
    after a second Ctrl-C the command leaves at once. A first Ctrl-C raises KeyboardInterrupt in
    each running step (:meth:`interrupt`), as it would in a script's main thread, at the step's
    next Python instruction (a long C call finishes first). A step that reached its end before
    that ends interrupted all the same (:meth:`step`), so a step that was running when the
    pipeline was interrupted is never recorded as finished. Leaving at once (:meth:`abandon`)
    ends their runs KILLED here, through the runs themselves: a run this process still holds
    open would be ended FINISHED by the tracking writer's exit hook.
    """

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._inside: set[int] = set()  # threads inside a step's own code
        self._runs: list[ActiveRun] = []
        self._stop = threading.Event()
        self._abandoned = False

    def submit(self, fn: Callable[..., StepResult], /, *args: Any, **kwargs: Any) -> Future[StepResult]:
        future: Future[StepResult] = Future()
        context = contextvars.copy_context()  # the step's own run nests under the pipeline's

        def target() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = context.run(fn, *args, **kwargs)
            except BaseException as exc:  # the future carries it to the coordinator, a Ctrl-C too
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=target, name=f"slipway-step-{self._name}", daemon=True).start()
        return future

    def step(self, work: Callable[[], tuple[OutputRef, ...]]) -> tuple[OutputRef, ...]:
        """Run ``work`` where :meth:`interrupt` can stop it."""
        me = threading.get_ident()
        with self._lock:
            if self._stop.is_set():
                raise KeyboardInterrupt
            self._inside.add(me)
        try:
            outputs = work()
        finally:
            with self._lock:
                self._inside.discard(me)
                if self._stop.is_set():
                    _raise_in(me, None)  # withdraw one not raised yet: it is raised below, once
        if self._stop.is_set():
            raise KeyboardInterrupt
        return outputs

    def started(self, run: ActiveRun) -> None:
        with self._lock:
            self._runs.append(run)
            if not self._abandoned:
                return
        _end_killed(run)

    def interrupt(self) -> None:
        with self._lock:
            self._stop.set()
            for thread in self._inside:
                _raise_in(thread, KeyboardInterrupt)

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            runs = list(self._runs)
        for run in runs:
            _end_killed(run)


def _end_killed(run: ActiveRun) -> None:
    if run.ended:
        return
    with contextlib.suppress(Exception):  # its own thread may be ending it at the same moment
        run.end(RunStatus.KILLED)


def _raise_in(thread: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in another thread at its next Python instruction (None withdraws a pending one)."""
    import ctypes

    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread), ctypes.py_object(exc) if exc else None)


def _one_line(step: str, exc: Exception) -> str:
    """``step train failed: ValueError: ...``; our own errors already name the step."""
    text = first_line(exc)
    if isinstance(exc, SlipwayError) and text.startswith(f"step {step}"):
        return text
    return f"step {step} failed: {type(exc).__name__}" + (f": {text}" if text else "")


def _texts(values: Mapping[str, Any], where: str) -> dict[str, str]:
    """Parameters as run params: strings and paths as they are, anything else as canonical JSON."""
    out = {}
    for k, v in values.items():
        if isinstance(v, (str, os.PathLike)):
            out[k] = os.fspath(v)
        else:
            out[k] = canonical(v, where=f"{where}: parameter {k!r}")
    return out
