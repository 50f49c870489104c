"""``slipway server``: the team server over a database and an artifact store.

The server is where credentials live: it opens the database and the bucket itself, and clients
reach both through it with a bearer token. So its stores must be the real ones, never another
server's URL.
"""

from typing import Annotated

import typer

from slipway.cli._main import app
from slipway.errors import InvalidInput


@app.command("server")
def server(
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="metadata database: sqlite:///PATH or postgresql://USER@HOST/DB (default: the project's)",
        ),
    ] = None,
    artifacts: Annotated[
        str | None,
        typer.Option(
            "--artifacts",
            help="artifact store: a folder, s3://BUCKET/PREFIX or gs://… (default: the project's)",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="interface to listen on; 0.0.0.0 for every one")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 5000,
    auth: Annotated[
        bool, typer.Option("--auth/--no-auth", help="require a bearer token on every /api/v1 call")
    ] = True,
    upgrade_db: Annotated[
        bool, typer.Option("--upgrade-db", help="migrate the database to this version's schema first")
    ] = False,
    access_log: Annotated[bool, typer.Option("--access-log", help="log every request")] = False,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json) and proxy artifacts, so clients need no cloud keys."""
    from slipway.cli._context import settings

    s = settings(tracking_uri=store, artifact_uri=artifacts)
    for option, uri in (("--store", s.tracking_uri), ("--artifacts", s.artifact_uri)):
        if uri.lower().startswith(("http://", "https://")):
            raise InvalidInput(
                f"{option} {uri}: a team server needs the real store, not another server's URL; expected "
                + (
                    "sqlite:///PATH or postgresql://…"
                    if option == "--store"
                    else "a folder, s3://… or gs://…"
                )
            )
    from slipway.artifacts import open_blob_store
    from slipway.store import masked_uri, open_metadata_store, upgrade

    if upgrade_db:
        typer.echo(f"database schema at revision {upgrade(s.tracking_uri)}")

    metadata = open_metadata_store(s.tracking_uri)
    blobs = open_blob_store(s.artifact_uri)
    try:
        from slipway.server import create_app, run_server

        # The server, not its clients, decides when a silent run is dead (its own dead_after).
        application = create_app(store=metadata, blobs=blobs, auth=auth, dead_after=s.dead_after)
        shown = host if ":" not in host else f"[{host}]"
        typer.echo(
            f"slipway server on http://{shown}:{port} (auth {'on' if auth else 'OFF'}; "
            f"store {masked_uri(s.tracking_uri)}; artifacts {s.artifact_uri}); API docs at /docs"
        )
        if auth and not any(not t.revoked for t in metadata.list_tokens()):
            typer.echo(
                "no token exists yet: create one with "
                f"`slipway token create --name NAME --store {masked_uri(s.tracking_uri)}`",
                err=True,
            )
        if not auth and host not in ("127.0.0.1", "localhost", "::1"):
            typer.echo(f"warning: auth is off and {host} is reachable from other machines", err=True)
        run_server(application, host=host, port=port, access_log=access_log)
    finally:
        metadata.close()
