"""``slipway predictions``: read the prediction log; ``slipway feedback``: record late labels."""

from pathlib import Path  # noqa: TC003  (Typer reads the option annotations at run time)
from typing import Annotated

import typer

from slipway.cli._main import app
from slipway.errors import InvalidInput


@app.command("feedback")
def feedback(
    deployment: Annotated[str, typer.Argument(help="the deployment (model name) the predictions came from")],
    request_id: Annotated[
        str | None, typer.Option("--request-id", help="the prediction's request id")
    ] = None,
    label: Annotated[str | None, typer.Option(help="its true label (numbers are stored as numbers)")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="a CSV or Parquet file with columns request_id and label"),
    ] = None,
) -> None:
    """Record true labels that arrived after the predictions; monitoring joins them on request_id."""
    import slipway

    if file is not None:
        if request_id is not None or label is not None:
            raise InvalidInput("give either --file or --request-id with --label, not both")
        ids, labels = _read_labels(file)
    else:
        if request_id is None or label is None:
            raise InvalidInput("give --request-id and --label (or --file with request_id and label columns)")
        ids, labels = [request_id], [_number_or_text(label)]
    written = slipway.log_feedback(deployment, ids, labels)
    typer.echo(f"recorded {written} label{'s' if written != 1 else ''} for deployment {deployment}")


def _number_or_text(value: str) -> object:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _read_labels(file: Path) -> tuple[list[str], list[object]]:
    from slipway.cli._files import read_table

    frame = read_table(file, dtype={"request_id": str})
    missing = [c for c in ("request_id", "label") if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{file}: missing column {missing[0]!r} (it needs request_id and label)")
    if frame["request_id"].isna().any():
        row = int(frame["request_id"].isna().to_numpy().argmax())
        raise InvalidInput(f"{file}: row {row + 1} has no request_id")
    return [str(v) for v in frame["request_id"]], frame["label"].tolist()


@app.command("predictions")
def predictions(
    deployment: Annotated[str | None, typer.Argument(help="one deployment (default: all)")] = None,
    limit: Annotated[int, typer.Option(min=1, help="how many of the latest rows to show")] = 20,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="write every row to this .parquet or .csv file instead"),
    ] = None,
) -> None:
    """Show the prediction log (with feedback labels joined), or export it."""
    import slipway

    frame = slipway.read_predictions(deployment)
    if output is not None:
        suffix = output.suffix.lower()
        if suffix == ".csv":
            frame.to_csv(output, index=False)
        elif suffix in (".parquet", ".pq"):
            frame.to_parquet(output, index=False)
        else:
            raise InvalidInput(f"{output}: expected a .parquet or .csv file name")
        typer.echo(f"wrote {len(frame)} rows to {output}")
        return
    if frame.empty:
        typer.echo("no predictions logged" + (f" for deployment {deployment}" if deployment else ""))
        return
    labelled = int(frame["label"].notna().sum()) if "label" in frame.columns else 0
    typer.echo(f"{len(frame)} predictions ({labelled} with a label); the latest {min(limit, len(frame))}:")
    keep = ["request_id", "timestamp", "model_version", "variant", "latency_ms"]
    if deployment is None:
        keep.insert(2, "deployment")
    keep += [c for c in frame.attrs.get("outputs", []) if c in frame.columns]
    keep += [c for c in ("label",) if c in frame.columns]
    shown = frame.tail(limit)[keep].assign(
        timestamp=lambda f: f["timestamp"].dt.strftime("%Y-%m-%d %H:%M:%S")
    )
    typer.echo(shown.to_string(index=False, max_colwidth=32))
    typer.echo("(the input columns are in the file `slipway predictions -o FILE.parquet` writes)")
