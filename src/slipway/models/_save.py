"""``save_model``: write a model folder (data, example, requirements, code, manifest) atomically.

The folder is built beside its final place and renamed into it, so a reader never sees half a model
and a failed save leaves nothing behind.
"""

from __future__ import annotations

import inspect
import json
import os
import platform
import shutil
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway._version import __version__
from slipway.errors import AlreadyExists, InvalidInput
from slipway.models._enforce import InputEnforcer
from slipway.models._flavor import Flavor, detect_flavor, get_flavor
from slipway.models._infer import as_data, encode_example, infer_schema, output_schema
from slipway.models._integrity import digest_folder
from slipway.models._manifest import MANIFEST_FILE, Lineage, Manifest, check_json, write_manifest
from slipway.models._reference import REFERENCE_FILE, ReferenceSummary
from slipway.models._requirements import distributions_for_modules, pin
from slipway.models._warnings import SlipwayWarning

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from slipway.core import Signature
    from slipway.models._flavor import FlavorData

__all__ = ["CODE_DIR", "EXAMPLE_FILE", "REQUIREMENTS_FILE", "save_model"]

EXAMPLE_FILE = "input_example.json"
REQUIREMENTS_FILE = "requirements.txt"
CODE_DIR = "code"
_OUTPUT_ROWS = 5  # rows of training data run through the model to learn its outputs
REFERENCE_ROWS = 50_000


def save_model(
    model: object,
    path: str | os.PathLike[str],
    *,
    flavor: str | Flavor | None = None,
    signature: Signature | None = None,
    input_example: object = None,
    training_data: object = None,
    reference_rows: int = REFERENCE_ROWS,
    requirements: Iterable[str] | None = None,
    extra_requirements: Iterable[str] = (),
    code_paths: Iterable[str | os.PathLike[str]] = (),
    metadata: Mapping[str, Any] | None = None,
    lineage: Lineage | None = None,
    flavor_options: Mapping[str, Any] | None = None,
) -> Manifest:
    """Save ``model`` as a slipway model folder at ``path`` and return its manifest.

    Args:
        model: a fitted model.
        flavor: a flavor's name or object; detected from ``model`` when None.
        path: a folder that does not exist yet (or is empty).
        signature: the inputs and outputs; inferred from ``input_example`` (else from
            ``training_data``) when not given, by running the model on it.
        input_example: a few rows, stored as ``input_example.json``.
        training_data: the data the model learned from: summarised (a row sample with the
            model's outputs, exact per-column counts and ranges) into ``reference.parquet``, the
            baseline monitoring compares live data with; it also gives the signature when there
            is no example.
        reference_rows: the most rows the summary samples; data of at most this many rows is
            kept whole in the summary (0: write no summary, for data that must not travel with
            the model).
        requirements: replace the pinned requirements (each line kept as given).
        extra_requirements: distribution names (pinned at their installed version) or lines to add.
        code_paths: files or folders of Python code the model imports, copied to ``code/``.
        metadata: free-form JSON-compatible values kept in the manifest.
        lineage: the run, datasets and commit the model came from (``log_model`` fills it).
        flavor_options: options for the flavor's ``save`` (e.g. the ``pytorch`` flavor's
            ``{"init": {...}}``, the module's constructor arguments); only for a flavor that takes them.

    .. versionadded:: 0.1
    """
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExists(
            f"model folder {str(target)!r} already exists and is not empty; pick another path"
        )
    flv = _flavor(model, flavor)
    if metadata is not None:
        check_json("metadata", dict(metadata))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.tmp")
    tmp.mkdir()
    try:
        manifest = _write(
            tmp,
            model,
            flv,
            signature=signature,
            input_example=input_example,
            training_data=training_data,
            reference_rows=reference_rows,
            requirements=requirements,
            extra_requirements=extra_requirements,
            code_paths=[Path(p) for p in code_paths],
            metadata=dict(metadata or {}),
            lineage=lineage,
            flavor_options=flavor_options,
        )
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _flavor(model: object, flavor: str | Flavor | None) -> Flavor:
    if flavor is None:
        return detect_flavor(model)
    return get_flavor(flavor) if isinstance(flavor, str) else flavor


def _write(
    folder: Path,
    model: object,
    flavor: Flavor,
    *,
    signature: Signature | None,
    input_example: object,
    training_data: object,
    reference_rows: int,
    requirements: Iterable[str] | None,
    extra_requirements: Iterable[str],
    code_paths: list[Path],
    metadata: dict[str, Any],
    lineage: Lineage | None,
    flavor_options: Mapping[str, Any] | None,
) -> Manifest:
    code = _copy_code(folder, code_paths)
    data = _save_data(flavor, model, folder, flavor_options)
    extra_code = _uncovered(data.code, code_paths)
    if extra_code:
        code = _copy_code(folder, extra_code)
        code_paths = [*code_paths, *extra_code]
    check_json(f"{flavor.name} flavor options", data.options)
    example_file = None
    if input_example is not None:
        example_file = EXAMPLE_FILE
        (folder / EXAMPLE_FILE).write_text(json.dumps(encode_example(input_example), allow_nan=False))
    if signature is None:
        signature = _infer(model, flavor, data, input_example, training_data)
    if training_data is not None and reference_rows > 0 and signature is not None:
        summary = _reference(model, flavor, data, signature, training_data, reference_rows)
        if summary is not None:
            (folder / REFERENCE_FILE).write_bytes(summary.to_bytes())
    frames = signature is not None and signature.inputs.columns is not None  # the model gets DataFrames
    pinned = _requirements(model, flavor, data, requirements, extra_requirements, code_paths, frames=frames)
    (folder / REQUIREMENTS_FILE).write_text("".join(f"{r}\n" for r in pinned))
    manifest = Manifest(
        flavor=flavor.name,
        options=data.options,
        data=data.data,
        files=digest_folder(folder, skip=MANIFEST_FILE),
        python_version=platform.python_version(),
        requirements=tuple(pinned),
        slipway_version=__version__,
        created_at=datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        signature=signature,
        input_example=example_file,
        code=code,
        lineage=lineage,
        metadata=metadata,
    )
    write_manifest(folder, manifest)
    return manifest


def _save_data(flavor: Flavor, model: object, folder: Path, options: Mapping[str, Any] | None) -> FlavorData:
    if options is None:
        return flavor.save(model, folder)
    try:
        takes_options = "options" in inspect.signature(flavor.save).parameters
    except (TypeError, ValueError):
        takes_options = False
    if not takes_options:
        raise InvalidInput(f"flavor_options: the {flavor.name} flavor takes no options")
    save: Callable[..., FlavorData] = flavor.save
    return save(model, folder, options=dict(options))


def _uncovered(code: tuple[Path, ...], code_paths: list[Path]) -> list[Path]:
    """The flavor's code that ``code_paths`` does not already ship (by path, or by name in ``code/``)."""
    given = [p.resolve() for p in code_paths]
    names = {p.name for p in code_paths}
    out: list[Path] = []
    for path in code:
        resolved = path.resolve()
        if path.name in names or any(resolved == g or g in resolved.parents for g in given):
            continue
        out.append(path)
        names.add(path.name)
    return out


def _copy_code(folder: Path, paths: list[Path]) -> str | None:
    if not paths:
        return None
    dest = folder / CODE_DIR
    dest.mkdir(exist_ok=True)
    for src in paths:
        if not src.exists():
            raise InvalidInput(f"code_paths: {str(src)!r} does not exist")
        out = dest / src.name
        if out.exists():
            raise InvalidInput(
                f"code_paths: two entries are named {src.name!r}; code/ keeps one folder level"
            )
        if src.is_dir():
            shutil.copytree(src, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
        else:
            shutil.copy2(src, out)
    return CODE_DIR


def _infer(
    model: object, flavor: Flavor, data: FlavorData, example: object, training: object
) -> Signature | None:
    """Inputs from the example (else the training data); outputs by running the model on it."""
    from slipway.core import Signature

    source = example if example is not None else training
    if source is None:
        return None
    frame = as_data(source)
    inputs = infer_schema(frame)
    rows = frame if example is not None else _head(frame)
    methods = flavor.methods(model, data.options)
    enforced = InputEnforcer(inputs)(rows)
    outputs = proba = None
    try:
        if "predict" in methods:
            outputs = output_schema(methods["predict"](enforced))
        if "predict_proba" in methods:
            proba = output_schema(methods["predict_proba"](enforced))
    except InvalidInput:
        raise
    except Exception as exc:
        what = "input example" if example is not None else "training data"
        raise InvalidInput(
            f"the model could not predict on its {what} "
            f"({type(exc).__name__}: {exc}); pass an example the model accepts, or a signature"
        ) from exc
    return Signature(inputs=inputs, outputs=outputs, probabilities=proba)


def _reference(
    model: object, flavor: Flavor, data: FlavorData, signature: Signature, training: object, rows: int
) -> ReferenceSummary | None:
    """The training data summarised with the model's outputs on the sampled rows, in log columns.

    Columns are named as the prediction log names them (``x0``… for an unnamed matrix,
    ``prediction``, ``proba_<class>``), so monitoring compares like with like. Inputs that are not
    a table (images, several tensors) have no per-column reference: None.
    """
    import numpy as np
    import pandas as pd

    from slipway.core import PREDICTION_COLUMN, feature_column, proba_column

    frame = as_data(training)
    if isinstance(frame, np.ndarray):
        if frame.ndim != 2:
            return None
        frame = pd.DataFrame(frame, columns=[feature_column(j) for j in range(frame.shape[1])])
    elif not isinstance(frame, pd.DataFrame):
        return None
    summary = ReferenceSummary.from_frame(frame, max_rows=rows)
    methods = flavor.methods(model, data.options)
    rows_in: Any = summary.sample if signature.inputs.columns is not None else summary.sample.to_numpy()
    enforced = InputEnforcer(signature.inputs)(rows_in)
    outputs: dict[str, Any] = {}
    try:
        if "predict" in methods:
            predicted = methods["predict"](enforced)
            if isinstance(predicted, pd.DataFrame):
                named = {f"{PREDICTION_COLUMN}_{c}": predicted[c].to_numpy() for c in predicted.columns}
                outputs.update(named)
            elif np.ndim(predicted) == 1:
                outputs[PREDICTION_COLUMN] = np.asarray(predicted)
        if "predict_proba" in methods:
            proba = np.asarray(methods["predict_proba"](enforced))
            classes = getattr(model, "classes_", None)
            if proba.ndim == 2 and classes is not None and len(classes) == proba.shape[1]:
                outputs.update({proba_column(c): proba[:, j] for j, c in enumerate(classes)})
    except Exception as exc:
        raise InvalidInput(
            f"training_data: the model could not predict on it ({type(exc).__name__}: {exc}); "
            "pass data the model accepts, or reference_rows=0"
        ) from exc
    return summary.with_outputs(pd.DataFrame(outputs)) if outputs else summary


def _head(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: v[:_OUTPUT_ROWS] for k, v in data.items()}
    return data[:_OUTPUT_ROWS]


def _requirements(
    model: object,
    flavor: Flavor,
    data: FlavorData,
    given: Iterable[str] | None,
    extra: Iterable[str],
    code_paths: list[Path],
    *,
    frames: bool,
) -> list[str]:
    if given is not None:
        return sorted({line.strip() for line in given if line.strip()} | set(pin(extra)))
    dists, unknown = distributions_for_modules(data.modules, local=code_paths)
    if unknown:
        warnings.warn(
            f"the {flavor.name} model imports {', '.join(sorted(unknown))}, which no installed "
            "distribution provides and code_paths does not include; loading it elsewhere may fail",
            SlipwayWarning,
            stacklevel=4,
        )
    return pin([*flavor.requirements(model), *sorted(dists), *(["pandas"] if frames else []), *extra])
