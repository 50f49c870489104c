"""Checking a chunk against the model's signature row by row, with whole-column operations.

Why not just the model's own check: ``InputEnforcer`` refuses a whole input for one bad value,
which is right for a request and wrong for a file of millions of rows. Here each column is checked
with vectorised pandas/numpy operations that find *which* rows cannot be cast; those rows leave
with a reason, and the rest go through the same ``InputEnforcer`` the model uses at predict, so a
row is scored only if the model would have accepted it on its own.

Text that reads as a number is accepted for a numeric column (CSV carries no types, and a column
with one bad value arrives as text); a value that does not parse, a missing value in an integer
column, a fraction in an integer column or a value outside the type's range is rejected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from slipway.core import ColumnSpec, Schema
    from slipway.models import InputEnforcer

__all__ = ["Checked", "check_chunk"]

_BOOLS = {"True": True, "False": False, "true": True, "false": False, "TRUE": True, "FALSE": False}


class Checked:
    """A chunk split in two: the rows the model can take (cast), and the others with their reasons."""

    __slots__ = ("good", "model_input", "reasons")

    def __init__(
        self, model_input: pd.DataFrame, good: np.ndarray[Any, Any] | None, reasons: pd.Series[Any] | None
    ) -> None:
        self.model_input = model_input  # the good rows, the signature's columns, cast
        self.good = good  # None: every row is good
        self.reasons = reasons  # the bad rows' reasons, indexed like the chunk


def check_chunk(
    chunk: pd.DataFrame, schema: Schema | None, enforcer: InputEnforcer | None, refused: pd.Series[Any] | None
) -> Checked:
    """Split ``chunk`` into the rows the model accepts and the rows it does not, with reasons.

    ``refused`` holds reasons found before the check (a malformed CSV line), missing for the
    other rows; those rows are refused whatever their values. Without a signature every other row
    is taken as it is.
    """
    import numpy as np
    import pandas as pd

    if refused is None:
        if enforcer is None:
            return Checked(chunk, None, None)
        if schema is None or schema.columns is None:  # a tensor signature: the model's own check
            return Checked(enforcer(chunk), None, None)
        try:
            return Checked(enforcer(chunk), None, None)  # the common case: every row is fine
        except InvalidInput:
            pass
    n = len(chunk)
    reasons = pd.Series(np.full(n, None, dtype=object), index=chunk.index)
    if refused is not None:
        given = refused.notna().to_numpy()
        reasons[given] = refused[given].to_numpy()
    if enforcer is None or schema is None or schema.columns is None:
        good = reasons.isna().to_numpy()
        kept = chunk[good]
        return Checked(kept if enforcer is None else enforcer(kept), good, reasons[~good])
    repaired: dict[str, Any] = {}
    for spec in schema.columns:
        if spec.name not in chunk.columns:
            if not spec.optional:
                reasons[reasons.isna()] = f"column {spec.name!r} is missing (expected {spec.dtype})"
            continue
        bad, fixed = _check_column(spec, chunk[spec.name])
        repaired[spec.name] = fixed
        fresh = bad & reasons.isna().to_numpy()
        if fresh.any():
            shown = chunk[spec.name][fresh].map(_show)  # Python per bad value only: they are few
            reasons[fresh] = f"column {spec.name!r}: expected {spec.dtype}, got " + shown
    good = reasons.isna().to_numpy()
    frame = chunk.assign(**repaired)[good] if repaired else chunk[good]
    model_input = enforcer(frame) if good.any() else frame.iloc[:0]
    return Checked(model_input, good, reasons[~good])


def _show(value: Any) -> str:
    import pandas as pd

    return "a missing value" if value is None or bool(pd.isna(value)) else str(value)[:40]


def _check_column(spec: ColumnSpec, s: pd.Series[Any]) -> tuple[np.ndarray[Any, Any], pd.Series[Any]]:
    """Which values of one column cannot become ``spec.dtype``, and the column as it can be cast."""
    import numpy as np
    import pandas as pd

    target = spec.dtype
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    present = s.notna().to_numpy()
    if target == "object":
        return np.zeros(len(s), dtype=bool), s
    if target.startswith(("int", "uint", "float")):
        if pd.api.types.is_bool_dtype(s.dtype):
            return present.copy(), s
        num = s if pd.api.types.is_numeric_dtype(s.dtype) else pd.to_numeric(s, errors="coerce")
        values = num.to_numpy(dtype="float64", na_value=np.nan)
        finite = np.isfinite(values)
        bad = present & np.isnan(values)  # there, but not a number
        if target.startswith(("int", "uint")):
            info = np.iinfo(target)
            with np.errstate(invalid="ignore"):
                bad |= ~finite | (values != np.trunc(values))
                bad |= (values < float(info.min)) | (values >= float(int(info.max) + 1))
        elif target == "float32":
            with np.errstate(invalid="ignore"):
                bad |= finite & (np.abs(values) > float(np.finfo("float32").max))
        return bad, num
    if target == "bool":
        if pd.api.types.is_bool_dtype(s.dtype) and not s.isna().any():
            return np.zeros(len(s), dtype=bool), s
        fixed = s.map(lambda v: v if isinstance(v, (bool, np.bool_)) else _BOOLS.get(v))
        return fixed.isna().to_numpy(), fixed
    if target in ("string", "binary"):
        kind = str if target == "string" else bytes
        if s.dtype == object:
            ok = s.map(type).to_numpy() == kind
            return present & ~ok, s
        if isinstance(s.dtype, pd.StringDtype):
            return np.zeros(len(s), dtype=bool), s
        return present, s
    if target == "datetime":
        if isinstance(s.dtype, pd.DatetimeTZDtype) or s.dtype.kind == "M":
            return np.zeros(len(s), dtype=bool), s
        fixed = pd.to_datetime(s, errors="coerce", format="ISO8601" if s.dtype == object else None)
        return present & fixed.isna().to_numpy(), fixed
    return np.zeros(len(s), dtype=bool), s
