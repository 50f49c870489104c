"""Reading the input in chunks of exactly ``chunk_rows`` rows, never the whole file.

Why exact chunks: chunk ``i`` is always rows ``[i * chunk_rows, (i + 1) * chunk_rows)`` of the input,
whatever the row groups or CSV files it spans, so a resumed job can skip the chunks it finished
and number its part files the same way as an uninterrupted run.

Parquet goes through ``pyarrow.dataset`` (a file or a hive-partitioned folder), with little
read-ahead and no pre-buffering of whole column chunks (pyarrow's default pre-buffers most of a
file: +260 MB for a 160 MB input), so memory stays near one chunk. Parquet chunks stay Arrow tables
(:meth:`Source.tables`): only the columns the model reads are converted to pandas, and the output
is the input table with the predictions appended, never a pandas round trip of every column.

CSV goes through ``pandas.read_csv(chunksize=)``: a column holding a bad value in one chunk is read
as text there, which the row checks then reject row by row instead of failing the whole file.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    import pandas as pd

    from slipway.artifacts import FileTree

__all__ = ["Source", "arrow_to_pandas", "is_remote", "open_source"]

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
        if self.tree is None:
            target: Any = self.path
            fs = None
        else:  # pyarrow reads through the store's filesystem; the tree answered every question before
            target, fs = self.tree.path(), self.tree.fs
        if self.is_folder:
            return ds.dataset(target, format=fmt, partitioning="hive", filesystem=fs)
        return ds.dataset(target, format=fmt, filesystem=fs)

    def chunks(
        self, chunk_rows: int, *, dtype: dict[str, Any] | None = None, skip: int = 0
    ) -> Iterator[pd.DataFrame]:
        """DataFrames of exactly ``chunk_rows`` rows (the last may be shorter), in file order.

        ``dtype`` is for CSV columns (text features stay text); the first ``skip`` chunks of a
        Parquet input are yielded empty, without converting them, so a resumed job skips them fast.
        """
        if self.kind == "parquet":
            for table in self.tables(chunk_rows, skip=skip):
                yield _empty() if table is None else arrow_to_pandas(table)
        else:
            yield from _rebatch_frames(self._csv_pieces(chunk_rows, dtype), chunk_rows)

    def tables(self, chunk_rows: int, *, skip: int = 0) -> Iterator[Any]:
        """A Parquet input's chunks as Arrow tables of exactly ``chunk_rows`` rows; None for skipped ones."""
        import pyarrow as pa

        batches = self._parquet_batches(chunk_rows)
        held: list[Any] = []
        rows = 0
        index = 0
        for batch in batches:
            while batch.num_rows:
                take = min(chunk_rows - rows, batch.num_rows)
                held.append(batch.slice(0, take))
                rows += take
                batch = batch.slice(take)
                if rows == chunk_rows:
                    yield pa.Table.from_batches(held) if index >= skip else None
                    held, rows, index = [], 0, index + 1
        if rows:
            yield pa.Table.from_batches(held) if index >= skip else None

    def _parquet_batches(self, batch_rows: int) -> Iterator[Any]:
        """Record batches in the dataset's schema, file by file, one row group at a time.

        ``ParquetFile.iter_batches`` rather than the dataset scanner: the scanner reads row groups
        ahead of a slow consumer without bound (350 MB ahead of a model on an 800 MB file, even
        with no read-ahead asked for). Hive partition values (``day=3/``) become columns, typed as
        the dataset infers them; a column missing from one file is null there.
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
                for batch in f.iter_batches(batch_size=batch_rows, use_threads=True):
                    n = batch.num_rows
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

    def _csv_pieces(self, chunk_rows: int, dtype: dict[str, Any] | None) -> Iterator[pd.DataFrame]:
        import pandas as pd

        for f in self.files:
            try:
                handle = f if self.tree is None else self.tree.open(f)
                reader = pd.read_csv(handle, chunksize=chunk_rows, dtype=dtype or None)
                with reader:
                    yield from reader
            except pd.errors.EmptyDataError:
                continue
            except (ValueError, pd.errors.ParserError) as e:
                raise InvalidInput(f"{f}: cannot read it ({str(e).splitlines()[0]})") from None


def _empty() -> pd.DataFrame:
    import pandas as pd

    frame: pd.DataFrame = pd.DataFrame()
    return frame


def arrow_to_pandas(table: Any) -> pd.DataFrame:
    frame: pd.DataFrame = table.to_pandas(split_blocks=True, self_destruct=True)
    return frame


def _rebatch_frames(pieces: Iterable[pd.DataFrame], chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Exact chunks from pieces of any size (several CSV files; the common single file passes through)."""
    held: list[pd.DataFrame] = []
    rows = 0
    for piece in pieces:
        start = 0
        while start < len(piece):
            take = min(chunk_rows - rows, len(piece) - start)
            held.append(piece.iloc[start : start + take] if take < len(piece) else piece)
            rows += take
            start += take
            if rows == chunk_rows:
                yield _join(held)
                held, rows = [], 0
    if rows:
        yield _join(held)


def _join(held: list[pd.DataFrame]) -> pd.DataFrame:
    import pandas as pd

    frame: pd.DataFrame
    if len(held) == 1:
        frame = held[0].reset_index(drop=True)
        return frame
    frame = pd.concat(held, ignore_index=True)
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
    files = sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "_")))
    return Source(p, _folder_kind(p, [f.suffix.lower() for f in files]), files)


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
        rels = [r for r in tree.list() if not any(part.startswith("_") for part in r.split("/"))]
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
