"""``slipway sweep``: Parameter sweeps on Optuna."""

from __future__ import annotations

import typer

from slipway.cli._main import app

sweep_app = typer.Typer(name="sweep", help="Parameter sweeps on Optuna.", no_args_is_help=True)
app.add_typer(sweep_app)
