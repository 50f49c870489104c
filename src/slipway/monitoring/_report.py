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
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from slipway.errors import MissingExtra
from slipway.models import ReferenceSummary, as_reference
from slipway.monitoring._series import MetricSeries, performance_series

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from numpy.typing import NDArray

    from slipway.monitoring._results import ColumnDrift, DatasetDrift

__all__ = ["MetricSeries", "drift_report_html", "performance_report_html", "performance_series"]

_REFERENCE_COLOUR = "#4c72b0"
_CURRENT_COLOUR = "#dd8452"
_TOP_CATEGORIES = 15
_MAX_BINS = 40
_ALERT_COLOUR = "#c44e52"


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
        _summary(drift, ref, current),
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


def _summary(drift: DatasetDrift, ref: ReferenceSummary, current: pd.DataFrame) -> str:
    verdict = "Dataset drift detected" if drift.drifted else "No dataset drift"
    cls = "bad" if drift.drifted else "good"
    if drift.status != "ok":  # nothing could be judged: neither a green nor a red verdict
        verdict, cls = "Not enough data", "none"
    drifted = sum(c.drifted for c in drift.columns)
    share = "n/a" if drift.share is None else f"{drift.share:.0%}"
    lines = [
        f'<div class="summary {cls}"><strong>{verdict}</strong>: {drifted} of {len(drift.columns)} columns '
        f"drifted (weighted share {share}, threshold {drift.share_threshold:.0%}; "
        f"alpha {drift.alpha:g}, correction {html.escape(drift.correction)})</div>"
    ]
    if drift.message:
        lines.append(f'<p class="note">{html.escape(drift.message)}</p>')
    absent = [c for c in ref.features if c not in current.columns]
    if absent:
        names = html.escape(", ".join(absent))
        lines.append(f'<p class="note">not in the current data (not compared): {names}</p>')
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
        verdict = (
            "yes"
            if c.drifted
            else {"ok": "no", "type_mismatch": "type changed"}.get(c.status, "not enough data")
        )
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
