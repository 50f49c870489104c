"""Step outputs as files in the content-addressed artifact store, and back.

Each value is written in the most faithful format that can be streamed: a DataFrame (or Series) as
Parquet when it reads back the same (else pickled), a NumPy array as ``.npy``, a small JSON value
(dict, list, str, number, bool, None) as JSON, and anything else pickled (with cloudpickle when it
is installed) as the last resort. The file
is written to disk first and streamed into the store, so a large output is never one ``bytes``
in memory; the store addresses it by SHA-256, so identical outputs are stored once.

Loading downloads a blob once into ``<home>/cache/pipelines/`` (verified on the way) and reads it
from there, so the Parquet and NumPy readers get a real file.
"""

from __future__ import annotations

import contextlib
import json
import pickle
import sys
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput, first_line

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.artifacts import BlobStore

__all__ = ["OutputRef", "load_value", "store_value"]

#: kind -> file suffix of the artifact
SUFFIXES = {"parquet": ".parquet", "series": ".parquet", "npy": ".npy", "json": ".json", "pickle": ".pkl"}
_SERIES_COLUMN = "__series__"  # the one column a Series is stored in when its name is not a string


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputRef:
    """A stored output: its name in the step, how it is written, and its content's address."""

    name: str
    kind: str
    digest: str
    size: int

    @property
    def artifact(self) -> str:
        """Where the output sits among its step run's artifacts."""
        return f"outputs/{self.name}{SUFFIXES[self.kind]}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "digest": self.digest, "size": self.size}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputRef:
        return cls(
            name=str(data["name"]), kind=str(data["kind"]), digest=str(data["digest"]), size=int(data["size"])
        )


def store_value(value: Any, *, blobs: BlobStore, scratch: Path, step: str, output: str) -> OutputRef:
    """Write ``value`` to a file in ``scratch``, stream it into ``blobs``; InvalidInput if it cannot be."""
    scratch.mkdir(parents=True, exist_ok=True)
    tmp = scratch / f"{uuid.uuid4().hex}.tmp"
    try:
        kind = _write(value, tmp, step=step, output=output)
        blob = blobs.put_file(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    return OutputRef(name=output, kind=kind, digest=blob.digest, size=blob.size)


def load_value(ref: OutputRef, *, blobs: BlobStore, cache: Path) -> Any:
    """The value an output held, read from its blob (downloaded once into ``cache``)."""
    if ref.kind in ("json", "pickle"):
        data = blobs.get_bytes(ref.digest)
        return json.loads(data) if ref.kind == "json" else pickle.loads(data)  # our own blob, verified
    path = cache / f"{ref.digest}{SUFFIXES[ref.kind]}"
    if not path.is_file() or path.stat().st_size != ref.size:
        blobs.download(ref.digest, path)
    if ref.kind == "npy":
        import numpy as np

        return np.load(path, allow_pickle=False)
    import pandas as pd

    frame = pd.read_parquet(path)
    if ref.kind == "series":
        column = frame.columns[0]
        return frame[column].rename(None if column == _SERIES_COLUMN else column)
    return frame


def _write(value: Any, path: Path, *, step: str, output: str) -> str:
    pandas = sys.modules.get("pandas")  # a DataFrame cannot exist unless pandas is imported
    if pandas is not None and isinstance(value, (pandas.DataFrame, pandas.Series)):
        frame = value
        kind = "parquet"
        if isinstance(value, pandas.Series):
            frame = value.to_frame(value.name if isinstance(value.name, str) else _SERIES_COLUMN)
            kind = "series"
        # pyarrow refuses some object columns (TypeError, ValueError) and dtypes (NotImplementedError)
        with contextlib.suppress(ImportError, ValueError, TypeError, NotImplementedError):
            frame.to_parquet(path)
            if _round_trips(frame, path):
                return kind
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray) and not value.dtype.hasobject:
        with path.open("wb") as f:
            numpy.save(f, value, allow_pickle=False)
        return "npy"
    if _is_json(value):
        path.write_text(json.dumps(value, allow_nan=True))
        return "json"
    return _pickle(value, path, step=step, output=output)


#: What an object column may hold to come back from Parquet as itself (``infer_dtype`` kinds).
_PARQUET_OBJECTS = frozenset({"string", "bytes", "empty", "date", "decimal"})


def _round_trips(frame: Any, path: Path) -> bool:
    """Whether reading ``path`` back gives ``frame``: else the value is pickled, never changed.

    The dtypes pandas rebuilds from the file's schema must be the frame's (an object column of
    ints with a None comes back float64, a categorical of numbers as plain numbers), and an
    object column must hold values Arrow stores as themselves (a list comes back an array).
    """
    import pandas as pd
    import pyarrow.parquet as pq

    back = pq.read_schema(path).empty_table().to_pandas()
    if [str(d) for d in back.dtypes] != [str(d) for d in frame.dtypes]:
        return False
    index = frame.index
    if [str(d) for d in getattr(back.index, "dtypes", [back.index.dtype])] != [
        str(d) for d in getattr(index, "dtypes", [index.dtype])
    ]:
        return False
    arrays = [frame.iloc[:, i] for i in range(frame.shape[1])]
    arrays += [index.get_level_values(i) for i in range(index.nlevels)]
    return all(
        a.dtype != object or pd.api.types.infer_dtype(a, skipna=True) in _PARQUET_OBJECTS for a in arrays
    )


def _pickle(value: Any, path: Path, *, step: str, output: str) -> str:
    try:
        import cloudpickle

        dump: Any = cloudpickle.dump
    except ImportError:
        dump = pickle.dump
    try:
        with path.open("wb") as f:
            dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:  # pickling fails with whatever the object's __reduce__ raises
        reason = first_line(exc) or type(exc).__name__
        raise InvalidInput(
            f"step {step}: output {output!r} of type {type(value).__module__}.{type(value).__qualname__} "
            f"cannot be stored ({reason}); return a DataFrame, an array, a JSON value or a picklable object"
        ) from None
    return "pickle"


def _is_json(value: Any, depth: int = 0) -> bool:
    """Exactly the types JSON gives back (a tuple would come back a list, so it is pickled)."""
    if depth > 50:
        return False
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(_is_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_json(v, depth + 1) for k, v in value.items())
    return False
