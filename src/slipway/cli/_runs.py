"""``slipway runs``: list, show and compare runs, as Rich tables or JSON.

Run ids may be shortened to any unique prefix, as they appear in ``runs list``.
"""

import dataclasses
import datetime
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli._main import app

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from slipway.core import Run
    from slipway.tracking import RunComparison, TrackingClient

runs_app = typer.Typer(name="runs", help="List, show and compare tracked runs.", no_args_is_help=True)
app.add_typer(runs_app)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", help="metadata store: sqlite:///…, postgresql://… or http(s)://… (default: settings)"
    ),
]
ArtifactsOption = Annotated[
    str | None, typer.Option("--artifacts", help="artifact store: a folder or URL (default: settings)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of tables")]
_SHOWN_METRICS = 4
_SHOWN_PARAMS = 3
_CELL = 24  # longest param value shown in a list; `runs show` has the whole value


def open_client(store: str | None, artifacts: str | None) -> "TrackingClient":
    from slipway.cli._context import settings, tracking_client

    return tracking_client(settings(tracking_uri=store, artifact_uri=artifacts))


def console() -> "Console":
    from rich.console import Console

    # markup=False: run names, params and tags are user data; "[/data] run" must print as itself,
    # not be parsed as Rich markup (which crashes on a stray closing tag). Styles use Text objects.
    return Console(highlight=False, soft_wrap=False, markup=False)


def when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{datetime.datetime.fromtimestamp(ms / 1000):%Y-%m-%d %H:%M:%S}"


def duration(run: "Run") -> str:
    if run.end_time is None:
        return "-"
    ms = max(0, run.end_time - run.start_time)
    if ms < 10_000:
        return f"{ms / 1000:.1f}s"
    seconds = ms // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def run_dict(run: "Run") -> dict[str, Any]:
    out = dataclasses.asdict(run)
    out["status"] = run.status.value
    return out


def _table(title: str, *columns: str) -> "Table":
    from rich.table import Table

    table = Table(title=title, title_justify="left", title_style="bold")
    for col in columns:
        table.add_column(col, overflow="fold")
    return table


def _mentioned(text: str | None, kind: str) -> list[str]:
    """Keys named in a filter or order-by, so the table shows the columns the user asked about."""
    if not text:
        return []
    from slipway.core import parse_filter, parse_order_by

    keys: list[str] = []
    try:
        keys += [c.key for c in parse_filter(text).clauses if c.kind == kind]
    except ValueError:
        keys += [o.key for o in parse_order_by(text) if o.kind == kind]
    return keys


@runs_app.command("list")
def list_(
    experiment: Annotated[str | None, typer.Option("--experiment", "-e", help="experiment name")] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"metrics.auc > 0.9 and params.penalty = 'l2'\""),
    ] = None,
    order_by: Annotated[
        str | None, typer.Option("--order-by", "-o", help='e.g. "metrics.auc desc"; default newest first')
    ] = None,
    max_results: Annotated[int, typer.Option("--max-results", "-n", help="runs per page")] = 50,
    page_token: Annotated[str | None, typer.Option("--page-token", help="from the previous page")] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """List runs, filtered and ordered; runs whose process died show as DIED."""
    client = open_client(store, artifacts)
    try:
        page = client.search_runs(
            experiments=[experiment] if experiment else [],
            filter=filter_,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )
        experiments = {e.id: e.name for e in client.list_experiments()}
    finally:
        client.close()
    if as_json:
        typer.echo(
            json.dumps({"runs": [run_dict(r) for r in page.items], "next_page_token": page.next_token})
        )
        return
    out = console()
    if not page.items:
        out.print("no runs match" if filter_ else "no runs yet")
        return
    metric_keys = _columns(
        [r.metrics for r in page.items],
        _mentioned(order_by, "metric") + _mentioned(filter_, "metric"),
        _SHOWN_METRICS,
    )
    param_keys = _columns([r.params for r in page.items], _mentioned(filter_, "param"), _SHOWN_PARAMS)
    columns = ["run", "name", "status", "started", "took"]
    from rich.text import Text

    rows: list[list[str | Text]] = []
    for r in page.items:
        row: list[str | Text] = [
            r.id[:8],
            r.name,
            _status(r.status.value),
            when(r.start_time)[:16],
            duration(r),
        ]
        if not experiment:
            row.insert(2, experiments.get(r.experiment_id, r.experiment_id))
        rows.append(row)
    if not experiment:
        columns.insert(2, "experiment")

    # Keep to the terminal's width: drop the least wanted extra columns rather than squeeze them all.
    def widest(i: int) -> int:
        return max(
            (cell if isinstance(cell, Text) else Text(cell)).cell_len for row in rows for cell in [row[i]]
        )

    budget = out.width - 1 - sum(3 + max(len(c), widest(i)) for i, c in enumerate(columns))
    extra: list[tuple[str, list[str]]] = []
    for header, cells in [
        *((f"metrics.{k}", [number(r.metrics.get(k)) for r in page.items]) for k in metric_keys),
        *((f"params.{k}", [_short(r.params.get(k, "-")) for r in page.items]) for k in param_keys),
    ]:
        width = 3 + max(len(header), *(len(c) for c in cells))
        if width <= budget:
            extra.append((header, cells))
            budget -= width
    table = _table("", *columns, *(h for h, _ in extra))
    for col in table.columns:
        col.no_wrap = True
    for i, row in enumerate(rows):
        table.add_row(*row, *(cells[i] for _, cells in extra))
    out.print(table)
    if page.next_token:
        out.print(f"more runs: --page-token {page.next_token}")


def _columns(values: list[dict[str, Any]], first: list[str], limit: int) -> list[str]:
    """The keys worth a column: those the user named, then those whose values differ between runs."""
    seen = dict.fromkeys(k for k in first if any(k in v for v in values))
    distinct: dict[str, set[str]] = {}
    counts: dict[str, int] = {}
    for v in values:
        for k, x in v.items():
            counts[k] = counts.get(k, 0) + 1
            distinct.setdefault(k, set()).add(str(x))
    for k in sorted(counts, key=lambda k: (len(distinct[k]) < 2, -counts[k], k)):
        if len(seen) >= max(limit, len(first)):
            break
        seen.setdefault(k)
    return list(seen)


def _short(text: str) -> str:
    return text if len(text) <= _CELL else text[: _CELL - 1] + "…"


def _status(status: str) -> "Text":
    from rich.text import Text

    color = {"FINISHED": "green", "RUNNING": "cyan", "FAILED": "red", "DIED": "red", "KILLED": "yellow"}
    return Text(status, style=color.get(status, "white"))


@runs_app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="run id or a unique prefix of one")],
    as_json: JsonOption = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Show a run: attributes, params, latest metrics, tags, datasets and artifacts."""
    client = open_client(store, artifacts)
    try:
        run = client.get_run(run_id)
        experiment = client.store.get_experiment(run.experiment_id)
        datasets = client.get_datasets(run.id)
        files = client.list_artifacts(run.id)
    finally:
        client.close()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    **run_dict(run),
                    "experiment": experiment.name,
                    "datasets": [dataclasses.asdict(d) for d in datasets],
                    "artifacts": [dataclasses.asdict(a) for a in files],
                }
            )
        )
        return
    out = console()
    about = _table(f"run {run.id}", "attribute", "value")
    for key, value in (
        ("name", run.name),
        ("experiment", f"{experiment.name} ({experiment.id})"),
        ("status", _status(run.status.value)),
        ("user", run.user or "-"),
        ("started", when(run.start_time)),
        ("ended", when(run.end_time)),
        ("took", duration(run)),
        ("parent run", run.parent_run_id or "-"),
        ("last heartbeat", when(run.heartbeat_at)),
    ):
        about.add_row(key, value)
    out.print(about)
    _pairs(out, "params", run.params)
    _pairs(out, "metrics (latest)", {k: number(v) for k, v in run.metrics.items()})
    _pairs(out, "tags", {k: v for k, v in run.tags.items() if not k.startswith("slipway.")})
    _pairs(out, "captured (slipway.* tags)", {k: v for k, v in run.tags.items() if k.startswith("slipway.")})
    if datasets:
        table = _table("datasets", "name", "role", "rows", "columns", "digest", "source")
        for d in datasets:
            table.add_row(d.name, d.role or "-", str(d.num_rows), str(d.num_columns), d.digest[:16], d.source)
        out.print(table)
    if files:
        table = _table("artifacts", "path", "size", "digest")
        for a in files:
            table.add_row(a.path, f"{a.size:,}", a.digest[:16])
        out.print(table)


def _pairs(out: "Console", title: str, values: dict[str, str]) -> None:
    if not values:
        return
    table = _table(title, "key", "value")
    for k in sorted(values):
        table.add_row(k, values[k])
    out.print(table)


@runs_app.command("compare")
def compare(
    run_a: Annotated[str, typer.Argument(metavar="RUN_A", help="the baseline run")],
    run_b: Annotated[str, typer.Argument(metavar="RUN_B", help="the run compared with it")],
    as_json: JsonOption = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """What differs between two runs: params, metrics, environment (packages) and code."""
    client = open_client(store, artifacts)
    try:
        diff = client.compare_runs(run_a, run_b)
    finally:
        client.close()
    if as_json:
        typer.echo(json.dumps(diff.to_dict()))
        return
    print_comparison(console(), diff)


def print_comparison(out: "Console", diff: "RunComparison") -> None:
    a, b = f"A {diff.run_a[:12]}", f"B {diff.run_b[:12]}"
    if diff.identical:
        out.print(f"runs {diff.run_a} and {diff.run_b} do not differ")
    sections: list[tuple[str, list[Any]]] = [
        (f"params ({len(diff.params)} changed, {diff.same_params} same)", diff.params),
        ("environment", diff.environment),
        (f"packages ({len(diff.packages)} changed)", diff.packages),
        ("code", diff.code),
        ("tags", diff.tags),
    ]
    for title, rows in sections[:1]:
        _difference_table(out, title, rows, a, b)
    if diff.metrics:
        table = _table("metrics (latest)", "metric", a, b, "B - A", "change")
        for m in diff.metrics:
            change = "-" if m.relative is None else f"{m.relative:+.1%}"
            style = "" if not m.changed else "bold"
            delta = "-" if m.delta is None else f"{m.delta:+.6g}"
            table.add_row(m.key, number(m.a), number(m.b), delta, change, style=style)
        out.print(table)
    for title, rows in sections[1:]:
        _difference_table(out, title, rows, a, b)


def _difference_table(out: "Console", title: str, rows: list[Any], a: str, b: str) -> None:
    if not rows:
        return
    table = _table(title, "key", a, b)
    for d in rows:
        table.add_row(d.key, "(none)" if d.a is None else d.a, "(none)" if d.b is None else d.b)
    out.print(table)
