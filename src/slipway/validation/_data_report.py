"""A data validation as text (a terminal, a pipeline's log) and as one self-contained HTML page.

The page has no scripts, no external styles or fonts and no network fetches: it can be attached
to a ticket or opened from an artifact store as it is. Every value from the data is escaped.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.validation._data_validate import DataValidation
    from slipway.validation._schema import ColumnSchema

__all__ = ["html_report", "text_report"]

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.35rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.summary{padding:.6rem .9rem;border-radius:6px;margin:.8rem 0}
.ok{background:#dafbe1}.failed{background:#ffebe9}.warned{background:#fff8c5}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #d0d7de;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f6f8fa}
.error{color:#cf222e;font-weight:600}.warning{color:#9a6700;font-weight:600}
code{font:12px ui-monospace,monospace;background:#f6f8fa;padding:0 .2rem;border-radius:3px}
.muted{color:#656d76}
"""


def text_report(result: DataValidation) -> str:
    lines = [result.summary()]
    width = max((len(a.column or "") for a in result.anomalies), default=0)
    for a in result.anomalies:
        lines.append(f"  {a.severity.upper():<7} {a.kind:<18} {(a.column or '-'):<{width}}  {a.description}")
    return "\n".join(lines)


def html_report(result: DataValidation) -> str:
    state = "failed" if not result.ok else "warned" if result.anomalies else "ok"
    verdict = {"failed": "FAILED", "warned": "PASSED with warnings", "ok": "PASSED"}[state]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Data validation: {_e(result.source)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>Data validation: {_e(result.source)}</h1>",
        f'<p class="muted">schema {_e(result.schema.source)} '
        f"(<code>sha256:{result.schema.digest[:16]}</code>), {len(result.schema.columns)} columns; "
        f"checked in {result.duration_ms:.0f} ms</p>",
        f'<div class="summary {state}"><strong>{verdict}</strong> &middot; {_e(result.summary())}</div>',
        "<h2>Anomalies</h2>",
    ]
    if result.anomalies:
        parts.append(
            "<table><thead><tr><th>severity</th><th>column</th><th>kind</th><th>description</th>"
            "<th>examples</th></tr></thead><tbody>"
        )
        for a in result.anomalies:
            parts.append(
                f'<tr><td class="{a.severity}">{a.severity}</td><td>{_e(a.column or "(dataset)")}</td>'
                f"<td><code>{a.kind}</code></td><td>{_e(a.description)}</td>"
                f"<td>{', '.join(f'<code>{_e(v)}</code>' for v in a.examples)}</td></tr>"
            )
        parts.append("</tbody></table>")
    else:
        parts.append("<p>None: the data holds to its schema.</p>")
    parts += [
        "<h2>Columns: schema and observed</h2>",
        "<table><thead><tr><th>column</th><th>schema</th><th>observed</th><th>anomalies</th></tr></thead><tbody>",
    ]
    by_column: dict[str | None, list[str]] = {}
    for a in result.anomalies:
        by_column.setdefault(a.column, []).append(f'<span class="{a.severity}">{a.kind}</span>')
    names = [
        *result.schema.columns,
        *(c for c in by_column if c is not None and c not in result.schema.columns),
    ]
    for name in names:
        col = result.schema.columns.get(name)
        expected = _expected(col) if col is not None else '<span class="muted">not in the schema</span>'
        seen = result.observed.get(name)
        if seen is None:
            observed = '<span class="muted">not in the data</span>'
        else:
            share = seen.missing_share
            observed = f"{seen.kind}; missing {_share(share)}"
            if seen.min is not None:
                observed += f"; {_e(_value(seen.min))} to {_e(_value(seen.max))}"
            if seen.distinct is not None:
                observed += f"; {seen.distinct} distinct"
        parts.append(
            f"<tr><td><code>{_e(name)}</code></td><td>{expected}</td><td>{observed}</td>"
            f"<td>{' '.join(by_column.get(name, [])) or '-'}</td></tr>"
        )
    parts += ["</tbody></table>", "</body></html>", ""]
    return "\n".join(parts)


def _expected(col: ColumnSchema) -> str:
    bits = [col.kind if col.required else f"{col.kind}, optional"]
    if col.min is not None or col.max is not None:
        low = "" if col.min is None else _value(col.min)
        high = "" if col.max is None else _value(col.max)
        bits.append(f"{_e(low)} to {_e(high)}")
    if col.domain is not None:
        shown = ", ".join(_e(_value(v)) for v in col.domain[:8])
        more = f" … ({len(col.domain)} values)" if len(col.domain) > 8 else ""
        bits.append(f"one of {shown}{more}")
    if col.max_missing is not None:
        bits.append(f"missing at most {_share(col.max_missing)}")
    if not col.allow_constant:
        bits.append("not constant")
    return "; ".join(bits)


def _share(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.4g}%"


def _value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)
