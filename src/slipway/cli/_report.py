"""``slipway report drift|performance``: drift and performance over time, as HTML and/or JSON.

Both commands take the same performance options: ``--window`` cuts the current data into windows
(any :class:`~slipway.monitoring.Chunker` text), ``--estimate-reference`` is a labelled period with
the model's outputs from which CBPE or DLE estimate the windows whose labels have not come back.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli._main import app
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

    from slipway.models import ReferenceSummary
    from slipway.monitoring import DatasetDrift, MetricSeries

report_app = typer.Typer(
    help="Reports on data and models: drift and performance, with plots, as one HTML file."
)
app.add_typer(report_app, name="report")

#: Ten windows read well on a plot whatever the size of the file; a time or column window needs
#: the data's own column, so it cannot be the default.
DEFAULT_WINDOW = "count:10"

_Window = Annotated[
    str,
    typer.Option(
        "--window",
        "-w",
        help="how to cut the current data into windows: count:10, rows:5000, 1D, MS, column:month",
    ),
]
_EstimateReference = Annotated[
    Path | None,
    typer.Option(
        "--estimate-reference",
        help="a labelled reference with the model's outputs (prediction, proba_<class>): "
        "estimate performance without labels (CBPE for a binary classifier, DLE for a regressor)",
    ),
]
_Label = Annotated[
    str | None,
    typer.Option(help="the label column (default: label; performance is drawn when it has values)"),
]
_Task = Annotated[
    str | None, typer.Option(help="classification or regression (default: inferred from the model's outputs)")
]
_PosLabel = Annotated[str | None, typer.Option("--pos-label", help="the positive class of a binary model")]
_Metrics = Annotated[
    str | None,
    typer.Option(help="comma-separated metrics to draw (default: the estimator's, then the measured ones)"),
]
_JsonOut = Annotated[
    str | None,
    typer.Option("--json", help="write the result as JSON to this file ('-': standard output)"),
]


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
    json_out: _JsonOut = None,
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
    window: _Window = DEFAULT_WINDOW,
    estimate_reference: _EstimateReference = None,
    label: _Label = None,
    task: _Task = None,
    pos_label: _PosLabel = None,
    metrics: _Metrics = None,
) -> None:
    """Per-column drift (test, statistic, threshold, effect size) and the dataset verdict.

    When the current data has labels, or --estimate-reference is given, the report also draws
    performance over time (measured, and estimated with its band).
    """
    from slipway.cli._files import read_table
    from slipway.monitoring import dataset_drift, drift_report_html

    if output is None and json_out is None:
        raise InvalidInput("give -o FILE.html, --json FILE (or '-'), or both")
    if mode not in ("default", "evidently"):
        raise InvalidInput(f"--mode {mode!r}: expected default or evidently")
    _check_window(window)
    ref = _reference(reference)
    if ref.n_rows == 0:
        raise InvalidInput(
            f"{reference}: no rows; a reference is the data the model was trained or validated on"
        )
    cur = read_table(current)
    features = ref.features
    absent = [c for c in features if c not in cur.columns]
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    if chosen is None:
        chosen = [c for c in features if c in cur.columns]
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
    series: list[MetricSeries] = []
    if estimate_reference is not None or label is not None or _labelled_outputs(cur):
        series = _series(cur, window, estimate_reference, label, task, pos_label, metrics)
    if json_out is not None:
        doc = result.to_dict()
        doc["missing_columns"] = absent
        if series:
            doc["performance"] = _performance_doc(series, window)
        _write_json(doc, json_out)
    if output is not None:
        page = drift_report_html(
            result,
            ref,
            cur,
            title=title or f"Drift: {current.name} against {reference}",
            performance=series,
            window=window,
        )
        output.write_text(page)
    if json_out != "-":
        typer.echo(
            _drift_line(result, n_current=len(cur), absent=absent)
            + (f"; performance over {len(series[0].labels)} windows" if series else "")
            + (f"; report: {output}" if output is not None else "")
        )


@report_app.command("performance")
def performance(
    current: Annotated[
        Path,
        typer.Option(
            "--current", "-c", help="the model's outputs (and labels, where known): a .parquet or .csv file"
        ),
    ],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write the HTML report here")] = None,
    json_out: _JsonOut = None,
    window: _Window = DEFAULT_WINDOW,
    estimate_reference: _EstimateReference = None,
    label: _Label = None,
    task: _Task = None,
    pos_label: _PosLabel = None,
    metrics: _Metrics = None,
    title: Annotated[str | None, typer.Option(help="the report's title")] = None,
) -> None:
    """Performance over time alone: measured where labels are, estimated with its band."""
    from slipway.cli._files import read_table
    from slipway.monitoring import performance_report_html

    if output is None and json_out is None:
        raise InvalidInput("give -o FILE.html, --json FILE (or '-'), or both")
    _check_window(window)
    series = _series(read_table(current), window, estimate_reference, label, task, pos_label, metrics)
    if json_out is not None:
        _write_json(_performance_doc(series, window), json_out)
    if output is not None:
        page = performance_report_html(series, title=title or f"Performance: {current.name}", window=window)
        output.write_text(page)
    if json_out != "-":
        alerts = [s.metric for s in series if any(s.alerts)]
        typer.echo(
            f"performance over {len(series[0].labels) if series else 0} windows: "
            f"{', '.join(s.metric for s in series)}"
            + (f"; estimate outside its thresholds: {', '.join(alerts)}" if alerts else "")
            + (f"; report: {output}" if output is not None else "")
        )


def _drift_line(result: DatasetDrift, *, n_current: int, absent: list[str]) -> str:
    """The verdict in one line: what drifted, what could not be tested, what was not there.

    A window with too little data to judge is "not enough data", never "no dataset drift".
    """
    if result.status != "ok":
        why = "the current data has no rows" if n_current == 0 else result.message
        line = f"not enough data: {_clip(why)}"
    else:
        verdict = "drift detected" if result.drifted else "no dataset drift"
        drifted = [c.column for c in result.drifted_columns]
        tested = [c for c in result.columns if c.status == "ok"]
        untested = [c for c in result.columns if c.status != "ok"]
        line = f"{verdict}: {len(drifted)} of {len(tested)} columns drifted" + (
            f" ({_names(drifted)})" if drifted else ""
        )
        if untested:
            reasons = {"not_enough_data": "not enough data", "type_mismatch": "type mismatch"}
            line += "; not tested: " + _names(
                [f"{c.column} ({reasons.get(c.status, c.status)})" for c in untested]
            )
    return line + (f"; not in the current data: {_names(absent)}" if absent else "")


def _names(names: list[str], limit: int = 10) -> str:
    return ", ".join(names[:limit]) + ("…" if len(names) > limit else "")


def _clip(text: str, limit: int = 300) -> str:
    """A long reason cut to one readable line; the JSON (--json) keeps every word."""
    return text if len(text) <= limit else text[: limit - 1] + "… (--json has it all)"


def _check_window(window: str) -> None:
    """Parse --window before any file is read: a typo should not cost a minute of loading."""
    from slipway.monitoring import Chunker

    try:
        Chunker.parse(window)
    except InvalidInput as exc:
        raise InvalidInput(f"--window: {exc}") from None


def _has_labels(frame: pd.DataFrame, label: str) -> bool:
    return label in frame.columns and bool(frame[label].notna().any())


def _labelled_outputs(frame: pd.DataFrame) -> bool:
    """Whether a drift report's current data can be scored unasked: labels and the model's outputs.

    A data file that merely has a ``label`` column (a training set, say) keeps its plain drift report.
    """
    outputs = "prediction" in frame.columns or any(str(c).startswith("proba_") for c in frame.columns)
    return outputs and _has_labels(frame, "label")


def _series(
    current: pd.DataFrame,
    window: str,
    estimate_reference: Path | None,
    label: str | None,
    task: str | None,
    pos_label: str | None,
    metrics: str | None,
) -> list[MetricSeries]:
    """The performance series of the current rows, the options checked and the files read."""
    from slipway.cli._files import read_table
    from slipway.monitoring import performance_series

    if task not in (None, "classification", "regression"):
        raise InvalidInput(f"--task {task!r}: expected classification or regression")
    reference = None
    if estimate_reference is not None:
        reference = read_table(estimate_reference)
        column = label or "label"
        if not _has_labels(reference, column):
            raise InvalidInput(
                f"{estimate_reference}: no labels in column {column!r}; an estimate reference is a "
                "labelled period with the model's outputs (give --label if the column has another name)"
            )
    return performance_series(
        current,
        chunker=window,
        task=task,  # type: ignore[arg-type]  # checked above
        label=label or "label",
        reference=reference,
        pos_label=_class(pos_label),
        metrics=[m.strip() for m in metrics.split(",") if m.strip()] if metrics else None,
    )


def _class(text: str | None) -> Any:
    """A class named on the command line: ``1`` is the number 1, as the labels of most models."""
    if text is None:
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def _performance_doc(series: list[MetricSeries], window: str) -> dict[str, Any]:
    return {"window": window, "series": [s.to_dict() for s in series]}


def _write_json(doc: dict[str, Any], where: str) -> None:
    text = json.dumps(doc, indent=2, allow_nan=False)
    if where == "-":
        sys.stdout.write(text + "\n")
    else:
        Path(where).write_text(text + "\n")


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
