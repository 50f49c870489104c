from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.tracking import fingerprint
from slipway.tracking._datasets import QUANTILES

if TYPE_CHECKING:
    from pathlib import Path


def _frame(n: int = 20_000) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(  # type: ignore[no-any-return,unused-ignore]
        {
            "x": rng.normal(size=n),
            "k": rng.integers(0, 5, n),
            "city": rng.choice(["paris", "lyon", "nice"], n, p=[0.6, 0.3, 0.1]),
            "flag": rng.random(n) > 0.5,
        }
    )


def test_digest_covers_every_row_not_a_prefix() -> None:
    a = _frame()
    b = a.copy()
    b.loc[15_000, "x"] += 1e-9  # MLflow's digest covers the first 10,000 rows only

    assert fingerprint(a).digest != fingerprint(b).digest
    assert fingerprint(a).digest == fingerprint(a.copy()).digest


def test_digest_sees_the_schema_and_the_order() -> None:
    a = _frame(100)
    assert fingerprint(a).digest != fingerprint(a.rename(columns={"x": "y"})).digest
    assert fingerprint(a).digest != fingerprint(a.astype({"k": "int32"})).digest
    assert fingerprint(a).digest != fingerprint(a.iloc[::-1]).digest
    # the index is not content: a reset index keeps the digest
    assert fingerprint(a).digest == fingerprint(a.set_axis(range(100, 200))).digest


def test_numeric_profile_equals_pandas_and_numpy() -> None:
    df = _frame()
    df.loc[[3, 7, 11], "x"] = np.nan
    record = fingerprint(df, name="train", role="training")
    col = record.profile["columns"]["x"]
    x = df["x"]

    assert record.num_rows == 20_000
    assert record.num_columns == 4
    assert record.schema == {c: str(t) for c, t in df.dtypes.items()}
    assert col["count"] == x.count() == 19_997
    assert col["missing"] == 3
    assert col["min"] == x.min()
    assert col["max"] == x.max()
    assert col["mean"] == pytest.approx(x.mean(), rel=1e-12)
    assert col["std"] == pytest.approx(x.std(), rel=1e-12)
    for q in QUANTILES:
        assert col["quantiles"][f"{q:g}"] == pytest.approx(x.quantile(q), rel=1e-12)
    counts, edges = np.histogram(x.dropna(), bins=20)
    assert col["histogram"]["counts"] == counts.tolist()
    assert col["histogram"]["edges"] == pytest.approx(edges.tolist())
    assert sum(col["histogram"]["counts"]) == 19_997


def test_small_integer_range_gets_one_bin_per_value() -> None:
    df = _frame()
    hist = fingerprint(df).profile["columns"]["k"]["histogram"]
    assert hist["counts"] == df["k"].value_counts().sort_index().tolist()


def test_categorical_profile_has_top_values_with_counts() -> None:
    df = _frame()
    df.loc[0, "city"] = None
    col = fingerprint(df, top_k=2).profile["columns"]["city"]
    expected = df["city"].value_counts()

    assert col["kind"] == "categorical"
    assert col["missing"] == 1
    assert col["count"] == 19_999
    assert col["distinct"] == 3
    assert col["top"] == [{"value": v, "count": int(c)} for v, c in expected.head(2).items()]
    flag = fingerprint(df).profile["columns"]["flag"]
    assert {t["value"] for t in flag["top"]} == {True, False}


def test_numpy_arrays() -> None:
    arr = np.arange(20_000 * 3, dtype="float64").reshape(20_000, 3)
    other = arr.copy()
    other[15_000, 1] = -1
    record = fingerprint(arr)

    assert record.digest != fingerprint(other).digest
    assert record.digest != fingerprint(arr.astype("float32")).digest
    assert record.num_rows == 20_000
    assert record.num_columns == 3
    assert record.profile["columns"]["1"]["mean"] == pytest.approx(arr[:, 1].mean())
    assert fingerprint(np.arange(10)).profile["columns"]["0"]["max"] == 9
    images = fingerprint(np.zeros((4, 8, 8)))
    assert images.num_columns == 64
    assert images.profile["columns"]["values"]["count"] == 256


def test_parquet_and_csv_paths_read_every_row(tmp_path: Path) -> None:
    df = _frame(1_000)
    df.to_parquet(tmp_path / "d.parquet")
    df.to_csv(tmp_path / "d.csv", index=False)

    from_parquet = fingerprint(tmp_path / "d.parquet")
    from_csv = fingerprint(str(tmp_path / "d.csv"))

    assert from_parquet.digest == fingerprint(df).digest
    assert from_parquet.name == "d.parquet"
    assert from_parquet.source == str(tmp_path / "d.parquet")
    assert from_csv.num_rows == 1_000
    assert from_csv.profile["columns"]["x"]["mean"] == pytest.approx(df["x"].mean())


def test_arrow_tables_hash_like_their_frames() -> None:
    import pyarrow as pa

    df = _frame(100)
    record = fingerprint(pa.Table.from_pandas(df, preserve_index=False))
    assert record.source == "pyarrow"
    assert record.num_rows == 100


def test_series_empty_frames_and_odd_cells() -> None:
    s = pd.Series([1.0, 2.0, None], name="y")
    assert fingerprint(s).profile["columns"]["y"]["missing"] == 1
    empty = fingerprint(pd.DataFrame({"a": pd.Series([], dtype="float64")}))
    assert empty.num_rows == 0
    assert empty.profile["columns"]["a"]["mean"] is None
    lists = fingerprint(pd.DataFrame({"a": [[1, 2], [3]]}))
    assert lists.profile["columns"]["a"]["distinct"] == 2
    dates = fingerprint(pd.DataFrame({"t": pd.date_range("2024-01-01", periods=3)}))
    assert dates.profile["columns"]["t"]["min"].startswith("2024-01-01")


def test_unsupported_inputs_say_what_is_expected(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="DataFrame"):
        fingerprint({"a": [1]})
    with pytest.raises(InvalidInput, match="no such file"):
        fingerprint(tmp_path / "missing.parquet")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InvalidInput, match=r"\.parquet or \.csv"):
        fingerprint(tmp_path / "x.txt")
