"""``slipway validate``: run a gate policy on a registered version and record the result on it.

Exit codes: 0 when the gate passed, 1 when it failed (a failing gate is a result, recorded like a
passing one), 2 for bad input (one line naming what to fix; nothing recorded).
"""

import json
from typing import TYPE_CHECKING, Annotated

import typer

from slipway.cli._main import app
from slipway.cli._models import ReasonOption, actor, open_registry, table
from slipway.cli._runs import ArtifactsOption, JsonOption, StoreOption, console

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from slipway.validation import CheckResult, GateResult


@app.command("validate")
def validate(
    model_uri: Annotated[
        str,
        typer.Argument(metavar="MODEL_URI", help="the challenger: models:/NAME/VERSION or @ALIAS"),
    ],
    data: Annotated[str, typer.Option("--data", help="held-out data: a Parquet or CSV file")],
    target: Annotated[str, typer.Option("--target", help="the data's column of true labels or values")],
    policy: Annotated[
        str, typer.Option("--policy", help="the gate policy, a YAML file (docs/validation.md)")
    ],
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="store the result on the version (promote reads it)")
    ] = True,
    reason: ReasonOption = "",
    as_json: JsonOption = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Test MODEL_URI against a gate policy on held-out data; exit 0 passed, 1 failed, 2 bad input."""
    from slipway.cli._context import settings
    from slipway.validation import validate as run_gate

    home = settings(tracking_uri=store, artifact_uri=artifacts).home
    with open_registry(store, artifacts) as registry:
        result = run_gate(
            model_uri,
            data,
            target=target,
            policy=policy,
            registry=registry,
            cache_dir=home / "cache" / "models",
            actor=actor(),
            reason=reason,
            record=record,
        )
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "recorded": result.recorded}))
    else:
        _print(console(), result)
    if not result.passed:
        raise typer.Exit(1)


def _print(out: "Console", result: "GateResult") -> None:
    from rich.text import Text

    data = result.data
    out.print(
        f"{result.uri} ({result.task}) on {data['source']}: {data['rows']} rows, "
        f"sha256:{data['digest'][:16]}…; policy {result.policy['source']}"
    )
    champion = result.champion
    if champion is not None:
        out.print(f"champion: {champion['alias']} -> version {champion['version']}")
    elif result.champion_note:
        out.print(f"no champion: {result.champion_note}")
    checks = table("", "check", "kind", "result", "value", "threshold", "message")
    for c in result.checks:
        checks.add_row(c.name, c.kind, _verdict(c), _number(c.value), _threshold(c), c.message)
    out.print(checks)
    failed = result.failed
    if result.passed:
        line = Text(f"gate PASSED: {len(result.checks)} checks", style="bold green")
    else:
        names = ", ".join(c.name for c in failed)
        line = Text(
            f"gate FAILED: {len(failed)} of {len(result.checks)} checks failed ({names})", style="bold red"
        )
    where = f"{result.model} version {result.version}"
    line.append(f"; recorded on {where}" if result.recorded else "; not recorded (--no-record)", style="")
    line.append(f" in {result.timings.get('total_ms', 0.0) / 1000:.2f} s", style="")
    out.print(line)


def _verdict(check: "CheckResult") -> "Text":
    from rich.text import Text

    if check.skipped:
        return Text("SKIP", style="yellow")
    return Text("PASS", style="green") if check.passed else Text("FAIL", style="bold red")


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _threshold(check: "CheckResult") -> str:
    return (
        ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in check.threshold.items())
        or "-"
    )
