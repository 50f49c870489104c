"""The inference server's request codec and response encoders, without a server.

Four codec kinds, one per signature shape: a column schema (a table), one tensor, named tensors,
and no signature. Requests come as OIP v2 JSON, as Triton's binary tensor extension (a JSON header
followed by little-endian bytes, built here by hand), or as MLflow's /invocations bodies (four
JSON keys, or CSV). Every refusal is an InvalidInput whose one-line message names the input, column
or field at fault.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from slipway.core import ColumnSpec, Schema, TensorSpec
from slipway.errors import InvalidInput
from slipway.serving._codec import DATATYPES, InputCodec, Payload, datatype_of
from slipway.serving._encode import encode_invocations, encode_v2

COLUMNS = Schema(
    columns=(
        ColumnSpec(name="x", dtype="float64"),
        ColumnSpec(name="n", dtype="int64"),
        ColumnSpec(name="city", dtype="string"),
        ColumnSpec(name="flag", dtype="bool"),
    )
)
NUMERIC = Schema(columns=(ColumnSpec(name="a", dtype="float64"), ColumnSpec(name="b", dtype="int32")))
TENSOR = Schema(tensor=TensorSpec(dtype="float32", shape=(-1, 3)))
NAMED = Schema(
    columns=(
        ColumnSpec(name="image", dtype="float32", shape=(-1, 2)),
        ColumnSpec(name="ids", dtype="int64", shape=(-1,)),
    )
)

columns = InputCodec(COLUMNS)
numeric = InputCodec(NUMERIC)
tensor = InputCodec(TENSOR)
named = InputCodec(NAMED)
untyped = InputCodec(None)

JSON = "application/json"


# ---------------------------------------------------------------------- helpers
def t(name: str, datatype: Any, shape: Any, data: Any = None, **parameters: Any) -> dict[str, Any]:
    """One OIP input tensor; ``data`` is left out when None (the binary form carries it)."""
    out: dict[str, Any] = {"name": name, "datatype": datatype, "shape": shape}
    if data is not None:
        out["data"] = data
    if parameters:
        out["parameters"] = parameters
    return out


def v2(*inputs: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps({"inputs": list(inputs), **extra})


def le_bytes(values: Any, datatype: str) -> bytes:
    """Raw tensor bytes as the binary extension sends them: little-endian, BYTES length-prefixed."""
    if datatype == "BYTES":
        out = b""
        for v in values:
            b = v if isinstance(v, bytes) else v.encode()
            out += len(b).to_bytes(4, "little") + b
        return out
    return np.asarray(values, dtype=np.dtype(DATATYPES[datatype][0]).newbyteorder("<")).tobytes()


def binary(*inputs: tuple[dict[str, Any], bytes], trailing: bytes = b"", **extra: Any) -> tuple[bytes, int]:
    """A binary-extension body: each input's header gets its binary_data_size, its bytes follow."""
    tensors = []
    for spec, raw in inputs:
        params = {**spec.get("parameters", {}), "binary_data_size": len(raw)}
        tensors.append({**spec, "parameters": params})
    head = orjson.dumps({"inputs": tensors, **extra})
    return head + b"".join(raw for _, raw in inputs) + trailing, len(head)


def refused(call: Any, *names: str) -> str:
    """Run ``call``; it must raise InvalidInput with a one-line message containing every name."""
    with pytest.raises(InvalidInput) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    for name in names:
        assert name in message, f"{name!r} not in {message!r}"
    return message


def as_request(body: bytes, head: int | None) -> tuple[bytes, int | None]:
    """An encode_v2 response turned into a request: its outputs become the inputs."""
    doc = orjson.loads(body[:head] if head is not None else body)
    request = orjson.dumps({"inputs": doc["outputs"]})
    if head is None:
        return request, None
    return request + body[head:], len(request)


def split_binary(body: bytes, head: int) -> dict[str, tuple[dict[str, Any], bytes]]:
    """A binary response's outputs by name: (header entry, its raw bytes)."""
    doc = orjson.loads(body[:head])
    out = {}
    pos = head
    for entry in doc["outputs"]:
        size = entry.get("parameters", {}).get("binary_data_size")
        if size is None:
            out[entry["name"]] = (entry, b"")
            continue
        out[entry["name"]] = (entry, body[pos : pos + size])
        pos += size
    assert pos == len(body)
    return out


# one sample per OIP datatype, including each type's extremes
SAMPLES: dict[str, list[Any]] = {
    "BOOL": [True, False, False, True],
    "UINT8": [0, 1, 200, 255],
    "UINT16": [0, 1, 40_000, 65_535],
    "UINT32": [0, 1, 3_000_000_000, 2**32 - 1],
    "UINT64": [0, 1, 2**63, 2**64 - 1],
    "INT8": [-128, -1, 0, 127],
    "INT16": [-32_768, -1, 0, 32_767],
    "INT32": [-(2**31), -1, 0, 2**31 - 1],
    "INT64": [-(2**63), -1, 0, 2**63 - 1],
    "FP16": [0.5, -1.5, 65_504.0, 0.0],
    "FP32": [1.5, -2.25, 3.0e38, 1e-3],
    "FP64": [0.1, -1e300, 5e-324, 2.0],
    "BYTES": ["a", "ünïcode", "", "two words"],
}


def expected_array(datatype: str, values: list[Any], shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    if datatype == "BYTES":
        return np.array(values, dtype=object).reshape(shape)
    return np.array(values, dtype=DATATYPES[datatype][0]).reshape(shape)


def assert_same(actual: np.ndarray[Any, Any], expected: np.ndarray[Any, Any]) -> None:
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tolist() == expected.tolist()


def test_the_samples_cover_every_datatype() -> None:
    assert set(SAMPLES) == set(DATATYPES)


# ---------------------------------------------------------------------- datatypes
class TestDatatypes:
    @pytest.mark.parametrize("datatype", list(DATATYPES))
    def test_flat_and_nested_json_read_the_same(self, datatype: str) -> None:
        values = SAMPLES[datatype]
        want = expected_array(datatype, values, (2, 2))
        flat = untyped.decode_v2(v2(t("x", datatype, [2, 2], values)))
        nested = untyped.decode_v2(v2(t("x", datatype, [2, 2], [values[:2], values[2:]])))
        assert flat.rows == nested.rows == 2
        assert_same(flat.data, want)
        assert_same(nested.data, want)

    @pytest.mark.parametrize("datatype", list(DATATYPES))
    def test_the_binary_extension_reads_every_datatype(self, datatype: str) -> None:
        values = SAMPLES[datatype]
        body, head = binary((t("x", datatype, [2, 2]), le_bytes(values, datatype)))
        payload = untyped.decode_v2(body, head)
        assert_same(payload.data, expected_array(datatype, values, (2, 2)))

    @pytest.mark.parametrize("datatype", list(DATATYPES))
    @pytest.mark.parametrize("as_binary", [False, True], ids=["json", "binary"])
    def test_every_datatype_survives_encode_then_decode(self, datatype: str, as_binary: bool) -> None:
        sent = untyped.decode_v2(v2(t("x", datatype, [2, 2], SAMPLES[datatype]))).data
        body, head = encode_v2(
            model_name="m",
            model_version="1",
            request_id=None,
            outputs={"x": sent},
            binary=frozenset({"x"}) if as_binary else frozenset(),
        )
        assert (head is not None) == as_binary
        (entry,) = orjson.loads(body[:head] if head else body)["outputs"]
        assert (entry["datatype"], entry["shape"]) == (datatype, [2, 2])
        again = untyped.decode_v2(*as_request(body, head)).data
        assert_same(again, sent)

    def test_binary_bytes_that_are_not_utf8_stay_bytes(self) -> None:
        raw = [b"\xff\x00\xfe", b"text"]
        body, head = binary((t("x", "BYTES", [2]), le_bytes(raw, "BYTES")))
        assert untyped.decode_v2(body, head).data.tolist() == [b"\xff\x00\xfe", "text"]

    def test_json_and_binary_inputs_mix_in_one_request(self) -> None:
        head_only = t("j", "INT32", [2], [7, 8])
        body, head = binary((t("b", "FP64", [2]), le_bytes([1.5, 2.5], "FP64")))
        doc = orjson.loads(body[:head])
        doc["inputs"].insert(0, head_only)
        header = orjson.dumps(doc)
        payload = untyped.decode_v2(header + body[head:], len(header))
        assert payload.data["j"].tolist() == [7, 8]
        assert payload.data["b"].tolist() == [1.5, 2.5]

    def test_ints_are_read_as_floats_and_null_is_a_missing_float(self) -> None:
        payload = untyped.decode_v2(v2(t("x", "FP32", [3], [1, 2.5, None])))
        assert payload.data.dtype == np.float32
        assert payload.data[:2].tolist() == [1.0, 2.5]
        assert math.isnan(payload.data[2])

    def test_a_scalar_is_one_row_and_an_empty_tensor_none(self) -> None:
        scalar = untyped.decode_v2(v2(t("x", "INT64", [], [5])))
        assert scalar.data.shape == ()
        assert scalar.rows == 1
        for datatype in ("BOOL", "INT8", "FP64", "BYTES"):
            refused(lambda d=datatype: untyped.decode_v2(v2(t("x", d, [0, 3], []))), "at least one row")

    @pytest.mark.parametrize(
        ("dtype", "datatype"),
        [
            ("bool", "BOOL"),
            ("int8", "INT8"),
            ("uint64", "UINT64"),
            ("float16", "FP16"),
            ("float32", "FP32"),
            ("float64", "FP64"),
            ("string", "BYTES"),
            ("binary", "BYTES"),
            ("datetime", "BYTES"),
            ("object", "BYTES"),
        ],
    )
    def test_datatype_of_a_signature_dtype(self, dtype: str, datatype: str) -> None:
        assert datatype_of(dtype) == datatype


# ---------------------------------------------------------------------- OIP errors
class TestV2Refusals:
    @pytest.mark.parametrize(
        ("inputs", "names"),
        [
            (t("x", "FP64", [3], [1.0, 2.0]), ["input 'x'", "shape [3] holds 3 values", "has 2"]),
            (t("x", "FP64", [2, 2], [1.0, 2.0, 3.0]), ["input 'x'", "[2, 2]"]),
            (t("x", "FP64", [-1, 2], [1.0, 2.0]), ["input 'x'", "negative"]),
            (t("x", "FP64", "2", [1.0, 2.0]), ["input 'x'", "shape", "list of integers"]),
            (t("x", "FP64", [1.5], [1.0]), ["input 'x'", "shape"]),
            (t("x", "FP64", [True], [1.0]), ["input 'x'", "shape"]),
            (t("x", "FP99", [1], [1.0]), ["input 'x'", "'FP99'", "BYTES"]),
            (t("x", "fp64", [1], [1.0]), ["input 'x'", "'fp64'"]),  # datatypes are case-sensitive
            (t("x", ["FP64"], [1], [1.0]), ["input 'x'", "datatype"]),
            (t("x", "FP64", [2], ["a", 2.0]), ["input 'x'", "FP64", "string"]),
            (t("x", "FP64", [2], ["1.0", "2.0"]), ["input 'x'", "string", "'1.0'"]),
            (t("x", "INT64", [2], [1, 1.5]), ["input 'x'", "INT64", "1.5"]),
            (t("x", "INT64", [1], [2.0]), ["input 'x'", "INT64", "float"]),  # the wire type is strict
            (t("x", "INT8", [2], [1, 300]), ["input 'x'", "int8", "300"]),
            (t("x", "INT8", [1], [-129]), ["input 'x'", "int8", "-129"]),
            (t("x", "UINT8", [1], [-1]), ["input 'x'", "uint8", "-1"]),
            (t("x", "UINT64", [2], [-1, 2**64 - 1]), ["input 'x'", "UINT64", "-1"]),
            (t("x", "INT64", [2], [0, 2**63]), ["input 'x'", "INT64", str(2**63)]),
            (t("x", "FP32", [1], [1e300]), ["input 'x'", "float32", "range"]),
            (t("x", "FP16", [1], [1e6]), ["input 'x'", "float16", "range"]),
            # a JSON boolean is not a number, alone or among numbers (NumPy would make it 1.0)
            (t("x", "FP64", [2], [True, False]), ["input 'x'", "FP64", "boolean"]),
            (t("x", "FP64", [2], [1.5, True]), ["input 'x'", "FP64", "boolean"]),
            (t("x", "INT64", [2, 1], [[1], [False]]), ["input 'x'", "INT64", "boolean"]),
            (t("x", "BOOL", [2], [1, 0]), ["input 'x'", "BOOL", "integer"]),
            (t("x", "BOOL", [2], [True, None]), ["input 'x'", "bool"]),
            (t("x", "INT64", [2], [1, None]), ["input 'x'", "int64", "missing"]),
            (t("x", "FP64", [3], [[1.0, 2.0], [3.0]]), ["input 'x'", "rectangular"]),
            (t("x", "BYTES", [3], [["a", "b"], ["c"]]), ["input 'x'", "rectangular"]),
            (t("x", "FP64", [1], [{"v": 1}]), ["input 'x'", "dict"]),
            (t("x", "BYTES", [2], ["a", 1]), ["input 'x'", "BYTES as strings", "int"]),
            (t("x", "FP64", [1], 1.0), ["input 'x'", "'data' must be a list", "float"]),
            (t("x", "FP64", [1]), ["input 'x'", "'data' is missing"]),
        ],
    )
    def test_bad_tensors(self, inputs: dict[str, Any], names: list[str]) -> None:
        refused(lambda: untyped.decode_v2(v2(inputs)), *names)

    @pytest.mark.parametrize(
        ("body", "names"),
        [
            (b"{not json", ["request body", "not valid JSON"]),
            (b"[1, 2]", ["request body", "JSON object"]),
            (b"{}", ["'inputs'"]),
            (b'{"inputs": []}', ["'inputs'", "non-empty"]),
            (b'{"inputs": {"x": 1}}', ["'inputs'"]),
            (b'{"inputs": [3]}', ["inputs[0]", "object"]),
            (b'{"inputs": [{"shape": [1], "datatype": "FP64", "data": [1]}]}', ["inputs[0].name"]),
            (v2(t("x", "FP64", [1], [1.0]), t("x", "FP64", [1], [2.0])), ["input 'x'", "more than once"]),
            (v2(t("x", "FP64", [1], [1.0]), id=7), ["'id'", "string"]),
            (v2(t("x", "FP64", [1], [1.0]), parameters=[1]), ["request parameters", "object"]),
            (v2(t("x", "FP64", [1], [1.0]), outputs={"name": "y"}), ["'outputs'", "list"]),
            (v2(t("x", "FP64", [1], [1.0]), outputs=[{"nom": "y"}]), ["outputs[0]", "'name'"]),
            (v2(t("x", "FP64", [1], [1.0]), outputs=[{"name": "y"}, {"name": "y"}]), ["output 'y'", "more"]),
        ],
    )
    def test_bad_requests(self, body: bytes, names: list[str]) -> None:
        refused(lambda: untyped.decode_v2(body), *names)

    def test_unknown_parameters_are_ignored(self) -> None:
        body = v2(t("x", "FP64", [1], [1.0], whatever="yes"), parameters={"priority": 3, "timeout": 10})
        payload = untyped.decode_v2(body)
        assert payload.params == {"priority": 3, "timeout": 10}
        assert payload.data.tolist() == [1.0]


class TestShapesThatCouldCrashTheCodec:
    """NumPy raises its own ValueError for too many dimensions or too many values; never let it out."""

    @pytest.mark.parametrize(
        ("shape", "data", "names"),
        [
            ([1] * 70, [1.0], ["input 'x'", "70 dimensions", "at most 32"]),
            ([1] * 33, [1.0], ["input 'x'", "33 dimensions", "at most 32"]),
            ([0, 2**63 - 1, 4], [], ["input 'x'", "at most 2147483647"]),
            ([2**31, 1], [1.0], ["input 'x'", "at most 2147483647"]),
            ([2**64 - 1], [1.0], ["input 'x'", "at most 2147483647"]),
            ([0, 2**31 - 1, 2**31 - 1, 2**31 - 1], [], ["input 'x'", "at most 2147483647 values"]),
        ],
    )
    @pytest.mark.parametrize("datatype", ["FP64", "BYTES"])
    def test_too_many_dimensions_or_values_are_refused(
        self, shape: list[int], data: list[Any], names: list[str], datatype: str
    ) -> None:
        for codec in (untyped, tensor, named, columns):
            message = refused(lambda c=codec: c.decode_v2(v2(t("x", datatype, shape, data))), *names)
            assert len(message) < 400

    def test_the_binary_form_is_refused_alike(self) -> None:
        body, head = binary((t("x", "FP64", [1] * 70), le_bytes([1.0], "FP64")))
        refused(lambda: untyped.decode_v2(body, head), "input 'x'", "at most 32")
        body, head = binary((t("x", "BYTES", [0, 2**62, 4]), b""))
        refused(lambda: untyped.decode_v2(body, head), "input 'x'", "at most 2147483647")

    def test_32_dimensions_and_the_largest_dimension_are_accepted(self) -> None:
        assert untyped.decode_v2(v2(t("x", "FP64", [1] * 32, [2.0]))).data.shape == (1,) * 32
        refused(  # accepted as a shape; refused only because the data does not fill it
            lambda: untyped.decode_v2(v2(t("x", "FP64", [2**31 - 1], [2.0]))),
            "shape [2147483647] holds 2147483647 values",
        )

    @pytest.mark.parametrize(
        "error", [ValueError("maximum supported dimension\nis 64"), TypeError("x"), MemoryError()]
    )
    def test_any_other_error_from_decoding_becomes_one_invalid_input(
        self, monkeypatch: pytest.MonkeyPatch, error: BaseException
    ) -> None:
        """A gap in the checks must still answer 400, not a 500 with a traceback."""
        import slipway.serving._codec as codec_module

        def cast_array(*_: Any) -> Any:
            raise error

        monkeypatch.setattr(codec_module, "cast_array", cast_array)
        body = v2(t("x", "FP64", [1, 3], [1, 2, 3]))
        refused(lambda: tensor.decode_v2(body), "request body: could not be decoded", type(error).__name__)
        refused(lambda: invocations(tensor, {"inputs": [[1, 2, 3]]}), "request body: could not be decoded")

    def test_a_bug_is_not_passed_off_as_the_requests_fault(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import slipway.serving._codec as codec_module

        def cast_array(*_: Any) -> Any:
            raise KeyError("bug")

        monkeypatch.setattr(codec_module, "cast_array", cast_array)
        with pytest.raises(KeyError):
            tensor.decode_v2(v2(t("x", "FP64", [1, 3], [1, 2, 3])))


class TestRequestId:
    """The OIP ``id`` is echoed in the body and in the ``x-request-id`` header: it must fit a header."""

    @pytest.mark.parametrize("rid", ["", "a", "req-42", "x" * 256, "ünïcode 漢字 id", "a b"])
    def test_printable_ids_up_to_256_characters_are_kept_as_given(self, rid: str) -> None:
        assert untyped.decode_v2(v2(t("x", "FP64", [1], [1.0]), id=rid)).id == rid

    def test_no_id_is_none(self) -> None:
        assert untyped.decode_v2(v2(t("x", "FP64", [1], [1.0]))).id is None

    @pytest.mark.parametrize(
        "rid", ["a\nb", "a\r\nx-admin: 1", "a\tb", "\x00", "\x7f", "\x85", "a\u2028b", "x" * 257, " a", "a "]
    )
    def test_control_characters_long_ids_and_outer_spaces_are_refused(self, rid: str) -> None:
        message = refused(lambda: untyped.decode_v2(v2(t("x", "FP64", [1], [1.0]), id=rid)), "'id'", "256")
        assert len(message) < 300


class TestZeroRows:
    """A request of no rows has nothing to predict: the model would raise and count it a fault."""

    @pytest.mark.parametrize(
        ("codec", "inputs"),
        [
            (tensor, [t("x", "FP32", [0, 3], [])]),
            (named, [t("image", "FP32", [0, 2], []), t("ids", "INT64", [0], [])]),
            (untyped, [t("x", "FP64", [0], [])]),
            (untyped, [t("x", "FP64", [0, 3], [])]),
            (untyped, [t("x", "INT64", [0], []), t("y", "BYTES", [0], [])]),
            (columns, [t("all", "FP64", [0, 4], [])]),  # one 2-D tensor of every column
        ],
    )
    def test_v2(self, codec: InputCodec, inputs: list[dict[str, Any]]) -> None:
        refused(lambda: codec.decode_v2(v2(*inputs)), "request: expected at least one row")

    def test_v2_binary(self) -> None:
        body, head = binary((t("x", "FP32", [0, 3]), b""))
        refused(lambda: tensor.decode_v2(body, head), "at least one row")

    @pytest.mark.parametrize(
        "doc", [{"inputs": {"a": []}}, {"inputs": {"a": [], "b": []}}, {"instances": {"a": []}}]
    )
    def test_invocations(self, doc: Any) -> None:
        refused(lambda: invocations(untyped, doc), "request: expected at least one row")

    def test_one_row_of_a_tensor_still_counts(self) -> None:
        assert untyped.decode_v2(v2(t("x", "FP64", [1, 0], []))).rows == 1


class TestBinaryRefusals:
    def test_bytes_after_the_last_tensor(self) -> None:
        body, head = binary((t("x", "FP64", [2]), le_bytes([1, 2], "FP64")), trailing=b"\x00" * 3)
        refused(lambda: untyped.decode_v2(body, head), "3 bytes after the binary tensors")

    def test_a_binary_part_with_no_tensor_claiming_it(self) -> None:
        header = v2(t("x", "FP64", [1], [1.0]))
        refused(lambda: untyped.decode_v2(header + b"\x01\x02", len(header)), "2 bytes after")

    def test_binary_data_size_past_the_end(self) -> None:
        body, head = binary((t("x", "FP64", [2]), le_bytes([1, 2], "FP64")))
        refused(
            lambda: untyped.decode_v2(body[:-1], head), "input 'x'", "binary_data_size 16", "past the end"
        )

    def test_binary_data_size_in_a_json_only_request(self) -> None:
        body = v2(t("x", "FP64", [1], binary_data_size=8))
        refused(lambda: untyped.decode_v2(body), "input 'x'", "Inference-Header-Content-Length")

    @pytest.mark.parametrize("size", [-1, 1.5, "8", True])
    def test_a_bad_binary_data_size(self, size: Any) -> None:
        head = orjson.dumps({"inputs": [t("x", "FP64", [1], binary_data_size=size)]})
        refused(lambda: untyped.decode_v2(head + b"\x00" * 8, len(head)), "input 'x'", "binary_data_size")

    @pytest.mark.parametrize("delta", [-1, 1])
    def test_a_byte_count_that_does_not_match_the_shape(self, delta: int) -> None:
        raw = le_bytes([1.0, 2.0], "FP64")
        raw = raw[:delta] if delta < 0 else raw + b"\x00"
        body, head = binary((t("x", "FP64", [2]), raw))
        refused(lambda: untyped.decode_v2(body, head), "input 'x'", "needs 16 bytes", f"got {len(raw)}")

    @pytest.mark.parametrize("length", [-1, 10_000])
    def test_a_header_length_outside_the_body(self, length: int) -> None:
        body, _ = binary((t("x", "FP64", [1]), le_bytes([1.0], "FP64")))
        refused(lambda: untyped.decode_v2(body, length), "Inference-Header-Content-Length", str(length))

    def test_a_header_length_that_cuts_the_json(self) -> None:
        body, head = binary((t("x", "FP64", [1]), le_bytes([1.0], "FP64")))
        refused(lambda: untyped.decode_v2(body, head - 1), "not valid JSON")
        refused(lambda: untyped.decode_v2(body, 0), "not valid JSON")

    def test_bytes_elements_cut_short(self) -> None:
        raw = le_bytes(["abc"], "BYTES")
        for bad, says in ((raw[:2], "truncated length prefix"), (raw[:-1], "cut short")):
            body, head = binary((t("x", "BYTES", [1]), bad))
            refused(lambda body=body, head=head: untyped.decode_v2(body, head), "input 'x'", says)
        body, head = binary((t("x", "BYTES", [3]), le_bytes(["a", "b"], "BYTES")))
        refused(lambda: untyped.decode_v2(body, head), "input 'x'", "holds 3 values", "has 2")

    def test_bool_bytes_must_be_0_or_1(self) -> None:
        body, head = binary((t("x", "BOOL", [3]), b"\x01\x00\x02"))
        refused(lambda: untyped.decode_v2(body, head), "input 'x'", "0 or 1", "2")

    def test_binary_values_are_cast_to_the_signature(self) -> None:
        body, head = binary((t("x", "FP64", [1, 3]), le_bytes([1e300, 0, 0], "FP64")))
        refused(lambda: tensor.decode_v2(body, head), "input 'x'", "float32", "range")


class TestRequestedOutputs:
    def test_no_outputs_means_the_defaults_in_json(self) -> None:
        payload = untyped.decode_v2(v2(t("x", "FP64", [1], [1.0]), id="r1"))
        assert payload.id == "r1"
        assert payload.outputs is None
        assert payload.binary_outputs == frozenset()

    def test_binary_data_output_asks_for_every_output_in_binary(self) -> None:
        payload = untyped.decode_v2(v2(t("x", "FP64", [1], [1.0]), parameters={"binary_data_output": True}))
        assert payload.outputs is None
        assert payload.binary_outputs == frozenset({"*"})

    def test_named_outputs_in_order_each_with_its_binary_data(self) -> None:
        outputs = [{"name": "b"}, {"name": "a", "parameters": {"binary_data": True}}]
        payload = untyped.decode_v2(v2(t("x", "FP64", [1], [1.0]), outputs=outputs))
        assert payload.outputs == ("b", "a")
        assert payload.binary_outputs == frozenset({"a"})

    def test_an_outputs_own_binary_data_false_wins_over_binary_data_output(self) -> None:
        outputs = [{"name": "a", "parameters": {"binary_data": False}}, {"name": "b"}]
        payload = untyped.decode_v2(
            v2(t("x", "FP64", [1], [1.0]), outputs=outputs, parameters={"binary_data_output": True})
        )
        assert payload.binary_outputs == frozenset({"b"})

    def test_only_true_means_binary(self) -> None:
        outputs = [{"name": "a", "parameters": {"binary_data": "yes"}}]
        payload = untyped.decode_v2(
            v2(t("x", "FP64", [1], [1.0]), outputs=outputs, parameters={"binary_data_output": 1})
        )
        assert payload.binary_outputs == frozenset()


# ---------------------------------------------------------------------- the four codec kinds
class TestColumnSchema:
    def test_metadata_is_one_column_per_input(self) -> None:
        assert columns.kind == "columns"
        assert columns.metadata_inputs() == [
            {"name": "x", "datatype": "FP64", "shape": [-1]},
            {"name": "n", "datatype": "INT64", "shape": [-1]},
            {"name": "city", "datatype": "BYTES", "shape": [-1]},
            {"name": "flag", "datatype": "BOOL", "shape": [-1]},
        ]

    def _body(self, **changes: Any) -> list[dict[str, Any]]:
        inputs = {
            "x": t("x", "FP64", [2], [1.5, 2.5]),
            "n": t("n", "INT32", [2], [1, 2]),
            "city": t("city", "BYTES", [2], ["Oslo", "Lima"]),
            "flag": t("flag", "BOOL", [2], [True, False]),
        }
        inputs.update(changes)
        return [v for v in inputs.values() if v is not None]

    def test_one_tensor_per_column_is_cast_to_the_signature(self) -> None:
        payload = columns.decode_v2(v2(*self._body()))
        assert payload.rows == 2
        assert list(payload.data) == ["x", "n", "city", "flag"]
        assert payload.data["x"].dtype == np.float64
        assert payload.data["n"].dtype == np.int64  # INT32 on the wire, int64 in the signature
        assert payload.data["n"].tolist() == [1, 2]
        assert payload.data["city"].tolist() == ["Oslo", "Lima"]
        assert payload.data["flag"].tolist() == [True, False]

    def test_the_order_of_inputs_does_not_matter_and_n_by_1_columns_are_columns(self) -> None:
        body = self._body(x=t("x", "FP64", [2, 1], [[1.5], [2.5]]))
        payload = columns.decode_v2(v2(*reversed(body)))
        assert list(payload.data) == ["x", "n", "city", "flag"]
        assert payload.data["x"].tolist() == [1.5, 2.5]

    def test_the_same_columns_as_binary_tensors(self) -> None:
        body, head = binary(
            (t("x", "FP64", [2]), le_bytes([1.5, 2.5], "FP64")),
            (t("n", "INT64", [2]), le_bytes([1, 2], "INT64")),
            (t("city", "BYTES", [2]), le_bytes(["Oslo", "Lima"], "BYTES")),
            (t("flag", "BOOL", [2]), b"\x01\x00"),
        )
        payload = columns.decode_v2(body, head)
        json_payload = columns.decode_v2(v2(*self._body()))
        for name in ("x", "n", "city", "flag"):
            assert payload.data[name].tolist() == json_payload.data[name].tolist()

    def test_one_2d_tensor_holds_every_column_in_signature_order(self) -> None:
        payload = numeric.decode_v2(v2(t("input-0", "FP64", [2, 2], [[1.5, 3], [2.5, 4]])))
        assert payload.rows == 2
        assert payload.data["a"].tolist() == [1.5, 2.5]
        assert payload.data["b"].dtype == np.int32
        assert payload.data["b"].tolist() == [3, 4]

    def test_a_2d_tensor_of_the_wrong_width_names_the_columns(self) -> None:
        body = v2(t("input-0", "FP64", [1, 3], [1.0, 2.0, 3.0]))
        refused(lambda: numeric.decode_v2(body), "input 'input-0'", "[-1, 2]", "a, b", "[1, 3]")

    def test_a_2d_column_must_be_one_value_wide(self) -> None:
        body = self._body(x=t("x", "FP64", [2, 2], [1.0, 2.0, 3.0, 4.0]))
        refused(lambda: columns.decode_v2(v2(*body)), "input 'x'", "shape [-1]", "[2, 2]")

    def test_a_missing_column_is_named_with_what_the_request_has(self) -> None:
        refused(lambda: columns.decode_v2(v2(*self._body(n=None))), "input 'n' is missing", "'x'", "'city'")

    def test_extra_columns_are_dropped_or_refused(self) -> None:
        body = v2(*self._body(), t("extra", "FP64", [2], [0.0, 0.0]))
        assert list(columns.decode_v2(body).data) == ["x", "n", "city", "flag"]
        strict = InputCodec(COLUMNS, extra_columns="reject")
        refused(lambda: strict.decode_v2(body), "'extra'", "rejects extra inputs")

    def test_columns_of_different_lengths(self) -> None:
        body = self._body(n=t("n", "INT64", [3], [1, 2, 3]))
        refused(lambda: columns.decode_v2(v2(*body)), "input 'n' has 3 values", "input 'x' has 2")

    def test_a_column_of_the_wrong_type_is_named(self) -> None:
        cases = [
            (self._body(city=t("city", "FP64", [2], [1.0, 2.0])), ["input 'city'", "string"]),
            (self._body(x=t("x", "BYTES", [2], ["1.5", "2.5"])), ["input 'x'", "float64", "'1.5'"]),
            (self._body(n=t("n", "FP64", [2], [1.0, 2.5])), ["input 'n'", "int64", "2.5"]),
            (self._body(flag=t("flag", "INT8", [2], [1, 0])), ["input 'flag'", "bool"]),
        ]
        for body, names in cases:
            refused(lambda body=body: columns.decode_v2(v2(*body)), *names)

    def test_optional_columns_may_be_absent_and_zero_rows_are_refused(self) -> None:
        codec = InputCodec(
            Schema(
                columns=(
                    ColumnSpec(name="a", dtype="float64"),
                    ColumnSpec(name="o", dtype="int64", optional=True),
                )
            )
        )
        assert list(codec.decode_v2(v2(t("a", "FP64", [1], [1.0]))).data) == ["a"]
        refused(lambda: codec.decode_v2(v2(t("a", "FP64", [0], []))), "at least one row")

    def test_binary_and_datetime_columns(self) -> None:
        codec = InputCodec(
            Schema(columns=(ColumnSpec(name="blob", dtype="binary"), ColumnSpec(name="at", dtype="datetime")))
        )
        body, head = binary(
            (t("blob", "BYTES", [2]), le_bytes([b"\xff\x01", b"text"], "BYTES")),
            (t("at", "BYTES", [2]), le_bytes(["2024-05-01T12:00:00", "2024-05-02"], "BYTES")),
        )
        payload = codec.decode_v2(body, head)
        assert payload.data["blob"].tolist() == [b"\xff\x01", b"text"]  # bytes, even the UTF-8 ones
        assert payload.data["at"].dtype.kind == "M"
        assert str(payload.data["at"][1])[:10] == "2024-05-02"
        as_json = codec.decode_v2(
            v2(t("blob", "BYTES", [1], ["héllo"]), t("at", "BYTES", [1], ["2024-05-01"]))
        )
        assert as_json.data["blob"].tolist() == ["héllo".encode()]
        refused(
            lambda: codec.decode_v2(v2(t("blob", "BYTES", [1], ["x"]), t("at", "BYTES", [1], ["soon"]))),
            "input 'at'",
            "datetime",
            "'soon'",
        )


class TestOneTensor:
    def test_metadata(self) -> None:
        assert tensor.kind == "tensor"
        assert tensor.metadata_inputs() == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 3]}]

    def test_any_name_is_taken_and_cast_to_the_signature(self) -> None:
        payload = tensor.decode_v2(v2(t("whatever", "FP64", [2, 3], [1, 2, 3, 4, 5, 6])))
        assert payload.rows == 2
        assert payload.data.dtype == np.float32
        assert payload.data.shape == (2, 3)

    def test_one_row_without_its_batch_dimension_gets_one(self) -> None:
        payload = tensor.decode_v2(v2(t("x", "FP32", [3], [1, 2, 3])))
        assert payload.data.shape == (1, 3)
        assert payload.rows == 1

    def test_the_wrong_shape_and_several_tensors_are_refused(self) -> None:
        refused(
            lambda: tensor.decode_v2(v2(t("x", "FP32", [2, 2], [1, 2, 3, 4]))),
            "input 'x'",
            "[-1, 3]",
            "[2, 2]",
        )
        two = v2(t("a", "FP32", [1, 3], [1, 2, 3]), t("b", "FP32", [1, 3], [1, 2, 3]))
        refused(lambda: tensor.decode_v2(two), "one tensor", "a, b")
        refused(
            lambda: tensor.decode_v2(v2(t("x", "BYTES", [1, 3], ["a", "b", "c"]))), "input 'x'", "float32"
        )


class TestNamedTensors:
    def _body(self, **changes: Any) -> list[dict[str, Any]]:
        inputs = {
            "image": t("image", "FP64", [2, 2], [[0.5, 1.5], [2.5, 3.5]]),
            "ids": t("ids", "INT32", [2], [10, 20]),
        }
        inputs.update(changes)
        return [v for v in inputs.values() if v is not None]

    def test_metadata(self) -> None:
        assert named.kind == "tensors"
        assert named.metadata_inputs() == [
            {"name": "image", "datatype": "FP32", "shape": [-1, 2]},
            {"name": "ids", "datatype": "INT64", "shape": [-1]},
        ]

    def test_each_tensor_is_cast_to_its_spec(self) -> None:
        payload = named.decode_v2(v2(*self._body()))
        assert payload.rows == 2
        assert payload.data["image"].dtype == np.float32
        assert payload.data["image"].shape == (2, 2)
        assert payload.data["ids"].dtype == np.int64

    def test_missing_extra_misshapen_and_unequal_batches(self) -> None:
        refused(lambda: named.decode_v2(v2(*self._body(ids=None))), "input 'ids' is missing", "INT64")
        body = self._body(image=t("image", "FP64", [2, 3], [1, 2, 3, 4, 5, 6]))
        refused(lambda: named.decode_v2(v2(*body)), "input 'image'", "[-1, 2]", "[2, 3]")
        body = self._body(ids=t("ids", "INT64", [3], [1, 2, 3]))
        refused(lambda: named.decode_v2(v2(*body)), "same batch size", "image: 2", "ids: 3")
        extra = v2(*self._body(), t("more", "FP64", [2], [1.0, 2.0]))
        assert set(named.decode_v2(extra).data) == {"image", "ids"}
        refused(lambda: InputCodec(NAMED, extra_columns="reject").decode_v2(extra), "'more'")


class TestNoSignature:
    def test_metadata_is_empty(self) -> None:
        assert untyped.kind == "any"
        assert untyped.metadata_inputs() == []

    def test_one_tensor_is_an_array_and_several_a_dict(self) -> None:
        one = untyped.decode_v2(v2(t("x", "INT64", [3, 1], [1, 2, 3])))
        assert isinstance(one.data, np.ndarray)
        assert one.rows == 3
        both = untyped.decode_v2(v2(t("x", "INT64", [2], [1, 2]), t("y", "BYTES", [2], ["a", "b"])))
        assert set(both.data) == {"x", "y"}
        assert both.rows == 2
        refused(
            lambda: untyped.decode_v2(v2(t("x", "INT64", [2], [1, 2]), t("y", "INT64", [1], [1]))),
            "same batch size",
            "x: 2",
        )


# ---------------------------------------------------------------------- MLflow /invocations
ROWS = [[1.5, 1, "Oslo", True], [2.5, 2, "Lima", False]]
NAMES = ["x", "n", "city", "flag"]
RECORDS = [dict(zip(NAMES, r, strict=True)) for r in ROWS]


def invocations(codec: InputCodec, doc: Any, content_type: str = JSON) -> Payload:
    return codec.decode_invocations(orjson.dumps(doc), content_type)


def assert_rows(payload: Payload) -> None:
    assert payload.rows == 2
    assert list(payload.data) == NAMES
    assert payload.data["x"].dtype == np.float64
    assert payload.data["n"].dtype == np.int64
    assert [payload.data[k].tolist() for k in NAMES] == [list(c) for c in zip(*ROWS, strict=True)]


class TestInvocations:
    @pytest.mark.parametrize(
        "doc",
        [
            {"dataframe_split": {"columns": NAMES, "data": ROWS}},
            {"dataframe_split": {"columns": NAMES, "data": ROWS, "index": [0, 1]}},
            {"dataframe_records": RECORDS},
            {"instances": RECORDS},
            {"instances": ROWS},
            {"inputs": RECORDS},
            {"inputs": ROWS},
            {"inputs": {k: [r[j] for r in ROWS] for j, k in enumerate(NAMES)}},
            {"instances": {k: [r[j] for r in ROWS] for j, k in enumerate(NAMES)}},
        ],
        ids=[
            "split",
            "split+index",
            "records",
            "instances-records",
            "instances-lists",
            "inputs-records",
            "inputs-lists",
            "inputs-dict",
            "instances-dict",
        ],
    )
    def test_every_json_format_gives_the_same_columns(self, doc: dict[str, Any]) -> None:
        assert_rows(invocations(columns, doc))

    def test_one_record_alone_is_one_row_and_params_are_kept(self) -> None:
        payload = invocations(columns, {"dataframe_records": RECORDS[0], "params": {"threshold": 0.3}})
        assert payload.rows == 1
        assert payload.params == {"threshold": 0.3}

    def test_content_type_parameters_and_case_are_ignored(self) -> None:
        body = orjson.dumps({"inputs": ROWS})
        assert_rows(columns.decode_invocations(body, "Application/JSON; charset=utf-8"))
        assert_rows(columns.decode_invocations(body, ""))

    @pytest.mark.parametrize(
        ("doc", "names"),
        [
            ({"instances": ROWS, "inputs": ROWS}, ["exactly one", "'instances'", "'inputs'"]),
            ({"rows": ROWS}, ["exactly one", "'rows'"]),
            ({}, ["exactly one", "none"]),
            ({"inputs": ROWS, "extra": 1}, ["'extra'"]),
            ([1, 2], ["JSON object"]),
            ({"inputs": ROWS, "params": [1]}, ["params", "object"]),
            ({"dataframe_split": ROWS}, ["dataframe_split", "'columns' and 'data'"]),
            ({"dataframe_split": {"columns": NAMES, "data": []}}, ["dataframe_split.data", "non-empty"]),
            ({"dataframe_split": {"data": ROWS}}, ["dataframe_split.columns"]),
            ({"dataframe_split": {"columns": "x", "data": ROWS}}, ["dataframe_split.columns"]),
            (
                {"dataframe_split": {"columns": NAMES, "data": [ROWS[0], [1.0]]}},
                ["dataframe_split.data[1]", "4"],
            ),
            (
                {"dataframe_split": {"columns": [*NAMES, "x"], "data": [[*r, 0.0] for r in ROWS]}},
                ["dataframe_split.columns", "'x' appears more than once"],
            ),
            (
                {"dataframe_split": {"columns": NAMES[:3], "data": [r[:3] for r in ROWS]}},
                ["'flag' is missing"],
            ),
            ({"dataframe_records": [RECORDS[0], {"x": 1.0}]}, ["dataframe_records[1]", "column 'n'"]),
            ({"dataframe_records": []}, ["dataframe_records", "non-empty"]),
            ({"dataframe_records": [1, 2]}, ["dataframe_records", "records"]),
            ({"dataframe_records": [{**RECORDS[0], "x": "wide"}]}, ["input 'x'", "float64", "'wide'"]),
            ({"dataframe_records": [{**RECORDS[0], "n": 1.5}]}, ["input 'n'", "int64", "1.5"]),
            ({"dataframe_records": [{**RECORDS[0], "flag": 1}]}, ["input 'flag'", "bool"]),
            ({"dataframe_records": [{**RECORDS[0], "x": True}]}, ["input 'x'", "float64", "True"]),
            ({"inputs": [ROWS[0], [1.0, 2]]}, ["inputs[1]", "4 values", "x, n, city, flag"]),
            ({"inputs": []}, ["inputs", "non-empty"]),
            ({"inputs": {"x": 1.0, "n": 1, "city": "a", "flag": True}}, ["inputs.x", "list"]),
            (
                {"inputs": {"x": [1.0], "n": [1, 2], "city": ["a"], "flag": [True]}},
                ["input 'n' has 2 values"],
            ),
        ],
    )
    def test_bad_bodies_name_the_key_or_column(self, doc: Any, names: list[str]) -> None:
        refused(lambda: invocations(columns, doc), *names)

    def test_a_wrong_content_type(self) -> None:
        refused(
            lambda: columns.decode_invocations(b"x=1", "application/x-www-form-urlencoded"), "Content-Type"
        )
        refused(lambda: columns.decode_invocations(b"{", JSON), "not valid JSON")

    def test_extra_columns_are_dropped_or_refused(self) -> None:
        doc = {"dataframe_records": [{**r, "id": i} for i, r in enumerate(RECORDS)]}
        assert_rows(invocations(columns, doc))
        refused(lambda: invocations(InputCodec(COLUMNS, extra_columns="reject"), doc), "'id'")

    def test_one_tensor(self) -> None:
        payload = invocations(tensor, {"instances": [[1, 2, 3], [4, 5, 6]]})
        assert payload.data.dtype == np.float32
        assert payload.data.shape == (2, 3)
        assert invocations(tensor, {"inputs": [1, 2, 3]}).data.shape == (1, 3)
        assert invocations(tensor, {"dataframe_split": {"data": [[1, 2, 3]]}}).data.shape == (1, 3)
        refused(lambda: invocations(tensor, {"inputs": {"x": [1, 2, 3]}}), "inputs", "one tensor")
        refused(lambda: invocations(tensor, {"inputs": [[1, 2], [3]]}), "inputs", "rectangular")
        refused(lambda: invocations(tensor, {"inputs": [[1, 2]]}), "[-1, 3]")

    def test_named_tensors(self) -> None:
        as_dict = invocations(named, {"inputs": {"image": [[1, 2], [3, 4]], "ids": [1, 2]}})
        records = invocations(
            named, {"dataframe_records": [{"image": [1, 2], "ids": 1}, {"image": [3, 4], "ids": 2}]}
        )
        split = invocations(
            named, {"dataframe_split": {"columns": ["image", "ids"], "data": [[[1, 2], 1], [[3, 4], 2]]}}
        )
        instances = invocations(
            named, {"instances": [{"image": [1, 2], "ids": 1}, {"image": [3, 4], "ids": 2}]}
        )
        for payload in (as_dict, records, split, instances):
            assert payload.data["image"].dtype == np.float32
            assert payload.data["image"].tolist() == [[1, 2], [3, 4]]
            assert payload.data["ids"].tolist() == [1, 2]
        refused(lambda: invocations(named, {"inputs": [[1, 2], [3, 4]]}), "named inputs")
        refused(
            lambda: invocations(
                named, {"dataframe_records": [{"image": [1, 2], "ids": 1}, {"image": [3], "ids": 2}]}
            ),
            "image",
            "rectangular",
        )

    def test_no_signature(self) -> None:
        frame = invocations(
            untyped, {"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}}
        )
        assert isinstance(frame.data, pd.DataFrame)
        assert frame.data["a"].tolist() == [1, 2]
        assert frame.rows == 2
        array = invocations(untyped, {"instances": [[1.0, 2.0], [3.0, 4.0]]})
        assert isinstance(array.data, np.ndarray)
        assert array.data.shape == (2, 2)
        tensors = invocations(untyped, {"inputs": {"a": [1, 2], "b": [[1, 2], [3, 4]]}})
        assert tensors.data["b"].shape == (2, 2)


class TestCsv:
    def test_a_header_and_rows_are_read_as_the_signature_types(self) -> None:
        body = b"x,n,city,flag\n1.5,1,Oslo,true\n2.5,2,Lima,false\n"
        assert_rows(columns.decode_invocations(body, "text/csv"))

    def test_quoted_fields_bom_crlf_blank_lines_and_a_charset(self) -> None:
        body = '\ufeffx,n,city,flag\r\n1.5,1,"Oslo, ""Norway""",True\r\n\r\n2.5,2,"two\nlines",0\r\n'.encode()
        payload = columns.decode_invocations(body, "text/csv; charset=utf-8")
        assert payload.data["city"].tolist() == ['Oslo, "Norway"', "two\nlines"]
        assert payload.data["flag"].tolist() == [True, False]

    def test_booleans_read_any_case_and_0_1(self) -> None:
        codec = InputCodec(Schema(columns=(ColumnSpec(name="b", dtype="bool"),)))
        payload = codec.decode_invocations(b"b\ntrue\nFALSE\n1\n0\nTrue\n", "text/csv")
        assert payload.data["b"].tolist() == [True, False, True, False, True]
        refused(
            lambda: codec.decode_invocations(b"b\nyes\n", "text/csv"),
            "CSV column 'b'",
            "true or false",
            "'yes'",
        )

    def test_numbers_follow_the_cast_rules(self) -> None:
        payload = numeric.decode_invocations(b"a,b\n1,2.0\n,3\n", "text/csv")
        assert payload.data["a"][0] == 1.0
        assert math.isnan(payload.data["a"][1])  # an empty cell in a float column is missing
        assert payload.data["b"].tolist() == [2, 3]  # 2.0 is an integer
        assert payload.data["b"].dtype == np.int32

    @pytest.mark.parametrize(
        ("body", "names"),
        [
            (b"", ["CSV body", "header"]),
            (b"a,b\n", ["CSV body", "data row"]),
            (b"a,b\n1,2\n3\n", ["CSV line 3", "2 fields", "got 1"]),
            (b"a,b\n1,2\n\n3,4,5\n", ["CSV line 4", "got 3"]),
            (b"a,b\nabc,2\n", ["CSV column 'a'", "float64", "'abc'"]),
            (b"a,b\n1.0,1.5\n", ["input 'b'", "int32", "1.5"]),
            (b"a,b\n1.0,x\n", ["CSV column 'b'", "int32", "'x'"]),
            (b"a,b\n1.0,\n", ["input 'b'", "int32", "missing"]),
            (b"a,b\n1.0,99999999999999999999999\n", ["input 'b'", "range"]),
            (b"a,b\n1.0,3000000000\n", ["input 'b'", "int32", "range"]),
            (b"a,a\n1.0,2\n", ["CSV header", "'a' appears more than once"]),
            (b"a\n1.0\n", ["input 'b' is missing"]),
            (b"a,b\n\xff,1\n", ["CSV body", "not UTF-8"]),
        ],
    )
    def test_bad_csv_names_the_line_or_column(self, body: bytes, names: list[str]) -> None:
        refused(lambda: numeric.decode_invocations(body, "text/csv"), *names)

    def test_without_a_signature_columns_are_read_as_what_they_hold(self) -> None:
        body = b"i,f,b,s,gap\n1,1.5,true,x,1\n2,2,False,2,\n"
        frame = untyped.decode_invocations(body, "text/csv").data
        assert frame["i"].dtype == np.int64
        assert frame["f"].tolist() == [1.5, 2.0]
        assert frame["b"].tolist() == [True, False]
        assert frame["s"].tolist() == ["x", "2"]
        assert frame["gap"].iloc[0] == 1.0
        assert math.isnan(frame["gap"].iloc[1])


# ---------------------------------------------------------------------- encoding
def _doc(body: bytes, head: int | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(body[:head] if head is not None else body)
    return doc


class TestEncodeV2:
    def test_json_outputs_are_flat_with_their_shape_and_datatype(self) -> None:
        body, head = encode_v2(
            model_name="iris",
            model_version="3",
            request_id="r1",
            outputs={
                "predict": np.array([0, 2], dtype=np.int64),
                "predict_proba": np.array([[0.9, 0.1], [0.2, 0.8]]),
                "flags": np.array([True, False]),
                "f32": np.array([1.5], dtype=np.float32),
            },
        )
        assert head is None
        doc = _doc(body)
        assert (doc["model_name"], doc["model_version"], doc["id"]) == ("iris", "3", "r1")
        assert doc["outputs"] == [
            {"name": "predict", "shape": [2], "datatype": "INT64", "data": [0, 2]},
            {"name": "predict_proba", "shape": [2, 2], "datatype": "FP64", "data": [0.9, 0.1, 0.2, 0.8]},
            {"name": "flags", "shape": [2], "datatype": "BOOL", "data": [True, False]},
            {"name": "f32", "shape": [1], "datatype": "FP32", "data": [1.5]},
        ]

    def test_no_id_means_no_id_key(self) -> None:
        body, _ = encode_v2(model_name="m", model_version="1", request_id=None, outputs={"p": np.array([1])})
        assert "id" not in _doc(body)

    def test_bytes_outputs_in_json_are_text(self) -> None:
        body, _ = encode_v2(
            model_name="m",
            model_version="1",
            request_id=None,
            outputs={
                "u": np.array(["a", "bb"]),
                "o": np.array(["x", b"y\xff"], dtype=object),
                "when": np.array(["2024-05-01T12:00"], dtype="datetime64[ns]"),
            },
        )
        u, o, when = _doc(body)["outputs"]
        assert (u["datatype"], u["data"]) == ("BYTES", ["a", "bb"])
        assert o["data"] == ["x", "y\ufffd"]
        assert when["datatype"] == "BYTES"
        assert when["data"][0].startswith("2024-05-01T12:00:00")  # not nanoseconds since 1970

    def test_binary_outputs_decode_back_to_the_same_arrays(self) -> None:
        outputs = {
            "p": np.array([[1.5, -2.0], [np.inf, np.nan]]),
            "k": np.array([1, 65_535], dtype=np.uint16),
            "b": np.array([True, False]),
            "s": np.array(["é", ""], dtype=object),
            "j": np.array([7, 8]),
        }
        body, head = encode_v2(
            model_name="m",
            model_version="1",
            request_id="r",
            outputs=outputs,
            binary=frozenset({"p", "k", "b", "s"}),
        )
        assert head is not None
        parts = split_binary(body, head)
        assert parts["j"][0]["data"] == [7, 8]  # not asked for in binary: JSON
        for name in ("p", "k", "b"):
            entry, raw = parts[name]
            assert entry["parameters"] == {"binary_data_size": len(raw)}
            assert "data" not in entry
            dtype = np.dtype(DATATYPES[entry["datatype"]][0]).newbyteorder("<")
            back = np.frombuffer(raw, dtype=dtype).reshape(entry["shape"])
            np.testing.assert_array_equal(back, outputs[name])
        entry, raw = parts["s"]
        assert raw == le_bytes(["é", ""], "BYTES")
        again = untyped.decode_v2(*as_request(body, head)).data
        assert again["s"].tolist() == ["é", ""]
        np.testing.assert_array_equal(again["p"], outputs["p"])

    def test_a_star_makes_every_output_binary(self) -> None:
        body, head = encode_v2(
            model_name="m",
            model_version="1",
            request_id=None,
            outputs={"a": np.array([1.0]), "b": np.array([2])},
            binary=frozenset({"*"}),
        )
        assert head is not None
        assert all("data" not in e for e in _doc(body, head)["outputs"])

    def test_dataframe_and_series_outputs(self) -> None:
        frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
        body, _ = encode_v2(
            model_name="m",
            model_version="1",
            request_id=None,
            outputs={"f": frame, "s": pd.Series(["x", "y"]), "mixed": pd.DataFrame({"n": [1], "t": ["a"]})},
        )
        f, s, mixed = _doc(body)["outputs"]
        assert (f["shape"], f["datatype"], f["data"]) == ([2, 2], "FP64", [1.0, 3.0, 2.0, 4.0])
        assert (s["shape"], s["datatype"], s["data"]) == ([2], "BYTES", ["x", "y"])
        assert (mixed["shape"], mixed["datatype"], mixed["data"]) == ([1, 2], "BYTES", ["1", "a"])

    def test_non_finite_floats_are_null_in_json(self) -> None:
        body, _ = encode_v2(
            model_name="m",
            model_version="1",
            request_id=None,
            outputs={"p": np.array([np.nan, np.inf, -np.inf, 1.0])},
        )
        assert _doc(body)["outputs"][0]["data"] == [None, None, None, 1.0]

    def test_strided_and_big_endian_arrays(self) -> None:
        strided = np.arange(6.0).reshape(2, 3)[:, 1]
        big = np.array([1.0, 2.0], dtype=">f8")
        for as_binary in (frozenset(), frozenset({"*"})):
            body, head = encode_v2(
                model_name="m",
                model_version="1",
                request_id=None,
                outputs={"s": strided, "b": big},
                binary=as_binary,
            )
            again = untyped.decode_v2(*as_request(body, head)).data
            assert again["s"].tolist() == [1.0, 4.0]
            assert again["b"].tolist() == [1.0, 2.0]


class TestEncodeInvocations:
    def test_arrays(self) -> None:
        assert orjson.loads(encode_invocations({"predict": np.array([0, 1])})) == {"predictions": [0, 1]}
        assert orjson.loads(encode_invocations({"predict": np.array([[0.5, 0.5]])})) == {
            "predictions": [[0.5, 0.5]]
        }
        assert orjson.loads(encode_invocations({"predict": np.array(["a", "b"])})) == {
            "predictions": ["a", "b"]
        }
        assert orjson.loads(encode_invocations({"predict": [1, 2]})) == {"predictions": [1, 2]}

    def test_a_dataframe_is_a_list_of_records(self) -> None:
        frame = pd.DataFrame(
            {
                "label": ["a", None],
                "score": [0.5, np.nan],
                "at": pd.Series([pd.Timestamp("2024-05-01"), pd.NaT]),
            }
        )
        doc = orjson.loads(encode_invocations({"predict": frame}))
        assert doc == {
            "predictions": [
                {"label": "a", "score": 0.5, "at": "2024-05-01T00:00:00"},
                {"label": None, "score": None, "at": None},
            ]
        }

    def test_several_outputs_are_records_by_row(self) -> None:
        doc = orjson.loads(
            encode_invocations(
                {"predict": np.array([1, 0]), "predict_proba": np.array([[0.2, 0.8], [0.9, 0.1]])}
            )
        )
        assert doc == {
            "predictions": [
                {"predict": 1, "predict_proba": [0.2, 0.8]},
                {"predict": 0, "predict_proba": [0.9, 0.1]},
            ]
        }

    def test_nan_and_infinity_are_null(self) -> None:
        doc = orjson.loads(encode_invocations({"p": np.array([np.nan, np.inf, 1.0])}))
        assert doc == {"predictions": [None, None, 1.0]}
        doc = orjson.loads(encode_invocations({"p": np.array([[np.nan]]), "q": np.array([-np.inf])}))
        assert doc == {"predictions": [{"p": [None], "q": None}]}

    def test_bytes_datetimes_and_odd_arrays(self) -> None:
        doc = orjson.loads(encode_invocations({"p": np.array([[b"a", b"\xff"]], dtype=object)}))
        assert doc == {"predictions": [["a", "\ufffd"]]}
        doc = orjson.loads(encode_invocations({"p": np.array(["2024-05-01"], dtype="datetime64[ns]")}))
        assert doc["predictions"][0].startswith("2024-05-01T00:00:00")
        doc = orjson.loads(
            encode_invocations(
                {"p": np.array([1.0, 2.0], dtype=">f8"), "q": np.array([b"x"], dtype=object)[[0, 0]]}
            )
        )
        assert doc == {"predictions": [{"p": 1.0, "q": "x"}, {"p": 2.0, "q": "x"}]}
        assert orjson.loads(encode_invocations({"p": pd.Series([1, None], dtype="Int64")})) == {
            "predictions": [1, None]
        }


# ---------------------------------------------------------------------- round-trip property
_matrices = hnp.arrays(
    dtype=np.float64,
    shape=st.tuples(st.integers(1, 6), st.integers(0, 6)),  # a request has at least one row
    elements=st.floats(allow_nan=True, allow_infinity=True, width=64),
)


@settings(max_examples=60, deadline=None)
@given(_matrices)
def test_any_float64_matrix_survives_encode_v2_then_decode_v2(matrix: np.ndarray[Any, Any]) -> None:
    """Binary keeps every bit; JSON keeps every finite value and, having no NaN or infinity, sends
    those as null, which is read back as a missing value (NaN)."""
    body, head = encode_v2(
        model_name="m", model_version="1", request_id=None, outputs={"m": matrix}, binary=frozenset({"m"})
    )
    back = untyped.decode_v2(*as_request(body, head)).data
    assert back.dtype == np.float64
    assert back.shape == matrix.shape
    assert back.tobytes() == matrix.tobytes()

    body, head = encode_v2(model_name="m", model_version="1", request_id=None, outputs={"m": matrix})
    assert head is None
    back = untyped.decode_v2(*as_request(body, head)).data
    assert back.dtype == np.float64
    assert back.shape == matrix.shape
    finite = np.isfinite(matrix)
    assert back[finite].tobytes() == matrix[finite].tobytes()  # -0.0 stays -0.0
    assert np.isnan(back[~finite]).all()


# ---------------------------------------------------------------------- no request crashes the codec
_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)  # what orjson writes; JSON reads larger ones as floats
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)
_dims = st.integers(-1, 3) | st.sampled_from([0, 2**31 - 1, 2**31, 2**63 - 1, 2**64 - 1])
_tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["x", "a", "image", "ids", "city", "input-0"]) | _json_values,
        "shape": st.lists(_dims, max_size=4) | st.lists(st.just(1), min_size=30, max_size=70) | _json_values,
        "datatype": st.sampled_from(list(DATATYPES)) | _json_values,
        "data": st.lists(st.integers(0, 2), max_size=2) | st.lists(_json_values, max_size=4) | _json_values,
    }
)
_v2_docs = st.fixed_dictionaries(
    {"inputs": st.lists(_tensors, max_size=3) | _json_values},
    optional={"id": st.text(max_size=5) | _json_values, "outputs": _json_values, "parameters": _json_values},
)
_invocation_docs = st.dictionaries(
    st.sampled_from(["dataframe_split", "dataframe_records", "instances", "inputs", "params"]),
    _json_values
    | st.fixed_dictionaries({"columns": _json_values, "data": _json_values})
    | st.lists(st.dictionaries(st.sampled_from(["x", "n", "image", "ids"]), _json_values), max_size=3),
    min_size=1,
    max_size=2,
)
_CODECS = [columns, numeric, tensor, named, untyped]


def _outcome(call: Any) -> Payload | InvalidInput:
    try:
        payload: Payload = call()
    except InvalidInput as e:
        return e
    return payload


def _assert_decoded_or_refused(outcome: Payload | InvalidInput) -> None:
    if isinstance(outcome, InvalidInput):
        assert "\n" not in str(outcome)
    else:
        assert outcome.rows >= 1


@settings(max_examples=150, deadline=None)
@given(_v2_docs)
def test_no_v2_request_makes_the_codec_raise_anything_but_invalid_input(doc: dict[str, Any]) -> None:
    body = orjson.dumps(doc)
    for codec in _CODECS:
        _assert_decoded_or_refused(_outcome(lambda c=codec: c.decode_v2(body)))


@settings(max_examples=150, deadline=None)
@given(_invocation_docs)
def test_no_invocations_body_makes_the_codec_raise_anything_but_invalid_input(doc: dict[str, Any]) -> None:
    body = orjson.dumps(doc)
    for codec in _CODECS:
        _assert_decoded_or_refused(_outcome(lambda c=codec: c.decode_invocations(body, JSON)))


# ---------------------------------------------------------------------- finite-only models
class TestFiniteOnly:
    """A codec for a model that refuses NaN and infinity finds them itself: a 400 naming the input."""

    finite = InputCodec(TENSOR, finite=True)

    @pytest.mark.parametrize("bad", [None, "NaN"])
    def test_a_null_or_nan_in_a_float_tensor_is_refused(self, bad: Any) -> None:
        data: list[Any] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        header_length: int | None = None
        if bad is None:
            data[4] = None
            body = orjson.dumps({"inputs": [t("x", "FP32", [2, 3], data)]})
        else:  # JSON has no NaN: it comes as binary tensor data
            raw = np.array([1, 2, 3, 4, np.nan, 6], dtype="<f4").tobytes()
            head = orjson.dumps({"inputs": [t("x", "FP32", [2, 3], binary_data_size=len(raw))]})
            body, header_length = head + raw, len(head)
        with pytest.raises(InvalidInput, match=r"^input: NaN or infinite values"):
            self.finite.decode_v2(body, header_length)

    def test_a_null_is_refused_in_mlflow_requests_too(self) -> None:
        raw = orjson.dumps({"instances": [[1.0, None, 3.0]]})
        with pytest.raises(InvalidInput, match="NaN or infinite"):
            self.finite.decode_invocations(raw, JSON)

    def test_finite_values_pass_and_a_codec_without_the_option_keeps_nulls_as_nan(self) -> None:
        body = orjson.dumps({"inputs": [t("x", "FP32", [1, 3], [1.0, None, 3.0])]})
        kept = tensor.decode_v2(body).data
        assert kept.shape == (1, 3)
        assert np.isnan(kept[0, 1])
        ok = orjson.dumps({"inputs": [t("x", "FP32", [1, 3], [1.0, 2.0, 3.0])]})
        assert self.finite.decode_v2(ok).data.tolist() == [[1.0, 2.0, 3.0]]
