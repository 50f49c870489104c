"""Signature enforcement at predict: the input is checked and safely cast, or refused by name.

Accepted input: a DataFrame, an ndarray, a dict (column -> values, or one record of scalars), or a
list of records. For a column schema the model receives a DataFrame with exactly the signature's
columns, in its order; for a tensor schema, an ndarray; for named tensors, a dict of ndarrays.

Casting rules (anything else is an :class:`InvalidInput` naming the column and what was expected):

==================  ==========================================================================
expected            accepted and cast silently
==================  ==========================================================================
int64, int32        any integer type whose values fit; floats only if every value is integral
                    and finite; Python ints in an object column
float64             any float; integers whose values are exact in float64 (|v| <= 2**53)
float32             any float whose values are within float32's range (float64 is rounded to
                    float32: the model computes in float32 anyway); integers exact in float32
bool                bool only (not 0/1, not "true")
string              str values (missing values allowed); categories of strings
binary              bytes values
datetime            datetime64 of any unit or time zone; ISO 8601 strings
object              anything: the column must only be present
==================  ==========================================================================

Extra columns are dropped (``extra_columns="drop"``, the default) or refused (``"reject"``).
Optional columns may be absent. The common case costs little: a DataFrame whose columns and dtypes
already match is returned as it is after two comparisons.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from slipway.errors import InvalidInput
from slipway.models._infer import as_array, as_data, is_scalar

if TYPE_CHECKING:
    from collections.abc import Callable

    from slipway.core import ColumnSpec, Schema, TensorSpec

__all__ = ["ExtraColumns", "InputEnforcer"]

ExtraColumns = Literal["drop", "reject"]
_MANTISSA = {"float16": 11, "float32": 24, "float64": 53}


def _sample(values: Any) -> str:
    for v in values:
        return repr(v.item() if hasattr(v, "item") else v)[:40]
    return "?"


def _kind_name(values: Any) -> str:
    import pandas as pd

    if values.dtype.kind == "O":
        kind = pd.api.types.infer_dtype(values, skipna=True)
        return {"integer": "int", "floating": "float", "mixed-integer-float": "float"}.get(kind, kind)
    return str(values.dtype)


@functools.lru_cache(maxsize=64)
def _name(dtype: Any) -> str:
    return str(dtype.name)  # numpy computes .name on every access; this is on the hot path


def cast_array(where: str, values: Any, target: str) -> Any:
    """Cast a 1-D or N-D ndarray to ``target`` under the rules above, or raise naming ``where``."""
    import numpy as np

    dt = values.dtype
    if target == "object" or _name(dt) == target:
        return values
    if dt.kind == "U" and target == "string":
        return values.astype(object)
    if dt.kind == "O":
        return _cast_objects(where, values, target)
    if target in _MANTISSA:
        if dt.kind == "f":
            if dt.itemsize > np.dtype(target).itemsize:
                limit = float(np.finfo(target).max)
                finite = values[np.isfinite(values)]
                if finite.size and float(np.abs(finite).max()) > limit:
                    raise InvalidInput(
                        f"{where}: expected {target}, got values outside its range such as "
                        f"{_sample(finite[np.abs(finite) > limit])}"
                    )
            return values.astype(target)
        if dt.kind in "iu":
            bound = 2 ** _MANTISSA[target]
            if values.size and int(np.abs(values).max()) > bound:
                raise InvalidInput(
                    f"{where}: expected {target}, got integers too large to be exact in it such as "
                    f"{_sample(values[np.abs(values) > bound])}"
                )
            return values.astype(target)
    elif target.startswith(("int", "uint")):
        info = np.iinfo(target)
        if dt.kind == "f":
            bad = ~np.isfinite(values)
            if bad.any():
                raise InvalidInput(
                    f"{where}: expected {target}, got missing or infinite values "
                    f"such as {_sample(values[bad])}"
                )
            frac = values != np.trunc(values)
            if frac.any():
                raise InvalidInput(
                    f"{where}: expected {target}, got float values with a fractional part "
                    f"such as {_sample(values[frac])}"
                )
        if dt.kind in "iuf":
            if dt.kind == "f":
                # info.max rounds up to 2**63 (say) as a float, so "> info.max" would let 2**63 through
                # and the cast would wrap it; max + 1 and min are powers of two, exact as floats.
                outside = (values < float(info.min)) | (values >= float(int(info.max) + 1))
            else:
                outside = (values < info.min) | (values > info.max)
            if values.size and outside.any():
                out = values[outside]
                raise InvalidInput(
                    f"{where}: expected {target}, got values outside its range such as {_sample(out)}"
                )
            return values.astype(target)
    elif target == "datetime" and dt.kind == "M":
        return values
    raise InvalidInput(
        f"{where}: expected {target}, got {_kind_name(values)} values such as {_sample(values.ravel())}"
    )


def _cast_objects(where: str, values: Any, target: str) -> Any:
    """Object arrays: accept only elements that are already of the right Python type."""
    import numpy as np

    flat = values.ravel()
    if target == "bool":
        ok = all(isinstance(v, (bool, np.bool_)) for v in flat)
        if ok:
            return values.astype(bool)
    elif target in ("string", "binary"):
        kind = str if target == "string" else bytes
        bad = [v for v in flat if not (isinstance(v, kind) or v is None or (isinstance(v, float) and v != v))]
        if not bad:
            return values
        raise InvalidInput(
            f"{where}: expected {target}, got {type(bad[0]).__name__} values such as {bad[0]!r:.40}"
        )
    elif target != "datetime":
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) for v in flat)
        if ints:
            try:
                as_int = np.array(flat.tolist(), dtype=np.int64)
            except OverflowError:
                big = next(v for v in flat if not -(2**63) <= int(v) < 2**63)
                raise InvalidInput(
                    f"{where}: expected {target}, got integers outside int64's range such as {big!r:.40}"
                ) from None
            return cast_array(where, as_int.reshape(values.shape), target)
        nums = all(
            (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)))
            or v is None
            for v in flat
        )
        if nums:
            floats = np.array([np.nan if v is None else v for v in flat], dtype=np.float64)
            return cast_array(where, floats.reshape(values.shape), target)
    odd: object = next(
        (v for v in flat if not isinstance(v, (int, float)) or isinstance(v, bool)),
        flat[0] if flat.size else None,
    )
    got = "string" if isinstance(odd, str) else type(odd).__name__
    raise InvalidInput(f"{where}: expected {target}, got {got} values such as {odd!r:.40}")


def _cast_column(spec: ColumnSpec, s: Any) -> Any:
    """One column (a Series, or an object ndarray from records) to its spec's type."""
    import numpy as np
    import pandas as pd

    where, target = f"column {spec.name!r}", spec.dtype
    if target == "object":
        return s
    if isinstance(s, np.ndarray):
        if target != "datetime":
            return cast_array(where, s, target)
        s = pd.Series(s)
    dt = s.dtype
    if isinstance(dt, pd.CategoricalDtype):
        s = s.astype(object)
        dt = s.dtype
    if target == "string":
        if isinstance(dt, pd.StringDtype):
            return s
        return cast_array(where, s.to_numpy(), target)
    if target == "datetime":
        if isinstance(dt, pd.DatetimeTZDtype) or dt.kind == "M":
            return s
        kind = pd.api.types.infer_dtype(s, skipna=True)
        if kind in ("datetime", "datetime64", "date", "string"):
            try:
                return pd.to_datetime(s, format="ISO8601" if kind == "string" else None)
            except (ValueError, TypeError):
                pass
        raise InvalidInput(
            f"{where}: expected datetime (or ISO 8601 strings), got {kind} values such as {_sample(s)}"
        )
    if not isinstance(dt, np.dtype):  # pandas' nullable types: Int64, Float64, boolean, str …
        if isinstance(dt, pd.StringDtype):
            values = s.to_numpy(dtype=object)
        elif s.isna().any():
            numeric = pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_bool_dtype(dt)
            if not (numeric and target in _MANTISSA):
                raise InvalidInput(
                    f"{where}: expected {target}, got missing values (NA), which it cannot hold"
                )
            values = s.to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = s.to_numpy(dtype=getattr(dt, "numpy_dtype", object))
        return cast_array(where, values, target)
    return cast_array(where, s.to_numpy(), target)


class InputEnforcer:
    """Check and cast model input against a schema; compiled once per loaded model.

    .. versionadded:: 0.1
    """

    def __init__(self, schema: Schema, *, extra_columns: ExtraColumns = "drop") -> None:
        if extra_columns not in ("drop", "reject"):
            raise InvalidInput(f"extra_columns {extra_columns!r}: expected 'drop' or 'reject'")
        self.schema = schema
        self.extra_columns = extra_columns
        self._columns = schema.columns
        self._names = schema.names
        self._shaped = any(c.shape is not None for c in schema.columns or ())
        self._known = frozenset(self._names)
        self._index: Any = None
        self._fast: list[Callable[[Any], bool]] = []

    def _compile(self) -> None:
        """Build the fast-path checks once, on first use (pandas is imported only then)."""
        import numpy as np
        import pandas as pd

        fast: list[Callable[[Any], bool]] = []
        for c in self._columns or ():
            if c.dtype == "string":
                fast.append(lambda d: isinstance(d, pd.StringDtype))
            elif c.dtype == "datetime":
                fast.append(lambda d: isinstance(d, pd.DatetimeTZDtype) or d.kind == "M")
            elif c.dtype == "object":
                fast.append(lambda d: True)
            elif c.dtype == "binary":
                fast.append(lambda d: False)
            else:
                want = np.dtype(c.dtype)
                fast.append(lambda d, want=want: d == want)  # type: ignore[misc]
        self._fast = fast
        self._index = pd.Index(self._names)  # set last: it marks the checks as ready (threads)

    def __call__(self, data: object) -> Any:
        if self.schema.tensor is not None:
            return self._tensor(data, self.schema.tensor)
        if self._shaped:
            return self._tensors(data)
        return self._frame(data)

    # ---------------------------------------------------------------- columns
    def _frame(self, data: object) -> Any:
        import numpy as np
        import pandas as pd

        if self._index is None:
            self._compile()
        if isinstance(data, pd.DataFrame):
            if data.columns.equals(self._index) and all(
                ok(d) for ok, d in zip(self._fast, data.dtypes.tolist(), strict=True)
            ):
                return data  # the common case: nothing to check further, nothing copied
            labels = [str(c) for c in data.columns]
            frame = data if labels == list(data.columns) else data.set_axis(labels, axis=1)
            return self._assemble(labels, frame.__getitem__, index=frame.index)
        if isinstance(data, np.ndarray):
            return self._from_array(data)
        if isinstance(data, Mapping) and data and all(is_scalar(v) for v in data.values()):
            data = [data]  # one record
        if isinstance(data, list) and data and all(isinstance(r, Mapping) for r in data):
            return self._from_records(data)
        if isinstance(data, Mapping) and data:
            return self._from_columns(data)
        frame = as_data(data)
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(f"input: expected a table with columns {', '.join(self._names)}")
        return self._frame(frame)

    def _from_columns(self, data: Mapping[Any, Any]) -> Any:
        """A dict of columns: every value a list (tuple, 1-D array, Series) of one common length."""
        import numpy as np
        import pandas as pd

        columns: dict[str, Any] = {}
        first: tuple[str, int] | None = None
        for key, value in data.items():
            name = str(key)
            if is_scalar(value) or not isinstance(value, (list, tuple, np.ndarray, pd.Series)):
                raise InvalidInput(
                    f"column {name!r}: expected a list of values, got {type(value).__name__} {value!r:.40}; "
                    "a dict is either columns (every value a list, all of one length) or one row "
                    "(every value a single value)"
                )
            if isinstance(value, np.ndarray) and value.ndim != 1:
                raise InvalidInput(
                    f"column {name!r}: expected a list of values, got an array of shape {value.shape}"
                )
            columns[name] = _objects(value)
            if first is None:
                first = (name, len(columns[name]))
            elif len(columns[name]) != first[1]:
                raise InvalidInput(
                    f"column {name!r} has {len(columns[name])} values but column {first[0]!r} has "
                    f"{first[1]}; every column of a dict must have the same length"
                )
        return self._assemble(list(columns), columns.__getitem__)

    def _from_array(self, array: Any) -> Any:
        if array.ndim == 1 and len(self._names) == array.shape[0]:
            array = array.reshape(1, -1)
        if array.ndim != 2 or array.shape[1] != len(self._names):
            raise InvalidInput(
                f"input: expected an array of shape (n, {len(self._names)}) for columns "
                f"{', '.join(self._names)}, got shape {array.shape}"
            )
        if array.dtype.kind == "U":
            array = array.astype(object)
        return self._assemble(list(self._names), lambda n: array[:, self._names.index(n)])

    def _from_records(self, records: list[Any]) -> Any:
        """Rows as dicts, straight to one array per column (no intermediate DataFrame)."""
        keys: dict[str, None] = {}
        for record in records:
            keys.update(dict.fromkeys(record))
        labels = [str(k) for k in keys]
        absent = object()

        def column(name: str) -> Any:
            values = [r.get(name, absent) for r in records]
            if any(v is absent for v in values):
                i = next(i for i, v in enumerate(values) if v is absent)
                raise InvalidInput(f"column {name!r} is missing from record {i}")
            return _objects(values)

        return self._assemble(labels, column)

    def _assemble(self, labels: list[str], get: Callable[[str], Any], *, index: Any = None) -> Any:
        """Check names against the signature, cast each column, build one DataFrame."""
        import pandas as pd

        if len(set(labels)) != len(labels):
            dup = next(x for x in labels if labels.count(x) > 1)
            raise InvalidInput(f"input: column {dup!r} appears more than once")
        present = set(labels)
        for c in self._columns or ():
            if c.name not in present and not c.optional:
                have = ", ".join(repr(x) for x in labels[:10]) or "none"
                more = f" and {len(labels) - 10} more" if len(labels) > 10 else ""
                raise InvalidInput(
                    f"column {c.name!r} is missing (expected {c.dtype}); the input has {have}{more}"
                )
        if self.extra_columns == "reject":
            extra = [x for x in labels if x not in self._known]
            if extra:
                raise InvalidInput(
                    f"input has columns the signature does not: {', '.join(repr(x) for x in extra[:20])} "
                    "(extra_columns='reject'; 'drop' ignores them)"
                )
        out = {}
        for c in self._columns or ():
            if c.name in present:
                values = _cast_column(c, get(c.name))
                out[c.name] = values.array if isinstance(values, pd.Series) else values
        return pd.DataFrame(out, index=index, copy=False)

    # ---------------------------------------------------------------- tensors
    def _tensor(self, data: object, spec: TensorSpec, *, where: str = "input") -> Any:
        import numpy as np
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            array = data.to_numpy()
        elif isinstance(data, Mapping):
            if len(data) != 1:
                raise InvalidInput(f"{where}: expected an array of shape {_shape(spec.shape)}, got a dict")
            array = as_array(where, next(iter(data.values())))
        else:
            array = as_array(where, data)
        if array.dtype.kind == "U":
            array = array.astype(object)
        array = cast_array(where, array, spec.dtype if spec.dtype != "string" else "string")
        shape = spec.shape
        if array.ndim == len(shape) - 1 and _matches(array.shape, shape[1:]):
            array = array[np.newaxis, ...]  # one example given without its batch dimension
        if array.ndim != len(shape) or not _matches(array.shape, shape):
            raise InvalidInput(f"{where}: expected shape {_shape(shape)}, got {_shape(array.shape)}")
        return array

    def _tensors(self, data: object) -> Any:
        from slipway.core import TensorSpec

        if not isinstance(data, Mapping):
            raise InvalidInput(f"input: expected a dict of arrays named {', '.join(self._names)}")
        out = {}
        for c in self._columns or ():
            if c.name not in data:
                if c.optional:
                    continue
                raise InvalidInput(
                    f"input {c.name!r} is missing (expected {c.dtype} of shape {_shape(c.shape or ())})"
                )
            spec = TensorSpec(dtype=c.dtype, shape=c.shape or (-1,))
            out[c.name] = self._tensor(data[c.name], spec, where=f"input {c.name!r}")
        extra = [k for k in data if k not in out and k not in set(self._names)]
        if extra and self.extra_columns == "reject":
            raise InvalidInput(f"input has arrays the signature does not: {', '.join(map(repr, extra))}")
        return out


def _objects(values: Any) -> Any:
    """Values as a 1-D object array: element types are checked one by one, never coerced by NumPy."""
    import numpy as np

    if isinstance(values, np.ndarray) and values.ndim == 1:
        return values.astype(object) if values.dtype.kind == "U" else values
    if hasattr(values, "to_numpy"):
        return values.to_numpy()
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):  # item by item: a list-valued cell stays one cell
        out[i] = v
    return out


def _matches(actual: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    return len(actual) == len(expected) and all(e in (-1, a) for a, e in zip(actual, expected, strict=False))


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
