"""Signature enforcement: safe casts pass silently, anything else names the column and what was expected."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from slipway.core import ColumnSpec, Schema, TensorSpec
from slipway.errors import InvalidInput
from slipway.models import InputEnforcer


def columns(**types: str) -> InputEnforcer:
    return InputEnforcer(Schema(columns=tuple(ColumnSpec(name=n, dtype=t) for n, t in types.items())))


def one(dtype: str, values: Any) -> Any:
    out = columns(x=dtype)(pd.DataFrame({"x": values}))
    assert list(out.columns) == ["x"]
    return out["x"]


# ---------------------------------------------------------------------- safe casts


@pytest.mark.parametrize(
    ("target", "values", "result_dtype"),
    [
        ("int64", np.array([1, 2], dtype="int32"), "int64"),
        ("int64", np.array([1, 2], dtype="uint16"), "int64"),
        ("int64", np.array([1.0, -2.0]), "int64"),  # integral floats
        ("int64", pd.array([1, 2], dtype="Int64"), "int64"),  # nullable without NA
        ("int64", pd.Series([1, 2], dtype=object), "int64"),  # Python ints from JSON
        ("int32", np.array([1, 2], dtype="int64"), "int32"),  # values fit
        ("float64", np.array([1.5], dtype="float32"), "float64"),
        ("float64", np.array([1, 2**53], dtype="int64"), "float64"),  # exact
        ("float64", pd.Series([1, 2.5, None], dtype=object), "float64"),
        ("float64", pd.array([1.5, None], dtype="Float64"), "float64"),
        ("float32", np.array([0.1, 1e30]), "float32"),
        ("float32", np.array([3, 16_777_216]), "float32"),
        ("bool", np.array([True, False]), "bool"),
        ("bool", pd.Series([True, False], dtype=object), "bool"),
        ("bool", pd.array([True, False], dtype="boolean"), "bool"),
    ],
)
def test_safe_casts_happen_silently(target: str, values: Any, result_dtype: str) -> None:
    assert str(one(target, values).dtype) == result_dtype


def test_string_columns_accept_str_object_and_categories_with_missing_values() -> None:
    got = one("string", pd.Series(["a", None], dtype=object))
    assert got.iloc[0] == "a"
    assert pd.isna(got.iloc[1])
    assert one("string", pd.Series(["a", "b"], dtype="string")).tolist() == ["a", "b"]
    assert one("string", pd.Categorical(["a", "b", "a"])).tolist() == ["a", "b", "a"]


def test_datetime_columns_accept_any_unit_time_zone_and_iso_strings() -> None:
    ts = pd.to_datetime(["2024-01-02T03:04:05"])
    assert one("datetime", ts.as_unit("s")).iloc[0] == ts[0]
    assert one("datetime", ts.tz_localize("UTC")).iloc[0] == ts.tz_localize("UTC")[0]
    assert one("datetime", ["2024-01-02T03:04:05"]).iloc[0] == ts[0]


def test_object_columns_are_only_required_to_be_present() -> None:
    assert one("object", [{"a": 1}, [2]]).tolist() == [{"a": 1}, [2]]


# ---------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("target", "values", "message"),
    [
        ("int64", ["abc", "1"], "column 'x': expected int64, got string values such as 'abc'"),
        (
            "int64",
            [1.5, 2.0],
            "column 'x': expected int64, got float values with a fractional part such as 1.5",
        ),
        ("int64", [1.0, np.nan], "column 'x': expected int64, got missing or infinite values such as nan"),
        ("int64", [True, False], "column 'x': expected int64, got bool values such as True"),
        ("int64", pd.array([1, None], dtype="Int64"), "column 'x': expected int64, got missing values"),
        (
            "int32",
            np.array([2**40]),
            "column 'x': expected int32, got values outside its range such as 1099511627776",
        ),
        (
            "int64",
            pd.Series([1, "a"], dtype=object),
            "column 'x': expected int64, got string values such as 'a'",
        ),
        ("float64", ["1.5"], "column 'x': expected float64, got string values such as '1.5'"),
        ("float64", np.array([2**53 + 1]), "expected float64, got integers too large to be exact in it"),
        ("float64", [True], "column 'x': expected float64, got bool values such as True"),
        (
            "float32",
            np.array([1e300]),
            "column 'x': expected float32, got values outside its range such as 1e\\+300",
        ),
        ("bool", [1, 0], "column 'x': expected bool, got int64 values such as 1"),
        ("bool", ["true"], "column 'x': expected bool, got string values such as 'true'"),
        ("string", [1, 2], "column 'x': expected string, got int64 values such as 1"),
        (
            "string",
            pd.Series(["a", 3], dtype=object),
            "column 'x': expected string, got int values such as 3",
        ),
        ("binary", ["a"], "column 'x': expected binary, got str values such as 'a'"),
        ("datetime", ["yesterday"], "column 'x': expected datetime .or ISO 8601 strings., got string"),
        ("datetime", [1.5], "column 'x': expected datetime"),
    ],
)
def test_unsafe_values_are_refused_naming_column_and_type(target: str, values: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        one(target, values)


def test_a_missing_column_is_named_with_its_type_and_what_the_input_has() -> None:
    enforce = columns(age="int64", city="string")
    with pytest.raises(
        InvalidInput, match=re.escape("column 'age' is missing (expected int64); the input has 'city'")
    ):
        enforce(pd.DataFrame({"city": ["x"]}))


def test_optional_columns_may_be_absent() -> None:
    enforce = InputEnforcer(
        Schema(
            columns=(ColumnSpec(name="a", dtype="int64"), ColumnSpec(name="b", dtype="int64", optional=True))
        )
    )
    assert list(enforce(pd.DataFrame({"a": [1]})).columns) == ["a"]


def test_duplicate_input_columns_are_refused() -> None:
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(InvalidInput, match="column 'a' appears more than once"):
        columns(a="int64")(df)


# ---------------------------------------------------------------------- shapes of input


def test_columns_are_reordered_and_extra_ones_dropped_by_default() -> None:
    out = columns(a="int64", b="float64")(pd.DataFrame({"z": [0], "b": [1.5], "a": [1]}))
    assert list(out.columns) == ["a", "b"]


def test_extra_columns_rejected_by_policy() -> None:
    enforce = InputEnforcer(Schema(columns=(ColumnSpec(name="a", dtype="int64"),)), extra_columns="reject")
    with pytest.raises(InvalidInput, match="input has columns the signature does not: 'z'"):
        enforce(pd.DataFrame({"a": [1], "z": [0]}))
    with pytest.raises(InvalidInput, match="extra_columns 'keep'"):
        InputEnforcer(Schema(columns=(ColumnSpec(name="a", dtype="int64"),)), extra_columns="keep")  # type: ignore[arg-type]


def test_records_dicts_and_arrays_become_the_same_frame() -> None:
    enforce = columns(a="int64", b="float64", c="string")
    want = enforce(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.0], "c": ["x", "y"]}))
    forms: list[Any] = [
        [{"a": 1, "b": 0.5, "c": "x"}, {"c": "y", "b": 1.0, "a": 2}],
        {"a": [1, 2], "b": [0.5, 1.0], "c": ["x", "y"]},
        np.array([[1, 0.5, "x"], [2, 1.0, "y"]], dtype=object),
    ]
    for form in forms:
        got = enforce(form)
        assert got["a"].tolist() == [1, 2]
        assert got["b"].tolist() == [0.5, 1.0]
        assert got["c"].tolist() == ["x", "y"]
        assert [str(d) for d in got.dtypes[:2]] == [str(d) for d in want.dtypes[:2]]
    single = enforce({"a": 1, "b": 0.5, "c": "x"})  # one record of scalars
    assert len(single) == 1


def test_an_array_with_the_wrong_number_of_columns_is_refused() -> None:
    with pytest.raises(
        InvalidInput, match=re.escape("expected an array of shape (n, 2) for columns a, b, got shape (1, 3)")
    ):
        columns(a="int64", b="int64")(np.zeros((1, 3)))


def test_unsupported_input_types_are_named() -> None:
    with pytest.raises(
        InvalidInput,
        match=r"expected a DataFrame, an ndarray, a dict of columns or a list of records, got builtins\.str",
    ):
        columns(a="int64")("a=1")


def test_a_matching_frame_is_returned_as_is() -> None:
    df = pd.DataFrame({"a": [1], "b": [0.5], "c": pd.array(["x"], dtype="string")})
    assert columns(a="int64", b="float64", c="string")(df) is df


# ---------------------------------------------------------------------- tensors


def tensor(dtype: str, *shape: int) -> InputEnforcer:
    return InputEnforcer(Schema(tensor=TensorSpec(dtype=dtype, shape=shape)))


def test_tensor_shapes_are_checked_with_any_size_dimensions() -> None:
    enforce = tensor("float32", -1, 3)
    assert enforce(np.zeros((5, 3))).dtype == np.float32
    assert enforce([[1, 2, 3]]).shape == (1, 3)
    assert enforce([1, 2, 3]).shape == (1, 3)  # one example without its batch dimension
    with pytest.raises(InvalidInput, match=re.escape("input: expected shape (-1, 3), got (2, 4)")):
        enforce(np.zeros((2, 4)))
    with pytest.raises(InvalidInput, match=re.escape("input: expected shape (-1, 3), got (2, 3, 1)")):
        enforce(np.zeros((2, 3, 1)))


def test_tensor_dtypes_follow_the_same_rules() -> None:
    with pytest.raises(InvalidInput, match="input: expected int64, got float values with a fractional part"):
        tensor("int64", -1)(np.array([0.5]))
    with pytest.raises(InvalidInput, match="input: expected float64, got string values such as 'a'"):
        tensor("float64", -1)(["a"])
    assert tensor("uint8", -1, 2)(np.array([[0, 255]])).dtype == np.uint8
    with pytest.raises(InvalidInput, match="expected uint8, got values outside its range such as 256"):
        tensor("uint8", -1)(np.array([256]))


def test_named_tensors_are_checked_one_by_one() -> None:
    enforce = InputEnforcer(
        Schema(
            columns=(
                ColumnSpec(name="image", dtype="float32", shape=(-1, 2, 2)),
                ColumnSpec(name="mask", dtype="bool", shape=(-1, 2)),
            )
        )
    )
    out = enforce({"image": np.zeros((3, 2, 2)), "mask": np.ones((3, 2), dtype=bool)})
    assert out["image"].dtype == np.float32
    with pytest.raises(
        InvalidInput, match=re.escape("input 'mask' is missing (expected bool of shape (-1, 2))")
    ):
        enforce({"image": np.zeros((3, 2, 2))})
    with pytest.raises(InvalidInput, match=re.escape("input 'image': expected shape (-1, 2, 2), got (3, 4)")):
        enforce({"image": np.zeros((3, 4)), "mask": np.ones((3, 2), dtype=bool)})


# ---------------------------------------------------------------------- malformed input


def test_a_dict_mixing_a_list_and_a_string_is_refused_naming_the_string_column() -> None:
    with pytest.raises(InvalidInput, match=r"column 's': expected a list of values"):
        columns(a="int64", s="string")({"a": [1, 2, 3], "s": "xyz"})


def test_a_dict_mixing_a_list_and_a_number_is_refused_naming_the_column() -> None:
    with pytest.raises(InvalidInput, match=r"column 'b': expected a list of values"):
        columns(a="int64", b="int64")({"a": [1, 2], "b": 3})


def test_a_dict_of_columns_of_different_lengths_names_both() -> None:
    with pytest.raises(InvalidInput, match=r"column 'b' has 1 values? but column 'a' has 2"):
        columns(a="int64", b="int64")({"a": [1, 2], "b": [3]})


def test_a_dict_of_scalars_is_one_row() -> None:
    out = columns(a="int64", s="string")({"a": 1, "s": "xyz"})
    assert out.to_dict("list") == {"a": [1], "s": ["xyz"]}


def test_a_ragged_tensor_is_refused_naming_the_input() -> None:
    with pytest.raises(InvalidInput, match=r"input: could not be read as an array"):
        tensor("float64", -1, 2)([[1.0, 2.0], [3.0]])
    with pytest.raises(InvalidInput, match=r"input 'a': could not be read as an array"):
        InputEnforcer(Schema(columns=(ColumnSpec(name="a", dtype="float64", shape=(-1, 2)),)))(
            {"a": [[1.0, 2.0], [3.0]]}
        )


@pytest.mark.parametrize(
    ("target", "value"),
    [
        ("int64", 2.0**63),
        ("int64", -(2.0**63) * 2),
        ("int32", 2.0**31),
        ("uint64", 2.0**64),
        ("uint8", 256.0),
    ],
)
def test_floats_just_outside_an_integer_range_are_refused(target: str, value: float) -> None:
    with pytest.raises(InvalidInput, match=r"outside its range"):
        tensor(target, -1)(np.array([value]))


def test_floats_at_the_edge_of_int64_are_accepted() -> None:
    assert one("int64", np.array([-(2.0**63)])).tolist() == [-(2**63)]
    assert one("int64", np.array([2.0**62])).tolist() == [2**62]


def test_python_ints_too_large_for_int64_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"column 'x'"):
        columns(x="int64")({"x": [2**70]})
