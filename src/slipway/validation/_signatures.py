"""Signature compatibility: can the challenger take every input the champion takes?

Callers were written against the champion, so the challenger must accept what they send: no input
the champion takes may be missing, change type or shape, or turn from optional into required, and
any new input must be optional. A dtype may widen where enforcement casts every value safely.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slipway.core import ColumnSpec, Schema, Signature

__all__ = ["compare_signatures"]

#: (the champion's dtype, the challenger's) pairs that accept every value the old type held
_WIDENINGS = frozenset(
    {
        ("int32", "int64"),
        ("int32", "float64"),
        ("float32", "float64"),
        ("int8", "int16"),
        ("int8", "int32"),
        ("int8", "int64"),
        ("int16", "int32"),
        ("int16", "int64"),
    }
)


def compare_signatures(
    champion: Signature | None, challenger: Signature | None
) -> tuple[list[str], list[str]]:
    """``(problems, notes)``: what breaks the champion's callers, and what changed harmlessly."""
    if champion is None:
        return [], ["the champion has no signature; nothing to compare"]
    if challenger is None:
        return ["the challenger has no signature, so its inputs are unchecked"], []
    return _inputs(champion.inputs, challenger.inputs)


def _inputs(old: Schema, new: Schema) -> tuple[list[str], list[str]]:
    if old.tensor is not None or new.tensor is not None:
        if old.tensor is None or new.tensor is None:
            was = "a tensor" if old.tensor is not None else "named columns"
            becomes = "a tensor" if new.tensor is not None else "named columns"
            return [f"inputs changed from {was} to {becomes}"], []
        if old.tensor == new.tensor:
            return [], []
        if (old.tensor.dtype, new.tensor.dtype) in _WIDENINGS and old.tensor.shape == new.tensor.shape:
            return [], [f"tensor dtype widened from {old.tensor.dtype} to {new.tensor.dtype}"]
        return [
            f"tensor changed from {old.tensor.dtype} {list(old.tensor.shape)} "
            f"to {new.tensor.dtype} {list(new.tensor.shape)}"
        ], []
    problems: list[str] = []
    notes: list[str] = []
    theirs = {c.name: c for c in new.columns or ()}
    for col in old.columns or ():
        now = theirs.get(col.name)
        if now is None:
            problems.append(f"input {col.name!r} ({col.dtype}) was removed")
            continue
        problems.extend(_column(col, now, notes))
    known = set(old.names)
    for col in new.columns or ():
        if col.name in known:
            continue
        if col.optional:
            notes.append(f"optional input {col.name!r} ({col.dtype}) added")
        else:
            problems.append(f"required input {col.name!r} ({col.dtype}) was added; callers do not send it")
    return problems, notes


def _column(old: ColumnSpec, new: ColumnSpec, notes: list[str]) -> list[str]:
    problems: list[str] = []
    if old.dtype != new.dtype:
        if new.dtype == "object" or (old.dtype, new.dtype) in _WIDENINGS:
            notes.append(f"input {old.name!r} widened from {old.dtype} to {new.dtype}")
        else:
            problems.append(f"input {old.name!r} changed type from {old.dtype} to {new.dtype}")
    if old.shape != new.shape:
        problems.append(f"input {old.name!r} changed shape from {_shape(old)} to {_shape(new)}")
    if old.optional and not new.optional:
        problems.append(f"input {old.name!r} was optional and is now required")
    return problems


def _shape(col: ColumnSpec) -> str:
    return "scalar" if col.shape is None else str(list(col.shape))
