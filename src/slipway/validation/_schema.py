"""The data schema: a declarative, editable contract for a dataset, in the manner of TFDV's schema.

A schema says what data must look like, not what it happened to look like: :func:`infer_schema`
writes a first draft from training data, and a person edits the YAML (relax a range, add a
category, mark a column optional) as the contract changes. It is not a statistical summary; that is
:class:`slipway.models.ReferenceSummary`, which monitoring compares distributions with.

::

    version: 1
    dataset: {name: train.csv, rows: 17379}   # where the draft came from (informational)
    min_rows: 1                               # fewer rows is a too_few_rows anomaly
    extra_columns: warning                    # a column not listed: error, warning or allow
    severity: {constant: error}               # optional: change an anomaly kind's severity
    columns:
      temp: {kind: float, min: 0.02, max: 1.0, max_missing: 0.0, allow_constant: false}
      season: {kind: string, domain: [fall, spring, summer, winter], max_unknown: 0.0}
      note: {kind: string, required: false}

Every field of a loaded file is checked (:func:`parse_schema`), and a mistake is one
:class:`~slipway.errors.InvalidInput` naming the key path (``schema.yaml: columns.temp.min 'low':
expected a number``). A field left out is no constraint, except that a column is required unless
``required: false`` and may not be entirely missing unless ``max_missing: 1``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from slipway.errors import InvalidInput
from slipway.validation._fields import (
    Bad,
    Fields,
    Reader,
    _show,
    at_least,
    boolean,
    choice,
    fraction,
    integer,
    number,
    read_yaml,
    yaml_document,
)

if TYPE_CHECKING:
    from slipway.tracking import TrackingClient

__all__ = [
    "ANOMALY_KINDS",
    "KINDS",
    "ColumnSchema",
    "DataSchema",
    "Kind",
    "Severity",
    "load_schema",
    "parse_schema",
]

Kind = Literal["int", "float", "bool", "string", "category", "datetime"]
KINDS: tuple[Kind, ...] = ("int", "float", "bool", "string", "category", "datetime")
Severity = Literal["error", "warning"]
ExtraColumns = Literal["error", "warning", "allow"]
#: Each anomaly kind and its severity unless the schema's ``severity`` says otherwise. An extra
#: column's severity is the schema's ``extra_columns``.
ANOMALY_KINDS: dict[str, Severity] = {
    "too_few_rows": "error",
    "missing_column": "error",
    "unexpected_column": "warning",
    "type_mismatch": "error",
    "all_missing": "error",
    "too_many_missing": "error",
    "out_of_range": "error",
    "unknown_categories": "error",
    "constant": "warning",
}
_RANGED: tuple[Kind, ...] = ("int", "float", "datetime")
_DOMAINED: tuple[Kind, ...] = ("bool", "string", "category")
_FORMAT = 1
_HEADER = (
    "# slipway data schema: what this data must look like. Edit it: widen min/max, add a value to a\n"
    "# domain, set required: false, raise max_missing; `slipway data validate DATA --schema FILE`.\n"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSchema:
    """What one column must be. ``None`` (a field left out of the file) is no constraint.

    ``min`` and ``max`` bound an int or float column (numbers) or a datetime column (ISO 8601 text);
    ``domain`` lists the values a bool, string or category column may take, and ``max_unknown`` the
    share of its non-missing values that may lie outside it. ``max_missing`` is the share of rows
    that may be missing; a column entirely missing is an anomaly unless it is 1.
    ``allow_constant: false`` flags a column whose present values are all the same.

    .. versionadded:: 0.1
    """

    name: str
    kind: Kind
    required: bool = True
    min: float | str | None = None
    max: float | str | None = None
    domain: tuple[Any, ...] | None = None
    max_unknown: float = 0.0
    max_missing: float | None = None
    allow_constant: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The column as written to the file: only the fields that say something."""
        out: dict[str, Any] = {"kind": self.kind}
        if not self.required:
            out["required"] = False
        for key in ("min", "max"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.domain is not None:
            out["domain"] = list(self.domain)
            if self.max_unknown:
                out["max_unknown"] = self.max_unknown
        if self.max_missing is not None:
            out["max_missing"] = self.max_missing
        if not self.allow_constant:
            out["allow_constant"] = False
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class DataSchema:
    """A dataset's contract: its columns in order, the rows it needs, what an extra column means.

    Build one with :func:`slipway.validation.infer_schema` or :func:`load_schema`; ``dataset`` says
    where it was inferred from (name, source, rows, digest) and is never checked against data;
    ``source`` names the file in messages.

    .. versionadded:: 0.1
    """

    columns: dict[str, ColumnSchema]
    min_rows: int = 1
    extra_columns: ExtraColumns = "warning"
    severity: dict[str, Severity] = field(default_factory=dict)
    dataset: dict[str, Any] = field(default_factory=dict)
    source: str = "schema"

    def column(self, name: str) -> ColumnSchema:
        try:
            return self.columns[name]
        except KeyError:
            raise InvalidInput(
                f"{self.source}: no column {name!r} (it has {', '.join(self.columns) or 'no columns'})"
            ) from None

    def severity_of(self, kind: str) -> Severity:
        """The severity of an anomaly kind under this schema."""
        if kind == "unexpected_column":
            return "error" if self.extra_columns == "error" else "warning"
        return self.severity.get(kind, ANOMALY_KINDS[kind])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": _FORMAT}
        if self.dataset:
            out["dataset"] = dict(self.dataset)
        out["min_rows"] = self.min_rows
        out["extra_columns"] = self.extra_columns
        if self.severity:
            out["severity"] = dict(self.severity)
        out["columns"] = {name: col.to_dict() for name, col in self.columns.items()}
        return out

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical JSON (without ``dataset``): one digest, one contract."""
        text = json.dumps({k: v for k, v in self.to_dict().items() if k != "dataset"}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def to_yaml(self) -> str:
        import yaml

        class _Dumper(yaml.SafeDumper):
            """Lists (domains) on one line each, mappings as blocks, so a column reads as a paragraph."""

        def flow_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
            return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)

        _Dumper.add_representer(list, flow_list)
        body = yaml.dump(self.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
        return _HEADER + body

    def save(self, path: str | Path) -> Path:
        """Write the schema as YAML to ``path`` (its folder is created) and return the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.to_yaml(), encoding="utf-8")
        return p


# ---------------------------------------------------------------------- loading


def load_schema(
    source: str | Path, *, tracking: TrackingClient | None = None, name: str | None = None
) -> DataSchema:
    """Read a schema from a YAML file, a run or a registered model's source run.

    Args:
        source: a file path; ``runs:/RUN_ID/schemas/NAME.yaml``; ``runs:/RUN_ID`` or a model URI
            (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``) for the schema logged to that run
            by :func:`slipway.validation.log_schema`.
        tracking: the stores runs and models live in (needed for ``runs:/`` and ``models:/``).
        name: which of a run's schemas (``train`` when the run has several and this is not given).

    .. versionadded:: 0.1
    """
    text = str(source)
    if text.startswith(("runs:", "models:")):
        from slipway.validation._data_runs import read_logged_schema

        if tracking is None:
            raise InvalidInput(f"schema {text!r}: a runs:/ or models:/ URI needs the tracking stores")
        raw, where = read_logged_schema(text, tracking=tracking, name=name)
        return parse_schema(yaml_document(raw, where), source=where)
    return parse_schema(read_yaml(source, "schema"), source=Path(source).name)


def parse_schema(document: object, *, source: str = "schema") -> DataSchema:
    """Check a schema given as a mapping (``yaml.safe_load`` of the file); ``source`` names it in errors.

    .. versionadded:: 0.1
    """
    top = Reader(source, "", document).mapping()
    top.only("version", "dataset", "min_rows", "extra_columns", "severity", "columns")
    version = top.optional("version", integer)
    if version is not None and version != _FORMAT:
        raise InvalidInput(f"{source}: version {version}: this slipway reads schema version {_FORMAT}")
    dataset: dict[str, Any] = {}
    if top.data.get("dataset") is not None:
        info = top.child("dataset").mapping()
        info.only("name", "source", "rows", "digest")
        dataset = {k: info.optional(k, _text) for k in ("name", "source", "digest") if k in info.data}
        if "rows" in info.data:
            dataset["rows"] = info.optional("rows", at_least(0))
    severity: dict[str, Severity] = {}
    if top.data.get("severity") is not None:
        levels = top.child("severity").mapping()
        kinds = tuple(k for k in ANOMALY_KINDS if k != "unexpected_column")
        for key in levels.data:
            if key not in kinds:
                hint = " (set extra_columns instead)" if key == "unexpected_column" else ""
                raise InvalidInput(
                    f"{levels.at(key)}: unknown anomaly kind{hint}; expected one of {', '.join(kinds)}"
                )
            severity[key] = levels.required(key, choice(("error", "warning"), "severity"))
    min_rows = top.optional("min_rows", at_least(0))
    extra = top.optional("extra_columns", choice(("error", "warning", "allow")))
    columns_reader = top.child("columns").mapping()
    if not columns_reader.data:
        raise InvalidInput(f"{columns_reader.where}: expected at least one column")
    columns = {name: _column(name, columns_reader.child(name).mapping()) for name in columns_reader.data}
    return DataSchema(
        columns=columns,
        min_rows=1 if min_rows is None else min_rows,
        extra_columns=extra or "warning",
        severity=severity,
        dataset=dataset,
        source=source,
    )


def _column(name: str, m: Fields) -> ColumnSchema:
    m.only("kind", "required", "min", "max", "domain", "max_unknown", "max_missing", "allow_constant")
    kind: Kind = m.required("kind", choice(KINDS, "kind"))
    for key in ("min", "max"):
        if key in m.data and kind not in _RANGED:
            raise InvalidInput(
                f"{m.at(key)}: a {kind} column has no range; only {', '.join(_RANGED)} columns have min/max"
            )
    low, high = _datetime_range(m) if kind == "datetime" else _number_range(m, kind)
    domain = None
    if "domain" in m.data:
        if kind not in _DOMAINED:
            raise InvalidInput(
                f"{m.at('domain')}: a {kind} column has no domain; only {', '.join(_DOMAINED)} columns "
                "list their values (bound numbers and dates with min/max)"
            )
        domain = _domain(m.child("domain"), kind)
    if "max_unknown" in m.data and domain is None:
        raise InvalidInput(f"{m.at('max_unknown')}: only a column with a domain has unknown values")
    max_unknown = m.optional("max_unknown", fraction)
    required = m.optional("required", boolean)
    allow_constant = m.optional("allow_constant", boolean)
    return ColumnSchema(
        name=name,
        kind=kind,
        required=True if required is None else required,
        min=low,
        max=high,
        domain=domain,
        max_unknown=0.0 if max_unknown is None else max_unknown,
        max_missing=m.optional("max_missing", fraction),
        allow_constant=True if allow_constant is None else allow_constant,
    )


def _datetime_range(m: Fields) -> tuple[str | None, str | None]:
    low: str | None = m.optional("min", _instant)
    high: str | None = m.optional("max", _instant)
    if low is not None and high is not None:
        try:
            after = _timestamp(low) > _timestamp(high)
        except TypeError:  # one with a time zone, one without
            raise InvalidInput(f"{m.where}: min and max must both have a time zone, or neither") from None
        if after:
            raise InvalidInput(f"{m.where}: min {low} is after max {high}")
    return low, high


def _number_range(m: Fields, kind: Kind) -> tuple[float | None, float | None]:
    low: float | None = m.optional("min", number)
    high: float | None = m.optional("max", number)
    if kind == "int":  # whole bounds stay ints, so the file keeps writing ``max: 90``
        low, high = _whole(low), _whole(high)
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{m.where}: min {low:g} is above max {high:g}")
    return low, high


def _domain(r: Reader, kind: Kind) -> tuple[Any, ...]:
    items = r.sequence()
    out: list[Any] = []
    seen: set[str] = set()
    for i, value in enumerate(items):
        where = f"{r.where}[{i}] {_show(value)}"
        if kind == "bool" and not isinstance(value, bool):
            raise InvalidInput(f"{where}: expected true or false")
        if kind == "string" and not isinstance(value, str):
            raise InvalidInput(
                f"{where}: expected text; quote values YAML reads as something else "
                "(yes, no, on, off, numbers, dates)"
            )
        if kind == "category" and (value is None or not isinstance(value, (str, int, float, bool))):
            raise InvalidInput(f"{where}: expected a value (text, a number or true/false)")
        key = str(value)
        if key in seen:
            raise InvalidInput(f"{where}: listed twice")
        seen.add(key)
        out.append(value)
    return tuple(out)


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise Bad("expected text")
    return value


def _instant(value: object) -> str:
    """A date and time as ISO 8601 text; YAML's own timestamps (unquoted dates) are accepted."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if not isinstance(value, str):
        raise Bad("expected a date and time (ISO 8601, e.g. '2024-01-31T00:00:00')")
    try:
        _timestamp(value)
    except ValueError:
        raise Bad("expected a date and time (ISO 8601, e.g. '2024-01-31T00:00:00')") from None
    return value


_instant.expected = "a date and time (ISO 8601)"  # type: ignore[attr-defined]


def _timestamp(text: str) -> Any:
    import pandas as pd

    return pd.Timestamp(text)


def _whole(value: float | None) -> float | None:
    if value is not None and float(value).is_integer():
        return int(value)
    return value


def with_dataset(schema: DataSchema, **info: Any) -> DataSchema:
    """The schema with more facts about the data it was inferred from."""
    return replace(schema, dataset={**schema.dataset, **{k: v for k, v in info.items() if v is not None}})
