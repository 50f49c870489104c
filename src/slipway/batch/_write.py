"""Writing results one chunk at a time, each part whole or not at all.

A Parquet output is a folder of numbered parts (``part-00000.parquet`` holds chunk 0), which
pyarrow, pandas, DuckDB and Spark read as one table. A CSV output is built the same way in a
hidden parts folder beside it and joined into the one file when the job finishes, so an
interrupted job never leaves a half-written CSV behind and can resume from its parts.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from slipway.artifacts import FileTree

__all__ = ["Sink"]


class Sink:
    """Numbered parts under a folder, written with a temporary name and renamed into place.

    An object-store URL (``s3://bucket/scored``) is a Parquet folder whose parts are each one PUT
    (atomic by itself); CSV goes to a local file only, since it is joined from its parts at the end.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        from slipway.batch._read import is_remote

        self.tree: FileTree | None = None
        if is_remote(path):
            from slipway.artifacts import open_file_tree

            url = os.fspath(path).rstrip("/")
            if url.lower().endswith(".csv"):
                raise InvalidInput(f"{url}: CSV output must be a local file; write Parquet to object storage")
            self.tree = open_file_tree(url)
            self.path: Path | str = url
            self.kind = "parquet"
            self.parts = Path()  # unused: the tree holds the parts
            return
        local = Path(os.fspath(path).removeprefix("file://"))
        self.path = local
        self.kind = "csv" if local.suffix.lower() == ".csv" else "parquet"
        self.parts = local if self.kind == "parquet" else local.with_name(f".{local.name}.parts")

    def exists(self) -> bool:
        if self.tree is not None:
            return bool(self.tree.list())
        assert isinstance(self.path, Path)
        return self.path.exists() or self.parts.exists()

    def clear(self) -> None:
        """Remove what an earlier run of the same job wrote (only ever called for our own job)."""
        if self.tree is not None:
            self.tree.remove(self.tree.list())
            return
        assert isinstance(self.path, Path)
        for p in {self.path, self.parts}:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()

    def holds(self, parts: int, *, below: int | None, joined: bool) -> bool:
        """Whether ``parts`` parts (of chunks before ``below``) are all here; a joined CSV: its file."""
        if not parts:
            return True
        if joined and self.kind == "csv" and self.tree is None:
            assert isinstance(self.path, Path)
            return self.path.is_file()
        indices = self._written().values()
        return sum(1 for index in indices if below is None or index < below) >= parts

    def drop_from(self, chunk: int) -> None:
        """Remove parts of chunks from ``chunk`` on: written before an interruption, not recorded."""
        late = [name for name, index in self._written().items() if index >= chunk]
        if self.tree is not None:
            self.tree.remove(late)
            return
        for name in late:
            (self.parts / name).unlink()

    def _written(self) -> dict[str, int]:
        """The parts here, by file name: their chunk numbers."""
        names = self.tree.list() if self.tree is not None else [f.name for f in self.parts.glob("part-*")]
        indices = {name: _part_index(name) for name in names}
        return {name: index for name, index in indices.items() if index is not None}

    def write(self, chunk: int, data: pd.DataFrame | pa.Table) -> None:
        """Write one chunk's rows (a DataFrame or an Arrow table) as part ``chunk``, atomically."""
        import pyarrow as pa

        if self.tree is not None:
            import io

            import pyarrow.parquet as pq

            table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
            buffer = io.BytesIO()
            pq.write_table(table, buffer, use_dictionary=_dictionary_columns(table))
            self.tree.write_atomic(f"part-{chunk:05d}.parquet", buffer.getvalue())
            return
        self.parts.mkdir(parents=True, exist_ok=True)
        final = self.parts / f"part-{chunk:05d}.{self.kind}"
        tmp = self.parts / f".{final.name}.{os.getpid()}.tmp"
        if self.kind == "csv":
            frame = data.to_pandas() if isinstance(data, pa.Table) else data
            frame.to_csv(tmp, index=False)
        else:
            import pyarrow.parquet as pq

            table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
            pq.write_table(table, tmp, use_dictionary=_dictionary_columns(table))
        os.replace(tmp, final)

    def finish(self) -> None:
        """Join a CSV's parts into its file (atomically); the parts stay until :meth:`tidy`.

        The job records itself complete between the two: a job stopped while the parts are being
        removed is complete on its next run, which never joins what is left of them again.
        """
        if self.kind != "csv" or not self.parts.is_dir():
            return
        assert isinstance(self.path, Path)
        parts = sorted(self.parts.glob("part-*.csv"))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as out:
            for i, part in enumerate(parts):
                with part.open("rb") as f:
                    if i:
                        f.readline()  # every part carries the header; keep the first one only
                    shutil.copyfileobj(f, out, 1 << 20)
        os.replace(tmp, self.path)

    def tidy(self) -> None:
        """Remove a CSV's parts once the job is recorded complete (idempotent)."""
        if self.kind == "csv" and self.tree is None and self.parts.is_dir():
            shutil.rmtree(self.parts)


def _part_index(name: str) -> int | None:
    try:
        return int(name.split(".")[0].removeprefix("part-")) if name.startswith("part-") else None
    except ValueError:
        return None


def _dictionary_columns(table: pa.Table) -> list[str] | bool:
    """Dictionary-encode text columns only: trying it on floats halves the write speed for nothing."""
    import pyarrow as pa

    names = [
        f.name
        for f in table.schema
        if pa.types.is_string(f.type)
        or pa.types.is_large_string(f.type)
        or pa.types.is_binary(f.type)
        or pa.types.is_dictionary(f.type)
    ]
    return names or False
