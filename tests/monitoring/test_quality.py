from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from slipway.errors import InvalidInput
from slipway.models import ReferenceSummary, as_reference
from slipway.monitoring._quality import data_quality


def _reference() -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame(
        {
            "age": [20.0, 30.0, np.nan, 40.0, 50.0, 60.0, 35.0, 45.0, 25.0, 55.0],
            "plan": ["basic", "pro", "basic", None, "pro", "basic", "pro", "basic", "basic", "pro"],
            "country": ["fr"] * 10,
            "score": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
        }
    )
    return frame


def _current() -> pd.DataFrame:
    frame: pd.DataFrame = pd.DataFrame(
        {
            "age": [15.0, 30.0, np.nan, np.nan, 70.0, 30.0, 15.0, 30.0],
            "plan": ["basic", "gold", "gold", "team", None, "basic", "gold", "basic"],
            "country": ["fr", "de", "fr", "fr", "fr", "fr", "fr", "fr"],
            "score": ["1", "2", "3", "4", "5", "6", "7", "8"],
            "extra": [1, 1, 1, 1, 1, 1, 1, 1],
        }
    )
    frame["extra_copy"] = frame["extra"]
    return frame


def test_missing_shares_and_their_change() -> None:
    q = data_quality(_reference(), _current())

    age = q.column("age")
    assert age.missing_reference == pytest.approx(0.1)
    assert age.missing_current == pytest.approx(0.25)
    assert age.missing_change == pytest.approx(0.15)
    assert q.column("plan").missing_reference == pytest.approx(0.1)


def test_values_out_of_the_reference_range() -> None:
    age = data_quality(_reference(), _current()).column("age")

    # 6 values present; 15, 70 and 15 lie outside [20, 60]
    assert (age.reference_min, age.reference_max) == (20.0, 60.0)
    assert age.n_out_of_range == 3
    assert age.out_of_range == pytest.approx(3 / 6)
    assert "out_of_range" in age.issues


def test_new_categories_share_and_examples_most_frequent_first() -> None:
    q = data_quality(_reference(), _current())

    plan = q.column("plan")
    assert plan.n_new_categories == 4  # gold x3, team x1, among 7 present values
    assert plan.new_categories == pytest.approx(4 / 7)
    assert plan.new_category_examples == ("gold", "team")
    assert q.column("country").new_category_examples == ("de",)


def test_schema_type_constant_and_duplicated_columns() -> None:
    q = data_quality(_reference(), _current().drop(columns=["country"]))

    assert q.missing_columns == ("country",)
    assert q.extra_columns == ("extra", "extra_copy")
    assert q.type_mismatches == ("score",)
    assert (
        q.column("score").message
        == "column 'score' is numeric in the reference and categorical in the current window"
    )
    assert q.constant_columns == ("extra", "extra_copy")
    assert q.duplicated_columns == (("extra", "extra_copy"),)
    assert data_quality(_reference(), _reference()).column("country").constant_reference


def test_duplicated_rows_share() -> None:
    current = pd.DataFrame({"a": [1, 1, 2, 1], "b": ["x", "x", "y", "x"]})

    q = data_quality(current, current)

    assert q.n_duplicated_rows == 2
    assert q.duplicated_rows == pytest.approx(0.5)


def test_all_missing_column_is_reported_not_a_crash_nor_nan() -> None:
    current = _current().assign(age=np.nan, plan=None)

    q = data_quality(_reference(), current)

    for name in ("age", "plan"):
        c = q.column(name)
        assert c.issues == ("all_missing",)
        assert c.missing_current == 1.0
        assert (c.status, c.out_of_range, c.new_categories) == ("not_enough_data", None, None)
        assert c.message == f"column {name!r} is all missing in the current window"
    assert q.all_missing_columns == ("age", "plan")
    assert "NaN" not in json.dumps(q.to_dict())


def test_empty_window_is_not_enough_data_and_keeps_the_schema_checks() -> None:
    q = data_quality(_reference(), _current().iloc[:0])

    assert (q.status, q.message, q.n_current) == ("not_enough_data", "the current window has no rows", 0)
    assert q.duplicated_rows is None
    assert q.type_mismatches == ()
    assert q.extra_columns == ("extra", "extra_copy")
    assert all(c.missing_current is None for c in q.columns)
    json.dumps(q.to_dict())


def test_reference_all_missing_column_says_so() -> None:
    reference = _reference().assign(age=np.nan)

    age = data_quality(reference, _current()).column("age")

    assert age.status == "not_enough_data"
    assert "all missing in the reference" in age.message
    assert age.reference_min is None


def test_a_saved_reference_summary_gives_the_same_figures_as_the_frame() -> None:
    reference, current = _reference(), _current()

    from_frame = data_quality(reference, current).to_dict()
    from_summary = data_quality(ReferenceSummary.from_frame(reference), current).to_dict()

    assert from_summary == from_frame


def test_dates_out_of_range_and_categorical_dtype() -> None:
    reference = pd.DataFrame(
        {
            "when": pd.to_datetime(["2025-01-01", "2025-01-31"], utc=True),
            "grade": pd.Categorical(["a", "b"]),
        }
    )
    current = pd.DataFrame(
        {
            "when": pd.to_datetime(["2025-01-15", "2025-03-01"], utc=True),
            "grade": pd.Categorical(["a", "c"]),
        }
    )

    q = data_quality(reference, current)

    assert q.column("when").n_out_of_range == 1
    assert q.column("when").reference_max == "2025-01-31T00:00:00+00:00"
    assert q.column("grade").new_category_examples == ("c",)


def test_columns_argument_and_bad_input() -> None:
    q = data_quality(_reference(), _current(), columns=["age"])

    assert [c.column for c in q.columns] == ["age"]
    with pytest.raises(InvalidInput, match="column 'nope': in neither"):
        data_quality(_reference(), _current(), columns=["nope"])
    with pytest.raises(InvalidInput, match="reference: no rows"):
        data_quality(_reference().iloc[:0], _current())


def test_large_window_is_fast_enough() -> None:
    rng = np.random.default_rng(0)
    n = 200_000
    frame = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(10)})
    frame["c"] = rng.choice(["a", "b", "c"], n)

    q = data_quality(frame.iloc[: n // 2], frame.iloc[n // 2 :])

    assert q.status == "ok"
    assert len(q.columns) == 11


# ---------------------------------------------------------------------- one reference side


def _awkward(n: int, seed: int, *, shift: int = 0) -> pd.DataFrame:
    """Dates, more than 1,000 categories, booleans, an unused category and list cells."""
    rng = np.random.default_rng(seed)
    frame: pd.DataFrame = pd.DataFrame(
        {
            "when": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 90 + shift, n), "D"),
            "local": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.integers(0, 10, n), "h"),
            "user": [f"u{i}" for i in rng.integers(0, 1_500 + shift, n)],
            "active": rng.random(n) < 0.5,
            "grade": pd.Categorical(rng.choice(["a", "b"], n), categories=["a", "b", "unused"]),
            "tags": [[int(i)] for i in rng.integers(0, 3 + shift, n)],
        }
    )
    return frame


def test_a_frame_is_summarised_as_a_saved_reference_is() -> None:
    reference, current = _awkward(3_000, 1), _awkward(500, 2, shift=20)

    from_frame = data_quality(reference, current)
    saved = ReferenceSummary.from_bytes(as_reference(reference).to_bytes())

    assert from_frame == data_quality(as_reference(reference), current)
    assert from_frame.to_dict() == data_quality(saved, current).to_dict()
    when = from_frame.column("when")
    assert when.reference_min == reference["when"].min().isoformat()
    assert when.n_out_of_range == int((current["when"] > reference["when"].max()).sum()) > 0
    # more than 1,000 users: no counts kept, but the sample is every row, so new users are known
    user = from_frame.column("user")
    assert user.n_new_categories == int((~current["user"].isin(set(reference["user"]))).sum()) > 0
    assert from_frame.column("grade").issues == ()  # an unused category of the dtype is not a value


def test_list_and_array_cells_are_compared_by_their_text() -> None:
    reference = pd.DataFrame({"tags": [[1, 2], [3], None, [1, 2]], "x": [1.0, 2.0, 3.0, 4.0]})
    current = pd.DataFrame({"tags": [[1, 2], np.array([1, 2]), [4], None], "x": [1.0, 2.0, 3.0, 4.0]})

    tags = data_quality(reference, current).column("tags")

    assert (tags.n_new_categories, tags.new_category_examples) == (1, ("[4]",))
    assert tags.new_categories == pytest.approx(1 / 3)
    saved = ReferenceSummary.from_bytes(as_reference(reference).to_bytes())
    assert data_quality(saved, current).column("tags") == tags


def test_duplicate_current_column_names_are_refused_and_other_names_become_text() -> None:
    twice = pd.DataFrame([[1.0, 2.0]], columns=["age", "age"])
    with pytest.raises(InvalidInput, match="current: column 'age' appears twice"):
        data_quality(_reference(), twice)
    with pytest.raises(InvalidInput, match="current: column '1' appears twice"):
        data_quality(_reference(), pd.DataFrame([[1.0, 2.0]], columns=[1, "1"]))

    q = data_quality(pd.DataFrame({0: [1.0, 2.0]}), pd.DataFrame({0: [1.0, 5.0]}))

    assert q.column("0").n_out_of_range == 1


def test_infinities_are_outside_the_finite_reference_range() -> None:
    reference = pd.DataFrame({"x": [1.0, 2.0, np.inf, 3.0]})
    current = pd.DataFrame({"x": [2.0, np.inf, -np.inf, 4.0]})

    x = data_quality(reference, current).column("x")

    assert (x.reference_min, x.reference_max, x.n_out_of_range) == (1.0, 3.0, 3)
