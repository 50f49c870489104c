"""Reading CSV files in pieces: stable column types, skipped rows never converted, bad lines kept.

Three things pandas' ``read_csv(chunksize=)`` does not do by itself:

- **Types**: CSV carries none, and pandas guesses them chunk by chunk, so a column empty in one
  chunk and text in the next is float64 in one part and text in the other (a Parquet output whose
  parts disagree cannot be read). Columns the signature types are cast by the row checks; every
  other column is read as text, as it is in the file (:func:`csv_types`).
- **Skipping**: the header is read on its own, so the rows a resumed job skips go to ``skiprows``,
  which the tokenizer drops without converting them. It counts records, so a quoted field over
  several lines is still one row.
- **Malformed lines**: a line with more fields than the header stops the C parser (and a first data
  line with more fields silently becomes an index). The first time that happens in a file, the rest
  of the file is read again with spare columns after the header's: a line that fills them is a row
  like any other, marked with the reason in the column ``MALFORMED``, which the scorer turns into a
  rejected row. Files without such lines pay nothing; a line with more than twice the header's
  fields still fails the job, in one line.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator
    from contextlib import AbstractContextManager

    import pandas as pd

    from slipway.core import Schema

    Opener = Callable[[Any], AbstractContextManager[Any]]

__all__ = ["MALFORMED", "csv_empty", "csv_pieces", "csv_types"]

#: The column of a CSV piece that holds why a line is malformed (missing for good lines); present
#: only in pieces that have such lines.
MALFORMED = "__slipway_malformed__"

_BAD_LINE = re.compile(r"Expected \d+ fields in line \d+, saw \d+")


class _Misread(Exception):
    """The first data line had more fields than the header: pandas took the extra ones as an index."""


def csv_pieces(
    files: list[Any],
    opener: Opener,
    where: Callable[[Any], str],
    *,
    chunk_rows: int,
    schema: Schema | None,
    skip_rows: int,
) -> Iterator[pd.DataFrame]:
    """Each file's rows in pieces of up to ``chunk_rows``, after the first ``skip_rows`` of the input.

    ``opener(f)`` gives what ``read_csv`` reads (a path, or an open file of the object store);
    ``where(f)`` names the file in messages.
    """
    import pandas as pd

    for f in files:
        try:
            with opener(f) as handle:
                names = [str(n) for n in pd.read_csv(handle, nrows=0).columns]
        except pd.errors.EmptyDataError:
            continue  # an empty file: not even a header
        seen = 0  # rows of this file read after the skip
        tolerant = False
        while True:
            pieces = _read(opener, f, names, schema, chunk_rows, skip_rows + seen, tolerant=tolerant)
            try:
                with contextlib.closing(pieces):
                    for piece in pieces:
                        seen += len(piece)
                        if len(piece):
                            yield piece
                break
            except _Misread:
                tolerant = True
            except pd.errors.ParserError as e:
                if tolerant or not _BAD_LINE.search(str(e)):
                    raise InvalidInput(f"{where(f)}: cannot read it ({_line(e)})") from None
                tolerant = True  # read the rest again, from the row after the last one yielded
            except ValueError as e:
                raise InvalidInput(f"{where(f)}: cannot read it ({_line(e)})") from None
        if skip_rows:  # the skip ended in this file, or the file lies wholly within it
            skip_rows = 0 if seen else skip_rows - _rows(opener, f)


def csv_empty(files: list[Any], opener: Opener) -> pd.DataFrame:
    """No rows, with the columns of the first file that has a header."""
    import pandas as pd

    for f in files:
        try:
            with opener(f) as handle:
                frame: pd.DataFrame = pd.read_csv(handle, nrows=0)
        except pd.errors.EmptyDataError:
            continue
        return frame
    nothing: pd.DataFrame = pd.DataFrame()
    return nothing


def csv_types(names: list[str], schema: Schema | None) -> dict[str, Any]:
    """The columns read as text: the signature's string features, and every column it does not name.

    A model without a column signature reads every column itself: then nothing is forced.
    """
    if schema is None or schema.columns is None:
        return {}
    typed = {c.name for c in schema.columns if c.dtype != "string"}
    return {name: str for name in names if name not in typed}


def _read(
    opener: Opener,
    f: Any,
    names: list[str],
    schema: Schema | None,
    chunk_rows: int,
    skip: int,
    *,
    tolerant: bool,
) -> Generator[pd.DataFrame, None, None]:
    import pandas as pd

    spare = [f"{MALFORMED}{i}" for i in range(len(names))] if tolerant else []
    with opener(f) as handle:
        reader = pd.read_csv(
            handle,
            header=None,
            names=names + spare,
            skiprows=1 + skip,
            chunksize=chunk_rows,
            dtype=csv_types(names, schema) or None,
        )
        with reader:
            for piece in reader:
                if not tolerant and not isinstance(piece.index, pd.RangeIndex):
                    raise _Misread
                yield _mark(piece, len(names), spare) if tolerant else piece


def _mark(piece: pd.DataFrame, fields: int, spare: list[str]) -> pd.DataFrame:
    """The piece without its spare columns; lines that filled some get their reason in MALFORMED."""
    import numpy as np

    filled = piece[spare].notna().to_numpy()
    piece = piece.drop(columns=spare)
    bad = filled.any(axis=1)
    if not bad.any():
        return piece
    saw = fields + len(spare) - np.argmax(filled[bad][:, ::-1], axis=1)  # the last field filled
    reasons = np.full(len(piece), None, dtype=object)
    reasons[bad] = [f"expected {fields} fields, saw {n}" for n in saw]  # Python per bad line only
    marked: pd.DataFrame = piece.assign(**{MALFORMED: reasons})
    return marked


def _rows(opener: Opener, f: Any) -> int:
    """The rows of a file a resume skips whole: tokenized, only the first column converted."""
    import pandas as pd

    with opener(f) as handle:
        reader = pd.read_csv(handle, header=None, skiprows=1, usecols=[0], dtype=str, chunksize=1 << 20)
        with reader:
            return sum(len(piece) for piece in reader)


def _line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
