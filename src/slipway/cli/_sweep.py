"""``slipway sweep TARGET``: a parameter sweep on Optuna, each trial a nested tracked run."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli._main import app

if TYPE_CHECKING:
    from slipway.pipelines import SweepResult, TrialOutcome


@app.command("sweep")
def sweep(
    target: Annotated[
        str, typer.Argument(help="the objective: train.py:objective or package.module:objective")
    ],
    trials: Annotated[int, typer.Option("--trials", "-n", help="how many trials to run")] = 20,
    parallel: Annotated[int, typer.Option("--parallel", "-p", help="trials running at once")] = 1,
    engine: Annotated[str, typer.Option("--engine", help="local (worker processes) or dask")] = "local",
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="a Dask scheduler address (default: a LocalCluster)")
    ] = None,
    direction: Annotated[
        str | None, typer.Option("--direction", help="minimize (default for a new study) or maximize")
    ] = None,
    study: Annotated[
        str | None, typer.Option("--study", help="the study's name; an existing one is resumed")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage", help="an Optuna RDB URL or a journal file (default: .slipway/sweeps/STUDY.journal)"
        ),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="seconds after which no new trial starts")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="seed the sampler (reproducible serially)")
    ] = None,
    register: Annotated[
        str | None, typer.Option("--register", help="register the best trial's model under this name")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", help="K=V passed to the objective as a keyword argument (repeatable)"),
    ] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", "-e", help="the sweep run's experiment")
    ] = None,
    top: Annotated[int, typer.Option("--top", help="rows in the table of best trials")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Search an Optuna objective's parameters; the sweep is a run, each trial a run nested in it.

    The objective is an ordinary Optuna objective(trial) returning a float; inside it
    slipway.log_metric, log_param and log_model go to the trial's run. Trials that raise are
    recorded as failed and the sweep goes on; it fails only when every trial does.
    """
    from slipway.cli._context import settings
    from slipway.pipelines import sweep as run_sweep
    from slipway.pipelines._graph import params_from_args

    s = settings()
    with _Bar(trials, quiet=as_json) as bar:
        result = run_sweep(
            target,
            trials=trials,
            parallel=parallel,
            engine=engine,
            scheduler=scheduler,
            direction=direction,
            study=study,
            storage=storage,
            timeout=timeout,
            seed=seed,
            register=register,
            params=params_from_args(param),
            experiment=experiment,
            settings=s,
            progress=bar.update,
        )
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
        return
    _show(result, top)


def _show(result: SweepResult, top: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    table = Table(title=f"study {result.study} ({result.direction}): best trials of this sweep")
    for column in ("trial", "value", "params", "run"):
        table.add_column(column, justify="right" if column in ("trial", "value") else "left")
    for t in result.top(top):
        mark = " *" if t.number == result.best_trial else ""
        table.add_row(f"{t.number}{mark}", f"{t.value:.6g}", _format_params(t.params), t.run_id)
    console.print(table)
    counts = ", ".join(f"{n} {state.lower()}" for state, n in result.states.items() if n)
    if result.not_started:
        counts += f", {result.not_started} not started (timeout)"
    console.print(f"trials: {counts or 'none'}; sweep run {result.run_id}")
    if result.best_trial is None:
        console.print("best: no completed trial")
    else:
        console.print(
            f"best: trial {result.best_trial}, value {result.best_value:.6g}, "
            f"{_format_params(result.best_params)} (run {result.best_run_id})"
        )
    failed = [t for t in result.trials if t.error]
    if failed:
        console.print(f"first failure: trial {failed[0].number}: {failed[0].error}", markup=False)
    if result.registered is not None:
        console.print(f"registered {result.registered.name} version {result.registered.version}")


def _format_params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


class _Bar:
    """Trials done out of the total, with the best value so far, on stderr while the sweep runs."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        self._total = total
        self._quiet = quiet
        self._done = 0

    def __enter__(self) -> _Bar:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("trials"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=self._quiet or not console.is_terminal,  # a log file gets the summary only
        )
        self._progress.start()
        self._task = self._progress.add_task("sweep", total=self._total, state="")
        return self

    def update(self, outcome: TrialOutcome) -> None:
        self._done += 1
        shown = f"trial {outcome.number}: {outcome.state.lower()}"
        if outcome.value is not None:
            shown += f" {outcome.value:.6g}"
        self._progress.update(self._task, completed=self._done, state=shown)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
