"""Reading the input in chunks of exactly ``chunk_rows`` rows, never the whole file.

Why exact chunks: chunk ``i`` is always rows ``[i * chunk_rows, (i + 1) * chunk_rows)`` of the input,
whatever the row groups or CSV files it spans, so a resumed job can skip the chunks it finished
and number its part files the same way as an uninterrupted run.

Parquet goes through ``pyarrow.dataset`` (a file or a hive-partitioned folder), with little
read-ahead and no pre-buffering of whole column chunks (pyarrow's default pre-buffers most of a
file: +260 MB for a 160 MB input), so memory stays near one chunk. Parquet chunks stay Arrow tables:
only the columns the model reads are converted to pandas, and the output
is the input table with the predictions appended, never a pandas round trip of every column.

CSV goes through ``pandas.read_csv(chunksize=)`` (:mod:`slipway.batch._csv`): a column holding a
bad value in one chunk is read as text there, which the row checks then reject row by row instead
of failing the whole file, and so is a malformed line.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from slipway.batch._csv import csv_empty, csv_pieces
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import pandas as pd

    from slipway.artifacts import FileTree
    from slipway.core import Schema

__all__ = ["Source", "arrow_to_pandas", "is_remote", "open_source", "rebatch"]

PARQUET = (".parquet", ".pq")
CSV = (".csv",)


def is_remote(path: str | os.PathLike[str]) -> bool:
    """True for an object-store URL (``s3://``, ``gs://``, ``memory://``); ``file://`` is local."""
    text = os.fspath(path)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.isalnum() and scheme.lower() != "file"


class Source:
    """An input file or folder, local or in object storage: its format, its files, and its chunks.

    ``tree`` is None for a local input (``files`` are Paths) and the object store's file tree for a
    remote one (``files`` are paths relative to it; ``[""]`` when the URL named one file).
    """

    def __init__(
        self, path: Path | str, kind: str, files: list[Any], *, tree: FileTree | None = None
    ) -> None:
        self.path = path
        self.kind = kind  # "parquet" or "csv"
        self.files = files
        self.tree = tree
        self.is_folder = files != [path if tree is None else ""]

    def fingerprint(self) -> list[list[Any]]:
        """Each file's name, size and version (mtime, ETag): a changed input is a different job."""
        out: list[list[Any]] = []
        for f in self.files:
            if self.tree is None:
                st = f.stat()
                assert isinstance(self.path, Path)
                name = str(f.relative_to(self.path)) if f != self.path else f.name
                out.append([name, st.st_size, st.st_mtime_ns])
            else:
                info = self.tree.info(f)
                version = info.get("ETag") or info.get("LastModified") or info.get("mtime") or ""
                out.append([f or str(self.path), info.get("size"), str(version)])
        return out

    def total_rows(self) -> int | None:
        """Rows in the input when the format says so cheaply (Parquet footers); None for CSV."""
        if self.kind != "parquet":
            return None
        return int(self._dataset().count_rows())

    def _dataset(self) -> Any:
        import pyarrow.dataset as ds

        fmt = ds.ParquetFileFormat(
            default_fragment_scan_options=ds.ParquetFragmentScanOptions(pre_buffer=False)
        )
        # The files listed, not the folder: pyarrow's own discovery follows other rules than the
        # listing (it would read _temporary/ of a Spark job, which the fingerprint leaves out).
        if self.tree is None:
            files, base, fs = [str(f) for f in self.files], str(self.path), None
        else:  # pyarrow reads through the store's filesystem; the tree answered every question before
            files, base, fs = [self.tree.path(f) for f in self.files], self.tree.path(), self.tree.fs
        if self.is_folder:
            return ds.dataset(files, format=fmt, partitioning="hive", partition_base_dir=base, filesystem=fs)
        return ds.dataset(files[0], format=fmt, filesystem=fs)

    def chunks(self, chunk_rows: int, *, schema: Schema | None = None, skip: int = 0) -> Iterator[Any]:
        """Chunks of exactly ``chunk_rows`` rows (the last may be shorter), in order, from chunk ``skip`` on.

        Parquet chunks are Arrow tables, CSV chunks DataFrames whose column types follow the model's
        input ``schema`` (see :mod:`slipway.batch._csv`). Skipped chunks are never converted: Parquet skips
        whole row groups by their footers, CSV skips rows in the tokenizer.
        """
        if self.kind == "parquet":
            yield from rebatch(self._parquet_batches(chunk_rows, skip * chunk_rows), chunk_rows)
        else:
            pieces = csv_pieces(
                self.files,
                self._csv_handle,
                self._where,
                chunk_rows=chunk_rows,
                schema=schema,
                skip_rows=skip * chunk_rows,
            )
            yield from rebatch(pieces, chunk_rows)

    def empty(self) -> Any:
        """No rows, with the input's columns: an Arrow table for Parquet, a DataFrame for CSV."""
        if self.kind == "parquet":
            return self._dataset().schema.empty_table()
        return csv_empty(self.files, self._csv_handle)

    def _parquet_batches(self, batch_rows: int, skip_rows: int) -> Iterator[Any]:
        """Record batches in the dataset's schema, file by file, one row group at a time, after ``skip_rows``.

        ``ParquetFile.iter_batches`` rather than the dataset scanner: the scanner reads row groups
        ahead of a slow consumer without bound (350 MB ahead of a model on an 800 MB file, even
        with no read-ahead asked for). Hive partition values (``day=3/``) become columns, typed as
        the dataset infers them; a column missing from one file is null there. Row groups that lie
        wholly within ``skip_rows`` are never decoded.
        """
        import pyarrow as pa
        import pyarrow.dataset as ds
        import pyarrow.parquet as pq

        dataset = self._dataset()
        schema = dataset.schema
        for fragment in dataset.get_fragments():
            keys = ds.get_partition_keys(fragment.partition_expression)
            handle = dataset.filesystem.open_input_file(fragment.path)
            with pq.ParquetFile(handle, pre_buffer=False) as f:
                first = 0
                while first < f.num_row_groups and skip_rows >= f.metadata.row_group(first).num_rows:
                    skip_rows -= f.metadata.row_group(first).num_rows
                    first += 1
                if first == f.num_row_groups:
                    continue
                groups = range(first, f.num_row_groups)
                for batch in f.iter_batches(batch_size=batch_rows, row_groups=groups, use_threads=True):
                    if skip_rows:  # the rest of the skip lies in this row group
                        dropped = min(skip_rows, batch.num_rows)
                        batch, skip_rows = batch.slice(dropped), skip_rows - dropped
                    n = batch.num_rows
                    if not n:
                        continue
                    columns = []
                    for field in schema:
                        if field.name in batch.schema.names:
                            column = batch.column(field.name)
                            columns.append(column if column.type == field.type else column.cast(field.type))
                        elif field.name in keys:
                            columns.append(pa.array([keys[field.name]] * n, type=field.type))
                        else:
                            columns.append(pa.nulls(n, type=field.type))
                    yield pa.RecordBatch.from_arrays(columns, schema=schema)

    @contextlib.contextmanager
    def _csv_handle(self, f: Any) -> Iterator[Any]:
        """A local file's path (pandas opens it, and may map it), or the object store's file, closed after."""
        if self.tree is None:
            yield f
            return
        with self.tree.open(f) as handle:
            yield handle

    def _where(self, f: Any) -> str:
        return str(f) if self.tree is None else self.tree.uri(f)


def rebatch(pieces: Iterable[Any], chunk_rows: int, *, skip: int = 0, take: int = -1) -> Iterator[Any]:
    """Exact chunks of ``chunk_rows`` rows (the last may be shorter) from pieces of any size.

    The one place the input is cut into chunks: Arrow record batches become Arrow tables and
    DataFrames DataFrames. ``skip`` rows are dropped first, and no more than ``take`` rows (all for
    -1) are read, so a task that scores part of a row group stops decoding there.
    """
    held: list[Any] = []
    rows = 0
    for piece in pieces:
        n = len(piece)
        start = min(skip, n)
        skip -= start
        stop = n if take < 0 else min(n, start + take)
        take = take if take < 0 else take - (stop - start)
        while start < stop:
            size = min(chunk_rows - rows, stop - start)
            held.append(piece if size == n else _cut(piece, start, start + size))
            rows += size
            start += size
            if rows == chunk_rows:
                yield _join(held)
                held, rows = [], 0
        if take == 0:
            break
    if rows:
        yield _join(held)


def _cut(piece: Any, start: int, stop: int) -> Any:
    return piece.iloc[start:stop] if hasattr(piece, "iloc") else piece.slice(start, stop - start)


def _join(held: list[Any]) -> Any:
    """One chunk from its pieces: an Arrow table from record batches, a DataFrame from DataFrames."""
    import pandas as pd

    if not isinstance(held[0], pd.DataFrame):
        import pyarrow as pa

        return pa.Table.from_batches(held)
    frame: pd.DataFrame
    if len(held) == 1:
        frame = held[0].reset_index(drop=True)
        return frame
    frame = pd.concat(held, ignore_index=True)
    return frame


def arrow_to_pandas(table: Any) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas(split_blocks=True, self_destruct=True)
    return frame


def open_source(path: str | os.PathLike[str]) -> Source:
    """The input at ``path``: a .csv or .parquet file or a folder of them; InvalidInput otherwise.

    ``path`` may be an object-store URL (``s3://bucket/data.parquet``, ``gs://…/folder``).
    """
    if is_remote(path):
        return _open_remote(os.fspath(path))
    p = Path(os.fspath(path).removeprefix("file://"))
    if not p.exists():
        raise InvalidInput(f"{p}: no such file or folder")
    if p.is_file():
        suffix = p.suffix.lower()
        if suffix in PARQUET:
            return Source(p, "parquet", [p])
        if suffix in CSV:
            return Source(p, "csv", [p])
        raise InvalidInput(f"{p}: expected a .csv or .parquet file, or a folder of them")
    files = sorted(f for f in p.rglob("*") if _visible(f.relative_to(p).as_posix()) and f.is_file())
    return Source(p, _folder_kind(p, [f.suffix.lower() for f in files]), files)


def _visible(relpath: str) -> bool:
    """Whether a file of an input folder is data: no part of its path starts with ``.`` or ``_``.

    The rule pyarrow, Spark and Hive share: it leaves out ``_SUCCESS``, Spark's ``_temporary/`` and
    ``.ipynb_checkpoints/``, locally and in object storage alike.
    """
    return not any(part.startswith((".", "_")) for part in relpath.split("/"))


def _folder_kind(where: object, suffixes: list[str]) -> str:
    kinds = set(suffixes)
    if kinds and kinds <= set(PARQUET):
        return "parquet"
    if kinds and kinds <= set(CSV):
        return "csv"
    if not kinds:
        raise InvalidInput(f"{where}: the folder has no .csv or .parquet files")
    raise InvalidInput(
        f"{where}: expected a folder of .csv or of .parquet files, found {', '.join(sorted(kinds))}"
    )


def _open_remote(url: str) -> Source:
    from slipway.artifacts import open_file_tree

    tree = open_file_tree(url.rstrip("/"))
    if tree.is_dir():
        rels = [r for r in tree.list() if _visible(r)]
        kind = _folder_kind(url, [PurePosixPath(r).suffix.lower() for r in rels])
        return Source(url, kind, rels, tree=tree)
    if not tree.exists():
        raise InvalidInput(f"{url}: no such file or folder")
    suffix = PurePosixPath(tree.path()).suffix.lower()
    if suffix in PARQUET:
        return Source(url, "parquet", [""], tree=tree)
    if suffix in CSV:
        return Source(url, "csv", [""], tree=tree)
    raise InvalidInput(f"{url}: expected a .csv or .parquet file, or a folder of them")
