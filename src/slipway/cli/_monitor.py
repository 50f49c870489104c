"""``slipway monitor``: watch a deployment's prediction log against a reference, under rules."""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli._main import app
from slipway.cli._models import table
from slipway.cli._runs import ArtifactsOption, JsonOption, StoreOption, console, when
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator

    from slipway.core import MonitorResult
    from slipway.monitoring._monitor import Monitors, WindowOutcome

monitor_app = typer.Typer(
    name="monitor",
    help="Monitors: drift, data quality and performance of a deployment, window by window, with alerts.",
    no_args_is_help=True,
)
app.add_typer(monitor_app)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="the monitor's name")]


@contextlib.contextmanager
def _monitors(store: str | None, artifacts: str | None) -> Iterator[Monitors]:
    from slipway.artifacts import open_blob_store, open_file_tree
    from slipway.cli._context import metadata_store, settings
    from slipway.cli._models import actor
    from slipway.monitoring._monitor import Monitors

    s = settings(tracking_uri=store, artifact_uri=artifacts)
    meta = metadata_store(s)
    try:
        yield Monitors(
            meta,
            open_blob_store(s.artifact_uri, token=s.token),
            open_file_tree(s.prediction_log_uri()),
            cache_dir=s.home / "cache" / "models",
            actor=actor(),
        )
    finally:
        meta.close()


@monitor_app.command("create")
def create(
    name: NameArgument,
    deployment: Annotated[
        str, typer.Option("--deployment", "-d", help="the deployment whose log is watched")
    ],
    reference: Annotated[
        str,
        typer.Option(
            "--reference", "-r", help="models:/NAME@ALIAS (its training-data summary) or a .parquet/.csv file"
        ),
    ],
    rules: Annotated[Path, typer.Option("--rules", help="the rules file (YAML); see docs/monitoring.md")],
    window: Annotated[
        str, typer.Option(help="window length: a pandas frequency such as 15min, 1h, 1D")
    ] = "1h",
    estimation_reference: Annotated[
        Path | None,
        typer.Option(
            "--estimation-reference",
            help="labelled data the model did not train on, with its outputs: estimates performance "
            "before labels arrive (estimated.* figures)",
        ),
    ] = None,
    description: Annotated[str, typer.Option(help="what the monitor is for")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="replace a monitor of that name")] = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Create a monitor; it evaluates windows from now on (``backfill`` replays the past)."""
    from slipway.cli._files import read_table
    from slipway.monitoring._rules import read_document

    document = read_document(rules)
    data = None if reference.startswith(("models:", "runs:/")) else read_table(Path(reference))
    with _monitors(store, artifacts) as monitors:
        monitor = monitors.create(
            name,
            deployment=deployment,
            reference=reference,
            window=window,
            rules=document,
            data=data,
            estimation=read_table(estimation_reference) if estimation_reference is not None else None,
            description=description,
            replace=replace,
            source=str(rules),
        )
    typer.echo(
        f"monitor {monitor.name}: {len(monitor.rules)} rule(s) on deployment {monitor.deployment}, "
        f"{monitor.window} windows from {_utc(monitor.cursor)}"
    )


@monitor_app.command("run")
def run(
    name: Annotated[str | None, typer.Argument(metavar="[NAME]", help="one monitor (default: all)")] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option("--metrics-file", help="write the latest results as Prometheus gauges (a textfile)"),
    ] = None,
    fail_on_breach: Annotated[
        bool, typer.Option("--fail-on-breach", help="exit 1 when a rule fired in a new window")
    ] = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate every complete window since each monitor's last run; fire alerts on breaches.

    A monitor that fails (its reference gone, its log unreadable) is reported on one line and the
    others still run; the exit code is then 2, after the metrics file is written.
    """
    report: dict[str, list[WindowOutcome]] = {}
    failed: dict[str, str] = {}
    with _monitors(store, artifacts) as monitors:
        names = [name] if name else [m.name for m in monitors.store.list_monitors()]
        for each in names:
            try:
                report[each] = monitors.run(each)
            except Exception as exc:  # one broken monitor must not stop the others
                failed[each] = _reason(exc)
        if metrics_file is not None:
            _write_gauges(monitors, metrics_file)
    breached = any(o.breaches and o.recorded for outcomes in report.values() for o in outcomes)
    if as_json:
        typer.echo(json.dumps({n: [_outcome(o) for o in outs] for n, outs in report.items()}, indent=2))
    else:
        _print(report)
    for each, why in failed.items():
        typer.echo(f"monitor {each}: error: {why}", err=True)
    if failed:
        raise typer.Exit(2)
    if fail_on_breach and breached:
        raise typer.Exit(1)


@monitor_app.command("backfill")
def backfill(
    name: NameArgument,
    start: Annotated[str | None, typer.Option(help="first day or time (ISO 8601, UTC)")] = None,
    end: Annotated[str | None, typer.Option(help="end, exclusive (ISO 8601, UTC)")] = None,
    input_file: Annotated[
        Path | None,
        typer.Option(
            "--input", help="replay this .parquet/.csv file (with a timestamp column) instead of the log"
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            help="cut the --input file into chunks instead of the monitor's windows: column:month, "
            "rows:5000, count:10 (each recorded over its rows' time range)",
        ),
    ] = None,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate past windows (from the log or a file), recording results without alerting."""
    from slipway.cli._files import read_table

    if by is not None and input_file is None:
        raise InvalidInput(f"--by {by}: expected --input FILE; the log is replayed by the monitor's windows")
    if by is None and (start is None or end is None):
        raise InvalidInput("backfill: expected --start and --end (or --input FILE --by CHUNKS)")
    lo = None if start is None else _instant("--start", start)
    hi = None if end is None else _instant("--end", end)
    if lo is not None and hi is not None and hi <= lo:
        raise InvalidInput(f"--end {end}: expected a time after --start {start}")
    frame = read_table(input_file) if input_file is not None else None
    with _monitors(store, artifacts) as monitors:
        done = monitors.backfill(name, frame, start=lo, end=hi, chunker=by)
    if as_json:
        typer.echo(json.dumps([_outcome(o) for o in done], indent=2))
    else:
        _print({name: list(done)})
    for note in done.notes:
        typer.echo(f"monitor {name}: {note}", err=True)


@monitor_app.command("list")
def list_monitors(
    store: StoreOption = None, artifacts: ArtifactsOption = None, as_json: JsonOption = False
) -> None:
    """Every monitor, its deployment, reference, window and where it has got to."""
    with _monitors(store, artifacts) as monitors:
        items = monitors.store.list_monitors()
    if as_json:
        typer.echo(json.dumps([_monitor(m) for m in items], indent=2))
        return
    out = table("monitors", "name", "deployment", "reference", "window", "rules", "evaluated up to")
    for m in items:
        out.add_row(m.name, m.deployment, m.reference, m.window, str(len(m.rules)), _utc(m.cursor))
    console().print(out)


@monitor_app.command("show")
def show(
    name: NameArgument,
    last: Annotated[int, typer.Option(min=1, help="how many of the latest windows to show")] = 20,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
    as_json: JsonOption = False,
) -> None:
    """A monitor's definition, its latest window results and alerts."""
    with _monitors(store, artifacts) as monitors:
        monitor = monitors.store.get_monitor(name)
        results = monitors.latest(monitor, min(last, 10_000))
        alerts = monitors.store.list_alerts(monitor=name, max_results=last)
    if as_json:
        doc = {
            "monitor": _monitor(monitor),
            "results": [{k: v for k, v in vars_of(r).items() if k != "result"} for r in results],
            "alerts": [vars_of(a) for a in alerts],
        }
        typer.echo(json.dumps(doc, indent=2, default=str))
        return
    c = console()
    c.print(
        f"monitor {monitor.name}: deployment {monitor.deployment}, reference {monitor.reference}, "
        f"{monitor.window} windows, evaluated up to {_utc(monitor.cursor)}"
    )
    rules_names = [str(r.get("name") or r.get("figure")) for r in monitor.rules]
    out = table("windows", "window start", "rows", "drift share", "breaches")
    for r in results:
        share = r.figures.get("drift.share")
        out.add_row(
            _utc(r.window_start),
            str(r.rows),
            "-" if share is None else f"{share:.2f}",
            ", ".join(r.breaches) or "-",
        )
    c.print(out)
    c.print(f"rules: {', '.join(rules_names)}")
    if alerts:
        out = table("alerts", "at", "rule", "channel", "status", "message")
        for a in alerts:
            out.add_row(when(a.at), a.rule, a.channel, a.status.value, a.message)
        c.print(out)


@monitor_app.command("metrics")
def metrics(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file instead")] = None,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Every monitor's latest results as Prometheus gauges (the text format)."""
    with _monitors(store, artifacts) as monitors:
        if output is not None:
            _write_gauges(monitors, output)
            return
        typer.echo(_gauges(monitors).decode(), nl=False)


@monitor_app.command("delete")
def delete(name: NameArgument, store: StoreOption = None, artifacts: ArtifactsOption = None) -> None:
    """Delete a monitor with its results and alerts."""
    with _monitors(store, artifacts) as monitors:
        monitors.store.delete_monitor(name)
    typer.echo(f"deleted monitor {name}")


def _gauges(monitors: Monitors) -> bytes:
    from slipway.monitoring._gauges import prometheus_text

    items = monitors.store.list_monitors()
    latest: dict[str, MonitorResult | None] = {}
    for m in items:
        results = monitors.latest(m)
        latest[m.name] = results[-1] if results else None
    return prometheus_text(items, latest)


def _write_gauges(monitors: Monitors, path: Path) -> None:
    """Atomically, as node-exporter's textfile collector wants: never a half-written file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(_gauges(monitors))
    tmp.replace(path)


def _reason(exc: Exception) -> str:
    """One line: the message of an error slipway raised, else its kind and its first line."""
    from slipway.errors import SlipwayError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, SlipwayError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _utc(ms: int | None) -> str:
    """Windows are UTC: shown as UTC, whatever the machine's zone."""
    if ms is None:
        return "-"
    return f"{datetime.fromtimestamp(ms / 1000, tz=timezone.utc):%Y-%m-%d %H:%M}Z"


def _instant(option: str, text: str) -> int:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            raise InvalidInput(
                f"{option} {text!r}: expected an ISO 8601 date or time (2026-01-31T12:00)"
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return int(value.timestamp() * 1000)


def vars_of(entity: Any) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(entity)


def _monitor(m: Any) -> dict[str, Any]:
    out = vars_of(m)
    out.pop("options", None)
    return out


def _outcome(o: WindowOutcome) -> dict[str, Any]:
    return {
        "start": _utc(o.start),
        "end": _utc(o.end),
        "rows": o.result.rows,
        "recorded": o.recorded,
        "breaches": list(o.breaches),
        "alerts": [{"rule": r, "channel": c, "status": s} for r, c, s in o.alerts],
        "figures": o.result.figures,
        "messages": list(o.result.messages),
    }


def _print(report: dict[str, list[WindowOutcome]]) -> None:
    for name, outcomes in report.items():
        if not outcomes:
            typer.echo(f"monitor {name}: no complete window since the last run")
            continue
        for o in outcomes:
            state = (
                "already evaluated"
                if not o.recorded
                else (f"BREACHED {', '.join(o.breaches)}" if o.breaches else "ok")
            )
            share = o.result.figures.get("drift.share")
            drift = "" if share is None else f", drift share {share:.2f}"
            sent = "".join(f"; {c} {s}" for _, c, s in o.alerts)
            span = f"{_utc(o.start)} to {_utc(o.end)}"
            typer.echo(f"monitor {name}: {span}: {o.result.rows} rows{drift}: {state}{sent}")
