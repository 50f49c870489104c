"""``slipway reproduce``: re-run a version's training from its recorded commit and compare, side by side.

Exit code 0 when every metric and prediction is identical or within tolerance (and the training
data is unchanged), 1 when something differs or could not be checked (the re-run failed or logged
no model, a model did not load, nothing was compared), 2 for bad input (one line, nothing re-run).
"""

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from slipway.cli._main import app
from slipway.cli._runs import ArtifactsOption, JsonOption, StoreOption, console

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from slipway.config import Settings
    from slipway.registry import Reproduction, Verdict
    from slipway.tracking import Difference

_STYLES = {
    "identical": "green",
    "within tolerance": "green",
    "different": "bold red",
    "cannot check": "yellow",
}


@app.command("reproduce")
def reproduce(
    uri: Annotated[
        str, typer.Argument(metavar="MODEL_URI", help="models:/NAME/VERSION, models:/NAME@ALIAS or …/latest")
    ],
    repo: Annotated[
        Path | None,
        typer.Option("--repo", help="a clone of the training code holding the commit (default: here)"),
    ] = None,
    rtol: Annotated[float, typer.Option("--rtol", help="relative tolerance", min=0.0)] = 1e-6,
    atol: Annotated[float, typer.Option("--atol", help="absolute tolerance", min=0.0)] = 1e-12,
    python: Annotated[
        str | None, typer.Option("--python", help="the interpreter to re-run with (default: this one)")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="seconds the re-run may take", min=0.0)
    ] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Re-run the training of MODEL_URI from its recorded commit and diff; compare metrics and predictions.

    Exit code 0: identical or within tolerance; 1: something differs or could not be checked;
    2: bad input.
    """
    from slipway.artifacts import open_blob_store
    from slipway.cli._context import metadata_store, settings
    from slipway.registry import Registry, Tolerance

    tolerance = Tolerance(rtol=rtol, atol=atol)
    s = settings(tracking_uri=store, artifact_uri=artifacts)
    registry = Registry(metadata_store(s), open_blob_store(s.artifact_uri, token=s.token))
    progress = console_err()
    try:
        found = registry.reproduce(
            uri,
            repo=repo or Path.cwd(),
            python=python or sys.executable,
            environ=_environment(s),
            cache_dir=s.home / "cache" / "models",
            tolerance=tolerance,
            timeout=timeout,
            progress=lambda line: progress.print(line, style="dim"),
        )
    finally:
        registry.store.close()
        close = getattr(registry.blobs, "close", None)
        if callable(close):
            close()
    if as_json:
        typer.echo(json.dumps(found.to_dict(), default=str))
    else:
        _print(console(), found)
    if not found.ok:
        raise typer.Exit(1)


def console_err() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _environment(s: "Settings") -> dict[str, str]:
    """This process's environment, with the stores pinned to the ones this command uses."""
    env = dict(os.environ)
    env["SLIPWAY_HOME"] = str(s.home)
    env["SLIPWAY_TRACKING_URI"] = s.tracking_uri
    env["SLIPWAY_ARTIFACT_URI"] = s.artifact_uri
    if s.token:
        env["SLIPWAY_TOKEN"] = s.token
    return env


def _verdict(v: "Verdict") -> "Text":
    from rich.text import Text

    return Text(v.value, style=_STYLES.get(v.value, ""))


def _print(out: "Console", r: "Reproduction") -> None:
    from slipway.cli._models import table

    changes = " with the run's uncommitted changes" if r.dirty else ""
    out.print(f"{r.uri}: re-ran run {r.original_run} from commit {r.commit[:12]}{changes}")
    out.print(f"  command: {' '.join(r.command)}")
    out.print(f"  in:      {r.cwd}")
    code = "timeout" if r.exit_code is None else r.exit_code
    out.print(f"  new run: {r.reproduced_run or '-'} (exit code {code})")
    if r.reproduced_run:
        out.print(f"  model:   {r.reproduced_model or '- (none logged)'}")
    if r.data:
        data = table("training data", "dataset", "role", "hash", "file", "note")
        for d in r.data:
            data.add_row(d.name or "-", d.role or "-", _verdict(d.verdict), d.path or "-", d.note or "")
        out.print(data)
    if r.metrics:
        metrics = table("metrics", "metric", "original", "reproduced", "verdict", "note")
        for c in r.metrics:
            metrics.add_row(c.key, c.original, c.reproduced, _verdict(c.verdict), c.note)
        out.print(metrics)
    if r.predictions:
        preds = table(
            "predictions on the input example", "method", "original", "reproduced", "verdict", "note"
        )
        for c in r.predictions:
            preds.add_row(c.key, c.original, c.reproduced, _verdict(c.verdict), c.note)
        out.print(preds)
    _differences(out, "parameters that differ", "param", r.params)
    _differences(out, "environment differences", "", (*r.environment, *r.code))
    _differences(out, "packages that differ", "package", r.packages)
    if not (r.environment or r.packages or r.code) and r.reproduced_run:
        out.print("environment: same Python, platform, packages and code")
    for note in r.notes:
        out.print(f"note: {note}")
    if r.log_tail:
        out.print("the re-run's last lines:")
        out.print(r.log_tail)
    tol = f"rtol {r.tolerance.rtol:g}, atol {r.tolerance.atol:g}"
    if r.ok:
        out.print(f"result: reproduced (every metric and prediction identical or within tolerance: {tol})")
    else:
        out.print(f"result: NOT reproduced: {'; '.join(r.problems)} ({tol})")


def _differences(out: "Console", title: str, kind: str, diffs: "tuple[Difference, ...]") -> None:
    if not diffs:
        return
    from slipway.cli._models import table

    listing = table(title, kind or "what", "original", "reproduced")
    for d in diffs:
        listing.add_row(d.key.removeprefix("slipway."), d.a or "(none)", d.b or "(none)")
    out.print(listing)
