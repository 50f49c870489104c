"""Parameter sweeps on Optuna, each trial a nested tracked run under the sweep's run.

The search is Optuna's (its samplers, pruners and storages); what slipway adds is the record: the
sweep is a run, each trial is one run nested under it, wherever the trial executes, and the best
trial's model can be registered in the same call.

Trials are independent tasks: the sweep asks Optuna for a trial here and submits one task for it
to an engine (worker processes here, or a Dask cluster), as many at a time as the engine has
workers; the task reopens the trial from the shared Optuna storage, samples its parameters, runs
the objective inside its own trial run and tells the storage the result. Handing out single trials
rather than blocks of them keeps the work balanced when trials take different times, and the count
exact. Because the trial's number is known here, a task the engine loses (its worker died) is
recorded here: its run ends KILLED and Optuna is told FAIL; it is never run a second time.

The storage is the only thing the workers share: a journal file under the project's home by
default (file locks, one machine) or an RDB URL (a real cluster). A serial sweep on the local
engine runs in this process with one seeded sampler, so a seed reproduces Optuna's own sequence.

Workers receive the sweep's run id and the store URIs as plain values (they are spawned, not
forked, and may be on another host); inside a trial the fluent API (``slipway.log_metric``,
``slipway.log_model``) is bound to the trial's run and to those stores.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import numbers
import re
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.core import RunStatus
from slipway.engines import check_engine, check_shared, open_engine
from slipway.errors import Conflict, InvalidInput, MissingExtra, SlipwayError, first_line
from slipway.pipelines._stores import Stores, bound, end_orphans, refuse_rerun, why_lost, worker_client
from slipway.pipelines._target import load_target
from slipway.store import masked_uri

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from concurrent.futures import Future

    import optuna

    from slipway.config import Settings
    from slipway.core import ModelVersion
    from slipway.engines import Engine
    from slipway.tracking import ActiveRun, TrackingClient

__all__ = ["SweepResult", "TrialOutcome", "sweep"]

DIRECTIONS = ("minimize", "maximize")
#: The metric each trial's value is logged as, and the sweep run's metric for the best value.
VALUE_METRIC = "value"
BEST_METRIC = "best_value"
_STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_STATES = ("COMPLETE", "PRUNED", "FAIL")


@dataclass(frozen=True, slots=True, kw_only=True)
class TrialOutcome:
    """One trial of this sweep as it ended.

    ``state`` is Optuna's: COMPLETE, PRUNED or FAIL; ``error`` the one-line reason of a failure.
    """

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    run_id: str
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """What a sweep did, and the best trial of its study.

    The best trial is the study's: after a resumed study it may be one of an earlier sweep's.
    ``states`` counts this sweep's trials by Optuna state; ``not_started`` is how many trials the
    timeout left unstarted. ``registered`` is the model version made from the best trial.

    .. versionadded:: 0.1
    """

    study: str
    direction: str
    storage: str
    run_id: str
    trials: tuple[TrialOutcome, ...]
    states: dict[str, int]
    not_started: int
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any]
    best_run_id: str | None
    registered: ModelVersion | None = None

    def top(self, n: int = 10) -> list[TrialOutcome]:
        """This sweep's completed trials, best first."""
        done = [t for t in self.trials if t.state == "COMPLETE" and t.value is not None]
        return sorted(done, key=lambda t: t.value or 0.0, reverse=self.direction == "maximize")[:n]

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["registered"] = (
            None
            if self.registered is None
            else {"name": self.registered.name, "version": self.registered.version}
        )
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class _Job:
    """Everything a worker needs for a trial, as plain picklable values."""

    objective: Callable[..., Any] | str
    params: dict[str, Any]
    study: str
    storage: str
    seed: int | None
    deadline: float | None
    parent_run_id: str
    experiment: str
    stores: Stores


def sweep(
    objective: Callable[..., Any] | str,
    *,
    trials: int,
    parallel: int = 1,
    engine: str = "local",
    scheduler: str | None = None,
    direction: str | None = None,
    study: str | None = None,
    storage: str | None = None,
    timeout: float | None = None,
    seed: int | None = None,
    register: str | None = None,
    params: Mapping[str, Any] | None = None,
    experiment: str | None = None,
    settings: Settings | None = None,
    progress: Callable[[TrialOutcome], None] | None = None,
) -> SweepResult:
    """Run ``trials`` trials of an Optuna objective, each a run nested under the sweep's run.

    Args:
        objective: ``def objective(trial) -> float``, or ``"train.py:objective"``. Inside it
            ``slipway.log_metric``, ``log_param`` and ``log_model`` go to the trial's run.
        trials: how many trials this call runs (on top of a resumed study's earlier ones).
        parallel: worker processes (local engine) or Dask workers running trials at once.
        engine: ``local`` or ``dask``.
        scheduler: a Dask scheduler's address; without it ``dask`` starts a LocalCluster.
        direction: ``minimize`` (the default for a new study) or ``maximize``.
        study: the study's name; an existing one is resumed (more trials on it).
        storage: an Optuna RDB URL (``postgresql+psycopg://...``, needed on a real cluster) or a
            journal file path; by default ``<home>/sweeps/<study>.journal``.
        timeout: seconds after which no new trial starts (running ones finish).
        seed: seeds the sampler; a serial sweep with the same seed and trials suggests the same
            parameters.
        register: register the best trial's logged model under this name.
        params: extra keyword arguments for the objective.
        experiment: the sweep run's experiment (default: ``Default``).
        settings: where runs go; resolved from the environment and ``slipway.toml`` when None,
            and then the sweep's run is nested under the active run (``slipway.start_run``), if any.
        progress: called with each trial as it ends.

    Raises InvalidInput for a bad option, an objective that is not a function of a trial, when
    every trial failed (naming the first failure), or when a trial's worker died (the trial is
    recorded as failed, not run again, and no further trial starts), and Conflict for a resumed
    study's direction.
    """
    fn, reference = _objective(objective)
    extra = dict(params or {})
    _check_options(
        trials=trials,
        parallel=parallel,
        timeout=timeout,
        engine=engine,
        scheduler=scheduler,
        direction=direction,
        fn=fn,
        params=extra,
    )
    optuna = _optuna()
    outer: str | None = None
    if settings is None:
        from slipway import _api
        from slipway.config import load_settings

        settings = load_settings()
        active = _api.active_run()  # same settings as the fluent API's: nest under its run
        outer = None if active is None else active.id
    name = study if study is not None else f"{_name_of(fn)}-{uuid.uuid4().hex[:8]}"
    if not _STUDY_NAME.fullmatch(name):
        raise InvalidInput(f"study {name!r}: expected letters, digits, '.', '_' or '-' (up to 128)")
    if storage is None:
        storage = str(settings.home / "sweeps" / f"{name}.journal")
    stores = Stores.of(settings)
    check_shared(scheduler, {"storage (--storage)": storage})  # an Optuna journal file, or an RDB URL
    stores.check_shared(scheduler)
    serial = engine == "local" and parallel == 1 and scheduler is None
    failure: SlipwayError | None = None
    # The stack unwinds in reverse: the run ends, then the client, the engine and the storage close.
    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet(optuna))
        backend = _open_storage(storage)
        stack.callback(_close_storage, backend)
        opened = _open_study(optuna, name=name, backend=backend, direction=direction)
        chosen = opened.direction.name.lower()
        pool = (
            None
            if serial
            else stack.enter_context(open_engine(engine, workers=min(parallel, trials), address=scheduler))
        )
        client = stores.client(token=settings.token)
        stack.callback(client.close)
        run = stack.enter_context(
            client.start_run(
                experiment=experiment,
                parent=outer,
                name=name,
                tags={
                    "sweep.study": name,
                    "sweep.direction": chosen,
                    "sweep.sampler": f"TPESampler(seed={seed})",
                    "sweep.objective": reference or _name_of(fn),
                },
            )
        )
        run.log_params({"trials": trials, "parallel": parallel, "engine": engine, "seed": seed, **extra})
        job = _Job(
            objective=reference or fn,
            params=extra,
            study=name,
            storage=storage,
            seed=seed,
            deadline=None if timeout is None else time.time() + timeout,
            parent_run_id=run.id,
            experiment=client.store.get_experiment(run.experiment_id).name,
            stores=stores,
        )
        if pool is None:
            outcomes = _serial(job, fn, trials, opened, client, optuna, progress)
        else:
            outcomes = _parallel(job, trials, pool, opened, client, optuna, progress)
        result = _finish(
            run, client, backend, job, optuna, storage_name=storage, direction=chosen, trials=outcomes
        )
        result = dataclasses.replace(result, not_started=trials - len(outcomes))
        if register is not None:
            try:
                version = _register(client, result, register)
            except SlipwayError as exc:
                failure = exc  # the sweep itself succeeded: its run ends FINISHED
            else:
                run.set_tags({"sweep.registered": f"{version.name}/{version.version}"})
                result = dataclasses.replace(result, registered=version)
    if failure is not None:
        raise failure
    return result


# ---------------------------------------------------------------------- checks


def _objective(objective: Callable[..., Any] | str) -> tuple[Callable[..., Any], str | None]:
    """The function, and the reference workers load it by (an absolute FILE.py path) if given one."""
    reference: str | None = None
    if isinstance(objective, str):
        reference = objective
        module, _, attr = objective.rpartition(":")
        if module.endswith(".py") or "/" in module or "\\" in module:
            reference = f"{Path(module).expanduser().resolve()}:{attr}"  # workers may have another cwd
        objective = load_target(reference)
    where = reference or repr(objective)
    if not callable(objective) or isinstance(objective, type):
        raise InvalidInput(
            f"{where}: expected a function objective(trial) -> float, got {type(objective).__name__}"
        )
    try:
        signature = inspect.signature(objective)
    except (TypeError, ValueError):
        return objective, reference  # a builtin or C callable: Optuna will tell at the first trial
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if not positional:
        raise InvalidInput(f"{where}: expected a function objective(trial) -> float taking the trial first")
    return objective, reference


def _check_options(
    *,
    trials: int,
    parallel: int,
    timeout: float | None,
    engine: str,
    scheduler: str | None,
    direction: str | None,
    fn: Callable[..., Any],
    params: Mapping[str, Any],
) -> None:
    for key, value in (("trials", trials), ("parallel", parallel)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(f"{key} {value!r}: expected a whole number of at least 1")
    if timeout is not None and not timeout > 0:
        raise InvalidInput(f"timeout {timeout!r}: expected a positive number of seconds")
    check_engine(engine, scheduler=scheduler)
    if direction is not None and direction not in DIRECTIONS:
        raise InvalidInput(f"direction {direction!r}: expected one of {', '.join(DIRECTIONS)}")
    if not params:
        return
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return
    kinds = {p.kind for p in signature.parameters.values()}
    if inspect.Parameter.VAR_KEYWORD in kinds:
        return
    named = list(signature.parameters)[1:]  # the first one is the trial
    for key in params:
        if key not in named:
            raise InvalidInput(
                f"param {key!r}: the objective takes no such keyword argument "
                f"(it takes: {', '.join(named) or 'only the trial'})"
            )


def _name_of(fn: Callable[..., Any]) -> str:
    name = getattr(fn, "__name__", "") or "objective"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip("._-") or "objective"


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as exc:
        raise MissingExtra("parameter sweeps need Optuna: pip install 'slipway[sweep]'") from exc
    return optuna


@contextlib.contextmanager
def _quiet(optuna: Any) -> Iterator[None]:
    """Optuna's INFO lines ("Trial 3 finished ...") would repeat what the sweep's runs record."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


# ---------------------------------------------------------------------- the study


_storages: dict[str, Any] = {}
_storages_lock = threading.Lock()


def _storage(spec: str) -> Any:
    """A worker's Optuna storage, one per spec for the life of the process.

    A journal then replays its file once and follows it; an RDB keeps its connection pool.
    """
    with _storages_lock:
        found = _storages.get(spec)
        if found is None:
            found = _storages[spec] = _open_storage(spec)
        return found


def _open_storage(spec: str) -> Any:
    import optuna

    if "://" in spec:
        try:
            return optuna.storages.RDBStorage(spec)
        except ImportError as exc:  # the URL's driver (psycopg, pymysql) is missing
            raise MissingExtra(f"storage {masked_uri(spec)}: {exc}") from exc
        except Exception as exc:  # SQLAlchemy's errors: a bad URL, a server that does not answer
            reason = f"{type(exc).__name__}: {first_line(exc)}"
            raise InvalidInput(f"storage {masked_uri(spec)}: {reason}") from exc
    from optuna.storages.journal import JournalFileBackend

    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def _close_storage(storage: Any) -> None:
    engine = getattr(storage, "engine", None)  # an RDBStorage's SQLAlchemy engine holds connections
    if engine is not None:
        engine.dispose()


def _open_study(optuna: Any, *, name: str, backend: Any, direction: str | None) -> optuna.Study:
    """The study ``name``: created (minimize unless told), or resumed if the storage has it."""
    if name in optuna.study.get_all_study_names(backend):
        found = optuna.load_study(study_name=name, storage=backend)
        if direction is not None and found.direction.name.lower() != direction:
            raise Conflict(
                f"study {name!r}: it was created to {found.direction.name.lower()}, not to {direction}; "
                "resume it without a direction or start a new study"
            )
        return found  # type: ignore[no-any-return]
    return optuna.create_study(  # type: ignore[no-any-return]
        study_name=name, storage=backend, direction=direction or "minimize"
    )


def _sampler(optuna: Any, seed: int | None, *, parallel: bool) -> Any:
    # constant_liar: running trials count as bad guesses, so parallel workers spread out.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)


# ---------------------------------------------------------------------- running trials


def _serial(
    job: _Job,
    fn: Callable[..., Any],
    trials: int,
    study: Any,
    client: TrackingClient,
    optuna: Any,
    progress: Callable[[TrialOutcome], None] | None,
) -> list[TrialOutcome]:
    """Trials in this process, one after another, with one sampler (as ``study.optimize`` would)."""
    study.sampler = _sampler(optuna, job.seed, parallel=False)
    outcomes: list[TrialOutcome] = []
    for _ in range(trials):
        if _late(job):
            break
        outcomes.append(_trial(job, fn, study, study.ask(), client, optuna))
        if progress is not None:
            progress(outcomes[-1])
    return outcomes


def _parallel(
    job: _Job,
    trials: int,
    pool: Engine,
    study: Any,
    client: TrackingClient,
    optuna: Any,
    progress: Callable[[TrialOutcome], None] | None,
) -> list[TrialOutcome]:
    """One task per trial, ``pool.workers`` at a time; each trial's number is asked for here.

    A trial the engine lost (its worker died: the objective exited or crashed the interpreter, or
    ran out of memory) is recorded here, as its worker would have: its run ends KILLED and
    Optuna is told FAIL. No trial starts after it, and the sweep fails naming it, on either
    engine (a broken process pool loses every running trial; Dask only that one).
    """
    width = pool.workers
    outcomes: list[TrialOutcome] = []
    running: dict[Future[TrialOutcome], int] = {}  # the task -> its trial's number
    lost: TrialOutcome | None = None
    try:
        while True:
            while lost is None and len(outcomes) + len(running) < trials and len(running) < width:
                if _late(job):
                    break
                trial = study.ask()
                # Trial(study, _trial_id) is how Optuna reopens an asked trial in another process.
                task = pool.submit(_remote_trial, job, trial._trial_id, len(outcomes) + len(running))
                running[task] = trial.number
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for task in done:
                number = running.pop(task)
                try:
                    outcome = task.result()
                except Exception as exc:
                    outcome = _lost_trial(job, number, exc, study, client, optuna)
                    lost = lost or outcome
                outcomes.append(outcome)
                if progress is not None:
                    progress(outcome)
    finally:
        for task in running:  # interrupted: what has not started never starts
            task.cancel()
    if lost is not None:
        raise InvalidInput(
            f"study {job.study!r}: trial {lost.number}: {lost.error}; the sweep stopped ({len(outcomes)} "
            "trials ended)"
        )
    return outcomes


def _late(job: _Job) -> bool:
    """The sweep's timeout passed: no trial starts any more."""
    return job.deadline is not None and time.time() >= job.deadline


def _remote_trial(job: _Job, trial_id: int, index: int) -> TrialOutcome:
    """One trial in a worker: the trial the coordinator asked for, run in a run of its own."""
    optuna = _optuna()
    fn = load_target(job.objective) if isinstance(job.objective, str) else job.objective
    client = worker_client(job.stores)
    with _quiet(optuna):
        seed = None if job.seed is None else job.seed + index  # distinct, and the same on a rerun
        study = optuna.load_study(
            study_name=job.study, storage=_storage(job.storage), sampler=_sampler(optuna, seed, parallel=True)
        )
        trial = optuna.trial.Trial(study, trial_id)
        refuse_rerun(client, _trial_runs(job.study, trial.number))
        return _trial(job, fn, study, trial, client, optuna)


def _lost_trial(
    job: _Job, number: int, exc: Exception, study: Any, client: TrackingClient, optuna: Any
) -> TrialOutcome:
    """Record a trial whose task did not come back: its run ends KILLED, Optuna is told FAIL."""
    why = why_lost(exc)
    if why is None:  # the task failed outside the objective (loading it, reaching the stores)
        why = first_line(exc) if isinstance(exc, SlipwayError) else f"{type(exc).__name__}: {first_line(exc)}"
    run_id = end_orphans(client, _trial_runs(job.study, number))
    study.tell(number, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
    asked = next((t for t in study.get_trials(deepcopy=False) if t.number == number), None)
    return TrialOutcome(
        number=number,
        state="FAIL",
        value=None,
        params={} if asked is None else dict(asked.params),
        run_id=run_id or "",
        error=why,
    )


def _trial(
    job: _Job, fn: Callable[..., Any], study: Any, trial: Any, client: TrackingClient, optuna: Any
) -> TrialOutcome:
    """Run the objective on an asked trial inside the trial's run, and tell; its failure is the trial's."""
    run = client.start_run(
        experiment=job.experiment,  # by name: cheaper than reading the parent run to learn it
        parent=job.parent_run_id,
        name=f"trial-{trial.number}",
        tags={"sweep.study": job.study, "sweep.trial": trial.number},
        capture_environment=False,  # the sweep's run holds the code and environment of them all
    )
    value: float | None = None
    error: str | None = None
    state = "COMPLETE"
    try:
        with bound(client, run):
            returned = fn(trial, **job.params)
        value = _number(returned)
    except optuna.TrialPruned:
        state = "PRUNED"
    except _BadValue as exc:
        state, error = "FAIL", str(exc)
    except Exception as exc:
        state, error = "FAIL", f"{type(exc).__name__}: {first_line(exc)}"
    except BaseException:  # Ctrl-C, a worker told to stop: record the trial, then stop
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        run.end(RunStatus.KILLED)
        raise
    with contextlib.suppress(Conflict):  # the objective logged a suggested param itself, differently
        run.log_params(trial.params)
    run.set_tags({"sweep.state": state})
    if value is not None:
        run.log_metric(VALUE_METRIC, value)
    if error is not None:
        trial.set_user_attr("slipway.error", error)
    if state == "COMPLETE":
        study.tell(trial, value)
    else:
        study.tell(trial, state=getattr(optuna.trial.TrialState, state))
    run.end(RunStatus.FAILED if state == "FAIL" else RunStatus.FINISHED)
    return TrialOutcome(
        number=trial.number, state=state, value=value, params=dict(trial.params), run_id=run.id, error=error
    )


class _BadValue(Exception):
    """The objective returned something Optuna cannot rank."""


def _number(returned: object) -> float:
    # numbers.Real takes NumPy's scalars too (np.float32, np.int64), which Optuna accepts.
    if isinstance(returned, bool) or not isinstance(returned, numbers.Real):
        raise _BadValue(f"the objective returned {returned!r}: expected a number")
    value = float(returned)
    if math.isnan(value):
        raise _BadValue("the objective returned nan: expected a number")
    return value


# ---------------------------------------------------------------------- the end of a sweep


def _finish(
    run: ActiveRun,
    client: TrackingClient,
    backend: Any,
    job: _Job,
    optuna: Any,
    *,
    storage_name: str,
    direction: str,
    trials: list[TrialOutcome],
) -> SweepResult:
    """Count, find the study's best trial, record it on the sweep's run; every trial failed: raise."""
    states = {state: sum(t.state == state for t in trials) for state in _STATES}
    if trials and states["FAIL"] == len(trials):
        first = min(trials, key=lambda t: t.number)
        raise InvalidInput(f"all {len(trials)} trials failed; trial {first.number}: {first.error}")
    study = optuna.load_study(study_name=job.study, storage=backend)
    try:
        best = study.best_trial
    except ValueError:  # no completed trial (all pruned, or the timeout left none)
        best = None
    run.set_tags({f"sweep.{state.lower()}": n for state, n in states.items()})
    best_run_id: str | None = None
    if best is not None:
        best_run_id = _run_of(client, job.study, best.number)
        run.set_tags({"sweep.best_trial": best.number, "sweep.best_run_id": best_run_id or ""})
        run.log_metric(BEST_METRIC, float(best.value))
        with contextlib.suppress(Conflict):  # a best param named like an objective keyword argument
            run.log_params({f"best.{k}": v for k, v in best.params.items()})
    return SweepResult(
        study=job.study,
        direction=direction,
        storage=masked_uri(storage_name),
        run_id=run.id,
        trials=tuple(sorted(trials, key=lambda t: t.number)),
        states=states,
        not_started=0,
        best_trial=None if best is None else best.number,
        best_value=None if best is None else float(best.value),
        best_params={} if best is None else dict(best.params),
        best_run_id=best_run_id,
    )


def _run_of(client: TrackingClient, study: str, number: int) -> str | None:
    """The run of trial ``number`` (of this sweep or, resumed, of an earlier one), by its tags."""
    found = client.search_runs(filter=_trial_runs(study, number), max_results=1).items
    return found[0].id if found else None


def _trial_runs(study: str, number: int) -> str:
    """The filter for the run of trial ``number`` of ``study``."""
    # Study names are letters, digits, '.', '_' and '-': nothing to quote.
    return f"tags.`sweep.study` = '{study}' and tags.`sweep.trial` = '{number}'"


def _register(client: TrackingClient, result: SweepResult, name: str) -> ModelVersion:
    """Register the model the best trial logged; a clear error when it logged none (or several)."""
    from slipway.models import MANIFEST_FILE
    from slipway.registry import Registry
    from slipway.tracking import local_user

    if result.best_run_id is None:
        raise InvalidInput(f"register {name!r}: study {result.study!r} has no completed trial to register")
    folders = sorted(
        {
            e.path.rpartition("/")[0]
            for e in client.list_artifacts(result.best_run_id)
            if e.path.rpartition("/")[2] == MANIFEST_FILE
        }
    )
    if not folders:
        raise InvalidInput(
            f"register {name!r}: the best trial ({result.best_trial}, run {result.best_run_id}) logged no "
            "model; call slipway.log_model(model) in the objective"
        )
    if len(folders) > 1 and "model" not in folders:
        raise InvalidInput(
            f"register {name!r}: the best trial's run {result.best_run_id} logged several models "
            f"({', '.join(folders)}); register one by hand with runs:/{result.best_run_id}/PATH"
        )
    path = "model" if "model" in folders else folders[0]
    return Registry(client.store, client.blobs).register(
        f"runs:/{result.best_run_id}/{path}",
        name,
        actor=local_user() or "unknown",
        reason=f"best trial {result.best_trial} of sweep {result.study} "
        f"({result.direction}, value {result.best_value:g})",
    )
