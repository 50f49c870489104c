"""``slipway data``: Data schemas: infer one from training data, validate new data against it.

``validate`` exits as ``slipway validate`` does: 0 when no anomaly is an error (warnings are
printed but pass), 1 when one is, 2 for bad input (one line naming what to fix).
"""

from __future__ import annotations

import json
from pathlib import Path  # noqa: TC003  (Typer reads the option annotations at run time)
from typing import TYPE_CHECKING, Annotated

import typer

from slipway.cli._main import app
from slipway.cli._runs import ArtifactsOption, JsonOption, StoreOption, console

if TYPE_CHECKING:
    from rich.console import Console

    from slipway.validation import DataSchema, DataValidation

data_app = typer.Typer(
    name="data",
    help="Data schemas: infer one from training data, validate new data against it.",
    no_args_is_help=True,
)
app.add_typer(data_app)

_Data = Annotated[str, typer.Argument(metavar="DATA", help="a Parquet or CSV file, or a Parquet folder")]


@data_app.command("infer-schema")
def infer_schema(
    data: _Data,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="write the schema here (YAML); without it, print the YAML"),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="the dataset's name in the schema")] = None,
    widen: Annotated[
        float, typer.Option("--widen", help="widen each numeric range by this share of its span (0.1: 10%)")
    ] = 0.0,
    missing_tolerance: Annotated[
        float,
        typer.Option("--missing-tolerance", help="added to a column's observed missing share, if it has any"),
    ] = 0.02,
    max_domain_size: Annotated[
        int,
        typer.Option("--max-domain-size", help="most distinct values a text column may have for a domain"),
    ] = 100,
    max_domain_ratio: Annotated[
        float,
        typer.Option("--max-domain-ratio", help="most distinct values per present row for a domain"),
    ] = 0.5,
    min_rows: Annotated[int, typer.Option("--min-rows", help="the fewest rows valid data may have")] = 1,
    extra_columns: Annotated[
        str, typer.Option("--extra-columns", help="a column not in the schema is: error, warning or allow")
    ] = "warning",
) -> None:
    """Infer a schema from DATA (kinds, ranges, domains, missing shares): review it, edit it, keep it."""
    from slipway.errors import InvalidInput
    from slipway.validation import infer_schema as infer

    if extra_columns not in ("error", "warning", "allow"):
        raise InvalidInput(f"--extra-columns {extra_columns!r}: expected error, warning or allow")
    schema = infer(
        data,
        name=name,
        widen=widen,
        missing_tolerance=missing_tolerance,
        max_domain_size=max_domain_size,
        max_domain_ratio=max_domain_ratio,
        min_rows=min_rows,
        extra_columns=extra_columns,  # type: ignore[arg-type]  # checked just above
    )
    if output is None:
        typer.echo(schema.to_yaml(), nl=False)
        return
    schema.save(output)
    out = console()
    _print_schema(out, schema)
    rows = schema.dataset.get("rows", 0)
    out.print(f"schema of {data} ({rows} rows, {len(schema.columns)} columns) -> {output}")


@data_app.command("validate")
def validate(
    data: _Data,
    schema: Annotated[
        str,
        typer.Option(
            "--schema",
            help="a schema YAML file, runs:/RUN_ID[/schemas/NAME.yaml], or models:/NAME@ALIAS "
            "(the schema logged with the model's training data)",
        ),
    ],
    as_json: JsonOption = False,
    html: Annotated[
        Path | None, typer.Option("--html", help="also write a self-contained HTML report here")
    ] = None,
    schema_name: Annotated[
        str | None,
        typer.Option("--schema-name", help="which of a run's schemas (default: its only one, or train)"),
    ] = None,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Validate DATA against a schema; exit 0 no error anomalies, 1 anomalies found, 2 bad input."""
    from slipway.validation import load_schema, validate_data

    if schema.startswith(("runs:", "models:")):
        from slipway.cli._runs import open_client

        client = open_client(store, artifacts)
        try:
            rules = load_schema(schema, tracking=client, name=schema_name)
        finally:
            client.close()
    else:
        rules = load_schema(schema)
    result = validate_data(data, rules)
    if html is not None:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(result.to_html(), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(result.to_dict()))
    else:
        _print_validation(console(), result, html)
    if not result.ok:
        raise typer.Exit(1)


def _print_schema(out: Console, schema: DataSchema) -> None:
    from slipway.cli._models import table

    rows = table("", "column", "kind", "required", "range / domain", "max missing", "constant")
    for col in schema.columns.values():
        if col.domain is not None:
            more = f" … ({len(col.domain)})" if len(col.domain) > 6 else ""
            shown = ", ".join(map(str, col.domain[:6])) + more
        elif col.min is not None or col.max is not None:
            shown = f"{_bound(col.min)} .. {_bound(col.max)}"
        else:
            shown = "-"
        missing = "-" if col.max_missing is None else f"{col.max_missing:.4g}"
        rows.add_row(
            col.name,
            col.kind,
            "yes" if col.required else "no",
            shown,
            missing,
            "allowed" if col.allow_constant else "no",
        )
    out.print(rows)


def _print_validation(out: Console, result: DataValidation, html: Path | None) -> None:
    from rich.text import Text

    from slipway.cli._models import table

    if result.anomalies:
        rows = table("", "severity", "column", "kind", "description")
        for a in result.anomalies:
            style = "bold red" if a.severity == "error" else "yellow"
            what = a.description.removeprefix(f"column {a.column!r}: ")  # the table has a column column
            rows.add_row(Text(a.severity.upper(), style=style), a.column or "-", a.kind, what)
        out.print(rows)
    verdict = "PASSED" if result.ok else "FAILED"
    line = Text(f"data {verdict}: ", style="bold green" if result.ok else "bold red")
    line.append(f"{result.summary()} in {result.duration_ms / 1000:.2f} s", style="")
    if html is not None:
        line.append(f"; report {html}", style="")
    out.print(line)


def _bound(value: float | str | None) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)
