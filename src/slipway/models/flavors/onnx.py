"""ONNX models, run with onnxruntime on the CPU.

An ``onnx.ModelProto``, or the path of a ``.onnx`` file, is saved as ``model.onnx`` (no pickle), with
its inputs and outputs (names, element types, shapes) in the loader options. It loads as an
``onnxruntime.InferenceSession`` on the ``CPUExecutionProvider``; loading needs onnxruntime only.

Inputs: a model with one input receives the whole table as one tensor of its element type (a
DataFrame's columns side by side, in the signature's order, or the array as given); a model with one
input per column (what skl2onnx makes from a DataFrame) receives each column by name as an
``(n, 1)`` tensor; named tensors go to the inputs of the same names.

Outputs: ``predict`` returns the first output that is not a probability output, as the model gives
it (a regressor converted by skl2onnx returns shape ``(n, 1)``). ``predict_proba`` is offered when an
output holds probabilities: named like ``probabilities`` or a sequence of maps, the ZipMap form that
skl2onnx emits for classifiers by default (one ``{label: p}`` dict per row), which is turned into an
``(n, classes)`` array in the order of the labels. Converting with ``options={"zipmap": False}``
gives that array directly. ``flavor_options={"predict": name, "predict_proba": name}`` picks other
outputs. A model stored with external data files (over 2 GB) is not supported.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.models._flavor import FlavorData, require

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["FLAVOR", "OnnxFlavor"]

_FILE = "model.onnx"
_PROVIDERS = ["CPUExecutionProvider"]
_OPTIONS = ("predict", "predict_proba")
_NUMPY_TYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(float16)": "float16",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(int16)": "int16",
    "tensor(int8)": "int8",
    "tensor(uint8)": "uint8",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


class OnnxFlavor:
    """The ``onnx`` flavor (extra ``onnx``)."""

    name = "onnx"
    extra: str | None = "onnx"

    def detect(self, obj: object) -> bool:
        if isinstance(obj, (str, os.PathLike)):
            return str(obj).endswith(".onnx") and Path(obj).is_file()
        onnx = sys.modules.get("onnx")  # not imported: obj cannot be a ModelProto
        return onnx is not None and isinstance(obj, onnx.ModelProto)

    def save(self, obj: object, folder: Path, *, options: Mapping[str, Any] | None = None) -> FlavorData:
        given = dict(options or {})
        unknown = sorted(set(given) - set(_OPTIONS))
        if unknown:
            raise InvalidInput(f"onnx: unknown flavor_options {unknown} (known: {', '.join(_OPTIONS)})")
        data = _model_bytes(obj)
        ort = require("onnxruntime", flavor=self.name, extra=self.extra)
        try:
            session = ort.InferenceSession(data, providers=_PROVIDERS)
        except Exception as exc:  # onnxruntime raises its own types for an invalid graph
            raise InvalidInput(f"onnx: onnxruntime cannot load the model: {exc}") from exc
        outputs = [_describe(o) for o in session.get_outputs()]
        chosen = _choose_outputs(outputs, given)
        (folder / _FILE).write_bytes(data)
        opts: dict[str, Any] = {
            "file": _FILE,
            "inputs": [_describe(i) for i in session.get_inputs()],
            "outputs": outputs,
            **chosen,
        }
        meta = session.get_modelmeta()
        if meta.producer_name:
            opts["producer"] = meta.producer_name
        return FlavorData(options=opts, data=(_FILE,))

    def load(self, folder: Path, options: Mapping[str, Any]) -> object:
        ort = require("onnxruntime", flavor=self.name, extra=self.extra)
        return ort.InferenceSession(str(folder / str(options.get("file", _FILE))), providers=_PROVIDERS)

    def requirements(self, obj: object) -> list[str]:
        return ["onnxruntime", "numpy"]

    def methods(self, model: object, options: Mapping[str, Any]) -> dict[str, Callable[..., Any]]:
        ort = require("onnxruntime", flavor=self.name, extra=self.extra)
        # At save the outputs are inferred by running the object being saved.
        session = (
            model
            if isinstance(model, ort.InferenceSession)
            else ort.InferenceSession(_model_bytes(model), providers=_PROVIDERS)
        )
        inputs = [(i.name, _NUMPY_TYPES.get(i.type), len(i.shape or ())) for i in session.get_inputs()]
        out: dict[str, Callable[..., Any]] = {}
        predict = options.get("predict")
        if predict:
            out["predict"] = _runner(session, inputs, str(predict), proba=False)
        proba = options.get("predict_proba")
        if proba:
            out["predict_proba"] = _runner(session, inputs, str(proba), proba=True)
        return out


def _model_bytes(obj: object) -> bytes:
    if isinstance(obj, (str, os.PathLike)):
        path = Path(obj)
        if not path.is_file():
            raise InvalidInput(f"onnx: {str(path)!r} is not a file")
        return path.read_bytes()
    serialize = getattr(obj, "SerializeToString", None)
    if serialize is None:
        raise InvalidInput(f"onnx: expected an onnx.ModelProto or a .onnx path, got {type(obj).__name__}")
    data: bytes = serialize()
    return data


def _describe(arg: Any) -> dict[str, Any]:
    shape = [d if isinstance(d, int) else -1 for d in (arg.shape or [])]
    return {"name": arg.name, "type": arg.type, "shape": shape}


def _is_probability(output: Mapping[str, Any]) -> bool:
    return "probab" in output["name"].lower() or output["type"].startswith("seq(map(")


def _choose_outputs(outputs: list[dict[str, Any]], given: Mapping[str, Any]) -> dict[str, str]:
    names = [o["name"] for o in outputs]
    for method in _OPTIONS:
        if method in given and given[method] not in names:
            raise InvalidInput(f"onnx: flavor_options {method}={given[method]!r} is not an output ({names})")
    proba = given.get("predict_proba") or next((o["name"] for o in outputs if _is_probability(o)), None)
    predict = given.get("predict") or next((n for n in names if n != proba), proba)
    chosen = {"predict": str(predict)}
    if proba is not None:
        chosen["predict_proba"] = str(proba)
    return chosen


def _runner(
    session: Any, inputs: list[tuple[str, str | None, int]], output: str, *, proba: bool
) -> Callable[[Any], Any]:
    def run(data: Any) -> Any:
        result = session.run([output], _feed(inputs, data))[0]
        return _probabilities(result) if proba and isinstance(result, list) else result

    return run


def _feed(inputs: list[tuple[str, str | None, int]], data: Any) -> dict[str, Any]:
    import numpy as np

    def cast(values: Any, dtype: str | None) -> Any:
        array = np.asarray(values)
        if dtype == "object":
            return array.astype(str).astype(object)
        return array if dtype is None else array.astype(dtype, copy=False)

    names = [name for name, _, _ in inputs]
    if isinstance(data, dict):
        missing = [n for n in names if n not in data]
        if missing:
            raise InvalidInput(f"onnx: inputs {missing} are missing; the model takes {names}")
        return {name: cast(data[name], dtype) for name, dtype, _ in inputs}
    if hasattr(data, "columns") and len(inputs) > 1:
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise InvalidInput(f"onnx: the model takes one input per column {names}; {missing} are missing")
        return {
            name: cast(data[name].to_numpy().reshape(-1, 1) if rank == 2 else data[name].to_numpy(), dtype)
            for name, dtype, rank in inputs
        }
    if len(inputs) != 1:
        raise InvalidInput(
            f"onnx: the model takes {len(inputs)} inputs {names}; pass a DataFrame or named tensors"
        )
    name, dtype, _ = inputs[0]
    values = data.to_numpy(dtype=dtype) if hasattr(data, "columns") and dtype != "object" else data
    return {name: cast(values, dtype)}


def _probabilities(rows: list[Mapping[Any, float]]) -> Any:
    """ZipMap output (one ``{label: p}`` per row) as an ``(n, classes)`` array, in the labels' order."""
    import numpy as np

    if not rows:
        return np.zeros((0, 0), dtype=np.float32)
    labels = list(rows[0])
    return np.array([[row[label] for label in labels] for row in rows], dtype=np.float32)


FLAVOR = OnnxFlavor()
