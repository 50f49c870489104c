"""The reference summary: exact per-column figures, a bounded row sample, its place in the model folder."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from slipway.errors import IntegrityViolation, InvalidInput
from slipway.models import (
    REFERENCE_FILE,
    ColumnSummary,
    ReferenceSummary,
    as_reference,
    load_model,
    save_model,
)

if TYPE_CHECKING:
    from pathlib import Path


def _frame(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n)
    age[::7] = np.nan
    frame: pd.DataFrame = pd.DataFrame(
        {
            "age": age,
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "seats": rng.integers(1, 5, n),
            "active": rng.random(n) < 0.3,
        }
    )
    return frame


def test_figures_are_exact_over_all_rows_while_the_sample_is_bounded() -> None:
    frame = _frame(5_000)
    summary = ReferenceSummary.from_frame(frame, max_rows=800)

    assert summary.n_rows == 5_000
    assert len(summary.sample) == 800
    assert not summary.exact
    age = summary.columns["age"]
    assert (age.kind, age.missing, age.count) == (
        "numeric",
        int(frame.age.isna().sum()),
        int(frame.age.notna().sum()),
    )
    assert age.min == pytest.approx(frame.age.min())
    assert age.max == pytest.approx(frame.age.max())
    assert summary.category_counts("plan").to_dict() == frame.plan.value_counts().to_dict()
    assert summary.columns["active"].kind == "categorical"
    # a numeric column with few values keeps its counts too, so a test may treat it as categories
    assert summary.category_counts("seats").to_dict() == frame.seats.value_counts().to_dict()
    values = summary.numeric_values("age")
    assert len(values) == summary.sample.age.notna().sum()
    assert np.all(np.diff(values) >= 0)
    # a sample drawn without replacement, rows kept whole and in their original order
    sampled = summary.sample.dropna()
    merged = sampled.merge(frame.reset_index().dropna(), on=["age", "plan", "seats", "active"])
    assert len(merged) == len(sampled)
    assert merged["index"].is_monotonic_increasing


def test_small_data_is_its_own_sample() -> None:
    frame = _frame(300)
    summary = as_reference(frame)
    assert summary.exact
    pd.testing.assert_frame_equal(summary.sample, frame)
    assert as_reference(summary) is summary


def test_the_same_seed_draws_the_same_sample() -> None:
    frame = _frame(3_000)
    a = ReferenceSummary.from_frame(frame, max_rows=100, seed=3)
    b = ReferenceSummary.from_frame(frame, max_rows=100, seed=3)
    c = ReferenceSummary.from_frame(frame, max_rows=100, seed=4)
    pd.testing.assert_frame_equal(a.sample, b.sample)
    assert not a.sample.equals(c.sample)


def test_bytes_round_trip_keeps_values_and_their_types() -> None:
    frame = _frame(2_000)
    summary = ReferenceSummary.from_frame(frame, max_rows=500)
    back = ReferenceSummary.from_bytes(summary.to_bytes())

    assert back.n_rows == 2_000
    assert back.columns == summary.columns
    pd.testing.assert_frame_equal(back.sample, summary.sample)
    assert set(back.category_counts("active").index) == {True, False}
    assert all(isinstance(k, int) for k in back.columns["seats"].counts or {})


def test_high_cardinality_columns_keep_no_counts_and_fall_back_to_the_sample() -> None:
    frame = pd.DataFrame({"user": [f"u{i}" for i in range(50)]})
    summary = ReferenceSummary.from_frame(frame, max_categories=10)
    assert summary.columns["user"].counts is None
    assert summary.columns["user"].distinct == 50
    assert summary.category_counts("user").sum() == 50


def test_bad_input_is_named() -> None:
    with pytest.raises(InvalidInput, match="expected a pandas DataFrame"):
        ReferenceSummary.from_frame([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="column 'x' appears twice"):
        ReferenceSummary.from_frame(pd.DataFrame([[1, 2]], columns=["x", "x"]))
    summary = as_reference(_frame(10))
    with pytest.raises(InvalidInput, match="column 'nope': not in the reference"):
        summary.column("nope")
    with pytest.raises(InvalidInput, match="column 'plan': expected a numeric column"):
        summary.numeric_values("plan")
    with pytest.raises(InvalidInput, match="not a Parquet reference summary"):
        ReferenceSummary.from_bytes(b"not parquet")


def test_save_model_summarises_training_data_with_the_models_outputs(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "b": rng.normal(size=600)})
    y = np.where(X.a + X.b > 0, "yes", "no")
    clf = LogisticRegression().fit(X, y)
    save_model(clf, tmp_path / "m", training_data=X, reference_rows=200)

    reference = load_model(tmp_path / "m").reference()
    assert reference is not None
    assert reference.n_rows == 600
    assert len(reference.sample) == 200
    assert reference.outputs == ("prediction", "proba_no", "proba_yes")
    rows = reference.sample[["a", "b"]]
    np.testing.assert_array_equal(reference.sample["prediction"], clf.predict(rows))
    np.testing.assert_allclose(reference.sample["proba_yes"], clf.predict_proba(rows)[:, 1])


def test_an_unnamed_matrix_gets_the_logs_column_names(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    X = np.random.default_rng(0).normal(size=(50, 3))
    save_model(LinearRegression().fit(X, X[:, 0]), tmp_path / "m", training_data=X)
    reference = load_model(tmp_path / "m").reference()
    assert reference is not None
    assert list(reference.sample.columns) == ["x0", "x1", "x2", "prediction"]


def test_no_summary_without_training_data_or_when_turned_off(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    model = LinearRegression().fit(X, [0.0, 1.0, 2.0])
    save_model(model, tmp_path / "a", input_example=X)
    save_model(model, tmp_path / "b", training_data=X, reference_rows=0)
    assert load_model(tmp_path / "a").reference() is None
    assert not (tmp_path / "b" / REFERENCE_FILE).exists()


def test_a_tampered_summary_fails_the_load(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0]})
    save_model(LinearRegression().fit(X, [0.0, 1.0, 2.0]), tmp_path / "m", training_data=X)
    other = ReferenceSummary.from_frame(pd.DataFrame({"a": [5.0, 6.0]}))
    (tmp_path / "m" / REFERENCE_FILE).write_bytes(other.to_bytes())
    with pytest.raises(IntegrityViolation):
        load_model(tmp_path / "m")


def test_datetime_columns_keep_their_range_as_iso_text_and_old_summaries_still_load() -> None:
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(pd.Series(["2025-01-31 12:00", None, "2025-01-01 00:00"])).dt.tz_localize(
                "Europe/Paris"
            ),
            "naive": pd.to_datetime(pd.Series(["2025-01-02", "2025-01-01", None])),
            "month": pd.period_range("2025-01", periods=3, freq="M"),
        }
    )
    summary = ReferenceSummary.from_frame(frame)

    when, naive = summary.columns["when"], summary.columns["naive"]
    assert (when.earliest, when.latest) == ("2025-01-01T00:00:00+01:00", "2025-01-31T12:00:00+01:00")
    assert (naive.earliest, naive.latest) == ("2025-01-01T00:00:00", "2025-01-02T00:00:00")
    assert summary.columns["month"].earliest is None  # a period is no instant: no range
    assert ReferenceSummary.from_bytes(summary.to_bytes()).columns == summary.columns
    old = {k: v for k, v in when.to_dict().items() if k not in ("earliest", "latest")}
    assert ColumnSummary.from_dict(old).earliest is None


def test_counts_hold_values_present_and_cells_by_their_text() -> None:
    frame = pd.DataFrame(
        {
            "grade": pd.Categorical(["a", "a"], categories=["a", "b"]),
            "tags": [[1, 2], np.array([1, 2])],
        }
    )
    summary = ReferenceSummary.from_frame(frame)

    assert (summary.columns["grade"].counts, summary.columns["grade"].distinct) == ({"a": 2}, 1)
    assert summary.columns["tags"].counts == {"[1, 2]": 2}
