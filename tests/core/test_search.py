from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.core import Comparison, OrderBy, parse_filter, parse_order_by
from slipway.errors import InvalidInput


def test_filter_parses_every_kind_of_clause() -> None:
    f = parse_filter(
        "metrics.auc > 0.9 and params.C = '1.0' AND status in ('FINISHED', 'RUNNING') "
        "and tags.`my key` like 'a%' and attributes.start_time >= 5 and metrics.val.0 <= 1e-3"
    )
    assert f.clauses == (
        Comparison(kind="metric", key="auc", op=">", value=0.9),
        Comparison(kind="param", key="C", op="=", value="1.0"),
        Comparison(kind="attribute", key="status", op="in", value=("FINISHED", "RUNNING")),
        Comparison(kind="tag", key="my key", op="like", value="a%"),
        Comparison(kind="attribute", key="start_time", op=">=", value=5.0),
        Comparison(kind="metric", key="val.0", op="<=", value=0.001),
    )


def test_empty_filter_matches_everything() -> None:
    assert parse_filter(None).clauses == ()
    assert parse_filter("   ").clauses == ()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("metrics.auc >", "expected a number or a quoted string"),
        ("params.C > 1", "params.C is a string"),
        ("params.C = 1", "expected a quoted value"),
        ("foo = 1", "unknown attribute 'foo'"),
        ("metrics.auc = 'x'", "metrics.auc is a number"),
        ("metrics.auc > 1 or metrics.f1 > 2", "expected 'and'"),
        ("metrics.auc ~ 1", "unexpected character"),
        ("metrics.auc in (1, 2", "')' to close the list"),
        ("metrics = 1", "'.' and a key"),
    ],
)
def test_bad_filters_name_what_was_expected(text: str, needle: str) -> None:
    with pytest.raises(InvalidInput, match="filter") as info:
        parse_filter(text)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_order_by_parses_directions_and_defaults_to_ascending() -> None:
    assert parse_order_by("metrics.auc desc, start_time") == (
        OrderBy(kind="metric", key="auc", ascending=False),
        OrderBy(kind="attribute", key="start_time", ascending=True),
    )
    assert parse_order_by(["params.C ASC", "name"])[1] == OrderBy(kind="attribute", key="name")
    assert parse_order_by(None) == ()
    with pytest.raises(InvalidInput, match="order-by"):
        parse_order_by("metrics.auc sideways")


@given(
    st.floats(allow_nan=False, allow_infinity=False), st.text(alphabet="abcXYZ_09", min_size=1, max_size=20)
)
def test_metric_values_round_trip_through_the_parser(value: float, key: str) -> None:
    f = parse_filter(f"metrics.{key} >= {value!r}")
    assert f.clauses[0].value == value


@pytest.mark.parametrize(
    "text",
    [
        "attributes.start_time > 1e19",
        "start_time < -1e19",
        "end_time in (1, 9.3e18)",
        "start_time >= 1e999",
        "end_time != -1e999",
    ],
)
def test_times_beyond_64_bits_are_invalid_input_naming_the_clause(text: str) -> None:
    with pytest.raises(InvalidInput, match="_time is a time in milliseconds") as info:
        parse_filter(text)
    assert repr(text) in str(info.value)


@pytest.mark.parametrize("text", ["metrics.m > 1e19", "metrics.m < 1e999", "metrics.m >= -1e999"])
def test_metrics_compare_with_any_number_infinities_included(text: str) -> None:
    (clause,) = parse_filter(text).clauses
    assert isinstance(clause.value, float)


def test_times_at_the_edges_of_64_bits_are_accepted() -> None:
    assert parse_filter("start_time >= -9.2e18 and end_time <= 9.2e18").clauses[1].value == 9.2e18
