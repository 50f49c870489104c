"""``slipway report drift``: compare a current dataset with a reference, as HTML and/or JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from slipway.cli._main import app
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.models import ReferenceSummary

report_app = typer.Typer(help="Reports on data and models: drift, with plots, as one HTML file.")
app.add_typer(report_app, name="report")


@report_app.command("drift")
def drift(
    reference: Annotated[
        str,
        typer.Option(
            "--reference",
            "-r",
            help="a .parquet/.csv file, or a model (models:/NAME@ALIAS, runs:/…): its training-data summary",
        ),
    ],
    current: Annotated[
        Path, typer.Option("--current", "-c", help="the current data: a .parquet or .csv file")
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the HTML report here")] = None,
    json_out: Annotated[
        str | None,
        typer.Option("--json", help="write the result as JSON to this file ('-': standard output)"),
    ] = None,
    mode: Annotated[
        str, typer.Option(help="default (sound statistics) or evidently (Evidently's rules)")
    ] = "default",
    columns: Annotated[
        str | None, typer.Option(help="comma-separated columns to compare (default: every shared column)")
    ] = None,
    alpha: Annotated[float, typer.Option(help="significance level of the tests")] = 0.05,
    multivariate: Annotated[
        bool,
        typer.Option("--multivariate", help="also test the joint distribution (PCA reconstruction error)"),
    ] = False,
    title: Annotated[str | None, typer.Option(help="the report's title")] = None,
) -> None:
    """Per-column drift (test, statistic, threshold, effect size) and the dataset verdict."""
    from slipway.cli._files import read_table
    from slipway.monitoring import dataset_drift, drift_report_html

    if output is None and json_out is None:
        raise InvalidInput("give -o FILE.html, --json FILE (or '-'), or both")
    if mode not in ("default", "evidently"):
        raise InvalidInput(f"--mode {mode!r}: expected default or evidently")
    ref = _reference(reference)
    cur = read_table(current)
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    if chosen is None:
        outputs = set(ref.outputs)
        chosen = [c for c in ref.columns if c in cur.columns and c not in outputs]
        if not chosen:
            raise InvalidInput(
                f"{current}: no column in common with the reference ({', '.join(ref.columns)})"
            )
    result = dataset_drift(
        ref,
        cur,
        columns=chosen,
        mode=mode,  # type: ignore[arg-type]  # checked above
        alpha=alpha,
        multivariate=multivariate,
    )
    if json_out is not None:
        text = json.dumps(result.to_dict(), indent=2, allow_nan=False)
        if json_out == "-":
            sys.stdout.write(text + "\n")
        else:
            Path(json_out).write_text(text + "\n")
    if output is not None:
        page = drift_report_html(
            result, ref, cur, title=title or f"Drift: {current.name} against {reference}"
        )
        output.write_text(page)
    if json_out != "-":
        verdict = "drift detected" if result.drifted else "no dataset drift"
        drifted = [c.column for c in result.drifted_columns]
        typer.echo(
            f"{verdict}: {len(drifted)} of {len(result.columns)} columns drifted"
            + (f" ({', '.join(drifted[:10])}{'…' if len(drifted) > 10 else ''})" if drifted else "")
            + (f"; report: {output}" if output is not None else "")
        )


def _reference(reference: str) -> ReferenceSummary:
    """A model's saved summary, a summary file, or a data file summarised now."""
    from slipway.models import ReferenceSummary

    if reference.startswith(("models:", "runs:/")):
        import slipway

        summary = slipway.load_model(reference).reference()
        if summary is None:
            raise InvalidInput(
                f"{reference}: this model was saved without training_data, so it has no reference "
                "summary; pass --reference FILE"
            )
        return summary
    from slipway.cli._files import read_table

    path = Path(reference)
    if path.suffix.lower() in (".parquet", ".pq") and path.is_file():
        try:
            return ReferenceSummary.from_bytes(path.read_bytes(), source=str(path))
        except InvalidInput:
            pass  # a plain Parquet data file
    return ReferenceSummary.from_frame(read_table(path))
