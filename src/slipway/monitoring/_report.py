"""Drift and performance reports: one self-contained HTML file that opens without network access.

The numbers come first (a :class:`DatasetDrift` and, when given, performance over time as
:class:`MetricSeries` from :func:`performance_series`); the pictures are drawn from them by
matplotlib into inline SVG, so the file carries no script, no stylesheet link and no font request:
it opens the same in a browser on a laptop, in an air-gapped cluster or attached to a ticket. The
object API (``matplotlib.figure.Figure``) is used rather than ``pyplot``, so rendering holds no
global state and works in threads and servers. Both pages share one head and one performance
section, so a drift report's performance plots and a performance report's are the same pictures.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from slipway.errors import MissingExtra
from slipway.models import ReferenceSummary, as_reference
from slipway.monitoring._results import _ToDict

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import NDArray

    from slipway.monitoring._chunks import Chunker
    from slipway.monitoring._estimate import EstimatedMetric
    from slipway.monitoring._performance import Task
    from slipway.monitoring._results import ColumnDrift, DatasetDrift

__all__ = ["MetricSeries", "drift_report_html", "performance_report_html", "performance_series"]

_REFERENCE_COLOUR = "#4c72b0"
_CURRENT_COLOUR = "#dd8452"
_TOP_CATEGORIES = 15
_MAX_BINS = 40
_ALERT_COLOUR = "#c44e52"


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricSeries(_ToDict):
    """One metric over time: realised values, and optionally an estimate with its band.

    ``labels`` name the windows (their start, or a chunk key); None marks a window where the value
    is undefined (no labels yet), drawn as a gap rather than a zero. ``threshold`` is one line to
    hold the metric against (a rule's, say); an estimator's alert band has two, ``lower_threshold``
    and ``upper_threshold``, and ``alerts`` marks the windows whose estimate falls outside them.
    ``estimator`` names what made the estimate (``cbpe``, ``dle``), empty for none.
    """

    metric: str
    labels: Sequence[str]
    realised: Sequence[float | None] = ()
    estimated: Sequence[float | None] = ()
    lower: Sequence[float | None] = ()
    upper: Sequence[float | None] = ()
    threshold: float | None = None
    lower_threshold: float | None = None
    upper_threshold: float | None = None
    alerts: Sequence[bool] = ()
    estimator: str = ""


def performance_series(
    current: pd.DataFrame,
    *,
    chunker: Chunker | str,
    task: Task | None = None,
    label: str = "label",
    reference: pd.DataFrame | None = None,
    pos_label: Any = None,
    metrics: Sequence[str] | None = None,
) -> list[MetricSeries]:
    """Each metric over the windows of ``current``: measured where labels are, estimated with a band.

    The realised values are :func:`measure_performance`'s on each window of ``current`` (when it has
    a ``label`` column with any value). With ``reference`` (a labelled period with the model's
    outputs: ``prediction``, ``proba_<class>``, the label), :class:`CBPE` (binary classifiers) or
    :class:`DLE` (regressors) is fitted on it and estimates every window, with its band and alert
    thresholds; a window that has labels then shows both, so the estimate can be checked. ``task``
    is inferred as monitors do (classification when there are ``proba_`` columns or the predictions
    are not floats). ``metrics`` default to the estimator's, then the measured ones.

    The estimator's alert thresholds come from the reference cut into windows of the current
    windows' median size (thresholds from bigger windows would be too narrow), so the reference
    needs no timestamp or chunking column of its own.
    """
    from slipway.errors import InvalidInput
    from slipway.monitoring._chunks import as_chunker

    chunks = as_chunker(chunker)
    if task is None:
        task = _infer_task(current, reference)
    elif task not in ("classification", "regression"):
        raise InvalidInput(f"task {task!r}: expected classification or regression")
    labelled = label in current.columns and bool(current[label].notna().any())
    if not labelled and reference is None:
        raise InvalidInput(
            f"current: no labels in column {label!r} and no estimation reference; "
            "give labelled rows or a labelled reference with the model's outputs"
        )
    estimated = {}
    if reference is not None:
        estimated = _estimate(current, reference, chunks, task, label, pos_label, metrics)
    wanted = list(metrics) if metrics is not None else list(estimated)
    measured: dict[str, list[float | None]] = {}
    keys = [c.key for c in chunks.split(current)]
    if labelled:
        asked = None if metrics is None else wanted
        measured, keys = _measured(current, chunks, task, label, pos_label, asked)
        wanted += [m for m in measured if m not in wanted]
    unknown = [m for m in wanted if m not in measured and m not in estimated]
    if unknown:
        raise InvalidInput(
            f"metric {unknown[0]!r}: cannot be estimated without labels; "
            f"expected one of {', '.join(estimated) or 'the estimated metrics'}"
        )
    out = []
    for name in wanted:
        est = estimated.get(name, [])
        out.append(
            MetricSeries(
                metric=name,
                labels=keys,
                realised=measured.get(name, ()),
                estimated=[m.value for m in est],
                lower=[m.lower for m in est],
                upper=[m.upper for m in est],
                lower_threshold=est[0].lower_threshold if est else None,
                upper_threshold=est[0].upper_threshold if est else None,
                alerts=[m.alert for m in est],
                estimator=("cbpe" if task == "classification" else "dle") if est else "",
            )
        )
    return out


def _infer_task(current: pd.DataFrame, reference: pd.DataFrame | None) -> Task:
    """Monitors' rule (``_window._task``), on the current rows plus the reference's outputs."""
    from slipway.monitoring._window import _task

    outputs = (
        () if reference is None else tuple(c for c in map(str, reference.columns) if c.startswith("proba_"))
    )
    summary = ReferenceSummary(n_rows=0, sample=current.head(0), columns={}, outputs=outputs)
    return "classification" if _task(summary, current) == "classification" else "regression"


def _measured(
    current: pd.DataFrame,
    chunks: Chunker,
    task: Task,
    label: str,
    pos_label: Any,
    metrics: Sequence[str] | None,
) -> tuple[dict[str, list[float | None]], list[str]]:
    from slipway.monitoring._performance import measure_performance

    proba = [c for c in map(str, current.columns) if c.startswith("proba_")]
    result = measure_performance(
        current,
        task=task,
        label=label,
        prediction="prediction" if "prediction" in current.columns else None,
        proba=proba[0] if len(proba) == 1 else None,  # one column: the positive class's
        pos_label=pos_label,
        metrics=metrics,
        chunker=chunks,
    )
    values = {name: [c.value(name) for c in result.chunks] for name in result.metrics}
    return values, [c.chunk.key for c in result.chunks]


def _estimate(
    current: pd.DataFrame,
    reference: pd.DataFrame,
    chunks: Chunker,
    task: Task,
    label: str,
    pos_label: Any,
    metrics: Sequence[str] | None,
) -> dict[str, list[EstimatedMetric]]:
    """Every estimable metric's estimate per window: CBPE for a binary classifier, DLE for a regressor."""
    from slipway.errors import InvalidInput
    from slipway.monitoring._dle import DLE, DLE_METRICS
    from slipway.monitoring._estimate import CBPE, CBPE_METRICS

    if label not in reference.columns or not reference[label].notna().any():
        raise InvalidInput(
            f"estimation reference: no labels in column {label!r}; the estimators learn from a "
            "labelled period with the model's outputs"
        )
    allowed = CBPE_METRICS if task == "classification" else (*DLE_METRICS, "mse")
    names = tuple(m for m in (metrics or allowed) if m in allowed)
    if metrics is None and task == "regression":
        names = DLE_METRICS
    if not names:
        return {}
    import numpy as np

    from slipway.monitoring._chunks import Chunker

    sizes = [c.n_rows for c in chunks.split(current) if c.n_rows]
    if not sizes:
        return {name: [] for name in names}
    # windows smaller than the estimators' 50 rows are not estimated: no thresholds needed for them
    windows = Chunker.by_rows(max(50, int(np.median(sizes))), incomplete="append")
    estimator: CBPE | DLE
    if task == "classification":
        score, pos = _positive_class(reference, pos_label)
        estimator = CBPE(metrics=names, chunker=windows, score=score, label=label, pos_label=pos)
    else:
        estimator = DLE(metrics=names, chunker=windows, label=label)
    try:
        estimator.fit(reference)
    except InvalidInput as exc:  # say which frame: both have the same columns
        raise InvalidInput(f"estimation reference: {exc}") from None
    result = estimator.estimate(current, chunker=chunks)
    return {name: [c.metric(name) for c in result.chunks] for name in result.metrics}


def _positive_class(reference: pd.DataFrame, pos_label: Any) -> tuple[str, Any]:
    """The positive class's probability column and the class: the greater class, as scikit-learn."""
    from slipway.errors import InvalidInput

    if pos_label is not None:
        column = f"proba_{pos_label}"
        if column not in reference.columns:
            raise InvalidInput(
                f"estimation reference: column {column!r}: missing; expected the positive class's probability"
            )
        return column, pos_label
    suffixes = [str(c)[len("proba_") :] for c in reference.columns if str(c).startswith("proba_")]
    if not 1 <= len(suffixes) <= 2:
        raise InvalidInput(
            f"estimation reference: {len(suffixes)} proba_<class> columns; CBPE estimates binary "
            "classifiers from the positive class's probability"
        )
    numeric = all(k.lstrip("-").isdigit() for k in suffixes)
    pos = max(suffixes, key=int) if numeric else max(suffixes)
    return f"proba_{pos}", int(pos) if numeric else pos


def _matplotlib() -> type[Figure]:
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingExtra("reports draw their plots with matplotlib: pip install 'slipway[plots]'") from exc
    return Figure


def drift_report_html(
    drift: DatasetDrift,
    reference: ReferenceSummary | pd.DataFrame,
    current: pd.DataFrame,
    *,
    title: str = "Drift report",
    performance: Sequence[MetricSeries] = (),
    window: str | None = None,
    generated_at: datetime | None = None,
) -> str:
    """The report as one HTML document: summary, ranked columns, each column's two distributions.

    ``performance`` (from :func:`performance_series`) adds a "Performance over time" section
    before the columns, its windows described by ``window`` (a chunker's text).
    """
    figure_cls = _matplotlib()
    ref = as_reference(reference)
    ranked = sorted(drift.columns, key=lambda c: (not c.drifted, -(c.score or 0.0), c.column))
    parts = [
        _summary(drift),
        _table(ranked),
    ]
    if performance:
        parts.append(_performance_section(figure_cls, performance, window=window))
    parts.append("<h2>Columns</h2>")
    for col in ranked:
        parts.append(_column_section(figure_cls, col, ref, current))
    meta = (
        f"reference {ref.n_rows:,} rows{'' if ref.exact else f' (sample of {len(ref.sample):,})'} · "
        f"current {len(current):,} rows · mode {html.escape(drift.mode)}"
    )
    return _page(title, meta, parts, generated_at)


def performance_report_html(
    series: Sequence[MetricSeries],
    *,
    title: str = "Performance report",
    window: str | None = None,
    generated_at: datetime | None = None,
) -> str:
    """Performance over time alone, as one HTML document: one plot per metric.

    For the models whose inputs need no drift report, or whose reference is only a labelled
    period with outputs: the page is the drift report's performance section with its head.
    """
    figure_cls = _matplotlib()
    meta = f"{len(series)} metrics over {len(series[0].labels) if series else 0} windows"
    return _page(title, meta, [_performance_section(figure_cls, series, window=window)], generated_at)


def _page(title: str, meta: str, sections: Sequence[str], generated_at: datetime | None) -> str:
    """The document around the sections: one head (inline style), the title, when and on what."""
    when = (generated_at or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            _HEAD.format(title=html.escape(title)),
            f"<h1>{html.escape(title)}</h1>",
            f'<p class="meta">generated {when} · {meta}</p>',
            *sections,
            "</body></html>",
        ]
    )


def _performance_section(
    figure_cls: type[Figure], series: Sequence[MetricSeries], *, window: str | None
) -> str:
    """The heading, what the lines mean, and one plot per metric (nothing else draws them)."""
    estimated = [s for s in series if s.estimated]
    note = [f"windows: {html.escape(window)}"] if window else []
    if any(s.realised for s in series):
        note.append("realised: measured on the labelled rows")
    if estimated:
        methods = sorted({s.estimator.upper() for s in estimated if s.estimator}) or ["estimator"]
        note.append(
            f"estimated by {', '.join(methods)} without labels; the band is the sampling error of "
            "a window that size, the dotted lines the alert thresholds from the reference's windows"
        )
    parts = ["<h2>Performance over time</h2>", f'<p class="note">{" · ".join(note)}</p>']
    for s in series:
        alerts = sum(bool(a) for a in s.alerts)
        head = f"<h3>{html.escape(s.metric)}{' <span class=bad>alert</span>' if alerts else ''}</h3>"
        detail = (
            f'<p class="meta">{alerts} of {len(s.labels)} windows outside the thresholds</p>'
            if s.alerts
            else ""
        )
        parts.append(f"<section>{head}{detail}{_svg(_performance_plot(figure_cls, s))}</section>")
    return "\n".join(parts)


def _summary(drift: DatasetDrift) -> str:
    verdict = "Dataset drift detected" if drift.drifted else "No dataset drift"
    cls = "bad" if drift.drifted else "good"
    drifted = sum(c.drifted for c in drift.columns)
    share = "n/a" if drift.share is None else f"{drift.share:.0%}"
    lines = [
        f'<div class="summary {cls}"><strong>{verdict}</strong>: {drifted} of {len(drift.columns)} columns '
        f"drifted (weighted share {share}, threshold {drift.share_threshold:.0%}; "
        f"alpha {drift.alpha:g}, correction {html.escape(drift.correction)})</div>"
    ]
    if drift.message:
        lines.append(f'<p class="note">{html.escape(drift.message)}</p>')
    mv = drift.multivariate
    if mv is not None:
        if mv.error is None or mv.threshold is None:
            text = f"multivariate drift: {html.escape(mv.message or mv.status)}"
        else:
            text = (
                f"multivariate drift (PCA reconstruction error, {mv.components} components): "
                f"{mv.error:.4g} against threshold {mv.threshold:.4g}"
                f"{' — drifted' if mv.drifted else ''}"
            )
        lines.append(f'<p class="note">{text}</p>')
    return "\n".join(lines)


def _fmt(value: float | None, spec: str = ".4g") -> str:
    return "—" if value is None else format(value, spec)


def _table(columns: Sequence[ColumnDrift]) -> str:
    rows = [
        "<table><thead><tr><th>column</th><th>kind</th><th>test</th><th>statistic</th><th>p-value</th>"
        "<th>adjusted p</th><th>threshold</th><th>effect size</th><th>drift</th></tr></thead><tbody>"
    ]
    for c in columns:
        effect = f"{_fmt(c.effect_size)} ({html.escape(c.effect_measure)})" if c.effect_measure else "—"
        verdict = "yes" if c.drifted else ("not enough data" if c.status != "ok" else "no")
        rows.append(
            f'<tr class="{"drifted" if c.drifted else ""}"><td><a href="#col-{_anchor(c.column)}">'
            f"{html.escape(c.column)}</a></td><td>{c.kind}</td><td>{html.escape(c.method)}</td>"
            f"<td>{_fmt(c.statistic)}</td><td>{_fmt(c.p_value)}</td><td>{_fmt(c.p_adjusted)}</td>"
            f"<td>{_fmt(c.threshold)}</td><td>{effect}</td><td>{verdict}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _anchor(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name)


def _column_section(
    figure_cls: type[Figure], col: ColumnDrift, ref: ReferenceSummary, current: pd.DataFrame
) -> str:
    head = (
        f'<section id="col-{_anchor(col.column)}"><h3>{html.escape(col.column)}'
        f"{' <span class=bad>drifted</span>' if col.drifted else ''}</h3>"
        f'<p class="meta">{html.escape(col.method)}: statistic {_fmt(col.statistic)}, threshold '
        f"{_fmt(col.threshold)}{'' if col.p_value is None else f', p-value {_fmt(col.p_value)}'}"
        f"{'' if not col.message else ' · ' + html.escape(col.message)}</p>"
    )
    if col.column not in current.columns or col.column not in ref.columns:
        return head + "<p>no distribution to draw</p></section>"
    fig = figure_cls(figsize=(6.4, 2.6), layout="constrained")
    ax = fig.add_subplot()
    if col.kind == "numeric" and ref.columns[col.column].kind == "numeric":
        _numeric_plot(ax, ref.numeric_values(col.column), current[col.column])
    else:
        _categorical_plot(ax, ref.category_counts(col.column), current[col.column])
    ax.set_title(col.column, fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    return head + _svg(fig) + "</section>"


def _numeric_plot(ax: Axes, reference: NDArray[np.float64], current: pd.Series[Any]) -> None:
    import numpy as np

    cur = current.to_numpy(dtype="float64", na_value=np.nan)
    cur = cur[np.isfinite(cur)]
    ref = reference[np.isfinite(reference)]
    both = np.concatenate([ref, cur])
    if not both.size:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    edges = np.histogram_bin_edges(both, bins="auto")
    if len(edges) - 1 > _MAX_BINS:
        edges = np.histogram_bin_edges(both, bins=_MAX_BINS)
    bins = [float(e) for e in edges]
    if ref.size:
        ax.hist(ref, bins=bins, density=True, alpha=0.55, color=_REFERENCE_COLOUR, label="reference")
    if cur.size:
        ax.hist(cur, bins=bins, density=True, alpha=0.55, color=_CURRENT_COLOUR, label="current")
    ax.set_ylabel("density", fontsize=8)
    ax.tick_params(labelsize=7)


def _categorical_plot(ax: Axes, reference: pd.Series[int], current: pd.Series[Any]) -> None:
    import numpy as np
    import pandas as pd

    ref_share = reference / max(int(reference.sum()), 1)
    cur_counts = current.dropna().astype(object).value_counts()
    cur_share = cur_counts / max(int(cur_counts.sum()), 1)
    shares = pd.concat([ref_share.rename("reference"), cur_share.rename("current")], axis=1).fillna(0.0)
    shares.index = [str(i) for i in shares.index]
    shares = shares.groupby(level=0).sum()
    top = shares.max(axis=1).sort_values(ascending=False).index[:_TOP_CATEGORIES]
    shares = shares.loc[top]
    x = np.arange(len(shares))
    ax.bar(x - 0.2, shares["reference"], width=0.4, color=_REFERENCE_COLOUR, label="reference")
    ax.bar(x + 0.2, shares["current"], width=0.4, color=_CURRENT_COLOUR, label="current")
    ax.set_xticks(x, [label[:18] for label in shares.index], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("share of rows", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)


def _performance_plot(figure_cls: type[Figure], series: MetricSeries) -> Figure:
    import numpy as np

    def arr(values: Sequence[float | None]) -> NDArray[np.float64]:
        return np.array([np.nan if v is None else float(v) for v in values], dtype="float64")

    fig = figure_cls(figsize=(6.4, 2.6), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(series.labels))
    if len(series.lower) == len(x) and len(series.upper) == len(x):
        ax.fill_between(
            x, arr(series.lower), arr(series.upper), color=_CURRENT_COLOUR, alpha=0.2, label="band"
        )
    if len(series.estimated) == len(x):
        ax.plot(x, arr(series.estimated), "--o", color=_CURRENT_COLOUR, markersize=3, label="estimated")
    if len(series.realised) == len(x):
        ax.plot(x, arr(series.realised), "-o", color=_REFERENCE_COLOUR, markersize=3, label="realised")
    if len(series.alerts) == len(x) and len(series.estimated) == len(x) and any(series.alerts):
        hit = np.array([bool(a) for a in series.alerts])
        ax.plot(x[hit], arr(series.estimated)[hit], "o", color=_ALERT_COLOUR, markersize=5, label="alert")
    if series.threshold is not None:
        ax.axhline(series.threshold, color=_ALERT_COLOUR, linewidth=1, linestyle=":", label="threshold")
    bounds = [b for b in (series.lower_threshold, series.upper_threshold) if b is not None]
    for i, bound in enumerate(bounds):
        label = "alert thresholds" if i == 0 else None
        ax.axhline(bound, color=_ALERT_COLOUR, linewidth=1, linestyle=":", label=label)
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step], [str(label)[:16] for label in series.labels][::step], rotation=30, ha="right")
    ax.tick_params(labelsize=7)
    ax.set_title(series.metric, fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    return fig


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    start = text.find("<svg")
    return f'<div class="plot">{text[start:]}</div>'


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.85em; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }}
tr.drifted td {{ background: #fdecea; }}
.summary {{ padding: 0.6em 1em; border-radius: 4px; margin: 1em 0; }}
.summary.bad {{ background: #fdecea; }} .summary.good {{ background: #e8f5e9; }}
.bad {{ color: #b71c1c; }} .meta, .note {{ color: #555; font-size: 0.85em; }}
.plot svg {{ max-width: 100%; height: auto; }}
</style></head><body>"""
