"""Model cards: what a version is for, what it learned from, how it scores, and where it came from.

:func:`build_card` is pure: it takes what the registry and the tracking store hold (the version,
its manifest, its run, the run's datasets, its lineage) and returns a :class:`ModelCard`, a frozen
value. ``ModelCard.to_markdown()`` and ``ModelCard.to_html()`` render it (see ``_card_render``):
every piece of text that came from a person or a file (descriptions, names, tags, column names,
messages) is escaped, and the HTML is one self-contained file, safe to open whatever a description
holds.

Purpose, owner and known limits are the user's: ``slipway models card --purpose/--owner/--limits``
stores them as the version's tags ``slipway.card.purpose``, ``slipway.card.owner`` and
``slipway.card.limits`` (audited like any tag). A version without them takes them from the newest
earlier version that has them, so a model's next card keeps what was said about the last one; the
card says which version they were set on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slipway.registry._card_render import render_html, render_markdown, value_text

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from slipway.core import DatasetRecord, ModelVersion, Run, Schema
    from slipway.models import Manifest
    from slipway.registry._lineage import VersionLineage

__all__ = [
    "CARD_FIELDS",
    "CardCheck",
    "CardColumn",
    "CardDataset",
    "CardSlice",
    "CardSliceCheck",
    "CardText",
    "ModelCard",
    "build_card",
    "card_tag",
]

#: The user-given parts of a card, stored as version tags ``slipway.card.<field>``.
CARD_FIELDS = ("purpose", "owner", "limits")
_PROFILE_COLUMNS = 30  # columns profiled per dataset on the card; the rest are counted
_TOP_VALUES = 3


def card_tag(name: str) -> str:
    """The version tag that holds a card field (``purpose`` -> ``slipway.card.purpose``)."""
    return f"slipway.card.{name}"


@dataclass(frozen=True, slots=True, kw_only=True)
class CardText:
    """A user-given text and where it was found: ``"given"``, ``"this version"`` or ``"version 3"``."""

    text: str
    origin: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CardColumn:
    name: str
    kind: str
    dtype: str
    missing: int | None
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CardDataset:
    """A dataset of the lineage; rows, columns and profile when the run's store holds its record."""

    name: str
    role: str
    digest: str
    source: str = ""
    rows: int | None = None
    columns: int | None = None
    profile: tuple[CardColumn, ...] = ()
    more_columns: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CardCheck:
    """One check of the gate result: ``status`` is passed, failed or skipped."""

    name: str
    kind: str
    status: str
    value: str
    threshold: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CardSlice:
    """One evaluated value of a slice check's column: its rows, the metric on them, and the verdict."""

    check: str
    metric: str
    column: str
    slice: str
    rows: int | None
    value: str
    passed: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CardSliceCheck:
    """What a slice check did with each value of its column.

    ``evaluated`` values were scored (``shown`` of them are in the result: the failing first, then
    the worst); ``too_small`` had fewer than ``min_size`` rows and ``undefined`` had no defined
    ``metric`` (a single class, say), so both were skipped. A count is None when the result does
    not record it.
    """

    check: str
    metric: str
    column: str
    evaluated: int | None
    shown: int
    too_small: int | None
    undefined: int | None
    min_size: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCard:
    """Everything a model card shows, as plain values; render with :meth:`to_markdown` or :meth:`to_html`.

    ``gate_passed`` is None when the version was never validated. ``notes`` are limits slipway
    noticed itself (an uncommitted tree, no gate result, failed checks, a run it cannot read).

    .. versionadded:: 0.1
    """

    name: str
    version: int
    created_at: int
    creator: str
    aliases: tuple[str, ...]
    flavor: str
    description: str = ""
    model_description: str = ""
    purpose: CardText | None = None
    owner: CardText | None = None
    limits: CardText | None = None
    datasets: tuple[CardDataset, ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    metrics: tuple[tuple[str, float], ...] = ()
    inputs: tuple[tuple[str, str, str], ...] = ()  # (name, type, shape)
    outputs: tuple[tuple[str, str, str], ...] = ()
    python: str = ""
    platform: str = ""
    requirements: tuple[str, ...] = ()
    slipway_version: str = ""
    gate_passed: bool | None = None
    gate_time: str = ""
    checks: tuple[CardCheck, ...] = ()
    slices: tuple[CardSlice, ...] = ()
    slice_checks: tuple[CardSliceCheck, ...] = ()
    lineage: VersionLineage | None = None
    run_found: bool = True
    entry_point: str = ""
    git_branch: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def file_stem(self) -> str:
        """``churn-v5``: the name of the card's files without the extension."""
        return f"{self.name}-v{self.version}"

    def to_markdown(self) -> str:
        """The card as Markdown (user text HTML-escaped, so a renderer shows it as text)."""
        return render_markdown(self)

    def to_html(self) -> str:
        """The card as one self-contained HTML page (inline CSS, no script, no external asset)."""
        return render_html(self)


# ---------------------------------------------------------------------- gathering (pure)


def build_card(
    mv: ModelVersion,
    *,
    manifest: Manifest | None,
    run: Run | None,
    datasets: Sequence[DatasetRecord],
    lineage: VersionLineage,
    texts: Mapping[str, CardText],
    model_description: str = "",
) -> ModelCard:
    """A card from what the stores hold: ``run`` is None when the run is not in this store.

    ``datasets`` are the run's dataset records (matched to the lineage's by digest); ``texts`` the
    resolved purpose, owner and limits.
    """
    records = {d.digest: d for d in datasets}
    sets = tuple(
        _dataset(link.digest, link.name, link.role, records.get(link.digest)) for link in lineage.datasets
    )
    if not lineage.datasets:  # a model saved outside a run's lineage: the run's own datasets
        sets = tuple(_dataset(d.digest, d.name, d.role, d) for d in datasets)
    tags = run.tags if run is not None else {}
    gate = mv.gate
    gate_checks = _gate_checks(gate)
    checks = tuple(_check(i, c) for i, c in enumerate(gate_checks))
    slice_results = [r for r in map(_slice_result, gate_checks) if r is not None]
    sig = manifest.signature if manifest is not None else None
    card = ModelCard(
        name=mv.name,
        version=mv.version,
        created_at=mv.created_at,
        creator=mv.creator,
        aliases=tuple(sorted(mv.aliases)),
        flavor=manifest.flavor if manifest is not None else str(mv.lineage.get("flavor") or ""),
        description=mv.description,
        model_description=model_description,
        purpose=texts.get("purpose"),
        owner=texts.get("owner"),
        limits=texts.get("limits"),
        datasets=sets,
        params=tuple(sorted(run.params.items())) if run is not None else (),
        metrics=tuple(sorted(run.metrics.items())) if run is not None else (),
        inputs=_schema_rows(sig.inputs) if sig is not None else (),
        outputs=_schema_rows(sig.outputs) if sig is not None and sig.outputs is not None else (),
        python=(manifest.python_version if manifest is not None else "")
        or tags.get("slipway.python.version", ""),
        platform=tags.get("slipway.platform", ""),
        requirements=manifest.requirements if manifest is not None else (),
        slipway_version=manifest.slipway_version if manifest is not None else "",
        gate_passed=None if gate is None else gate.get("passed") is True,
        gate_time=str((gate or {}).get("started_at") or ""),
        checks=checks,
        slices=tuple(s for _, evaluated in slice_results for s in evaluated),
        slice_checks=tuple(summary for summary, _ in slice_results),
        lineage=lineage,
        run_found=run is not None,
        entry_point=tags.get("slipway.source.command", "") or tags.get("slipway.source.name", ""),
        git_branch=tags.get("slipway.git.branch", ""),
    )
    return _with_notes(card, run_id=lineage.run_id)


def _with_notes(card: ModelCard, *, run_id: str | None) -> ModelCard:
    import dataclasses

    notes: list[str] = []
    lin = card.lineage
    if lin is not None and lin.git_dirty:
        notes.append("Trained from a working tree with uncommitted changes (the run recorded the diff).")
    if lin is not None and not lin.git_commit:
        notes.append("No code commit was recorded: the training code cannot be checked out again.")
    if run_id is None:
        notes.append("No training run is linked to this version: metrics and parameters are unknown.")
    elif not card.run_found:
        notes.append(f"The training run {run_id} is not in this store: metrics and parameters are not shown.")
    if card.gate_passed is None:
        notes.append("Not validated: no gate result is recorded on this version.")
    elif not card.gate_passed:
        failed = [c.name for c in card.checks if c.status == "failed"]
        notes.append("The latest gate result failed" + (f": {', '.join(failed)}." if failed else "."))
    if not any(d.role == "training" for d in card.datasets):
        notes.append("No dataset with the role 'training' is recorded.")
    if not card.inputs:
        notes.append("No signature: inputs are not checked at predict.")
    return dataclasses.replace(card, notes=tuple(notes))


def _dataset(digest: str, name: str, role: str, record: DatasetRecord | None) -> CardDataset:
    if record is None:
        return CardDataset(name=name, role=role, digest=digest)
    columns = record.profile.get("columns") if isinstance(record.profile, dict) else None
    profile: list[CardColumn] = []
    more = 0
    if isinstance(columns, dict):
        for i, (col, stats) in enumerate(columns.items()):
            if i == _PROFILE_COLUMNS:
                more = len(columns) - i
                break
            if isinstance(stats, dict):
                profile.append(_column(str(col), stats))
    return CardDataset(
        name=name or record.name,
        role=role or record.role,
        digest=digest,
        source=record.source,
        rows=record.num_rows,
        columns=record.num_columns,
        profile=tuple(profile),
        more_columns=more,
    )


def _column(name: str, stats: Mapping[str, Any]) -> CardColumn:
    kind = str(stats.get("kind", ""))
    missing = stats.get("missing")
    if kind == "numeric":
        parts = [f"{k} {_num(stats.get(k))}" for k in ("mean", "std", "min", "max")]
        quantiles = stats.get("quantiles")
        if isinstance(quantiles, dict) and "0.5" in quantiles:
            parts.insert(2, f"median {_num(quantiles['0.5'])}")
        summary = ", ".join(parts)
    elif kind == "categorical":
        raw_top = stats.get("top")
        top = raw_top if isinstance(raw_top, list) else []
        shown = ", ".join(
            f"{t.get('value')} ({t.get('count')})" for t in top[:_TOP_VALUES] if isinstance(t, dict)
        )
        summary = f"{stats.get('distinct', '?')} distinct" + (f"; top {shown}" if shown else "")
    elif kind == "datetime":
        summary = f"{stats.get('min') or '-'} to {stats.get('max') or '-'}"
    else:
        summary = ""
    return CardColumn(
        name=name,
        kind=kind,
        dtype=str(stats.get("dtype", "")),
        missing=missing if isinstance(missing, int) else None,
        summary=summary,
    )


def _schema_rows(schema: Schema) -> tuple[tuple[str, str, str], ...]:
    if schema.columns is not None:
        return tuple(
            (
                c.name + (" (optional)" if c.optional else ""),
                c.dtype,
                "" if c.shape is None else str(list(c.shape)),
            )
            for c in schema.columns
        )
    assert schema.tensor is not None
    return (("(tensor)", schema.tensor.dtype, str(list(schema.tensor.shape))),)


def _gate_checks(gate: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """A gate result's checks as dicts (a list of dicts, or a name -> dict map)."""
    checks = (gate or {}).get("checks")
    if isinstance(checks, dict):
        checks = [
            {"name": k, **v} if isinstance(v, dict) else {"name": k, "passed": v} for k, v in checks.items()
        ]
    return [c for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []


_CHECK_KEYS = frozenset({"name", "kind", "passed", "skipped", "value", "threshold", "message", "details"})


def _check(i: int, c: Mapping[str, Any]) -> CardCheck:
    status = "skipped" if c.get("skipped") is True else "passed" if c.get("passed") is True else "failed"
    message = str(c.get("message") or "")
    if not message:  # a result in another format: its other numbers say what was measured
        rest = {k: v for k, v in c.items() if k not in _CHECK_KEYS}
        message = ", ".join(f"{k} {value_text(v)}" for k, v in sorted(rest.items()))
    return CardCheck(
        name=str(c.get("name") or f"check {i + 1}"),
        kind=str(c.get("kind") or ""),
        status=status,
        value=value_text(c.get("value")) if c.get("value") is not None else "",
        threshold=_threshold(c.get("threshold")),
        message=message,
    )


def _threshold(t: object) -> str:
    if t is None or t == {}:
        return ""
    if not isinstance(t, dict):
        return value_text(t)
    words = {"min": "≥", "max": "≤"}
    return ", ".join(
        f"{words[k]} {value_text(v)}" if k in words else f"{k} {value_text(v)}" for k, v in t.items()
    )


def _slice_result(c: Mapping[str, Any]) -> tuple[CardSliceCheck, list[CardSlice]] | None:
    """A slice check's counts and its evaluated values; None for any other check."""
    details = c.get("details")
    if c.get("kind") != "slice" or not isinstance(details, dict):
        return None
    name = str(c.get("name") or "")
    metric = str(details.get("metric") or "")
    column = str(details.get("column") or "")
    raw = details.get("slices")
    evaluated = []
    for s in raw if isinstance(raw, list) else []:
        if isinstance(s, dict):
            passed = s.get("passed")
            evaluated.append(
                CardSlice(
                    check=name,
                    metric=metric,
                    column=column,
                    slice=str(s.get("slice", "")),
                    rows=s.get("rows") if isinstance(s.get("rows"), int) else None,
                    value=value_text(s.get("value")),
                    passed=passed if isinstance(passed, bool) else None,
                )
            )
    threshold = c.get("threshold")
    min_size = threshold.get("min_size") if isinstance(threshold, dict) else None
    summary = CardSliceCheck(
        check=name,
        metric=metric,
        column=column,
        evaluated=_count(details, "slices_evaluated", "slices"),
        shown=len(evaluated),
        too_small=_count(details, "slices_too_small", "too_small"),
        undefined=_count(details, "slices_undefined", "undefined"),
        min_size=min_size if isinstance(min_size, int) and not isinstance(min_size, bool) else None,
    )
    return summary, evaluated


def _count(details: Mapping[str, Any], total: str, listed: str) -> int | None:
    """The count ``total`` a slice result records, else the length of its list ``listed``, else None."""
    n = details.get(total)
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    items = details.get(listed)
    return len(items) if isinstance(items, list) else None


def _num(x: object) -> str:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return "-" if x is None else str(x)
    return "nan" if isinstance(x, float) and math.isnan(x) else f"{x:.4g}"
