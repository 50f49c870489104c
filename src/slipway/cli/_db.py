"""``slipway db``: the metadata database's schema, migrated only when someone asks.

Only the embedded SQLite default creates its schema by itself (and only in a new file); a
PostgreSQL database, or a SQLite file from an older slipway, is migrated here, explicitly, so that
a schema never changes as a side effect of running a script.
"""

from typing import Annotated

import typer

from slipway.cli._main import app
from slipway.errors import InvalidInput

db_app = typer.Typer(
    name="db",
    help="Show or upgrade the metadata database's schema.",
    no_args_is_help=True,
)
app.add_typer(db_app)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="metadata database: sqlite:///PATH or postgresql://USER@HOST/DB (default: the project's)",
    ),
]


def _sql_url(store: str | None) -> str:
    """The database URL the settings resolve to; a team server's URL is refused with the reason."""
    from slipway.cli._context import settings

    uri = settings(tracking_uri=store).tracking_uri
    if uri.lower().startswith(("http://", "https://")):
        raise InvalidInput(
            f"--store {uri}: a team server migrates its own database (`slipway server --upgrade-db`); "
            "expected sqlite:///PATH or postgresql://…"
        )
    return uri


@db_app.command("upgrade")
def upgrade(store: StoreOption = None) -> None:
    """Migrate the database to the schema this slipway needs (safe to run again)."""
    from slipway import store as stores

    uri = _sql_url(store)
    before = stores.current(uri)
    after = stores.upgrade(uri)
    shown = stores.masked_uri(uri)
    if before == after:
        typer.echo(f"{shown}: schema already at revision {after}")
    else:
        typer.echo(f"{shown}: schema upgraded from {before or 'nothing'} to revision {after}")


@db_app.command("current")
def current(store: StoreOption = None) -> None:
    """Print the database's schema revision and whether this slipway can use it."""
    from slipway import store as stores

    uri = _sql_url(store)
    revision = stores.current(uri)
    needed = stores.required_schema()
    shown = stores.masked_uri(uri)
    if revision == needed:
        typer.echo(f"{shown}: schema at revision {revision} (current)")
    elif revision is None:
        typer.echo(f"{shown}: no slipway schema; run `slipway db upgrade --store {shown}`")
    else:
        typer.echo(
            f"{shown}: schema at revision {revision}, this slipway needs {needed}; "
            f"run `slipway db upgrade --store {shown}`"
        )
