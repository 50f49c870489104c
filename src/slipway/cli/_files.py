"""Reading the data files commands take (CSV or Parquet), with one-line errors naming the file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

SUFFIXES = (".csv", ".parquet", ".pq")


def read_table(file: Path, *, dtype: dict[str, Any] | None = None) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame; a missing, unreadable or unknown file is InvalidInput."""
    import pandas as pd

    suffix = file.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInput(f"{file}: expected a .csv or .parquet file")
    try:
        if suffix == ".csv":
            return pd.read_csv(file, dtype=dtype)
        return pd.read_parquet(file)
    except FileNotFoundError:
        raise InvalidInput(f"{file}: no such file") from None
    except (ValueError, OSError) as e:
        raise InvalidInput(f"{file}: cannot read it ({str(e).splitlines()[0]})") from None
