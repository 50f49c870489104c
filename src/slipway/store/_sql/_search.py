"""Compiling the core run filter and order-by into SQL, planned so that indexes do the work.

A search is a list of *parts*, each an ordered SELECT of run rows, read one after the other. When the
first order key can be missing (a metric, param or tag a run never logged, a NULL attribute), the
runs that have it form the first part and the others the second: "missing last" then holds in both
directions on both dialects, and the first part stays an ordered index range scan on
``latest_metrics (experiment_id, key, value)`` that stops at the page size, instead of a sort of
every run. Further order keys sort missing values last with an ``IS NULL`` key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.core import ATTRIBUTES
from slipway.errors import InvalidInput
from slipway.store._sql._tables import latest_metrics, params, run_tags, runs

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.sql.elements import ColumnElement

    from slipway.core import Comparison, OrderBy, RunFilter

_ATTRIBUTE_COLUMNS: dict[str, sa.Column[Any]] = {
    "run_id": runs.c.id,
    "name": runs.c.name,
    "status": runs.c.status,
    "user": runs.c.user_name,
    "experiment_id": runs.c.experiment_id,
    "parent_run_id": runs.c.parent_run_id,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
}
_NULLABLE_ATTRIBUTES = frozenset({"parent_run_id", "end_time"})
_KEYED = {"param": params, "tag": run_tags, "metric": latest_metrics}


@dataclass(frozen=True, slots=True)
class Plan:
    """The ordered parts of a search; read in sequence they give the full result."""

    parts: list[sa.Select[Any]]


def fingerprint(*, experiment_ids: Sequence[str], run_filter: RunFilter, order_by: Sequence[OrderBy]) -> str:
    """A short hash of what a search asks for, parsed (spacing and keyword case do not count)."""
    query = repr((sorted(set(experiment_ids)), run_filter, tuple(order_by)))
    return hashlib.sha256(query.encode()).hexdigest()[:16]


def encode_token(offset: int, *, search: str) -> str:
    """The token of the page at ``offset`` of the search whose :func:`fingerprint` is ``search``."""
    return base64.urlsafe_b64encode(f"offset:{offset}:{search}".encode()).decode().rstrip("=")


def decode_token(token: str | None, *, search: str) -> int:
    """The offset a page token stands for, checking that it was issued for this same search."""
    if token is None or token == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        label, number, issued_for = text.split(":")
        offset = int(number)
        if label != "offset" or offset < 0:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput(
            f"page_token {token!r:.80}: not a token this store issued; pass next_token back"
        ) from None
    if issued_for != search:
        raise InvalidInput(
            f"page_token {token!r:.80}: the page token belongs to another search (other experiments, "
            "filter or order); pass it back only with the search that returned it"
        )
    return offset


_INT64 = range(-(2**63), 2**63)


def _number(value: float | str, *, integer_column: bool) -> float | int:
    """The bound value: an int for an integer column when exact and in range, else the float.

    The parser already refuses time values beyond 64 bits; binding such a value as a float (never
    as an int, which SQLite's driver cannot convert) keeps a hand-built filter from failing.
    """
    assert isinstance(value, float)
    if integer_column and value.is_integer() and int(value) in _INT64:
        return int(value)
    return value


def _compare(column: ColumnElement[Any], clause: Comparison, *, numeric: bool) -> ColumnElement[bool]:
    value = clause.value
    integer_column = numeric and clause.kind == "attribute"
    if isinstance(value, tuple):
        items = [_number(v, integer_column=integer_column) for v in value] if numeric else list(value)
        return column.in_(items) if clause.op == "in" else column.not_in(items)
    scalar: float | str = _number(value, integer_column=integer_column) if numeric else value
    match clause.op:
        case "=":
            return column == scalar
        case "!=":
            return column != scalar
        case "<":
            return column < scalar
        case "<=":
            return column <= scalar
        case ">":
            return column > scalar
        case ">=":
            return column >= scalar
        case "like":
            return column.like(scalar)
        case "ilike":
            return column.ilike(scalar)
    raise InvalidInput(f"filter: operator {clause.op!r} is not supported")  # pragma: no cover


def _where(clause: Comparison) -> ColumnElement[bool]:
    if clause.kind == "attribute":
        return _compare(_ATTRIBUTE_COLUMNS[clause.key], clause, numeric=ATTRIBUTES[clause.key])
    table = _KEYED[clause.kind].alias()
    # A run that lacks the key matches no comparison, != and "not in" included (as in MLflow).
    return sa.exists().where(
        table.c.run_id == runs.c.id,
        table.c.key == clause.key,
        _compare(table.c.value, clause, numeric=clause.kind == "metric"),
    )


def _value_of(order: OrderBy) -> ColumnElement[Any]:
    """The sort key of one run as a correlated scalar (NULL when missing)."""
    if order.kind == "attribute":
        return _ATTRIBUTE_COLUMNS[order.key]
    table = _KEYED[order.kind].alias()
    return (
        sa.select(table.c.value)
        .where(table.c.run_id == runs.c.id, table.c.key == order.key)
        .scalar_subquery()
    )


def _direction(expr: ColumnElement[Any], ascending: bool) -> ColumnElement[Any]:
    return expr.asc() if ascending else expr.desc()


_TIEBREAK = (runs.c.start_time.desc(), runs.c.id.desc())


def plan(
    *,
    experiment_ids: Sequence[str],
    run_filter: RunFilter,
    order_by: Sequence[OrderBy],
) -> Plan:
    """Build the parts of a search (see the module docstring)."""
    conditions = [_where(c) for c in run_filter.clauses]
    columns = list(runs.c)
    if not order_by:
        return Plan(
            parts=[
                _scoped(sa.select(*columns), experiment_ids, runs.c.experiment_id)
                .where(*conditions)
                .order_by(*_TIEBREAK)
            ]
        )
    first, rest = order_by[0], order_by[1:]
    tail: list[ColumnElement[Any]] = []
    for order in rest:
        expr = _value_of(order)
        tail += [expr.is_(None).asc(), _direction(expr, order.ascending)]
    tail += list(_TIEBREAK)

    if first.kind == "attribute":
        column = _ATTRIBUTE_COLUMNS[first.key]
        base = _scoped(sa.select(*columns), experiment_ids, runs.c.experiment_id).where(*conditions)
        present = base.order_by(_direction(column, first.ascending), *tail)
        if first.key not in _NULLABLE_ATTRIBUTES:
            return Plan(parts=[present])
        return Plan(parts=[present.where(column.is_not(None)), base.where(column.is_(None)).order_by(*tail)])

    table = _KEYED[first.kind].alias("o")
    has_key = [table.c.key == first.key, table.c.value.is_not(None)]
    joined = sa.select(*columns).select_from(table.join(runs, runs.c.id == table.c.run_id))
    if first.kind == "metric":  # the denormalised experiment_id lets the index drive the scan
        joined = _scoped(joined, experiment_ids, table.c.experiment_id)
    else:
        joined = _scoped(joined, experiment_ids, runs.c.experiment_id)
    present = joined.where(*has_key, *conditions).order_by(_direction(table.c.value, first.ascending), *tail)
    lacking = (
        _scoped(sa.select(*columns), experiment_ids, runs.c.experiment_id)
        .where(
            *conditions,
            ~sa.exists().where(table.c.run_id == runs.c.id, *has_key),
        )
        .order_by(*tail)
    )
    return Plan(parts=[present, lacking])


def _scoped(
    select: sa.Select[Any], experiment_ids: Sequence[str], column: ColumnElement[Any]
) -> sa.Select[Any]:
    if not experiment_ids:
        return select
    if len(experiment_ids) == 1:
        return select.where(column == experiment_ids[0])
    return select.where(column.in_(list(experiment_ids)))
