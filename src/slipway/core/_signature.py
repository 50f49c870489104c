"""Model signatures: the names, types and shapes a model takes and returns, as plain values.

A :class:`Schema` is either a table (named columns, each a :class:`ColumnSpec`) or one unnamed
tensor (a :class:`TensorSpec`). A :class:`Signature` pairs the input schema with the output schema
(and, for classifiers, the schema of ``predict_proba``), plus optional inference parameters.

Everything here is pure: inference from data and enforcement at predict live in
:mod:`slipway.models`, which imports pandas and NumPy; this module imports neither, so the registry,
the server and the CLI can read and compare signatures cheaply.

Column types are a small, portable vocabulary (``int64``, ``float64``, ``string`` …), not pandas
dtypes: a signature written with pandas 2 must read the same under pandas 3 or in another language.
Shapes use ``-1`` for a dimension of any size (the batch dimension, usually).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slipway.errors import InvalidInput

__all__ = [
    "COLUMN_DTYPES",
    "PARAM_DTYPES",
    "TENSOR_DTYPES",
    "ColumnSpec",
    "ParamSpec",
    "Schema",
    "Signature",
    "TensorSpec",
]

COLUMN_DTYPES = frozenset(
    {"bool", "int32", "int64", "float32", "float64", "string", "binary", "datetime", "object"}
)
"""``object`` means "anything": the column must be present but its values are not checked."""

TENSOR_DTYPES = frozenset(
    {
        "bool",
        "int8",
        "int16",
        "int32",
        "int64",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "float16",
        "float32",
        "float64",
        "string",
        "object",
    }
)
PARAM_DTYPES = frozenset({"bool", "int64", "float64", "string", "object"})


def _shape(where: str, shape: object) -> tuple[int, ...]:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise InvalidInput(f"{where}: shape {shape!r}: expected a list of dimensions")
    dims = tuple(shape)
    if not all(isinstance(d, int) and not isinstance(d, bool) and (d == -1 or d >= 0) for d in dims):
        raise InvalidInput(f"{where}: shape {shape!r}: expected integers >= 0, or -1 for any size")
    return dims


def _dtype(where: str, dtype: object, allowed: frozenset[str]) -> str:
    if not isinstance(dtype, str) or dtype not in allowed:
        raise InvalidInput(f"{where}: dtype {dtype!r}: expected one of {', '.join(sorted(allowed))}")
    return dtype


def _mapping(where: str, data: object) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}: expected a mapping, got {type(data).__name__}")
    return data


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnSpec:
    """One named input or output: its type and, for array-valued columns, the shape of each value.

    A column with a ``shape`` is a named tensor (its first dimension is the batch); ``optional``
    columns may be absent from the input.

    .. versionadded:: 0.1
    """

    name: str
    dtype: str
    shape: tuple[int, ...] | None = None
    optional: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"column name {self.name!r}: expected a non-empty string")
        where = f"column {self.name!r}"
        _dtype(where, self.dtype, COLUMN_DTYPES | TENSOR_DTYPES if self.shape is not None else COLUMN_DTYPES)
        if self.shape is not None:
            object.__setattr__(self, "shape", _shape(where, self.shape))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype}
        if self.shape is not None:
            out["shape"] = list(self.shape)
        if self.optional:
            out["optional"] = True
        return out

    @classmethod
    def from_dict(cls, data: object) -> ColumnSpec:
        d = _mapping("column", data)
        shape = d.get("shape")
        return cls(
            name=d.get("name"),  # type: ignore[arg-type]  # checked in __post_init__
            dtype=d.get("dtype"),  # type: ignore[arg-type]
            shape=None if shape is None else _shape(f"column {d.get('name')!r}", shape),
            optional=bool(d.get("optional", False)),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorSpec:
    """One unnamed array: its element type and shape (``-1`` for any size).

    .. versionadded:: 0.1
    """

    dtype: str
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        _dtype("tensor", self.dtype, TENSOR_DTYPES)
        object.__setattr__(self, "shape", _shape("tensor", self.shape))

    def to_dict(self) -> dict[str, Any]:
        return {"dtype": self.dtype, "shape": list(self.shape)}

    @classmethod
    def from_dict(cls, data: object) -> TensorSpec:
        d = _mapping("tensor", data)
        return cls(dtype=d.get("dtype"), shape=_shape("tensor", d.get("shape")))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class Schema:
    """Either named columns (a table, or named tensors) or one unnamed tensor; never both.

    .. versionadded:: 0.1
    """

    columns: tuple[ColumnSpec, ...] | None = None
    tensor: TensorSpec | None = None

    def __post_init__(self) -> None:
        if (self.columns is None) == (self.tensor is None):
            raise InvalidInput("schema: expected either columns or a tensor, not both and not neither")
        if self.columns is not None:
            cols = tuple(self.columns)
            if not cols:
                raise InvalidInput("schema: expected at least one column")
            seen: set[str] = set()
            for c in cols:
                if not isinstance(c, ColumnSpec):
                    raise InvalidInput(f"schema: expected ColumnSpec items, got {type(c).__name__}")
                if c.name in seen:
                    raise InvalidInput(f"schema: column {c.name!r} appears twice")
                seen.add(c.name)
            object.__setattr__(self, "columns", cols)

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in order; empty for a tensor schema."""
        return tuple(c.name for c in self.columns) if self.columns is not None else ()

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns or ():
            if c.name == name:
                return c
        raise InvalidInput(f"schema has no column {name!r} (columns: {', '.join(self.names) or 'none'})")

    def to_dict(self) -> dict[str, Any]:
        if self.columns is not None:
            return {"columns": [c.to_dict() for c in self.columns]}
        assert self.tensor is not None
        return {"tensor": self.tensor.to_dict()}

    @classmethod
    def from_dict(cls, data: object) -> Schema:
        d = _mapping("schema", data)
        if "columns" in d:
            cols = d["columns"]
            if isinstance(cols, (str, bytes)) or not isinstance(cols, Sequence):
                raise InvalidInput("schema: 'columns' must be a list")
            return cls(columns=tuple(ColumnSpec.from_dict(c) for c in cols))
        if "tensor" in d:
            return cls(tensor=TensorSpec.from_dict(d["tensor"]))
        raise InvalidInput("schema: expected a 'columns' or a 'tensor' key")


@dataclass(frozen=True, slots=True, kw_only=True)
class ParamSpec:
    """An inference parameter (e.g. a decision threshold) with its type and default.

    .. versionadded:: 0.1
    """

    name: str
    dtype: str
    default: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"param name {self.name!r}: expected a non-empty string")
        _dtype(f"param {self.name!r}", self.dtype, PARAM_DTYPES)
        if self.default is not None:
            self.check(self.default)

    def check(self, value: object) -> Any:
        """Return ``value`` if it has this param's type (ints are accepted for float64)."""
        if self.dtype == "bool":
            ok = isinstance(value, bool)
        elif self.dtype == "int64":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.dtype == "float64":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif self.dtype == "string":
            ok = isinstance(value, str)
        else:
            ok = True
        if not ok:
            raise InvalidInput(f"param {self.name!r}: expected {self.dtype}, got {value!r}")
        return float(value) if self.dtype == "float64" else value  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "default": self.default}

    @classmethod
    def from_dict(cls, data: object) -> ParamSpec:
        d = _mapping("param", data)
        return cls(name=d.get("name"), dtype=d.get("dtype"), default=d.get("default"))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True, kw_only=True)
class Signature:
    """What a model takes (``inputs``), returns (``outputs``) and, for classifiers, ``probabilities``.

    .. versionadded:: 0.1
    """

    inputs: Schema
    outputs: Schema | None = None
    params: tuple[ParamSpec, ...] | None = None
    probabilities: Schema | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.inputs, Schema):
            raise InvalidInput(f"signature inputs: expected a Schema, got {type(self.inputs).__name__}")
        if self.params is not None:
            params = tuple(self.params)
            names = [p.name for p in params]
            if len(set(names)) != len(names):
                raise InvalidInput(f"signature params: duplicate names in {names}")
            object.__setattr__(self, "params", params)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inputs": self.inputs.to_dict()}
        if self.outputs is not None:
            out["outputs"] = self.outputs.to_dict()
        if self.probabilities is not None:
            out["probabilities"] = self.probabilities.to_dict()
        if self.params is not None:
            out["params"] = [p.to_dict() for p in self.params]
        return out

    @classmethod
    def from_dict(cls, data: object) -> Signature:
        d = _mapping("signature", data)
        if "inputs" not in d:
            raise InvalidInput("signature: expected an 'inputs' key")
        params = d.get("params")
        if params is not None and (isinstance(params, (str, bytes)) or not isinstance(params, Sequence)):
            raise InvalidInput("signature: 'params' must be a list")
        outputs, proba = d.get("outputs"), d.get("probabilities")
        return cls(
            inputs=Schema.from_dict(d["inputs"]),
            outputs=None if outputs is None else Schema.from_dict(outputs),
            probabilities=None if proba is None else Schema.from_dict(proba),
            params=None if params is None else tuple(ParamSpec.from_dict(p) for p in params),
        )
