"""``slipway serve``: the inference server; ``slipway deployments``: talk to a running one."""

from pathlib import Path  # noqa: TC003  (Typer reads the option annotations at run time)
from typing import Annotated, Any

import typer

from slipway.cli._main import app
from slipway.errors import InvalidInput

deployments_app = typer.Typer(help="Inspect and reload the deployments of a running `slipway serve`.")
app.add_typer(deployments_app, name="deployments")


@app.command("serve")
def serve(
    model: Annotated[
        str | None,
        typer.Argument(
            help="what to serve: models:/NAME@ALIAS, models:/NAME/VERSION, runs:/RUN/PATH or a model folder"
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "-f", "--file", help="a deployment.yaml with one or more deployments (canary, A/B, shadow)"
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="the model name clients call (default: the model's)")
    ] = None,
    host: Annotated[str, typer.Option(help="interface to listen on; 0.0.0.0 for every one")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free port)")] = 8080,
    workers: Annotated[int, typer.Option(min=1, max=64, help="worker processes")] = 1,
    max_batch_size: Annotated[int | None, typer.Option(min=1, help="most requests in one model call")] = None,
    max_latency_ms: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="accepted for compatibility with other servers' batching settings; "
            "slipway adds no batching wait (a request waits only for the model call in progress)",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="SLIPWAY_SERVE_TOKEN", help="require Authorization: Bearer TOKEN (health exempt)"
        ),
    ] = None,
    max_body_mb: Annotated[
        float, typer.Option(min=0.001, help="largest request body, in MiB (413 above)")
    ] = 32.0,
    log_predictions: Annotated[
        bool, typer.Option("--log-predictions/--no-log-predictions", help="write the prediction log")
    ] = True,
    store: Annotated[
        str | None, typer.Option("--store", help="metadata store (default: the project's)")
    ] = None,
    artifacts: Annotated[
        str | None, typer.Option("--artifacts", help="artifact store (default: the project's)")
    ] = None,
) -> None:
    """Serve models over the Open Inference Protocol v2 and MLflow's /invocations.

    Light traffic is answered at once; under load, requests are batched while the model is busy.
    Aliases are followed: when one moves, the new version is loaded, checked and swapped in.
    """
    from slipway.cli._context import settings
    from slipway.serving import DeploymentSpec, ServeOptions, load_deployments, run

    if (model is None) == (file is None):
        raise InvalidInput("give either a model URI or -f deployment.yaml (not both)")
    batching = {
        k: v
        for k, v in (("max_batch_size", max_batch_size), ("max_latency_ms", max_latency_ms))
        if v is not None
    }
    if file is not None:
        if name is not None:
            raise InvalidInput("--name goes with a model URI; a deployment file names its deployments")
        specs = load_deployments(file)
        if batching:
            specs = [s.model_copy(update={"batching": s.batching.model_copy(update=batching)}) for s in specs]
    else:
        assert model is not None
        specs = [DeploymentSpec.single(model, name=name, **({"batching": batching} if batching else {}))]
    s = settings(tracking_uri=store, artifact_uri=artifacts)
    options = ServeOptions(
        host=host,
        port=port,
        workers=workers,
        token=token,
        max_body_size=int(max_body_mb * 1024 * 1024),
        log_predictions=log_predictions,
        settings={
            "home": str(s.home),
            "tracking_uri": s.tracking_uri,
            "artifact_uri": s.artifact_uri,
            **({"token": s.token} if s.token else {}),
            **({"predlog_uri": s.predlog_uri} if getattr(s, "predlog_uri", None) else {}),
        },
    )

    def bound(h: str, p: int) -> None:
        shown = h if ":" not in h else f"[{h}]"
        names = ", ".join(spec.name for spec in specs)
        typer.echo(
            f"slipway serve on http://{shown}:{p} ({workers} worker{'s' if workers > 1 else ''}; "
            f"serving {names}); OIP v2 at /v2, MLflow at /invocations, metrics at /metrics",
            err=True,
        )

    run(specs, options, on_bound=bound)


@deployments_app.command("reload")
def reload(
    name: Annotated[str, typer.Argument(help="the deployment (model name) to reload")],
    url: Annotated[str, typer.Option(help="the server's base URL")] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None, typer.Option(envvar="SLIPWAY_SERVE_TOKEN", help="the server's bearer token")
    ] = None,
) -> None:
    """Re-resolve the deployment's aliases now; a moved one is loaded, checked and swapped in."""
    doc = _post(f"{url.rstrip('/')}/v2/repository/models/{name}/load", token)
    for arm in doc.get("arms", []):
        state = arm.get("version") or "not loaded"
        note = f" (out: {arm['out']})" if arm.get("out") else ""
        typer.echo(f"{name} {arm.get('role')}: {arm.get('uri')} -> {state}{note}")


@deployments_app.command("list")
def list_(
    url: Annotated[str, typer.Option(help="the server's base URL")] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None, typer.Option(envvar="SLIPWAY_SERVE_TOKEN", help="the server's bearer token")
    ] = None,
) -> None:
    """What a running server serves: each deployment's variants, versions and state."""
    for item in _post(f"{url.rstrip('/')}/v2/repository/index", token):
        reason = f" ({item['reason']})" if item.get("reason") else ""
        typer.echo(
            f"{item['name']}\t{item.get('variant', '')}\t{item['version'] or '-'}\t{item['state']}{reason}"
        )


def _post(url: str, token: str | None) -> Any:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=b"", method="POST")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            message = json.loads(body).get("error", "")
        except (ValueError, AttributeError):
            message = body[:200].decode(errors="replace")
        raise InvalidInput(f"{url}: {e.code} {message}") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise InvalidInput(f"{url}: no answer ({reason})") from None
