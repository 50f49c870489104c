"""``slipway score``: batch scoring of a CSV or Parquet file (or folder) with a model."""

from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli._main import app

if TYPE_CHECKING:
    from slipway.batch import ScoreProgress
    from slipway.models import Model


@app.command("score")
def score(
    model: Annotated[
        str,
        typer.Argument(help="models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN/PATH or a model folder"),
    ],
    # Text, not Path: an object-store URL (s3://bucket/in.parquet) must keep its double slash.
    input: Annotated[
        str,
        typer.Option(
            "--input", "-i", help="a .csv or .parquet file or a folder of them; local or s3://, gs://"
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            "--output", "-o", help="a local .csv file, or a Parquet folder of parts (local or s3://, gs://)"
        ),
    ],
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1, help="rows scored at a time")] = 100_000,
    strict: Annotated[
        bool, typer.Option("--strict", help="stop at the first row the signature refuses")
    ] = False,
    rejects: Annotated[
        str | None,
        typer.Option("--rejects", help="where refused rows go (default: OUTPUT's name + .rejects)"),
    ] = None,
    no_log: Annotated[bool, typer.Option("--no-log", help="do not write the prediction log")] = False,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="start over instead of resuming an interrupted run")
    ] = False,
    no_proba: Annotated[
        bool, typer.Option("--no-proba", help="only the prediction, no proba_<class> columns")
    ] = False,
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help="score chunks in parallel: local (worker processes here) or dask (a cluster)",
            show_default="this process",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="worker processes of --engine local or a Dask LocalCluster"),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="a running Dask scheduler (tcp://host:8786) for --engine dask"),
    ] = None,
) -> None:
    """Score a file bigger than memory, chunk by chunk; resumes after an interruption.

    Rows the model's signature refuses go to a rejects file with the reason (unless --strict);
    scored rows are written to the prediction log with variant "batch" for monitoring.
    --engine local|dask scores chunks in parallel (the same output, and the same job to resume).
    """
    from slipway.cli._context import settings
    from slipway.engines import check_engine, check_shared

    check_engine(engine, workers=workers, scheduler=scheduler)
    s = settings()
    check_shared(scheduler, {"prediction log": None if no_log else s.prediction_log_uri()})  # tasks write it
    loaded, name, version = _load(model, s)
    log = None
    if not no_log:
        from slipway.artifacts import open_file_tree

        log = open_file_tree(s.prediction_log_uri())
    options: dict[str, Any] = {
        "chunk_rows": chunk_rows,
        "strict": strict,
        "rejects": rejects,
        "log": log,
        "resume": not no_resume,
        "proba": not no_proba,
        "model_name": name,
        "model_version": version,
    }
    on = ""
    if engine is None:
        from slipway.batch import score as run_score

        with _Bar() as bar:
            result = run_score(loaded, input, output, progress=bar.update, **options)
    else:
        from slipway.batch import score_distributed
        from slipway.engines import open_engine

        with open_engine(engine, workers=workers, address=scheduler) as running, _Bar() as bar:
            on = f" on {engine} ({running.workers} workers)"
            result = score_distributed(loaded, input, output, engine=running, progress=bar.update, **options)
    # The rate is this call's: rows an earlier, interrupted run of the job did are not counted.
    rows = result.rows - (bar.first_rows if bar.first_rows is not None else result.rows)
    rate = rows / result.seconds if result.seconds > 0 else 0.0
    if bar.first_rows is None:  # the job had finished before: nothing was scored now
        how = "finished before; nothing to do"
    elif result.resumed_from:
        how = f"resumed at chunk {result.resumed_from}: {rows} rows at {rate:,.0f} rows/s"
    else:
        how = f"{rate:,.0f} rows/s"
    typer.echo(f"scored {result.scored} rows to {result.output}{on} in {result.seconds:.1f}s ({how})")
    if result.rejected:
        typer.echo(f"rejected {result.rejected} rows to {result.rejects} (see its reason column)")
    if log is not None:
        typer.echo(f"logged {result.logged} rows as deployment {name}, variant batch, job {result.job}")
        if result.log_dropped:
            typer.echo(
                f"warning: {result.log_dropped} scored rows are not in the prediction log: {log.uri()} "
                "failed or fell behind (the output has them)",
                err=True,
            )


def _load(uri: str, s: Any) -> "tuple[Model, str | None, str | int | None]":
    """The model and the name and version to log: a registered version's own, else the defaults."""
    if uri.startswith("models:"):
        from slipway.cli._context import tracking_client
        from slipway.registry import Registry

        tracking = tracking_client(s)
        registry = Registry(tracking.store, tracking.blobs)
        version = registry.resolve(uri)
        model = registry.load(version, cache_dir=s.home / "cache" / "models")
        return model, version.name, version.version
    import slipway

    return slipway.load_model(uri), None, None


class _Bar:
    """A Rich progress bar with rows per second, on stderr; the batch package only calls back."""

    def __enter__(self) -> "_Bar":
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows · {task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            console=Console(stderr=True),  # stdout carries the result lines only
            transient=True,
        )
        self._progress.start()
        self._task = self._progress.add_task("score", total=None, rate="-")
        self._started: float | None = None
        self.first_rows: int | None = None  # rows done when this call started (None: never reported)
        return self

    def update(self, p: "ScoreProgress") -> None:
        import time

        now = time.perf_counter()
        if self._started is None or self.first_rows is None:
            self._started, self.first_rows = now, p.rows
        elapsed = now - self._started
        rate = f"{(p.rows - self.first_rows) / elapsed:,.0f}" if elapsed > 0 else "-"
        self._progress.update(self._task, completed=p.rows, total=p.total_rows, rate=rate)

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
