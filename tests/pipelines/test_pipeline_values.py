"""Step outputs as files in the artifact store: Parquet, .npy, JSON or pickle, and stored once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from tests.pipelines._project import Project, isolated_project

from slipway.artifacts import open_blob_store
from slipway.errors import InvalidInput
from slipway.pipelines import run
from slipway.pipelines._values import load_value, store_value

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.artifacts import BlobStore


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return open_blob_store(str(tmp_path / "blobs"))


def _round_trip(value: object, blobs: BlobStore, tmp_path: Path) -> tuple[str, Any]:
    ref = store_value(value, blobs=blobs, scratch=tmp_path / "scratch", step="s", output="out")
    return ref.kind, load_value(ref, blobs=blobs, cache=tmp_path / "cache")


def test_a_dataframe_is_parquet_and_comes_back_equal(blobs: BlobStore, tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}, index=[10, 11, 12])

    kind, back = _round_trip(frame, blobs, tmp_path)

    assert kind == "parquet"
    pd.testing.assert_frame_equal(back, frame)


def test_a_series_is_parquet_and_keeps_its_name(blobs: BlobStore, tmp_path: Path) -> None:
    named = pd.Series([1.0, 2.0], name="target")
    unnamed = pd.Series([1, 2])

    assert _round_trip(named, blobs, tmp_path)[0] == "series"
    pd.testing.assert_series_equal(_round_trip(named, blobs, tmp_path)[1], named)
    pd.testing.assert_series_equal(_round_trip(unnamed, blobs, tmp_path)[1], unnamed)


def test_an_array_is_npy(blobs: BlobStore, tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)

    kind, back = _round_trip(array, blobs, tmp_path)

    assert kind == "npy"
    np.testing.assert_array_equal(back, array)
    assert back.dtype == np.float32


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ({"a": [1, 2.5, None, True, "s"]}, "json"),
        (None, "json"),
        ((1, 2), "pickle"),  # JSON would give a list back
        ({1: "int keys"}, "pickle"),
        (np.array([{"x": 1}], dtype=object), "pickle"),
        (pd.DataFrame({"o": [object(), object()]}), "pickle"),  # Parquet cannot hold it
    ],
)
def test_other_values_are_json_when_exact_else_pickled(
    value: object, kind: str, blobs: BlobStore, tmp_path: Path
) -> None:
    found, back = _round_trip(value, blobs, tmp_path)

    assert found == kind
    if kind == "json" or isinstance(value, tuple):
        assert back == value


@pytest.mark.parametrize(
    "value",
    [
        pd.DataFrame({"a": pd.Series([1, None, 3], dtype=object)}),  # Parquet: float64
        pd.DataFrame({"a": [[1, 2], [3], []]}),  # Parquet: arrays in the cells
        pd.DataFrame({"a": pd.Series([True, False], dtype=object)}),  # Parquet: bool
        pd.DataFrame({"a": pd.Categorical([1, 2, 1])}),  # Parquet: int64
        pd.DataFrame({"a": [1j, 2]}),  # Parquet: no complex numbers
        pd.Series([1, None, 3], dtype=object, name="s"),
    ],
    ids=["ints-with-none", "lists", "bools-as-objects", "numeric-categories", "complex", "series"],
)
def test_a_frame_that_parquet_would_change_is_pickled_and_comes_back_the_same(
    value: pd.DataFrame | pd.Series, blobs: BlobStore, tmp_path: Path
) -> None:
    kind, back = _round_trip(value, blobs, tmp_path)

    assert kind == "pickle"
    if isinstance(value, pd.Series):
        pd.testing.assert_series_equal(back, value, check_exact=True)
    else:
        pd.testing.assert_frame_equal(back, value, check_exact=True)


def test_strings_dates_categories_and_a_multi_index_stay_parquet(blobs: BlobStore, tmp_path: Path) -> None:
    import datetime
    import decimal

    frame = pd.DataFrame(
        {
            "s": ["x", None, "z"],
            "o": pd.Series(["p", "q", None], dtype=object),
            "b": [b"1", b"2", None],
            "d": [datetime.date(2026, 1, 1), None, datetime.date(2026, 1, 3)],
            "m": [decimal.Decimal("1.5"), None, decimal.Decimal("2")],
            "c": pd.Categorical(["u", "v", "u"]),
            "n": pd.array([1, None, 3], dtype="Int64"),
        },
        index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["k", "i"]),
    )

    kind, back = _round_trip(frame, blobs, tmp_path)

    assert kind == "parquet"
    pd.testing.assert_frame_equal(back, frame, check_exact=True)


def test_identical_outputs_are_stored_once(blobs: BlobStore, tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": range(1000)})
    refs = [
        store_value(frame.copy(), blobs=blobs, scratch=tmp_path / "s", step=f"s{i}", output="out")
        for i in range(2)
    ]

    assert refs[0].digest == refs[1].digest
    assert len([p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]) == 1
    assert not any((tmp_path / "s").iterdir())  # the written files are gone once stored


def test_a_value_that_cannot_be_pickled_is_one_line_naming_step_output_and_type(
    blobs: BlobStore, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput) as caught:
        store_value((x for x in range(3)), blobs=blobs, scratch=tmp_path, step="features", output="rows")

    assert str(caught.value).startswith(
        "step features: output 'rows' of type builtins.generator cannot be stored "
        "(cannot pickle 'generator' object)"
    )


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from isolated_project(tmp_path)


def test_in_a_pipeline_frames_and_arrays_are_artifacts_of_the_step_run(project: Project) -> None:
    project.write(
        "train.py",
        """
        import numpy as np
        import pandas as pd
        import slipway

        @slipway.step(outputs=("X", "y"))
        def make():
            return pd.DataFrame({"f": [1.0, 2.0, 3.0]}), np.array([0, 1, 0])

        @slipway.step
        def same():
            return pd.DataFrame({"f": [1.0, 2.0, 3.0]})

        @slipway.step
        def fit(X, y):
            return float((X["f"].to_numpy() * y).sum())

        @slipway.pipeline
        def pipeline():
            X, y = make()
            same()
            fit(X, y)
        """,
    )

    result = run(project.load())

    make = result.steps["make"]
    assert {n: o.kind for n, o in make.outputs.items()} == {"X": "parquet", "y": "npy"}
    assert make.outputs["X"].digest == result.steps["same"].outputs["same"].digest
    assert {a.path for a in project.client.list_artifacts(make.run_id or "", prefix="outputs")} == {
        "outputs/X.parquet",
        "outputs/y.npy",
    }
    assert result.output("fit") == 2.0
    np.testing.assert_array_equal(result.output("make", "y"), [0, 1, 0])
