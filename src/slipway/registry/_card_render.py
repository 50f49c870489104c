"""Model cards rendered: one list of sections (paragraphs and tables), written as Markdown or HTML.

Both formats are built from the same sections, so they always say the same thing. Every text is
escaped on the way out: HTML-escaped in both (Markdown renderers pass raw HTML through), with table
pipes escaped in Markdown. The HTML is one self-contained file: inline CSS, no script, no link to
anything outside it.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slipway.registry._audit import iso_utc

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from slipway.registry._card import CardSliceCheck, CardText, ModelCard

__all__ = ["render_html", "render_markdown", "value_text"]

_REQUIREMENTS_SHOWN = 200


def value_text(v: object) -> str:
    """A number or value as a card shows it (6 significant digits, JSON for structures)."""
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, default=str)
    return "-" if v is None else str(v)


# ---------------------------------------------------------------------- sections


@dataclass(frozen=True, slots=True)
class _Para:
    text: str
    css: str = ""  # "note", "pass", "fail": a class in HTML, nothing in Markdown
    keep_lines: bool = False  # a user's multi-line text: line breaks are kept


@dataclass(frozen=True, slots=True)
class _Table:
    head: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    status_column: int | None = None  # a column of "passed"/"failed"/"skipped", coloured in HTML
    title: str = ""


@dataclass(frozen=True, slots=True)
class _Section:
    title: str
    blocks: list[_Para | _Table]


def _sections(card: ModelCard) -> list[_Section]:
    return [
        _about(card),
        _data_section(card),
        _metrics_section(card),
        _slices_section(card),
        _signature_section(card),
        _environment_section(card),
        _gate_section(card),
        _lineage_section(card),
        _limits_section(card),
    ]


def _text_or(value: CardText | None, missing: str) -> _Para:
    if value is None or not value.text.strip():
        return _Para(missing, "note")
    origin = "" if value.origin in ("given", "this version") else f" (set on {value.origin})"
    return _Para(value.text + origin, keep_lines=True)


def _about(card: ModelCard) -> _Section:
    blocks: list[_Para | _Table] = [
        _Para("Purpose", "label"),
        _text_or(card.purpose, "Not given: set it with `slipway models card NAME VERSION --purpose TEXT`."),
        _Para("Owner", "label"),
        _text_or(card.owner, "Not given (--owner)."),
    ]
    if card.model_description:
        blocks += [_Para("Model description", "label"), _Para(card.model_description, keep_lines=True)]
    if card.description:
        blocks += [_Para("Version description", "label"), _Para(card.description, keep_lines=True)]
    facts = [
        ("URI", card.uri),
        ("Registered", f"{iso_utc(card.created_at)}" + (f" by {card.creator}" if card.creator else "")),
        ("Flavor", card.flavor or "-"),
        ("Aliases", ", ".join(card.aliases) or "-"),
        ("Gate", _gate_word(card.gate_passed)),
    ]
    blocks.append(_Table(("", ""), facts))
    return _Section("Purpose and owner", blocks)


def _gate_word(passed: bool | None) -> str:
    return "not validated" if passed is None else "passed" if passed else "failed"


def _data_section(card: ModelCard) -> _Section:
    if not card.datasets:
        return _Section("Training data", [_Para("No dataset is recorded for this version.", "note")])
    rows = [
        (
            d.name or "-",
            d.role or "-",
            f"sha256:{d.digest}",
            "-" if d.rows is None else str(d.rows),
            "-" if d.columns is None else str(d.columns),
            d.source or "-",
        )
        for d in card.datasets
    ]
    blocks: list[_Para | _Table] = [_Table(("name", "role", "digest", "rows", "columns", "source"), rows)]
    for d in card.datasets:
        if not d.profile:
            continue
        prof = [(c.name, c.dtype, "-" if c.missing is None else str(c.missing), c.summary) for c in d.profile]
        if d.more_columns:
            prof.append((f"… and {d.more_columns} more columns", "", "", ""))
        blocks.append(_Table(("column", "type", "missing", "summary"), prof, title=f"Profile of {d.name}"))
    return _Section("Training data", blocks)


def _metrics_section(card: ModelCard) -> _Section:
    blocks: list[_Para | _Table] = []
    if card.metrics:
        blocks.append(_Table(("metric", "value"), [(k, value_text(v)) for k, v in card.metrics]))
    elif card.run_found:
        blocks.append(_Para("The run logged no metrics.", "note"))
    else:
        blocks.append(_Para("The run is not available: no metrics.", "note"))
    if card.params:
        blocks.append(_Table(("parameter", "value"), list(card.params), title="Parameters"))
    return _Section("Metrics", blocks)


def _slices_section(card: ModelCard) -> _Section:
    if not card.slice_checks:
        return _Section("Slices", [_Para("No slice checks in the gate result.", "note")])
    blocks: list[_Para | _Table] = []
    if card.slices:
        rows = [
            (
                s.check,
                f"{s.column} = {s.slice}",
                "-" if s.rows is None else str(s.rows),
                f"{s.metric} {s.value}",
                "-" if s.passed is None else "passed" if s.passed else "failed",
            )
            for s in card.slices
        ]
        blocks.append(_Table(("check", "slice", "rows", "value", "result"), rows, status_column=4))
    blocks += [_Para(_slice_counts(c)) for c in card.slice_checks]
    return _Section("Slices", blocks)


def _slice_counts(c: CardSliceCheck) -> str:
    """What a slice check did with its column's values, in one sentence.

    ``slice:region, by region: 2 values evaluated, 3 values skipped (fewer than 50 rows), 1 undefined
    (recall cannot be computed on it).``
    """
    parts = []
    if c.evaluated is not None:
        shown = f" ({c.shown} shown: the failing first, then the worst)" if c.evaluated > c.shown else ""
        parts.append(f"{_values(c.evaluated)} evaluated{shown}")
    if c.too_small is not None:
        fewer = "too few rows" if c.min_size is None else f"fewer than {c.min_size} rows"
        parts.append(f"{_values(c.too_small)} skipped ({fewer})")
    if c.undefined is not None:
        them = "it" if c.undefined == 1 else "them"
        parts.append(f"{c.undefined} undefined ({c.metric or 'the metric'} cannot be computed on {them})")
    return f"{c.check}, by {c.column or '-'}: " + (", ".join(parts) or "no counts recorded") + "."


def _values(n: int) -> str:
    return f"{n} value" if n == 1 else f"{n} values"


def _signature_section(card: ModelCard) -> _Section:
    if not card.inputs:
        return _Section("Signature", [_Para("No signature was recorded.", "note")])
    blocks: list[_Para | _Table] = [_Table(("input", "type", "shape"), list(card.inputs), title="Inputs")]
    if card.outputs:
        blocks.append(_Table(("output", "type", "shape"), list(card.outputs), title="Outputs"))
    return _Section("Signature", blocks)


def _environment_section(card: ModelCard) -> _Section:
    facts = [
        ("Python", card.python or "-"),
        ("Platform", card.platform or "-"),
        ("slipway", card.slipway_version or "-"),
    ]
    blocks: list[_Para | _Table] = [_Table(("", ""), facts)]
    if card.requirements:
        reqs = [(r,) for r in card.requirements[:_REQUIREMENTS_SHOWN]]
        if len(card.requirements) > _REQUIREMENTS_SHOWN:
            reqs.append((f"… and {len(card.requirements) - _REQUIREMENTS_SHOWN} more",))
        blocks.append(_Table(("pinned requirement",), reqs, title="Requirements"))
    return _Section("Environment", blocks)


def _gate_section(card: ModelCard) -> _Section:
    if card.gate_passed is None:
        return _Section("Gate results", [_Para("Not validated: no gate result is recorded.", "fail")])
    when = f" ({card.gate_time})" if card.gate_time else ""
    head = _Para(
        f"The latest gate result {_gate_word(card.gate_passed)}{when}.",
        "pass" if card.gate_passed else "fail",
    )
    rows = [
        (c.name, c.kind or "-", c.status, c.value or "-", c.threshold or "-", c.message or "-")
        for c in card.checks
    ]
    blocks: list[_Para | _Table] = [head]
    if rows:
        blocks.append(
            _Table(("check", "kind", "result", "value", "threshold", "details"), rows, status_column=2)
        )
    return _Section("Gate results", blocks)


def _lineage_section(card: ModelCard) -> _Section:
    lin = card.lineage
    if lin is None:
        return _Section("Lineage", [_Para("No lineage recorded.", "note")])
    commit = lin.git_commit or "-"
    if lin.git_commit and lin.git_dirty is not None:
        commit += " (uncommitted changes, recorded as a diff)" if lin.git_dirty else " (clean)"
    facts = [
        ("Run", lin.run_id or "-"),
        ("Source", lin.source),
        ("Manifest digest", f"sha256:{lin.manifest_digest}"),
        ("Code commit", commit),
        ("Branch", card.git_branch or "-"),
        ("Entry point", card.entry_point or "-"),
        ("Datasets", ", ".join(f"{d.name or '-'} ({d.role or '-'})" for d in lin.datasets) or "-"),
        ("Previous version", "-" if lin.previous_version is None else str(lin.previous_version)),
    ]
    blocks: list[_Para | _Table] = [_Table(("", ""), facts)]
    if lin.alias_changes:
        moves = []
        for c in lin.alias_changes:
            other = "nobody" if c.other is None else f"version {c.other}"
            change = f"took it from {other}" if c.took else f"gave it to {other}" if c.other else "lost it"
            moves.append(
                (iso_utc(c.at), c.alias, f"{change} ({c.action.value})", c.actor or "-", c.reason or "-")
            )
        blocks.append(_Table(("time (UTC)", "alias", "change", "by", "reason"), moves, title="Alias history"))
    return _Section("Lineage", blocks)


def _limits_section(card: ModelCard) -> _Section:
    blocks: list[_Para | _Table] = [_text_or(card.limits, "None given (--limits).")]
    if card.notes:
        blocks.append(_Table(("noted by slipway",), [(n,) for n in card.notes]))
    return _Section("Known limits", blocks)


# ---------------------------------------------------------------------- Markdown


# What lets user text do more than show itself in Markdown: link, image and code syntax, bare URLs
# (GFM autolinks them), and a block marker at the start of a line (heading, quote, list, rule,
# table, fence). Those are backslash-escaped, and blank lines are dropped so the text cannot end
# its paragraph and forge a section of its own.
_INLINE = re.compile(r"([\\`\[\]])")
_BLOCK_START = re.compile(r"^([#>+*=|~_-]|\d+[.)](?=\s|$))")


def _md(text: str, *, cell: bool = False, keep_lines: bool = False) -> str:
    """User text made inert: HTML escaped (renderers pass raw HTML through), then as above."""
    out = _INLINE.sub(r"\\\1", html.escape(text, quote=False)).replace("://", ":\\//")
    lines = [line.strip() for line in out.replace("\r", "").split("\n") if line.strip()]
    if cell:  # inside a table row no block can start: only the cell's own pipes matter
        return "<br>".join(line.replace("|", "\\|") for line in lines)
    lines = [_BLOCK_START.sub(r"\\\1", line) for line in lines]
    return "  \n".join(lines) if keep_lines else " ".join(lines)


def render_markdown(card: ModelCard) -> str:
    lines = [f"# Model card: {_md(card.name)} version {card.version}", ""]
    for section in _sections(card):
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, _Para):
                text = _md(block.text, keep_lines=block.keep_lines)
                lines += [
                    f"**{text}**" if block.css == "label" else f"_{text}_" if block.css == "note" else text,
                    "",
                ]
                continue
            if block.title:
                lines += [f"### {_md(block.title)}", ""]
            head = block.head if any(block.head) else ("", "")
            lines.append("| " + " | ".join(_md(h, cell=True) for h in head) + " |")
            lines.append("|" + "|".join("---" for _ in head) + "|")
            for row in block.rows:
                lines.append("| " + " | ".join(_md(c, cell=True) for c in row) + " |")
            lines.append("")
    lines.append(f"_Generated by slipway from {card.uri}._")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- HTML

_CSS = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#fff;
 max-width:1040px;margin:2rem auto;padding:0 1.2rem}
h1{font-size:1.6rem;border-bottom:2px solid #1d2330;padding-bottom:.3rem}
h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d5d9e0;padding-bottom:.2rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;width:100%;font-size:.9rem}
th,td{border:1px solid #d5d9e0;padding:.3rem .5rem;text-align:left;vertical-align:top;
 overflow-wrap:anywhere}
th{background:#f3f5f8}
p.label{font-weight:600;margin:.8rem 0 .1rem}
p.keep{white-space:pre-wrap}
p.note{color:#5b6475;font-style:italic}
.pass{color:#116329;font-weight:600}
.fail{color:#a40e26;font-weight:600}
.skipped{color:#5b6475}
footer{margin-top:2rem;color:#5b6475;font-size:.85rem}
@media print{body{margin:0;max-width:none}}
""".strip()


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def render_html(card: ModelCard) -> str:
    title = f"Model card: {card.name} version {card.version}"
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_h(title)}</h1>",
    ]
    for section in _sections(card):
        out.append(f"<section><h2>{_h(section.title)}</h2>")
        for block in section.blocks:
            out.extend(_html_block(block))
        out.append("</section>")
    out += [f"<footer>Generated by slipway from {_h(card.uri)}.</footer>", "</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_block(block: _Para | _Table) -> Iterable[str]:
    if isinstance(block, _Para):
        classes = " ".join(c for c in (block.css, "keep" if block.keep_lines else "") if c)
        attr = f' class="{classes}"' if classes else ""
        yield f"<p{attr}>{_h(block.text)}</p>"
        return
    if block.title:
        yield f"<h3>{_h(block.title)}</h3>"
    yield "<table>"
    if any(block.head):
        yield "<thead><tr>" + "".join(f"<th>{_h(h)}</th>" for h in block.head) + "</tr></thead>"
    yield "<tbody>"
    for row in block.rows:
        cells = []
        for i, cell in enumerate(row):
            css = _status_class(cell) if i == block.status_column else ""
            tag = "th" if i == 0 and not any(block.head) else "td"
            attr = f' class="{css}"' if css else ""
            cells.append(f"<{tag}{attr}>{_h(cell)}</{tag}>")
        yield "<tr>" + "".join(cells) + "</tr>"
    yield "</tbody></table>"


def _status_class(cell: str) -> str:
    return {"passed": "pass", "failed": "fail", "skipped": "skipped"}.get(cell, "")
