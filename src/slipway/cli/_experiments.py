"""``slipway experiments``: the named groups runs are logged into."""

import json
from typing import Annotated

import typer

from slipway.cli._main import app
from slipway.cli._runs import ArtifactsOption, JsonOption, StoreOption, console, open_client, when

experiments_app = typer.Typer(name="experiments", help="List and create experiments.", no_args_is_help=True)
app.add_typer(experiments_app)


@experiments_app.command("list")
def list_(as_json: JsonOption = False, store: StoreOption = None, artifacts: ArtifactsOption = None) -> None:
    """List experiments, oldest first."""
    client = open_client(store, artifacts)
    try:
        experiments = client.list_experiments()
    finally:
        client.close()
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {"id": e.id, "name": e.name, "created_at": e.created_at, "tags": e.tags}
                    for e in experiments
                ]
            )
        )
        return
    out = console()
    if not experiments:
        out.print("no experiments yet; a run creates its experiment: slipway.start_run(experiment='name')")
        return
    from rich.table import Table

    table = Table("id", "name", "created")
    for e in experiments:
        table.add_row(e.id, e.name, when(e.created_at))
    out.print(table)


@experiments_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="the experiment's name, unique in the store")],
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Create an experiment (runs also create theirs on first use)."""
    client = open_client(store, artifacts)
    try:
        experiment = client.store.create_experiment(name=name)
    finally:
        client.close()
    typer.echo(f"created experiment {experiment.name!r} ({experiment.id})")
