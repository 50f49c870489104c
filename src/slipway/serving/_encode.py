"""Model output to response bodies: OIP v2 (JSON or binary tensors) and MLflow's predictions.

An output orjson cannot write (an object it does not know, an integer past 64 bits) raises here, on
the request's path, where the server counts it as the model's fault.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from slipway.serving._codec import BY_NUMPY

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["encode_invocations", "encode_v2"]

# Keyed by dtype object: numpy computes ``dtype.name`` anew on every access (~3 µs per answer).
_BY_DTYPE: dict[Any, str] = {np.dtype(name): datatype for name, datatype in BY_NUMPY.items()}


def _output_datatype(array: np.ndarray[Any, Any]) -> str:
    found = _BY_DTYPE.get(array.dtype)
    return found if found is not None else BY_NUMPY.get(array.dtype.name, "BYTES")


def encode_v2(
    *,
    model_name: str,
    model_version: str,
    request_id: str | None,
    outputs: Mapping[str, Any],
    binary: frozenset[str] = frozenset(),
) -> tuple[bytes, int | None]:
    """The OIP response body, and the JSON header's length when binary tensors follow it."""
    items = []
    chunks: list[bytes] = []
    for name, value in outputs.items():
        array = _as_array(value)
        datatype = _output_datatype(array)
        entry: dict[str, Any] = {"name": name, "shape": list(array.shape), "datatype": datatype}
        if "*" in binary or name in binary:
            data = _to_binary(array, datatype)
            entry["parameters"] = {"binary_data_size": len(data)}
            chunks.append(data)
        elif datatype == "BYTES":
            entry["data"] = [_text(v) for v in array.reshape(-1).tolist()]
        else:
            entry["data"] = array.reshape(-1)
        items.append(entry)
    doc: dict[str, Any] = {"model_name": model_name, "model_version": model_version, "outputs": items}
    if request_id is not None:
        doc["id"] = request_id
    head = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return head, None
    return head + b"".join(chunks), len(head)


def _as_array(value: Any) -> np.ndarray[Any, Any]:
    """An output as a C-contiguous, native-endian array that orjson and the binary form can take."""
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind in "US":
            return value.astype(object)
        if kind == "M":  # datetimes as ISO 8601 text, not the integers .tolist() gives for ns
            text = np.datetime_as_string(value).astype(object)
            text[np.isnat(value)] = None
            return text
        if kind == "m":
            return value.astype(str).astype(object)
        if not value.dtype.isnative:
            return _as_array(value.astype(value.dtype.newbyteorder("=")))
        if not value.flags.c_contiguous:
            return np.ascontiguousarray(value)
        return value
    if hasattr(value, "to_numpy"):
        return _as_array(value.to_numpy())
    return _as_array(np.asarray(value))


def _to_binary(array: np.ndarray[Any, Any], datatype: str) -> bytes:
    if datatype == "BYTES":
        parts = []
        for v in array.reshape(-1).tolist():
            b = v if isinstance(v, bytes) else _text(v).encode()
            parts.append(len(b).to_bytes(4, "little") + b)
        return b"".join(parts)
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def encode_invocations(outputs: Mapping[str, Any]) -> bytes:
    """MLflow's response: ``{"predictions": …}``; several outputs become a list of records.

    NaN and infinities become ``null`` (JSON has neither), bytes their UTF-8 text, and timestamps
    ISO 8601 strings.
    """
    if len(outputs) == 1:
        value = next(iter(outputs.values()))
        if hasattr(value, "to_dict") and hasattr(value, "columns"):
            return _dumps({"predictions": value.to_dict(orient="records")})
        return _dumps({"predictions": _jsonable(_as_array(value))})
    columns = {k: _jsonable(_as_array(v)) for k, v in outputs.items()}
    n = len(next(iter(columns.values())))
    records = [{k: v[i] for k, v in columns.items()} for i in range(n)]
    return _dumps({"predictions": records})


_NUMPY = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _dumps(doc: Any) -> bytes:
    # orjson itself writes NaN and infinities as null
    return orjson.dumps(doc, option=_NUMPY, default=_json_default)


def _json_default(value: Any) -> Any:
    """What orjson cannot write by itself: bytes, pandas' timestamps and missing values, scalars."""
    if isinstance(value, bytes):
        return _text(value)
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, np.ndarray):
        return _jsonable(_as_array(value))
    if isinstance(value, np.generic):
        return value.item()
    return _text(value)


def _jsonable(array: np.ndarray[Any, Any]) -> Any:
    if array.ndim == 0 or array.dtype.kind == "O":
        return array.tolist()  # Python values; the ones orjson cannot write go through _json_default
    return array
