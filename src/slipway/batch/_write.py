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

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["Sink"]


class Sink:
    """Numbered parts under a folder, written with a temporary name and renamed into place."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.kind = "csv" if self.path.suffix.lower() == ".csv" else "parquet"
        self.parts = self.path if self.kind == "parquet" else self.path.with_name(f".{self.path.name}.parts")

    def exists(self) -> bool:
        return self.path.exists() or self.parts.exists()

    def clear(self) -> None:
        """Remove what an earlier run of the same job wrote (only ever called for our own job)."""
        for p in {self.path, self.parts}:
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()

    def drop_from(self, chunk: int) -> None:
        """Remove parts of chunks from ``chunk`` on: written before an interruption, not recorded."""
        if not self.parts.is_dir():
            return
        for f in self.parts.glob("part-*"):
            try:
                index = int(f.name.split(".")[0].removeprefix("part-"))
            except ValueError:
                continue
            if index >= chunk:
                f.unlink()

    def write(self, chunk: int, data: pd.DataFrame | pa.Table) -> None:
        """Write one chunk's rows (a DataFrame or an Arrow table) as part ``chunk``, atomically."""
        import pyarrow as pa

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

    def finish(self) -> bool:
        """Join a CSV's parts into its file (atomically); True if there is an output at all."""
        if self.kind == "parquet":
            return self.path.is_dir()
        if not self.parts.is_dir():
            return self.path.exists()
        parts = sorted(self.parts.glob("part-*.csv"))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as out:
            for i, part in enumerate(parts):
                with part.open("rb") as f:
                    if i:
                        f.readline()  # every part carries the header; keep the first one only
                    shutil.copyfileobj(f, out, 1 << 20)
        os.replace(tmp, self.path)
        shutil.rmtree(self.parts)
        return True


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
