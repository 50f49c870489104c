"""Request bodies to checked model input, and model output to response bodies.

Two wire formats reach the same model: the Open Inference Protocol v2 (JSON, and Triton's binary
tensor extension, which ``tritonclient`` uses by default) and MLflow's ``/invocations`` (the
``dataframe_split``, ``dataframe_records``, ``instances`` and ``inputs`` keys, or CSV). Each request is
decoded into a :class:`Payload` (one checked, cast array per signature input) before it joins a
batch, so a bad request fails alone with a 400 naming the input, and a batch is assembled from
payloads that already match the signature (the model's own enforcement then takes its fast path).
Decoding raises :class:`InvalidInput` and nothing else, whatever the body holds (what NumPy or
pandas raise for a case no check foresaw becomes one too), and a request of no rows is refused.

The casting rules are the models' (:func:`slipway.models.cast_array`): one place decides what is a
safe cast. A value is never coerced across kinds: a string is not a number, 1.5 is not an integer,
a JSON boolean is not 1. In OIP JSON, ``null`` in a floating-point tensor is a missing value (NaN),
which is also how a NaN output is written (JSON has no NaN).
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import orjson

from slipway.errors import InvalidInput
from slipway.models import cast_array

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from slipway.core import Schema

__all__ = ["BY_NUMPY", "DATATYPES", "InputCodec", "Payload", "datatype_of"]

# OIP datatype -> (numpy dtype name, the element kinds a JSON array of it may hold).
DATATYPES: dict[str, tuple[str, str]] = {
    "BOOL": ("bool", "b"),
    "UINT8": ("uint8", "iu"),
    "UINT16": ("uint16", "iu"),
    "UINT32": ("uint32", "iu"),
    "UINT64": ("uint64", "iu"),
    "INT8": ("int8", "iu"),
    "INT16": ("int16", "iu"),
    "INT32": ("int32", "iu"),
    "INT64": ("int64", "iu"),
    "FP16": ("float16", "iuf"),
    "FP32": ("float32", "iuf"),
    "FP64": ("float64", "iuf"),
    "BYTES": ("object", "UO"),
}
BY_NUMPY = {v[0]: k for k, v in DATATYPES.items() if k != "BYTES"}  # numpy dtype name -> OIP
_SIGNATURE_DATATYPE = {
    "bool": "BOOL",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "string": "BYTES",
    "binary": "BYTES",
    "datetime": "BYTES",
    "object": "BYTES",
}


def datatype_of(dtype: str) -> str:
    """The OIP datatype of a signature dtype (strings, binary, datetimes and objects are BYTES)."""
    return _SIGNATURE_DATATYPE.get(dtype, "BYTES")


@dataclass(slots=True)
class Payload:
    """One request's rows, checked against the signature: ready to be batched with others."""

    rows: int
    data: Any  # dict[str, ndarray] (columns or named tensors) or ndarray (one tensor)
    id: str | None = None
    outputs: tuple[str, ...] | None = None  # requested output names; None = the defaults
    binary_outputs: frozenset[str] = frozenset()  # outputs the client wants as binary tensor data
    params: dict[str, Any] = field(default_factory=dict)


Kind = Literal["columns", "tensor", "tensors", "any"]


class InputCodec:
    """Decode request bodies for one model signature; compiled once per loaded model version."""

    def __init__(
        self,
        schema: Schema | None,
        *,
        extra_columns: Literal["drop", "reject"] = "drop",
        finite: bool = False,
    ) -> None:
        self.schema = schema
        self.extra_columns = extra_columns
        # the model refuses NaN and infinity: a tensor holding one is the caller's 400, found here
        self.finite = finite
        self.kind: Kind
        if schema is None:
            self.kind = "any"
        elif schema.tensor is not None:
            self.kind = "tensor"
        elif any(c.shape is not None for c in schema.columns or ()):
            self.kind = "tensors"
        else:
            self.kind = "columns"
        self.columns = tuple(schema.columns or ()) if schema is not None else ()
        self._names = tuple(c.name for c in self.columns)
        self._by_name = {c.name: c for c in self.columns}

    @property
    def numeric_tensor(self) -> bool:
        """Whether requests are one tensor of numbers (not text, objects, dates…)."""
        tensor = self.schema.tensor if self.schema is not None else None
        if tensor is None:
            return False
        try:
            return np.dtype(tensor.dtype).kind in "fiub"
        except TypeError:  # "string", "binary", "datetime": no NumPy dtype of that name
            return False

    # ------------------------------------------------------------------ metadata
    def metadata_inputs(self) -> list[dict[str, Any]]:
        """The OIP ``$metadata_tensor`` list: one per column (shape ``[-1]``) or per tensor."""
        if self.schema is None:
            return []
        if self.schema.tensor is not None:
            t = self.schema.tensor
            return [{"name": "input-0", "datatype": datatype_of(t.dtype), "shape": list(t.shape)}]
        return [
            {"name": c.name, "datatype": datatype_of(c.dtype), "shape": list(c.shape or (-1,))}
            for c in self.columns
        ]

    # ------------------------------------------------------------------ OIP v2
    def decode_v2(self, body: bytes, header_length: int | None = None) -> Payload:
        """An OIP v2 inference request (JSON, or a JSON header plus binary tensors).

        Raises:
            InvalidInput: for any request that cannot be decoded; it raises nothing else.
        """
        try:
            payload = self._decode_v2(body, header_length)
        except InvalidInput:
            raise
        except _UNDECODABLE as e:
            raise _undecodable(e) from e
        return self._accepted(payload)

    def _accepted(self, payload: Payload) -> Payload:
        """The checks every decoded request gets, whatever its protocol."""
        if self.finite and self.kind == "tensor":
            _all_finite("input", payload.data)
        return _with_rows(payload)

    def _decode_v2(self, body: bytes, header_length: int | None) -> Payload:
        raw = body if header_length is None else body[:header_length]
        if header_length is not None and not 0 <= header_length <= len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length {header_length}: expected the JSON header's length, "
                f"from 0 to the body's {len(body)} bytes"
            )
        doc = _json(raw)
        if not isinstance(doc, dict):
            raise InvalidInput("request body: expected a JSON object with an 'inputs' list")
        inputs = doc.get("inputs")
        if not isinstance(inputs, list) or not inputs:
            raise InvalidInput("'inputs': expected a non-empty list of tensors")
        rid = _request_id(doc.get("id"))
        params = _parameters("request parameters", doc.get("parameters"))
        binary = memoryview(body)[header_length:] if header_length is not None else None
        # orjson reads JSON true/false as bool, which NumPy then silently turns into 1 and 1.0 in a
        # numeric array; only a request with a boolean array element (not a parameter's value, as
        # in tritonclient's "binary_data": false) needs its data searched for one
        bools = (b"true" in raw or b"false" in raw) and _ARRAY_BOOL.search(raw) is not None
        offset = 0
        tensors: dict[str, np.ndarray[Any, Any]] = {}
        for i, spec in enumerate(inputs):
            if not isinstance(spec, dict):
                raise InvalidInput(f"inputs[{i}]: expected an object with name, shape, datatype and data")
            name = spec.get("name")
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"inputs[{i}].name: expected a non-empty string")
            if name in tensors:
                raise InvalidInput(f"input {name!r} appears more than once")
            where = f"input {name!r}"
            shape = _request_shape(where, spec.get("shape"))
            datatype = spec.get("datatype")
            if not isinstance(datatype, str) or datatype not in DATATYPES:
                raise InvalidInput(f"{where}: datatype {datatype!r:.40} is not one of {', '.join(DATATYPES)}")
            size = _binary_size(where, spec.get("parameters"))
            if size is not None:
                if binary is None:
                    raise InvalidInput(
                        f"{where}: binary_data_size is given but the request has no "
                        "Inference-Header-Content-Length (no binary part)"
                    )
                if offset + size > len(binary):
                    raise InvalidInput(
                        f"{where}: binary_data_size {size} runs past the end of the request body"
                    )
                tensors[name] = _from_binary(where, binary[offset : offset + size], datatype, shape)
                offset += size
            else:
                if "data" not in spec:
                    raise InvalidInput(f"{where}: 'data' is missing")
                tensors[name] = _from_json(where, spec["data"], datatype, shape, bools=bools)
        if binary is not None and offset != len(binary):
            raise InvalidInput(
                f"request body: {len(binary) - offset} bytes after the binary tensors that no input claims"
            )
        outputs, binary_outputs = _requested_outputs(doc.get("outputs"), params)
        payload = self._from_tensors(tensors)
        payload.id = rid
        payload.outputs = outputs
        payload.binary_outputs = binary_outputs
        payload.params = params
        return payload

    def _from_tensors(self, tensors: dict[str, np.ndarray[Any, Any]]) -> Payload:
        if self.kind == "any":
            if len(tensors) == 1:
                array = next(iter(tensors.values()))
                return Payload(rows=_rows(array), data=array)
            return Payload(rows=_common_rows(tensors), data=tensors)
        if self.kind == "tensor":
            assert self.schema is not None
            spec = self.schema.tensor
            assert spec is not None
            if len(tensors) != 1:
                raise InvalidInput(
                    f"inputs: this model takes one tensor, got {len(tensors)} ({', '.join(tensors)})"
                )
            ((name, array),) = tensors.items()
            array = _check_tensor(f"input {name!r}", array, spec.dtype, spec.shape)
            return Payload(rows=_rows(array), data=array)
        if self.kind == "tensors":
            out = {}
            for c in self.columns:
                if c.name not in tensors:
                    if c.optional:
                        continue
                    raise InvalidInput(
                        f"input {c.name!r} is missing (expected {datatype_of(c.dtype)} of shape "
                        f"{list(c.shape or (-1,))})"
                    )
                out[c.name] = _check_tensor(f"input {c.name!r}", tensors[c.name], c.dtype, c.shape or (-1,))
            self._extra([k for k in tensors if k not in self._by_name])
            return Payload(rows=_common_rows(out), data=out)
        # columns: one 1-D tensor per column, or one 2-D tensor holding every column in order
        if len(tensors) == 1:
            ((name, array),) = tensors.items()
            if name not in self._by_name and array.ndim == 2:
                if array.shape[1] != len(self.columns):
                    raise InvalidInput(
                        f"input {name!r}: expected shape [-1, {len(self.columns)}] (one value per column: "
                        f"{', '.join(self._names)}), got {list(array.shape)}"
                    )
                return self._columns_from(
                    {c.name: array[:, j] for j, c in enumerate(self.columns)}, where_of=lambda n: n
                )
        columns = {}
        for name, array in tensors.items():
            if array.ndim == 2 and array.shape[1] == 1:
                array = array[:, 0]
            elif array.ndim != 1:
                raise InvalidInput(
                    f"input {name!r}: expected a column of shape [-1], got {list(array.shape)}"
                )
            columns[name] = array
        return self._columns_from(columns, where_of=lambda n: n)

    def _columns_from(self, columns: Mapping[str, Any], *, where_of: Any) -> Payload:
        """Check names, cast each column to its signature type, and check the lengths agree."""
        if columns and all(len(v) == 0 for v in columns.values()):
            raise InvalidInput("request: expected at least one row")  # before any cast's complaint
        rows: int | None = None
        first = ""
        out: dict[str, Any] = {}
        for c in self.columns:
            values = columns.get(c.name)
            if values is None:
                if c.optional:
                    continue
                have = ", ".join(repr(x) for x in list(columns)[:10]) or "none"
                raise InvalidInput(
                    f"input {c.name!r} is missing (expected {c.dtype}); the request has {have}"
                )
            values = _cast_column(f"input {where_of(c.name)!r}", values, c.dtype)
            if rows is None:
                rows, first = len(values), c.name
            elif len(values) != rows:
                raise InvalidInput(
                    f"input {c.name!r} has {len(values)} values but input {first!r} has {rows}; "
                    "every column must have one value per row"
                )
            out[c.name] = values
        self._extra([k for k in columns if k not in self._by_name])
        if not rows:
            raise InvalidInput("request: expected at least one row")
        return Payload(rows=rows, data=out)

    def _extra(self, extra: list[str]) -> None:
        if extra and self.extra_columns == "reject":
            raise InvalidInput(
                f"inputs the signature does not have: {', '.join(repr(x) for x in extra[:20])} "
                "(this deployment rejects extra inputs)"
            )

    # ------------------------------------------------------------------ MLflow /invocations
    def decode_invocations(self, body: bytes, content_type: str) -> Payload:
        """MLflow's scoring body: one of its four JSON keys (plus optional ``params``), or CSV.

        Raises:
            InvalidInput: for any body that cannot be decoded; it raises nothing else.
        """
        try:
            payload = self._decode_invocations(body, content_type)
        except InvalidInput:
            raise
        except _UNDECODABLE as e:
            raise _undecodable(e) from e
        return self._accepted(payload)

    def _decode_invocations(self, body: bytes, content_type: str) -> Payload:
        media = content_type.split(";", 1)[0].strip().lower()
        if media == "text/csv":
            return self._from_csv(body)
        if media not in ("application/json", ""):
            raise InvalidInput(f"Content-Type {content_type!r}: expected application/json or text/csv")
        doc = _json(body)
        if not isinstance(doc, dict):
            raise InvalidInput(
                "request body: expected a JSON object with one of the keys dataframe_split, "
                "dataframe_records, instances, inputs"
            )
        keys = [k for k in ("dataframe_split", "dataframe_records", "instances", "inputs") if k in doc]
        unknown = sorted(set(doc) - {"dataframe_split", "dataframe_records", "instances", "inputs", "params"})
        if len(keys) != 1 or unknown:
            got = ", ".join(repr(k) for k in doc) or "none"
            raise InvalidInput(
                "request body: expected exactly one of the keys dataframe_split, dataframe_records, "
                f"instances, inputs (and optionally params); got {got}"
            )
        params = _parameters("params", doc.get("params"))
        key = keys[0]
        value = doc[key]
        if key == "dataframe_split":
            payload = self._from_split(value)
        elif key == "dataframe_records":
            payload = self._from_records("dataframe_records", value)
        else:
            payload = self._from_instances(key, value)
        payload.params = params
        return payload

    def _from_split(self, value: object) -> Payload:
        if not isinstance(value, dict):
            raise InvalidInput("dataframe_split: expected an object with 'columns' and 'data'")
        data = value.get("data")
        cols = value.get("columns")
        if not isinstance(data, list) or not data:
            raise InvalidInput("dataframe_split.data: expected a non-empty list of rows")
        if cols is None:
            if self.kind == "columns":
                raise InvalidInput("dataframe_split.columns: expected the list of column names")
            return self._positional("dataframe_split.data", data)
        if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
            raise InvalidInput("dataframe_split.columns: expected a list of column names")
        _no_duplicates("dataframe_split.columns", cols)
        for i, row in enumerate(data):
            if not isinstance(row, list) or len(row) != len(cols):
                raise InvalidInput(
                    f"dataframe_split.data[{i}]: expected a list of {len(cols)} values (one per column)"
                )
        columns = {c: _objects([row[j] for row in data]) for j, c in enumerate(cols)}
        return self._from_named(columns, "dataframe_split")

    def _from_records(self, where: str, value: object) -> Payload:
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(r, dict) for r in value):
            raise InvalidInput(f"{where}: expected a non-empty list of records (objects)")
        keys: dict[str, None] = {}
        for record in value:
            keys.update(dict.fromkeys(record))
        columns = {}
        for k in keys:
            missing = next((i for i, r in enumerate(value) if k not in r), None)
            if missing is not None:
                raise InvalidInput(f"{where}[{missing}]: column {k!r} is missing from this record")
            columns[k] = _objects([r[k] for r in value])
        return self._from_named(columns, where)

    def _from_instances(self, key: str, value: object) -> Payload:
        if isinstance(value, dict):  # columns (or named tensors) by name
            if self.kind in ("columns", "any") or self.kind == "tensors":
                arrays = {str(k): v for k, v in value.items()}
                if self.kind == "tensors":
                    return self._from_tensors({k: _natural(f"{key}.{k}", v) for k, v in arrays.items()})
                if self.kind == "any":
                    return self._from_tensors({k: _natural(f"{key}.{k}", v) for k, v in arrays.items()})
                for k, v in arrays.items():
                    if not isinstance(v, list):
                        raise InvalidInput(f"{key}.{k}: expected a list of values")
                return self._from_named({k: _objects(v) for k, v in arrays.items()}, key)
            raise InvalidInput(f"{key}: this model takes one tensor; send a (nested) list")
        if not isinstance(value, list) or not value:
            raise InvalidInput(f"{key}: expected a non-empty list")
        if all(isinstance(r, dict) for r in value):
            if self.kind == "tensors":
                names = {k for r in value for k in r}
                return self._from_tensors(
                    {n: _natural(f"{key}.{n}", [r.get(n) for r in value]) for n in names}
                )
            return self._from_records(key, value)
        return self._positional(key, value)

    def _positional(self, where: str, rows: list[Any]) -> Payload:
        """Rows as lists of values in the signature's column order, or one tensor."""
        if self.kind in ("tensor", "any"):
            return self._from_tensors({"input-0": _natural(where, rows)})
        if self.kind == "tensors":
            raise InvalidInput(f"{where}: this model takes named inputs; send an object of name -> values")
        n = len(self.columns)
        for i, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != n:
                raise InvalidInput(f"{where}[{i}]: expected a list of {n} values ({', '.join(self._names)})")
        columns = {c.name: _objects([row[j] for row in rows]) for j, c in enumerate(self.columns)}
        return self._columns_from(columns, where_of=lambda name: name)

    def _from_named(self, columns: dict[str, Any], where: str) -> Payload:
        if self.kind == "columns":
            return self._columns_from(columns, where_of=lambda n: n)
        if self.kind == "any":
            import pandas as pd

            frame = pd.DataFrame(columns)
            return Payload(rows=len(frame), data=frame)
        return self._from_tensors({k: _natural(f"{where}.{k}", list(v)) for k, v in columns.items()})

    def _from_csv(self, body: bytes) -> Payload:
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise InvalidInput(f"CSV body: not UTF-8 text ({e.reason} at byte {e.start})") from None
        reader = csv.reader(io.StringIO(text))
        try:
            header = next(reader)
        except StopIteration:
            raise InvalidInput("CSV body: expected a header row and at least one data row") from None
        except csv.Error as e:
            raise InvalidInput(f"CSV body: {e}") from None
        _no_duplicates("CSV header", header)
        rows = []
        try:
            for row in reader:
                if not row:
                    continue
                if len(row) != len(header):
                    raise InvalidInput(
                        f"CSV line {reader.line_num}: expected {len(header)} fields (one per header "
                        f"column), got {len(row)}"
                    )
                rows.append(row)
        except csv.Error as e:
            raise InvalidInput(f"CSV body: {e}") from None
        if not rows:
            raise InvalidInput("CSV body: expected at least one data row after the header")
        columns = {}
        for j, name in enumerate(header):
            target = self._by_name[name].dtype if name in self._by_name else None
            columns[name] = _parse_csv_column(f"CSV column {name!r}", [r[j] for r in rows], target)
        return self._from_named(columns, "CSV")


# ---------------------------------------------------------------------- decoding helpers
_ARRAY_BOOL = re.compile(rb"[\[,]\s*(?:true|false)")

# What NumPy, pandas and the casts raise for input the checks above did not foresee ("maximum
# supported dimension", "array is too big", a MemoryError): still the request's fault, so a 400.
# RecursionError is a RuntimeError, but only a request's nesting can cause one here.
_UNDECODABLE = (ValueError, TypeError, OverflowError, MemoryError, RecursionError)

# The most dimensions a request's tensor may have (NumPy's own limit is 64); the largest dimension,
# which is also the most values a shape's non-zero dimensions may describe; the longest OIP id.
_MAX_DIMENSIONS = 32
_MAX_DIMENSION = 2**31 - 1
_MAX_ID_LENGTH = 256


def _undecodable(error: BaseException) -> InvalidInput:
    detail = str(error).splitlines()[0][:200] if str(error) else ""
    return InvalidInput(
        f"request body: could not be decoded ({type(error).__name__}{': ' if detail else ''}{detail})"
    )


def _all_finite(where: str, array: Any) -> None:
    if array.dtype.kind in "fc" and not _ALL(np.isfinite(array), axis=None):
        raise InvalidInput(f"{where}: NaN or infinite values; this model takes only finite numbers")


_ALL = np.logical_and.reduce  # ndarray.all() without its Python wrapper


def _with_rows(payload: Payload) -> Payload:
    """Refuse a request of no rows: the model would raise, and it is no fault of the model's."""
    if payload.rows < 1:
        raise InvalidInput("request: expected at least one row")
    return payload


def _request_id(value: object) -> str | None:
    """The OIP ``id``, kept exactly as sent (``""`` too), or None when there is none.

    It is echoed in the body and in the ``x-request-id`` header, so it must be text a header can
    carry: uvicorn drops the connection over a control character, or, with h11, over a leading or
    trailing space.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"'id': expected a string, got {type(value).__name__}")
    if len(value) > _MAX_ID_LENGTH or not value.isprintable() or value != value.strip(" "):
        raise InvalidInput(
            f"'id' {value!r:.60}: expected at most {_MAX_ID_LENGTH} printable characters, without "
            "control characters or leading or trailing spaces (it is echoed as x-request-id)"
        )
    return value


def _json(raw: bytes | memoryview) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise InvalidInput(f"request body: not valid JSON ({str(e).splitlines()[0]})") from None


def _parameters(where: str, value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: expected an object of name -> value, got {type(value).__name__}")
    return value


def _no_duplicates(where: str, names: Sequence[str]) -> None:
    """Two columns of one name would silently become one (the last)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise InvalidInput(f"{where}: column {name!r} appears more than once")
        seen.add(name)


def _request_shape(where: str, shape: object) -> tuple[int, ...]:
    """A tensor's shape, or an InvalidInput naming what is wrong with it."""
    if isinstance(shape, list) and len(shape) <= _MAX_DIMENSIONS:  # one pass for a good shape
        size = 1
        for d in shape:
            if type(d) is not int or not 0 <= d <= _MAX_DIMENSION:
                break
            if d:
                size *= d
        else:
            if size <= _MAX_DIMENSION:
                return tuple(shape)
    return _checked_shape(where, shape)


def _checked_shape(where: str, shape: object) -> tuple[int, ...]:
    """The checks of :func:`_request_shape` one by one, for the message that names the first failed."""
    if not isinstance(shape, list) or not all(type(d) is int for d in shape):
        raise InvalidInput(f"{where}: shape {shape!r:.60}: expected a list of integers")
    if len(shape) > _MAX_DIMENSIONS:
        raise InvalidInput(f"{where}: shape of {len(shape)} dimensions; expected at most {_MAX_DIMENSIONS}")
    shown = f"{shape!s:.100}"
    if any(d < 0 for d in shape):
        raise InvalidInput(f"{where}: shape {shown}: dimensions must not be negative")
    if any(d > _MAX_DIMENSION for d in shape):
        raise InvalidInput(f"{where}: shape {shown}: each dimension must be at most {_MAX_DIMENSION}")
    if math.prod(d for d in shape if d) > _MAX_DIMENSION:  # NumPy refuses even an empty one
        raise InvalidInput(
            f"{where}: shape {shown}: its non-zero dimensions multiply to more than "
            f"{_MAX_DIMENSION}; expected at most {_MAX_DIMENSION} values"
        )
    return tuple(shape)


def _binary_size(where: str, parameters: object) -> int | None:
    if not isinstance(parameters, dict) or "binary_data_size" not in parameters:
        return None
    size = parameters["binary_data_size"]
    if type(size) is not int or size < 0:
        raise InvalidInput(f"{where}: binary_data_size {size!r}: expected a non-negative integer")
    return size


def _from_json(
    where: str, data: object, datatype: str, shape: tuple[int, ...], *, bools: bool = True
) -> np.ndarray[Any, Any]:
    """A JSON ``data`` list (flat or nested) as an array of ``datatype``'s dtype, or a named error.

    ``null`` in a floating-point tensor is a missing value (NaN), as in the models' rules; a JSON
    boolean is never a number, and a string never anything but BYTES.
    """
    dtype, kinds = DATATYPES[datatype]
    if not isinstance(data, list):
        raise InvalidInput(f"{where}: 'data' must be a list, got {type(data).__name__}")
    expected = math.prod(shape)
    try:
        array = np.asarray(data, dtype=object if datatype == "BYTES" else None)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(f"{where}: data could not be read as {datatype} ({_RECTANGULAR})") from None
    if datatype == "BYTES":
        bad = next((v for v in array.reshape(-1) if not isinstance(v, str)), None)
        if isinstance(bad, list):  # NumPy keeps the rows of ragged nested lists of objects as lists
            raise InvalidInput(f"{where}: data could not be read as BYTES ({_RECTANGULAR})")
        if bad is not None:
            raise InvalidInput(f"{where}: expected BYTES as strings, got {type(bad).__name__} {bad!r:.40}")
    if array.size != expected:
        raise InvalidInput(f"{where}: shape {list(shape)} holds {expected} values, but data has {array.size}")
    if datatype == "BYTES":
        return array.reshape(shape)
    if array.size == 0:
        return np.empty(shape, dtype=dtype)  # [] reads as float64, which is no BOOL or INT8
    if array.dtype.kind == "O":
        # nulls, or values of several kinds (numbers and strings, say): the models' rules decide
        # element by element (null is NaN for a float, refused for an integer or a bool)
        array = cast_array(where, array, dtype)
    elif array.dtype.kind not in kinds:
        wide = _wide_ints(where, data, array, datatype)
        if wide is None:
            odd = _odd(array, datatype)
            raise InvalidInput(f"{where}: expected {datatype} data, got {_kind(array)} values such as {odd}")
        array = wide
    elif bools and datatype != "BOOL" and _has_bool(data):
        raise InvalidInput(f"{where}: expected {datatype} data, got boolean values (true/false)")
    out: np.ndarray[Any, Any] = cast_array(where, array.reshape(shape), dtype)
    return out


_RECTANGULAR = "nested lists must be rectangular, with one type of value"


def _wide_ints(
    where: str, data: list[Any], array: np.ndarray[Any, Any], datatype: str
) -> np.ndarray[Any, Any] | None:
    """Integers NumPy read as floats because no one int64 or uint64 holds them all.

    ``[0, 2**63]`` is a good UINT64 tensor and ``[-1, 2**63]`` a bad INT64 one, but NumPy reads
    both as float64 (rounding them); read them again as ``datatype``, or name the one out of range.
    """
    if array.dtype.kind != "f" or not datatype.startswith(("INT", "UINT")):
        return None
    flat = np.asarray(data, dtype=object).reshape(-1)
    if not all(type(v) is int for v in flat):
        return None
    dtype = DATATYPES[datatype][0]
    try:
        return np.array(data, dtype=dtype)
    except OverflowError:
        info = np.iinfo(dtype)
        big = next((v for v in flat if not info.min <= v <= info.max), flat[0])
        raise InvalidInput(
            f"{where}: expected {datatype} data, got values outside its range such as {big}"
        ) from None


def _has_bool(data: list[Any]) -> bool:
    return any(v is True or v is False or (type(v) is list and _has_bool(v)) for v in data)


def _from_binary(
    where: str, chunk: memoryview, datatype: str, shape: tuple[int, ...]
) -> np.ndarray[Any, Any]:
    expected = math.prod(shape)
    if datatype == "BYTES":
        values: list[str | bytes] = []
        pos = 0
        raw = bytes(chunk)
        while pos < len(raw):
            if pos + 4 > len(raw):
                raise InvalidInput(f"{where}: BYTES element {len(values)} has a truncated length prefix")
            n = int.from_bytes(raw[pos : pos + 4], "little")
            item = raw[pos + 4 : pos + 4 + n]
            if len(item) != n:
                raise InvalidInput(f"{where}: BYTES element {len(values)} is cut short")
            try:
                values.append(item.decode("utf-8"))
            except UnicodeDecodeError:
                values.append(item)
            pos += 4 + n
        if len(values) != expected:
            raise InvalidInput(
                f"{where}: shape {list(shape)} holds {expected} values, but data has {len(values)}"
            )
        array = np.empty(expected, dtype=object)
        array[:] = values
        return array.reshape(shape)
    dtype = np.dtype(DATATYPES[datatype][0]).newbyteorder("<")
    if len(chunk) != expected * dtype.itemsize:
        raise InvalidInput(
            f"{where}: shape {list(shape)} of {datatype} needs {expected * dtype.itemsize} bytes, "
            f"got {len(chunk)}"
        )
    if datatype == "BOOL":
        # a byte other than 0 or 1 would make a NumPy bool that is neither True nor False
        octets = np.frombuffer(chunk, dtype=np.uint8)
        if octets.size and int(octets.max()) > 1:
            raise InvalidInput(f"{where}: BOOL bytes must be 0 or 1, got {int(octets.max())}")
        return octets.astype(bool).reshape(shape)
    flat = np.frombuffer(chunk, dtype=dtype)
    return flat.astype(flat.dtype.newbyteorder("="), copy=True).reshape(shape)


def _requested_outputs(
    value: object, params: Mapping[str, Any]
) -> tuple[tuple[str, ...] | None, frozenset[str]]:
    binary_all = params.get("binary_data_output") is True
    if value is None:
        return None, frozenset({"*"}) if binary_all else frozenset()
    if not isinstance(value, list):
        raise InvalidInput("'outputs': expected a list of {name} objects")
    names: list[str] = []
    binary: set[str] = set()
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"outputs[{i}]: expected an object with a 'name' string")
        name = item["name"]
        if name in names:
            raise InvalidInput(f"output {name!r} is requested more than once")
        names.append(name)
        p = item.get("parameters")
        # the output's own binary_data wins over the request's binary_data_output (Triton's rule)
        own = p.get("binary_data") if isinstance(p, dict) else None
        if own is True or (binary_all and own is not False):
            binary.add(name)
    return tuple(names), frozenset(binary)


def _check_tensor(where: str, array: np.ndarray[Any, Any], dtype: str, shape: tuple[int, ...]) -> Any:
    if array.ndim == len(shape) - 1 and _fits(array.shape, shape[1:]):
        array = array[np.newaxis, ...]
    if array.ndim != len(shape) or not _fits(array.shape, shape):
        raise InvalidInput(f"{where}: expected shape {list(shape)}, got {list(array.shape)}")
    return cast_array(where, _binary_from_text(array, dtype), dtype)


def _fits(actual: tuple[int, ...], expected: tuple[int, ...]) -> bool:
    # a loop, not all() over a generator (SIM110), which costs more than these few dimensions
    for a, e in zip(actual, expected, strict=True):  # noqa: SIM110
        if e != -1 and e != a:
            return False
    return True


def _cast_column(where: str, values: Any, dtype: str) -> Any:
    if dtype == "datetime":
        import pandas as pd

        try:
            return pd.to_datetime(pd.Series(values), format="ISO8601").to_numpy()
        except (ValueError, TypeError):
            raise InvalidInput(
                f"{where}: expected datetime (ISO 8601 strings), got values such as {_first(values)}"
            ) from None
    if dtype == "string" and values.dtype.kind == "U":
        return values.astype(object)
    return cast_array(where, _binary_from_text(values, dtype), dtype)


def _binary_from_text(values: Any, dtype: str) -> Any:
    """A ``binary`` input's strings as UTF-8 bytes.

    JSON has no bytes, and the binary extension's BYTES elements are read as text when they are
    UTF-8; for a binary column both mean the bytes of the text.
    """
    if dtype != "binary" or values.dtype.kind not in "OU":
        return values
    out = np.empty(values.shape, dtype=object)
    out.ravel()[:] = [v.encode() if isinstance(v, str) else v for v in values.ravel().tolist()]
    return out


def _natural(where: str, value: object) -> np.ndarray[Any, Any]:
    try:
        array = np.asarray(value)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(
            f"{where}: could not be read as an array (nested lists must be rectangular)"
        ) from None
    if array.dtype.kind == "U":
        array = array.astype(object)
    return array


def _objects(values: Sequence[Any]) -> np.ndarray[Any, Any]:
    """Values as a 1-D array without cross-kind coercion: numbers stay numbers, strings strings."""
    out = np.empty(len(values), dtype=object)
    out[:] = list(values) if not isinstance(values, list) else values
    kinds = {type(v) for v in values}
    if kinds <= {int} and values:
        try:
            return np.asarray(values, dtype=np.int64)
        except OverflowError:
            return out
    if kinds <= {int, float} and values:
        return np.asarray(values, dtype=np.float64)
    if kinds <= {bool} and values:
        return np.asarray(values, dtype=bool)
    return out


_CSV_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def _parse_csv_column(where: str, cells: list[str], target: str | None) -> np.ndarray[Any, Any]:
    """One CSV column as the signature's type, or (no signature type) as what its cells read as."""
    if target is None:
        return _infer_csv_column(cells)
    if target in ("string", "binary", "object", "datetime"):
        out = np.empty(len(cells), dtype=object)
        out[:] = cells
        return out
    if target == "bool":
        bad = next((c for c in cells if c.strip().lower() not in _CSV_BOOLS), None)
        if bad is not None:
            raise InvalidInput(f"{where}: expected true or false, got {bad!r:.40}")
        return np.array([_CSV_BOOLS[c.strip().lower()] for c in cells], dtype=bool)
    if target.startswith(("int", "uint")):
        try:
            return _objects([int(c) for c in cells])  # int64, or objects cast_array range-checks
        except ValueError:
            pass  # "2.0" is an integer by the models' rules, "1.5" is not: cast_array decides
    floats = []
    for c in cells:
        try:
            floats.append(float(c) if c.strip() else math.nan)  # an empty cell is a missing value
        except ValueError:
            raise InvalidInput(f"{where}: expected {target}, got {c!r:.40}") from None
    return np.array(floats, dtype=np.float64)


def _infer_csv_column(cells: list[str]) -> np.ndarray[Any, Any]:
    """Integers, else numbers (empty cells missing), else true/false, else the strings (as pandas)."""
    try:
        return _objects([int(c) for c in cells])
    except ValueError:
        pass
    try:
        return np.array([float(c) if c.strip() else math.nan for c in cells], dtype=np.float64)
    except ValueError:
        pass
    words = {c.strip().lower() for c in cells}
    if words <= {"true", "false"}:
        return np.array([c.strip().lower() == "true" for c in cells], dtype=bool)
    out = np.empty(len(cells), dtype=object)
    out[:] = cells
    return out


def _rows(array: np.ndarray[Any, Any]) -> int:
    return int(array.shape[0]) if array.ndim else 1


def _common_rows(arrays: Mapping[str, np.ndarray[Any, Any]]) -> int:
    rows = {name: _rows(a) for name, a in arrays.items()}
    if len(set(rows.values())) > 1:
        detail = ", ".join(f"{k}: {v}" for k, v in rows.items())
        raise InvalidInput(
            f"inputs: every input must have the same batch size (first dimension); got {detail}"
        )
    return next(iter(rows.values()), 0)


def _kind(array: np.ndarray[Any, Any]) -> str:
    return {"U": "string", "b": "boolean", "f": "float", "i": "integer", "u": "integer", "O": "mixed"}.get(
        array.dtype.kind, str(array.dtype)
    )


def _first(array: Any) -> str:
    flat = np.asarray(array).reshape(-1)
    return repr(flat[0].item() if hasattr(flat[0], "item") else flat[0])[:40] if flat.size else "?"


def _odd(array: np.ndarray[Any, Any], datatype: str) -> str:
    """The first value that shows why ``array`` is not ``datatype``: 2.5 in [1, 2.5] for INT64."""
    if array.dtype.kind == "f" and datatype.startswith(("INT", "UINT")):
        finite = np.isfinite(array)
        bad = array[~finite | (array != np.trunc(np.where(finite, array, 0)))]
        if bad.size:
            return _first(bad)
    return _first(array)
