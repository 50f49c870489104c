"""``slipway token``: the team server's bearer tokens, managed where the database is.

Tokens are created against the database, not through the server: an HTTP endpoint that mints
tokens would let any token holder make more. The secret is shown once; only its hash is stored.
"""

from typing import TYPE_CHECKING, Annotated

import typer

from slipway.cli._main import app

if TYPE_CHECKING:
    from slipway.store import MetadataStore

token_app = typer.Typer(
    name="token",
    help="Create, list and revoke the team server's bearer tokens.",
    no_args_is_help=True,
)
app.add_typer(token_app)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="the server's metadata database (sqlite:///… or postgresql://…); default: the project's",
    ),
]


def _open(store: str | None) -> "MetadataStore":
    from slipway.cli._context import metadata_store, settings

    return metadata_store(settings(tracking_uri=store))


@token_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="who or what will use it, e.g. 'ci' or 'ada'")],
    store: StoreOption = None,
) -> None:
    """Create a token and print its secret (shown this once)."""
    metadata = _open(store)
    try:
        info, secret = metadata.create_token(name=name)
    finally:
        metadata.close()
    typer.echo(f"created token {info.id} ({info.name}); its secret is shown only this once:")
    typer.echo(secret)
    typer.echo("point a client at the server with:")
    typer.echo("  export SLIPWAY_TRACKING_URI=http://HOST:PORT")
    typer.echo(f"  export SLIPWAY_TOKEN={secret}")


@token_app.command("list")
def list_(store: StoreOption = None) -> None:
    """List tokens (never their secrets)."""
    import datetime

    metadata = _open(store)
    try:
        tokens = metadata.list_tokens()
    finally:
        metadata.close()
    if not tokens:
        typer.echo("no tokens; create one with `slipway token create --name NAME`")
        return
    for t in tokens:
        created = datetime.datetime.fromtimestamp(t.created_at / 1000, tz=datetime.timezone.utc)
        state = "revoked" if t.revoked else "active"
        typer.echo(f"{t.id}  {state:<7}  {created:%Y-%m-%d %H:%M}Z  {t.name}")


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="the id shown by `slipway token list`")],
    store: StoreOption = None,
) -> None:
    """Revoke a token; the server refuses it within a few seconds."""
    metadata = _open(store)
    try:
        metadata.revoke_token(token_id)
    finally:
        metadata.close()
    typer.echo(f"revoked token {token_id}")
