"""``slipway data``: Data schemas: infer one from training data, validate new data against it."""

from __future__ import annotations

import typer

from slipway.cli._main import app

data_app = typer.Typer(
    name="data",
    help="Data schemas: infer one from training data, validate new data against it.",
    no_args_is_help=True,
)
app.add_typer(data_app)
