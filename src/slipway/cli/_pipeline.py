"""``slipway pipeline``: Pipelines: run, show and explain cached steps."""

from __future__ import annotations

import typer

from slipway.cli._main import app

pipeline_app = typer.Typer(
    name="pipeline", help="Pipelines: run, show and explain cached steps.", no_args_is_help=True
)
app.add_typer(pipeline_app)
