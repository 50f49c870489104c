"""Signatures: plain values that round-trip through dicts (the manifest) and refuse malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.core import ColumnSpec, ParamSpec, Schema, Signature, TensorSpec
from slipway.core._signature import COLUMN_DTYPES, TENSOR_DTYPES
from slipway.errors import InvalidInput

_shapes = st.lists(st.one_of(st.just(-1), st.integers(0, 64)), max_size=4).map(tuple)
_names = st.text(min_size=1, max_size=12)


@st.composite
def _columns(draw: st.DrawFn) -> tuple[ColumnSpec, ...]:
    names = draw(st.lists(_names, min_size=1, max_size=6, unique=True))
    out = []
    for name in names:
        shaped = draw(st.booleans())
        out.append(
            ColumnSpec(
                name=name,
                dtype=draw(st.sampled_from(sorted(TENSOR_DTYPES if shaped else COLUMN_DTYPES))),
                shape=draw(_shapes) if shaped else None,
                optional=draw(st.booleans()),
            )
        )
    return tuple(out)


_schemas = st.one_of(
    _columns().map(lambda cols: Schema(columns=cols)),
    st.builds(
        lambda d, s: Schema(tensor=TensorSpec(dtype=d, shape=s)),
        st.sampled_from(sorted(TENSOR_DTYPES)),
        _shapes,
    ),
)
_params = st.lists(
    st.one_of(
        st.builds(lambda n, v: ParamSpec(name=n, dtype="float64", default=v), _names, st.floats(-1e6, 1e6)),
        st.builds(lambda n, v: ParamSpec(name=n, dtype="int64", default=v), _names, st.integers(-9, 9)),
        st.builds(lambda n, v: ParamSpec(name=n, dtype="string", default=v), _names, st.text(max_size=5)),
        st.builds(lambda n, v: ParamSpec(name=n, dtype="bool", default=v), _names, st.booleans()),
    ),
    max_size=3,
    unique_by=lambda p: p.name,
).map(tuple)
_signatures = st.builds(
    Signature,
    inputs=_schemas,
    outputs=st.none() | _schemas,
    params=st.none() | _params,
    probabilities=st.none() | _schemas,
)


@given(_signatures)
def test_signature_round_trips_through_a_dict(sig: Signature) -> None:
    assert Signature.from_dict(sig.to_dict()) == sig


def test_schema_has_columns_or_a_tensor_not_both() -> None:
    col = ColumnSpec(name="a", dtype="int64")
    with pytest.raises(InvalidInput, match="either columns or a tensor"):
        Schema(columns=(col,), tensor=TensorSpec(dtype="float32", shape=(-1, 3)))
    with pytest.raises(InvalidInput, match="either columns or a tensor"):
        Schema()
    with pytest.raises(InvalidInput, match="'a' appears twice"):
        Schema(columns=(col, col))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "'inputs'"),
        ({"inputs": {}}, "'columns' or a 'tensor'"),
        ({"inputs": {"columns": [{"name": "a", "dtype": "int128"}]}}, "dtype 'int128'"),
        ({"inputs": {"columns": [{"name": "", "dtype": "int64"}]}}, "non-empty"),
        ({"inputs": {"tensor": {"dtype": "float32", "shape": [-2]}}}, "-1 for any size"),
        ({"inputs": {"tensor": {"dtype": "float32", "shape": "3"}}}, "list of dimensions"),
        ({"inputs": {"columns": "a"}}, "must be a list"),
        ({"inputs": {"columns": [{"name": "a", "dtype": "int64"}]}, "params": [{"name": "t"}]}, "param 't'"),
        ([], "expected a mapping"),
    ],
)
def test_malformed_signatures_are_refused_naming_the_field(data: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Signature.from_dict(data)


def test_param_defaults_are_type_checked() -> None:
    assert ParamSpec(name="t", dtype="float64", default=1).check(2) == 2.0
    with pytest.raises(InvalidInput, match="param 't': expected float64"):
        ParamSpec(name="t", dtype="float64", default="high")
    with pytest.raises(InvalidInput, match="expected bool"):
        ParamSpec(name="b", dtype="bool").check(1)


def test_schema_column_lookup_names_the_known_columns() -> None:
    schema = Schema(columns=(ColumnSpec(name="a", dtype="int64"), ColumnSpec(name="b", dtype="string")))
    assert schema.names == ("a", "b")
    assert schema.column("b").dtype == "string"
    with pytest.raises(InvalidInput, match=r"no column 'c' \(columns: a, b"):
        schema.column("c")
