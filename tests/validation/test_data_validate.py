"""validate_data: every anomaly kind, kinds that are compatible, drift in real data, the reports."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
from tests.monitoring._data import bike_hours, census

from slipway.errors import DataValidationFailed, GateFailed, InvalidInput
from slipway.validation import (
    DataSchema,
    DataValidation,
    infer_schema,
    parse_schema,
    validate_data,
)

if TYPE_CHECKING:
    from pathlib import Path


def _schema(**columns: dict[str, object]) -> DataSchema:
    return parse_schema({"columns": columns})


def _only(result: DataValidation) -> tuple[str | None, str, str]:
    assert len(result.anomalies) == 1, result.to_text()
    a = result.anomalies[0]
    return a.column, a.kind, a.severity


def test_a_required_column_that_is_absent_is_an_error_and_an_optional_one_is_not() -> None:
    schema = _schema(x={"kind": "int"}, note={"kind": "string", "required": False})

    result = validate_data(pd.DataFrame({"y": [1]}).assign(x=None).drop(columns=["x"]), schema)

    kinds = {(a.column, a.kind, a.severity) for a in result.anomalies}
    assert kinds == {("x", "missing_column", "error"), ("y", "unexpected_column", "warning")}
    assert not result.ok
    assert "x" not in result.observed


def test_extra_columns_are_an_error_a_warning_or_allowed_as_the_schema_says() -> None:
    frame = pd.DataFrame({"x": [1], "extra": [2]})
    for setting, expected in (("error", [("extra", "unexpected_column", "error")]), ("allow", [])):
        schema = parse_schema({"extra_columns": setting, "columns": {"x": {"kind": "int"}}})
        found = [(a.column, a.kind, a.severity) for a in validate_data(frame, schema).anomalies]
        assert found == expected


def test_too_few_rows_is_a_dataset_anomaly() -> None:
    schema = parse_schema({"min_rows": 3, "columns": {"x": {"kind": "int"}}})

    result = validate_data(pd.DataFrame({"x": [1, 2]}), schema)

    assert _only(result) == (None, "too_few_rows", "error")
    assert result.anomalies[0].description == "the data has 2 rows; the schema expects at least 3"


def test_out_of_range_values_give_their_share_and_the_most_extreme_examples() -> None:
    schema = _schema(x={"kind": "float", "min": 0, "max": 1})
    values = [0.5] * 90 + [-3.0, -2.0, -1.0, 1.5, 2.0, 2.5, 3.0, np.inf, 7.0, 0.25] + [np.nan] * 5

    result = validate_data(pd.DataFrame({"x": values}), schema)

    assert _only(result) == ("x", "out_of_range", "error")
    a = result.anomalies[0]
    assert (a.count, a.share) == (9, 9 / 100)  # of the 100 present values; missing is not out of range
    assert a.examples == (-3.0, -2.0, 3.0, 7.0, float("inf"))
    assert a.description.startswith("column 'x': 9.0% of values (9 of 100) outside [0, 1]; e.g. -3, -2")
    assert a.to_dict()["examples"][-1] == "inf"  # JSON has no infinity


def test_a_one_sided_range_and_dates_out_of_range() -> None:
    schema = _schema(
        n={"kind": "int", "min": 0},
        at={"kind": "datetime", "min": "2024-01-01", "max": "2024-01-31T23:59:59"},
    )
    frame = pd.DataFrame(
        {
            "n": [5, 10**9, -1],
            "at": pd.to_datetime(["2024-01-05", "2024-02-01", "2023-12-31T12:00"], format="ISO8601"),
        }
    )

    result = validate_data(frame, schema)

    found = {a.column: a for a in result.anomalies}
    assert set(found) == {"n", "at"}
    assert (found["n"].count, found["n"].examples) == (1, (-1.0,))
    assert "outside [0, inf]" in found["n"].description
    assert found["at"].examples == ("2024-02-01T00:00:00", "2023-12-31T12:00:00")
    assert result.observed["at"].min == "2023-12-31T12:00:00"


def test_dates_with_a_time_zone_against_bounds_without_one_are_a_type_mismatch() -> None:
    schema = _schema(at={"kind": "datetime", "max": "2024-01-31"})
    frame = pd.DataFrame({"at": pd.to_datetime(["2024-01-05"]).tz_localize("UTC")})

    result = validate_data(frame, schema)

    assert _only(result) == ("at", "type_mismatch", "error")
    assert "dates with a time zone cannot be compared" in result.anomalies[0].description


def test_unknown_categories_name_the_values_most_frequent_first_and_max_unknown_tolerates_some() -> None:
    frame = pd.DataFrame({"plan": ["basic"] * 90 + ["gold"] * 6 + ["team"] * 3 + [None]})

    strict = validate_data(frame, _schema(plan={"kind": "string", "domain": ["basic"]}))
    lenient = validate_data(frame, _schema(plan={"kind": "string", "domain": ["basic"], "max_unknown": 0.1}))

    assert _only(strict) == ("plan", "unknown_categories", "error")
    a = strict.anomalies[0]
    assert (a.examples, a.count, a.share) == (("gold", "team"), 9, 9 / 99)
    assert a.description == (
        "column 'plan': 2 values not in the domain, 9.1% of values (9 of 99); e.g. 'gold', 'team'"
    )
    assert lenient.anomalies == ()
    assert strict.observed["plan"].distinct == 3


def test_a_category_domain_matches_values_by_text_whatever_the_file_made_of_them() -> None:
    schema = _schema(code={"kind": "category", "domain": ["1", "2"]})
    as_numbers = pd.DataFrame({"code": [1, 2, 2]})  # what CSV makes of a category column of digits
    as_category = pd.DataFrame({"code": pd.Categorical(["1", "2", "3"])})

    assert validate_data(as_numbers, schema).anomalies == ()
    assert validate_data(as_category, schema).anomalies[0].examples == ("3",)


def test_a_numeric_category_read_back_as_floats_matches_its_domain_by_value(tmp_path: Path) -> None:
    schema = _schema(cat={"kind": "category", "domain": [1, 2, 3]}, n={"kind": "int"})
    (tmp_path / "gap.csv").write_text("cat,n\n1,0\n2,1\n,2\n3,3\n")  # the gap makes 1.0, 2.0, 3.0
    (tmp_path / "new.csv").write_text("cat,n\n1,0\n2,1\n,2\n3,3\n4,4\n")

    assert validate_data(tmp_path / "gap.csv", schema).anomalies == ()
    result = validate_data(tmp_path / "new.csv", schema)
    assert _only(result) == ("cat", "unknown_categories", "error")
    assert result.anomalies[0].examples == (4.0,)
    assert result.anomalies[0].count == 1


@pytest.mark.parametrize(
    ("domain", "values", "unknown"),
    [
        (["1", "2"], [1.0, 2.0, None], ()),  # text domain, floats in the data
        ([1.0, 2.5], [1, 1, 2], (2,)),  # float domain, ints in the data: 2.5 is no int
        ([1.5, "x"], [1.5, 2.5, None], (2.5,)),
        ([9007199254740992], [9007199254740993], (9007199254740993,)),  # ints compared exactly
        ([True], [1, 1], (1,)),  # true is not the number 1
    ],
)
def test_numbers_in_a_category_column_compare_by_value(
    domain: list[object], values: list[object], unknown: tuple[object, ...]
) -> None:
    schema = _schema(c={"kind": "category", "domain": domain, "allow_constant": True})

    result = validate_data(pd.DataFrame({"c": values}), schema)

    assert tuple(e for a in result.anomalies for e in a.examples) == unknown


def test_bool_domains_compare_booleans() -> None:
    schema = _schema(vip={"kind": "bool", "domain": [False]})

    result = validate_data(pd.DataFrame({"vip": [False, True, None]}), schema)

    assert _only(result) == ("vip", "unknown_categories", "error")
    assert result.anomalies[0].examples == (True,)


def test_too_many_missing_values_and_a_column_entirely_missing() -> None:
    schema = _schema(
        a={"kind": "float", "max_missing": 0.1}, b={"kind": "float"}, c={"kind": "float", "max_missing": 1}
    )
    frame = pd.DataFrame({"a": [1.0, None, None, 4.0], "b": [None] * 4, "c": [None] * 4})

    result = validate_data(frame, schema)

    found = [(a.column, a.kind) for a in result.anomalies]
    assert found == [("a", "too_many_missing"), ("b", "all_missing")]
    assert result.anomalies[0].description == (
        "column 'a': 50.0% of rows missing (2 of 4); the schema allows at most 10.0%"
    )
    assert result.anomalies[1].description == "column 'b': every value is missing"


def test_constant_columns_are_a_warning_where_the_schema_forbids_them() -> None:
    schema = _schema(
        n={"kind": "int", "allow_constant": False},
        s={"kind": "string", "allow_constant": False},
        d={"kind": "string", "domain": ["a", "b"], "allow_constant": False},
        t={"kind": "datetime", "allow_constant": False},
        ok={"kind": "int"},
    )
    frame = pd.DataFrame(
        {
            "n": [3, 3, None],
            "s": ["x", "x", "x"],
            "d": ["a", "a", "a"],
            "t": pd.to_datetime(["2024-01-01"] * 3),
        }
    ).assign(ok=1)

    result = validate_data(frame, schema)

    assert [(a.column, a.kind, a.severity) for a in result.anomalies] == [
        ("n", "constant", "warning"),
        ("s", "constant", "warning"),
        ("d", "constant", "warning"),
        ("t", "constant", "warning"),
    ]
    assert result.ok  # warnings do not block
    assert result.anomalies[0].description == (
        "column 'n': every present value is 3; the schema expects it to vary"
    )


def test_the_schema_sets_the_severity_of_each_anomaly_kind() -> None:
    schema = parse_schema(
        {
            "severity": {"constant": "error", "out_of_range": "warning"},
            "columns": {"n": {"kind": "int", "max": 1, "allow_constant": False}},
        }
    )

    result = validate_data(pd.DataFrame({"n": [5, 5]}), schema)

    assert [(a.kind, a.severity) for a in result.anomalies] == [
        ("out_of_range", "warning"),
        ("constant", "error"),
    ]
    assert not result.ok


@pytest.mark.parametrize(
    ("kind", "values", "mismatch"),
    [
        ("int", [1.0, 2.0, None], False),  # a CSV int column with a gap reads as float
        ("int", [1.5, 2.0], True),
        ("int", ["1", "2"], True),
        ("float", [1, 2], False),
        ("float", ["1.5"], True),
        ("bool", [True, None, False], False),  # object column holding booleans
        ("bool", [0, 1], True),
        ("string", pd.Categorical(["a"]), False),
        ("string", [1, 2], True),
        ("datetime", ["2024-01-01"], True),
        ("category", [1, 2], False),
    ],
)
def test_which_kinds_are_compatible(kind: str, values: object, mismatch: bool) -> None:
    schema = _schema(x={"kind": kind})

    result = validate_data(pd.DataFrame({"x": values}), schema)

    assert [a.kind for a in result.anomalies] == (["type_mismatch"] if mismatch else [])


def test_a_type_mismatch_is_the_only_anomaly_of_its_column() -> None:
    schema = _schema(x={"kind": "float", "min": 0, "max": 1, "allow_constant": False})

    result = validate_data(pd.DataFrame({"x": ["a", "a"]}), schema)

    assert _only(result) == ("x", "type_mismatch", "error")
    assert result.anomalies[0].description == "column 'x': expected float values, got string (str)"


def test_an_empty_frame_has_too_few_rows_and_nothing_else() -> None:
    schema = _schema(x={"kind": "float", "allow_constant": False})

    result = validate_data(pd.DataFrame({"x": pd.Series([], dtype="float64")}), schema)

    assert _only(result) == (None, "too_few_rows", "error")


def test_census_2016_to_2018_against_the_2015_schema() -> None:
    """NannyML's census: the analysis years and ids lie past the reference's, and 95-year-olds appear."""
    reference, analysis = census()

    result = validate_data(analysis, infer_schema(reference))

    found = {a.column: a for a in result.anomalies}
    assert set(found) >= {"year", "id", "AGEP"}
    assert all(a.kind == "out_of_range" for a in found.values())
    assert found["year"].examples == (2016.0, 2017.0, 2018.0)
    assert found["year"].share == 1.0
    age = found["AGEP"]
    assert age.examples == (95.0,)
    assert age.count == int((analysis["AGEP"] > 94).sum()) > 0
    assert not any(a.kind == "unknown_categories" for a in result.anomalies)  # same codes every year


def test_bike_sharing_july_against_the_schema_of_january() -> None:
    hours = bike_hours()
    january = hours[hours["timestamp"] < "2011-02-01"].drop(columns=["timestamp", "instant"])
    july = hours[(hours["timestamp"] >= "2011-07-01") & (hours["timestamp"] < "2011-08-01")]

    result = validate_data(july.drop(columns=["timestamp"]), infer_schema(january))

    found = {(a.column, a.kind) for a in result.anomalies}
    assert {("temp", "out_of_range"), ("atemp", "out_of_range"), ("season", "out_of_range")} <= found
    assert ("dteday", "unknown_categories") in found  # a date kept as text: every new day is new
    assert ("instant", "unexpected_column") in found
    temp = next(a for a in result.anomalies if a.column == "temp")
    assert temp.share == float((july["temp"] > january["temp"].max()).mean()) > 0.9


def test_raise_for_anomalies_blocks_on_errors_only() -> None:
    schema = _schema(x={"kind": "int", "max": 1}, y={"kind": "int", "allow_constant": False})
    warned = validate_data(pd.DataFrame({"x": [1, 1], "y": [2, 2]}), schema)
    failed = validate_data(pd.DataFrame({"x": [5, 1], "y": [2, 3]}), schema)

    warned.raise_for_anomalies()
    with pytest.raises(DataValidationFailed) as caught:
        failed.raise_for_anomalies()

    assert isinstance(caught.value, GateFailed)
    assert str(caught.value) == (
        "data: 2 rows, 2 columns against schema: 1 error: "
        "column 'x': 50.0% of values (1 of 2) outside [-inf, 1]; e.g. 5"
    )


def test_validate_data_reads_files_and_schema_paths(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 4]})
    infer_schema(frame).save(tmp_path / "schema.yaml")
    frame.assign(x=[1, 2, 3, 40]).to_parquet(tmp_path / "new.parquet")

    result = validate_data(tmp_path / "new.parquet", tmp_path / "schema.yaml")

    assert (result.source, result.schema.source) == (str(tmp_path / "new.parquet"), "schema.yaml")
    assert [a.kind for a in result.anomalies] == ["out_of_range"]
    with pytest.raises(InvalidInput, match=r"data file '.*nope\.csv': no such file"):
        validate_data(tmp_path / "nope.csv", tmp_path / "schema.yaml")


def test_the_text_and_json_reports_carry_every_anomaly() -> None:
    schema = _schema(x={"kind": "int", "max": 1}, plan={"kind": "string", "domain": ["a"]})

    result = validate_data(pd.DataFrame({"x": [5, 1], "plan": ["a", "zz"], "new": [1, 2]}), schema)
    text = result.to_text()
    doc = json.loads(json.dumps(result.to_dict()))

    assert text.splitlines()[0] == "data: 2 rows, 3 columns against schema: 2 errors, 1 warning"
    assert re.search(r"ERROR\s+out_of_range\s+x\s+column 'x': 50.0%", text)
    assert re.search(r"ERROR\s+unknown_categories\s+plan\s+column 'plan'", text)
    assert re.search(r"WARNING\s+unexpected_column\s+new", text)
    assert (doc["ok"], doc["errors"], doc["warnings"]) == (False, 2, 1)
    assert [a["kind"] for a in doc["anomalies"]] == [
        "out_of_range",
        "unknown_categories",
        "unexpected_column",
    ]
    assert doc["schema"]["digest"] == schema.digest
    assert doc["observed"]["x"] == {
        "kind": "int",
        "rows": 2,
        "missing": 0,
        "missing_share": 0.0,
        "min": 1.0,
        "max": 5.0,
        "distinct": None,
    }


def test_the_html_report_is_self_contained_escaped_and_lists_schema_beside_observed() -> None:
    schema = _schema(
        x={"kind": "int", "max": 1},
        plan={"kind": "string", "domain": ["a"]},
        gone={"kind": "float"},
    )
    frame = pd.DataFrame({"x": [5, 1], "plan": ["a", "<script>alert(1)</script>"], "new": [1, 2]})

    page = validate_data(frame, schema).to_html()

    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert "&lt;script&gt;" in page
    assert not re.search(r"(src|href)=|@import|url\(", page)  # nothing fetched
    assert "FAILED" in page
    for kind in ("out_of_range", "unknown_categories", "missing_column", "unexpected_column"):
        assert f"<code>{kind}</code>" in page
    assert '<td><code>gone</code></td><td>float</td><td><span class="muted">not in the data</span>' in page
    assert "int; missing 0%; 1 to 5" in page
    assert "not in the schema" in page


def test_a_clean_validation_says_so_everywhere() -> None:
    frame = pd.DataFrame({"x": [1, 2]})
    result = validate_data(frame, infer_schema(frame))

    assert result.ok
    assert result.anomalies == ()
    assert result.to_text() == "data: 2 rows, 1 columns against schema: no anomalies"
    assert "PASSED" in result.to_html()
    assert "None: the data holds to its schema." in result.to_html()


def test_a_million_rows_of_twenty_columns_validate_in_well_under_a_few_seconds() -> None:
    rng = np.random.default_rng(0)
    n = 1_000_000
    frame = pd.DataFrame({f"f{i}": rng.normal(size=n) for i in range(12)})
    for i in range(4):
        frame[f"i{i}"] = rng.integers(0, 100, size=n)
    for i in range(4):
        frame[f"s{i}"] = pd.Series(rng.choice(["red", "green", "blue", "amber"], size=n), dtype="str")
    schema = infer_schema(frame.head(100_000))

    result = validate_data(frame, schema)

    assert {a.kind for a in result.anomalies} <= {"out_of_range"}  # the tails of a million normals
    assert result.duration_ms < 5_000, result.duration_ms
