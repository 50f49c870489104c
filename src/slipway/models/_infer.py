"""Signature inference from data, and the input example's JSON form.

Inputs are inferred from the input example (or, when there is none, from the training data):

- a DataFrame (or a list of records, or a dict of equal-length lists) gives one column per column,
  with a portable type: int64, int32, float64, float32, bool, string, binary, datetime, or
  ``object`` when the values have no single type (the column is then only required to be present);
  categories are strings;
- an ndarray gives one tensor whose first dimension is ``-1`` (any batch size);
- a dict of arrays with more than one dimension gives named tensors.

pandas and NumPy are imported inside the functions: this module is imported with the package.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from slipway.core import TENSOR_DTYPES, ColumnSpec, ParamSpec, Schema, Signature, TensorSpec
from slipway.errors import InvalidInput

__all__ = [
    "as_array",
    "as_data",
    "decode_example",
    "encode_example",
    "infer_schema",
    "infer_signature",
    "is_scalar",
]


def is_scalar(value: object) -> bool:
    """A single value (str and bytes included), not a list of them: a dict of these is one record."""
    return isinstance(value, (str, bytes, int, float, bool)) or value is None or not hasattr(value, "__len__")


def as_array(where: str, data: object) -> Any:
    """``np.asarray``, with a ragged or otherwise unreadable input refused by name."""
    import numpy as np

    try:
        return np.asarray(data)
    except (ValueError, TypeError, OverflowError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InvalidInput(
            f"{where}: could not be read as an array ({first}); "
            "nested lists must be rectangular, with one type of value"
        ) from None


def as_data(data: object) -> Any:
    """A DataFrame, an ndarray or a dict of ndarrays, from what users pass (records, dicts, lists)."""
    import numpy as np
    import pandas as pd

    if isinstance(data, (pd.DataFrame, np.ndarray)):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame()
    if isinstance(data, Mapping):
        if not data:
            raise InvalidInput("input: expected at least one column, got an empty dict")
        if all(is_scalar(v) for v in data.values()):
            return pd.DataFrame([dict(data)])  # one record
        arrays = {str(k): as_array(f"input {str(k)!r}", v) for k, v in data.items()}
        if all(a.ndim == 1 for a in arrays.values()) and len({len(a) for a in arrays.values()}) == 1:
            return pd.DataFrame({k: list(v) if isinstance(v, list) else v for k, v in data.items()})
        return arrays
    if isinstance(data, (list, tuple)):
        if not data:
            raise InvalidInput("input: expected at least one row, got an empty list")
        if all(isinstance(r, Mapping) for r in data):
            return pd.DataFrame(list(data))
        return as_array("input", data)
    raise InvalidInput(
        f"input: expected a DataFrame, an ndarray, a dict of columns or a list of records, "
        f"got {type(data).__module__}.{type(data).__qualname__}"
    )


def column_dtype(values: Any) -> str:
    """The portable type of a pandas Series (see the module docstring)."""
    import pandas as pd
    from pandas.api import types as pdt

    dt = values.dtype
    if isinstance(dt, pd.CategoricalDtype):
        inner = column_dtype(pd.Series(dt.categories))
        return "string" if inner in ("string", "object") else inner
    if isinstance(dt, pd.StringDtype):
        return "string"
    if isinstance(dt, pd.DatetimeTZDtype) or getattr(dt, "kind", "") == "M":
        return "datetime"
    if pdt.is_bool_dtype(dt):
        return "bool"
    if pdt.is_integer_dtype(dt):
        np_dt = getattr(dt, "numpy_dtype", dt)
        small = np_dt.itemsize <= 4 if np_dt.kind == "i" else np_dt.itemsize <= 2
        return "int32" if small else "int64"
    if pdt.is_float_dtype(dt):
        return "float32" if getattr(dt, "numpy_dtype", dt).itemsize <= 4 else "float64"
    if getattr(dt, "kind", "") == "O":
        kind = pdt.infer_dtype(values, skipna=True)
        return {
            "string": "string",
            "bytes": "binary",
            "integer": "int64",
            "floating": "float64",
            "mixed-integer-float": "float64",
            "boolean": "bool",
            "datetime": "datetime",
            "datetime64": "datetime",
        }.get(kind, "object")
    return "object"


def tensor_dtype(array: Any) -> str:
    import numpy as np

    dt = array.dtype
    if dt.kind == "U":
        return "string"
    if dt.kind == "O":
        flat = array.ravel()
        return "string" if flat.size and all(isinstance(v, str) for v in flat) else "object"
    if dt.name in TENSOR_DTYPES:
        return str(dt.name)
    if np.issubdtype(dt, np.floating) and dt.itemsize > 8:
        raise InvalidInput(f"tensor: dtype {dt.name} has no portable equivalent; cast to float64 first")
    return "object"


def _tensor(array: Any) -> TensorSpec:
    if array.ndim == 0:
        raise InvalidInput("tensor: expected at least one dimension (the batch), got a scalar")
    return TensorSpec(dtype=tensor_dtype(array), shape=(-1, *array.shape[1:]))


def infer_schema(data: object) -> Schema:
    """The schema of a DataFrame, ndarray, dict of arrays or list of records.

    .. versionadded:: 0.1
    """
    import numpy as np
    import pandas as pd

    frame: Any = as_data(data)
    if isinstance(frame, pd.DataFrame):
        if frame.columns.duplicated().any():
            raise InvalidInput(f"input: column names must be unique, got {list(frame.columns)}")
        return Schema(
            columns=tuple(
                ColumnSpec(name=str(name), dtype=column_dtype(frame.iloc[:, i]))
                for i, name in enumerate(frame.columns)
            )
        )
    if isinstance(frame, np.ndarray):
        return Schema(tensor=_tensor(frame))
    cols = []
    for name, arr in frame.items():
        t = _tensor(arr)
        cols.append(ColumnSpec(name=name, dtype=t.dtype, shape=t.shape))
    return Schema(columns=tuple(cols))


def output_schema(output: object) -> Schema:
    """The schema of what a model's method returned (a Series or list counts as one tensor)."""
    import numpy as np
    import pandas as pd

    if isinstance(output, pd.Series):
        output = output.to_numpy()
    elif isinstance(output, (list, tuple)):
        output = np.asarray(output)
    if isinstance(output, pd.DataFrame | np.ndarray | Mapping):
        return infer_schema(output)
    raise InvalidInput(f"model output: expected an array or a DataFrame, got {type(output).__name__}")


def infer_signature(
    model_input: object,
    model_output: object = None,
    *,
    probabilities: object = None,
    params: Mapping[str, object] | None = None,
) -> Signature:
    """A signature from example data (and optionally outputs, probabilities and param defaults).

    .. versionadded:: 0.1
    """
    specs = None
    if params:
        specs = tuple(_param_spec(k, v) for k, v in params.items())
    return Signature(
        inputs=infer_schema(model_input),
        outputs=None if model_output is None else output_schema(model_output),
        probabilities=None if probabilities is None else output_schema(probabilities),
        params=specs,
    )


def _param_spec(name: str, default: object) -> ParamSpec:
    if isinstance(default, bool):
        return ParamSpec(name=name, dtype="bool", default=default)
    if isinstance(default, int):
        return ParamSpec(name=name, dtype="int64", default=default)
    if isinstance(default, float):
        return ParamSpec(name=name, dtype="float64", default=default)
    if isinstance(default, str):
        return ParamSpec(name=name, dtype="string", default=default)
    return ParamSpec(name=name, dtype="object", default=default)


# ------------------------------------------------------------------ the input example's JSON form


def _json_column(name: str, values: Any, dtype: str) -> list[Any]:
    import pandas as pd

    if dtype == "datetime":
        return [None if pd.isna(v) else pd.Timestamp(v).isoformat() for v in values]
    if dtype == "binary":
        return [None if v is None else base64.b64encode(v).decode() for v in values]
    if dtype in ("float32", "float64"):
        return [None if v != v else float(v) for v in values.tolist()]  # NaN -> null
    out = [None if is_scalar(v) and pd.isna(v) else v for v in values.tolist()]
    if dtype == "object":
        from slipway.models._manifest import check_json

        check_json(f"input example column {name!r}", out)
    return out


def encode_example(data: object) -> dict[str, Any]:
    """A JSON-compatible form of an input example that decodes to the same types."""
    import numpy as np
    import pandas as pd

    frame: Any = as_data(data)
    if isinstance(frame, pd.DataFrame):
        schema = infer_schema(frame)
        dtypes = {c.name: c.dtype for c in schema.columns or ()}
        return {
            "type": "dataframe",
            "columns": {
                str(n): _json_column(str(n), frame.iloc[:, i], dtypes[str(n)])
                for i, n in enumerate(frame.columns)
            },
            "dtypes": dtypes,
        }
    if isinstance(frame, np.ndarray):
        return {"type": "ndarray", **_encode_array(frame)}
    return {"type": "tensors", "tensors": {k: _encode_array(v) for k, v in frame.items()}}


def _encode_array(array: Any) -> dict[str, Any]:
    dtype = tensor_dtype(array)
    values = array.tolist()
    if dtype == "object":
        from slipway.models._manifest import check_json

        check_json("input example", values)
    if dtype.startswith("float"):
        values = _nan_to_none(values)
    return {"dtype": dtype, "shape": list(array.shape), "data": values}


def _nan_to_none(values: Any) -> Any:
    if isinstance(values, list):
        return [_nan_to_none(v) for v in values]
    return None if values != values else values


def decode_example(doc: Mapping[str, Any]) -> Any:
    """The input example back as a DataFrame, an ndarray or a dict of ndarrays."""
    import numpy as np
    import pandas as pd

    kind = doc.get("type")
    if kind == "dataframe":
        dtypes = doc.get("dtypes", {})
        cols = {}
        for name, values in doc["columns"].items():
            dtype = dtypes.get(name, "object")
            if dtype in ("int32", "int64", "float32", "float64", "bool"):
                cols[name] = pd.Series(np.array([np.nan if v is None else v for v in values], dtype=dtype))
            elif dtype == "datetime":
                cols[name] = pd.Series(pd.to_datetime(values, format="ISO8601"))
            elif dtype == "binary":
                cols[name] = pd.Series(
                    [None if v is None else base64.b64decode(v) for v in values], dtype=object
                )
            elif dtype == "object":
                cols[name] = pd.Series(values, dtype=object)
            else:
                cols[name] = pd.Series(values)
        return pd.DataFrame(cols)
    if kind == "ndarray":
        return _decode_array(doc)
    if kind == "tensors":
        return {k: _decode_array(v) for k, v in doc["tensors"].items()}
    raise InvalidInput(f"input example: unknown type {kind!r}; expected dataframe, ndarray or tensors")


def _decode_array(doc: Mapping[str, Any]) -> Any:
    import numpy as np

    dtype = doc["dtype"]
    np_dtype = object if dtype in ("string", "object") else dtype
    data = doc["data"]
    if dtype.startswith("float"):
        data = _none_to_nan(data)
    return np.array(data, dtype=np_dtype).reshape(doc["shape"])


def _none_to_nan(values: Any) -> Any:
    if isinstance(values, list):
        return [_none_to_nan(v) for v in values]
    return float("nan") if values is None else values
