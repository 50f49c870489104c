"""``slipway pipeline``: Pipelines: run, show and explain cached steps."""

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli._main import app

if TYPE_CHECKING:
    from slipway.pipelines import Pipeline, StepPlan, StepResult

pipeline_app = typer.Typer(
    name="pipeline", help="Pipelines: run, show and explain cached steps.", no_args_is_help=True
)
app.add_typer(pipeline_app)

_TARGET_HELP = "the pipeline, as FILE.py:NAME or MODULE:NAME"
_PARAM_HELP = "a pipeline parameter, KEY=VALUE (typed by its annotation); repeat for more"

Target = Annotated[str, typer.Argument(help=_TARGET_HELP, show_default=False)]
Params = Annotated[list[str] | None, typer.Option("--param", "-p", help=_PARAM_HELP)]
AsJson = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]


@pipeline_app.command("run")
def run(
    target: Target,
    param: Params = None,
    parallel: Annotated[
        int | None,
        typer.Option("--parallel", "-j", min=1, help="steps run at once (default: the machine's cores)"),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="reuse the steps that finished in the last run, if it failed")
    ] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="run every step, reusing nothing")] = False,
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="the experiment of the run (default: the pipeline's name)"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="print a failed step's traceback")] = False,
    as_json: AsJson = False,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="run the steps on an engine: local (worker processes here) or dask (a cluster)",
            show_default="threads in this process",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="a running Dask scheduler (tcp://host:8786) for --engine dask"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="worker processes of --engine local or a Dask LocalCluster"),
    ] = None,
) -> None:
    """Run a pipeline: steps whose inputs, code and parameters did not change are reused.

    Each step prints as it ends: ran, cached (and from which run), failed or skipped. A failed step
    exits 1 with its error on one line (its traceback is the step run's artifact
    slipway/traceback.txt, or use --verbose); run again with --resume to continue from it.
    --engine local|dask runs the steps that must run as tasks on an engine (cached ones never
    reach it); --scheduler connects to a running Dask cluster instead of starting one.
    """
    from slipway.cli._context import settings
    from slipway.pipelines import run as run_pipeline

    pipe = _load(target)
    result = run_pipeline(
        pipe,
        params=_params(param, pipe),
        parallel=parallel,
        resume=resume,
        use_cache=not no_cache,
        experiment=experiment,
        progress=None if as_json else _print_step,
        engine=engine,
        scheduler=scheduler,
        workers=workers,
        settings=settings(),
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2))
    else:
        counts = {s: sum(1 for r in result.steps.values() if r.status == s) for s in ("ran", "cached")}
        resumed = f", resumed from run {result.resumed_from[:8]}" if result.resumed_from else ""
        on = f" on {engine}" if engine is not None else ""
        typer.echo(
            f"pipeline {result.name}: {counts['ran']} ran, {counts['cached']} cached in "
            f"{result.seconds:.2f}s{on} (run {result.run_id}{resumed})"
        )
    if not result.ok:
        failed = [r for r in result.steps.values() if r.status == "failed"]
        if verbose:
            for r in failed:
                sys.stderr.write(r.traceback or "")
        typer.echo(f"error: {result.error} (run {result.run_id[:8]}; fix it, then --resume)", err=True)
        raise typer.Exit(1)


@pipeline_app.command("show")
def show(target: Target, param: Params = None, as_json: AsJson = False) -> None:
    """Draw the pipeline's steps in running order, each cached or to run, and why."""
    from slipway.cli._context import settings
    from slipway.pipelines import plan

    pipe = _load(target)
    plans = plan(pipe, params=_params(param, pipe), settings=settings())
    if as_json:
        typer.echo(json.dumps([p.to_dict() for p in plans], indent=2))
        return
    counts = {state: sum(1 for p in plans if p.state == state) for state in {p.state for p in plans}}
    summary = f"{counts.pop('cached', 0)} cached, {counts.pop('will run', 0)} to run"
    summary += "".join(f", {n} {state}" for state, n in sorted(counts.items()))  # cached if unchanged
    typer.echo(f"{pipe.name}: {len(plans)} steps, {summary}")
    width = max(len(p.name) for p in plans)
    states = max(8, *(len(p.state) for p in plans))
    for i, p in enumerate(plans):
        branch = "└─" if i == len(plans) - 1 else "├─"
        inputs = f"← {', '.join(p.upstream)}  " if p.upstream else ""
        typer.echo(
            f"{branch} {p.name:<{width}}  {p.state:<{states}}  {inputs}{'; '.join(p.reasons)}".rstrip()
        )


@pipeline_app.command("why")
def why(
    target: Target,
    step: Annotated[str, typer.Argument(help="the step to explain", show_default=False)],
    param: Params = None,
    as_json: AsJson = False,
) -> None:
    """Say whether STEP would run now, and what changed since its most recent execution."""
    from slipway.cli._context import settings
    from slipway.pipelines import why as explain

    pipe = _load(target)
    found: StepPlan = explain(pipe, step, params=_params(param, pipe), settings=settings())
    if as_json:
        typer.echo(json.dumps(found.to_dict(), indent=2))
        return
    typer.echo(f"{found.name}: {found.state}")
    for reason in found.reasons:
        typer.echo(f"  - {reason}")


def _load(target: str) -> "Pipeline":
    from slipway.errors import InvalidInput
    from slipway.pipelines import Pipeline, load_target

    found = load_target(target)
    if not isinstance(found, Pipeline):
        raise InvalidInput(f"{target}: expected a @slipway.pipeline, got {type(found).__name__}")
    return found.named_after(target.rpartition(":")[2])


def _params(raw: list[str] | None, pipe: "Pipeline") -> dict[str, Any]:
    from slipway.pipelines._graph import params_from_args

    return params_from_args(raw, pipeline=pipe)


def _print_step(result: "StepResult") -> None:
    detail = ""
    if result.status == "cached" and result.cached_from:
        detail = f"from run {result.cached_from[:8]}"
    elif result.status == "failed":
        detail = result.error or ""
    timing = f"{result.seconds:6.2f}s" if result.status != "skipped" else " " * 7
    typer.echo(f"  {result.status:<8} {result.name:<20} {timing}  {detail}".rstrip())
