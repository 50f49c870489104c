"""Signature inference from examples and training data, and the example's JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slipway.core import ColumnSpec, Schema, TensorSpec
from slipway.errors import InvalidInput
from slipway.models import infer_schema, infer_signature
from slipway.models._infer import decode_example, encode_example


def types(data: object) -> dict[str, str]:
    return {c.name: c.dtype for c in infer_schema(data).columns or ()}


def test_dataframe_columns_get_portable_types() -> None:
    df = pd.DataFrame(
        {
            "i64": np.array([1], dtype="int64"),
            "i32": np.array([1], dtype="int32"),
            "i8": np.array([1], dtype="int8"),
            "u32": np.array([1], dtype="uint32"),
            "f64": [1.5],
            "f32": np.array([1.5], dtype="float32"),
            "b": [True],
            "s": ["x"],
            "s_obj": pd.Series(["x"], dtype=object),
            "cat": pd.Categorical(["x"]),
            "ts": pd.to_datetime(["2024-01-01"]),
            "tz": pd.to_datetime(["2024-01-01"]).tz_localize("UTC"),
            "nullable": pd.array([1], dtype="Int64"),
            "bytes": pd.Series([b"\x00"], dtype=object),
            "mixed": pd.Series([{"k": 1}], dtype=object),
        }
    )
    assert types(df) == {
        "i64": "int64",
        "i32": "int32",
        "i8": "int32",
        "u32": "int64",
        "f64": "float64",
        "f32": "float32",
        "b": "bool",
        "s": "string",
        "s_obj": "string",
        "cat": "string",
        "ts": "datetime",
        "tz": "datetime",
        "nullable": "int64",
        "bytes": "binary",
        "mixed": "object",
    }


def test_arrays_become_a_tensor_with_any_batch_size() -> None:
    assert infer_schema(np.zeros((4, 3, 2), dtype="float32")) == Schema(
        tensor=TensorSpec(dtype="float32", shape=(-1, 3, 2))
    )
    assert infer_schema(np.array(["a", "b"])).tensor == TensorSpec(dtype="string", shape=(-1,))


def test_records_and_dicts_become_columns_and_dicts_of_arrays_named_tensors() -> None:
    assert types([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]) == {"a": "int64", "b": "string"}
    assert types({"a": [1, 2], "b": [0.5, 1.0]}) == {"a": "int64", "b": "float64"}
    assert infer_schema({"img": np.zeros((2, 3, 3), dtype="uint8"), "n": np.zeros((2, 1))}) == Schema(
        columns=(
            ColumnSpec(name="img", dtype="uint8", shape=(-1, 3, 3)),
            ColumnSpec(name="n", dtype="float64", shape=(-1, 1)),
        )
    )


@pytest.mark.parametrize(
    ("data", "message"), [([], "empty list"), ({}, "empty dict"), (3, "got builtins.int")]
)
def test_nothing_to_infer_from_is_an_error(data: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        infer_schema(data)


def test_infer_signature_with_outputs_probabilities_and_params() -> None:
    sig = infer_signature(
        pd.DataFrame({"a": [1]}),
        np.array([0]),
        probabilities=np.array([[0.2, 0.8]]),
        params={"threshold": 0.5},
    )
    assert sig.outputs == Schema(tensor=TensorSpec(dtype="int64", shape=(-1,)))
    assert sig.probabilities == Schema(tensor=TensorSpec(dtype="float64", shape=(-1, 2)))
    assert sig.params is not None
    assert sig.params[0].dtype == "float64"
    assert sig.params[0].default == 0.5


def _round_trip(data: object) -> object:
    return decode_example(json.loads(json.dumps(encode_example(data), allow_nan=False)))


def test_a_dataframe_example_round_trips_with_its_types() -> None:
    df = pd.DataFrame(
        {
            "a": np.array([1, 2], dtype="int32"),
            "b": [0.5, np.nan],
            "c": ["x", None],
            "d": pd.to_datetime(["2024-01-01T10:00:00", "2024-06-01T00:00:00"]),
            "e": pd.Series([b"\x00\xff", b""], dtype=object),
            "f": [True, False],
        }
    )
    back = _round_trip(df)
    assert infer_schema(back) == infer_schema(df)
    assert isinstance(back, pd.DataFrame)
    assert back["b"].isna().tolist() == [False, True]
    assert back["d"].tolist() == df["d"].tolist()
    assert back["e"].tolist() == [b"\x00\xff", b""]


def test_arrays_and_named_tensors_round_trip() -> None:
    arr = np.arange(6, dtype="float32").reshape(2, 3)
    arr[0, 0] = np.nan
    back = _round_trip(arr)
    np.testing.assert_array_equal(back, arr)
    assert isinstance(back, np.ndarray)
    assert back.dtype == np.float32
    named = _round_trip({"x": np.zeros((1, 2, 2), dtype="uint8"), "y": np.ones((1, 3))})
    assert isinstance(named, dict)
    assert named["x"].shape == (1, 2, 2)
    assert named["x"].dtype == np.uint8


def test_an_example_that_is_not_json_is_refused() -> None:
    with pytest.raises(InvalidInput, match="input example column 'o': expected JSON-compatible values"):
        encode_example(pd.DataFrame({"o": pd.Series([object()], dtype=object)}))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-(2**40), 2**40), st.floats(allow_infinity=False), st.text(max_size=5), st.booleans()
        ),
        min_size=1,
        max_size=6,
    )
)
def test_generated_frames_round_trip(rows: list[tuple[int, float, str, bool]]) -> None:
    df = pd.DataFrame(rows, columns=["i", "f", "s", "b"])
    back = _round_trip(df)
    assert isinstance(back, pd.DataFrame)
    assert infer_schema(back) == infer_schema(df)
    pd.testing.assert_frame_equal(back, df, check_dtype=False)


def test_ragged_input_without_a_signature_is_refused_by_name() -> None:
    from slipway.errors import InvalidInput
    from slipway.models._infer import as_data

    with pytest.raises(InvalidInput, match=r"input: could not be read as an array"):
        as_data([[1.0, 2.0], [3.0]])
    with pytest.raises(InvalidInput, match=r"input 'a': could not be read as an array"):
        as_data({"a": [[1.0, 2.0], [3.0]], "b": [1, 2]})
