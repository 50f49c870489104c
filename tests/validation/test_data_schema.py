"""infer_schema on real data, and the schema file: a YAML round trip, and every hand edit checked on load."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import yaml
from tests.monitoring._data import bike_hours, census

from slipway.errors import InvalidInput
from slipway.validation import (
    ColumnSchema,
    DataSchema,
    infer_schema,
    load_schema,
    parse_schema,
    validate_data,
)

if TYPE_CHECKING:
    from pathlib import Path


def _iris() -> pd.DataFrame:
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    frame: pd.DataFrame = bunch.frame
    frame["species"] = bunch.target_names[bunch.target]
    return frame


def test_iris_gets_ranges_for_numbers_and_a_domain_for_its_species() -> None:
    schema = infer_schema(_iris(), name="iris")

    length = schema.column("sepal length (cm)")
    assert (length.kind, length.min, length.max, length.max_missing) == ("float", 4.3, 7.9, 0.0)
    assert length.required
    assert not length.allow_constant
    assert schema.column("target").kind == "int"
    species = schema.column("species")
    assert (species.kind, species.domain) == ("string", ("setosa", "versicolor", "virginica"))
    assert schema.dataset == {"name": "iris", "rows": 150}
    assert validate_data(_iris(), schema).anomalies == ()


def test_census_categories_get_domains_in_numeric_order_and_an_id_column_none() -> None:
    reference, _ = census()
    reference["person"] = reference["id"].astype(str)  # unique text: a name, not a category

    schema = infer_schema(reference)

    mar = schema.column("MAR")
    assert (mar.kind, mar.domain) == ("category", ("1", "2", "3", "4", "5"))
    assert schema.column("RELP").domain == tuple(str(i) for i in range(18))  # 2 before 10
    assert schema.column("person").domain is None
    year = schema.column("year")
    assert (year.kind, year.min, year.max, year.allow_constant) == ("int", 2015, 2015, True)


def test_a_text_column_with_many_values_per_row_gets_no_domain() -> None:
    frame = pd.DataFrame({"city": ["a", "b", "c", "d", "a", "b"], "flag": ["y", "n", "y", "n", "y", "n"]})

    schema = infer_schema(frame)

    assert schema.column("city").domain is None  # 4 values in 6 rows: above max_domain_ratio 0.5
    assert schema.column("flag").domain == ("n", "y")
    assert infer_schema(frame, max_domain_ratio=1.0).column("city").domain == ("a", "b", "c", "d")
    assert infer_schema(frame, max_domain_size=1).column("flag").domain is None


def test_missing_shares_get_the_tolerance_and_complete_columns_stay_complete() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0], "b": [1, 2, 3, 4], "c": [None] * 4})

    schema = infer_schema(frame, missing_tolerance=0.05)

    assert schema.column("a").max_missing == 0.3  # 25% seen + 5%
    assert schema.column("b").max_missing == 0.0
    assert schema.column("c").max_missing == 1.0  # all missing in training: may stay so


def test_widen_stretches_numeric_ranges_by_a_share_of_the_span_and_rounds_ints_outward() -> None:
    frame = pd.DataFrame({"x": [0.0, 10.0], "n": [3, 5]})

    schema = infer_schema(frame, widen=0.1)

    assert (schema.column("x").min, schema.column("x").max) == (-1.0, 11.0)
    assert (schema.column("n").min, schema.column("n").max) == (2, 6)  # 2.8..5.2 rounded outward


def test_bike_sharing_read_from_csv_has_a_corrupted_id_and_the_schema_of_clean_months_catches_it(
    tmp_path: Path,
) -> None:
    """Row 160 of hour.csv starts with a control character, so pandas reads `instant` as text."""
    hours = bike_hours().drop(columns=["timestamp"])
    path = tmp_path / "hours.csv"
    hours.to_csv(path, index=False)
    clean = hours[hours["dteday"] >= "2011-02-01"].copy()
    clean["instant"] = clean["instant"].astype("int64")

    schema = infer_schema(clean, name="2011-02..")
    result = validate_data(path, schema)

    assert schema.column("instant").kind == "int"
    mismatch = [a for a in result.anomalies if a.kind == "type_mismatch"]
    assert [a.column for a in mismatch] == ["instant"]
    assert "expected int values, got string" in mismatch[0].description


def test_the_yaml_round_trips_every_field(tmp_path: Path) -> None:
    schema = DataSchema(
        columns={
            "age": ColumnSchema(
                name="age", kind="int", min=18, max=90, max_missing=0.05, allow_constant=False
            ),
            "score": ColumnSchema(name="score", kind="float", min=-1.5, required=False),
            "plan": ColumnSchema(
                name="plan", kind="string", domain=("yes", "no", "1.0", ""), max_unknown=0.01
            ),
            "tier": ColumnSchema(name="tier", kind="category", domain=(1, "gold", True, 2.5)),
            "vip": ColumnSchema(name="vip", kind="bool", domain=(False, True)),
            "at": ColumnSchema(name="at", kind="datetime", min="2024-01-01T00:00:00+00:00"),
        },
        min_rows=100,
        extra_columns="error",
        severity={"constant": "error", "out_of_range": "warning"},
        dataset={"name": "train", "rows": 1000, "digest": "ab" * 32},
    )

    loaded = load_schema(schema.save(tmp_path / "nested" / "schema.yaml"))

    assert loaded.source == "schema.yaml"
    assert loaded.columns == schema.columns
    assert (loaded.min_rows, loaded.extra_columns, loaded.severity) == (100, "error", schema.severity)
    assert loaded.dataset == schema.dataset
    assert loaded.digest == schema.digest
    text = (tmp_path / "nested" / "schema.yaml").read_text()
    assert text.startswith("# slipway data schema")
    assert "domain: ['yes', 'no', '1.0', '']" in text  # quoted where YAML would read another type


def test_an_inferred_schema_of_real_data_round_trips(tmp_path: Path) -> None:
    reference, _ = census()
    schema = infer_schema(reference.head(5000))

    assert load_schema(schema.save(tmp_path / "s.yaml")).columns == schema.columns


def test_hand_edits_relax_the_contract(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3, 2], "plan": ["a", "b", "a", "b"]})
    path = infer_schema(frame).save(tmp_path / "schema.yaml")
    new = pd.DataFrame({"x": [1, 9], "plan": ["a", "c"]})
    assert {a.kind for a in validate_data(new, path).anomalies} == {"out_of_range", "unknown_categories"}

    doc = yaml.safe_load(path.read_text())
    doc["columns"]["x"]["max"] = 10
    doc["columns"]["plan"]["domain"].append("c")
    path.write_text(yaml.safe_dump(doc))

    assert validate_data(new, path).anomalies == ()


def test_a_minimal_hand_written_schema_means_few_constraints() -> None:
    schema = parse_schema({"columns": {"x": {"kind": "float"}}})

    x = schema.column("x")
    assert (x.required, x.min, x.max, x.domain, x.max_missing, x.allow_constant) == (
        True,
        None,
        None,
        None,
        None,
        True,
    )
    assert (schema.min_rows, schema.extra_columns, schema.severity) == (1, "warning", {})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (None, "s.yaml: expected a mapping"),
        ({"columns": {}}, "s.yaml: columns: expected at least one column"),
        ({"colums": {"x": {"kind": "int"}}}, "s.yaml: colums: unknown key; expected one of"),
        ({"version": 2, "columns": {"x": {"kind": "int"}}}, "version 2: this slipway reads schema version 1"),
        ({"columns": {"x": {}}}, "s.yaml: columns.x.kind: missing; expected one of int, float"),
        ({"columns": {"x": {"kind": "integer"}}}, "columns.x.kind 'integer': unknown kind; expected one of"),
        (
            {"columns": {"x": {"kind": "int", "min": "low"}}},
            "columns.x.min 'low': expected a number, got text",
        ),
        ({"columns": {"x": {"kind": "int", "min": 5, "max": 1}}}, "columns.x: min 5 is above max 1"),
        ({"columns": {"x": {"kind": "string", "max": 3}}}, "columns.x.max: a string column has no range"),
        ({"columns": {"x": {"kind": "int", "domain": [1]}}}, "columns.x.domain: a int column has no domain"),
        (
            {"columns": {"x": {"kind": "string", "domain": ["a", True]}}},
            "columns.x.domain[1] true: expected text; quote values YAML reads as something else",
        ),
        ({"columns": {"x": {"kind": "bool", "domain": ["yes"]}}}, "columns.x.domain[0] 'yes': expected true"),
        (
            {"columns": {"x": {"kind": "string", "domain": ["a", "a"]}}},
            "columns.x.domain[1] 'a': listed twice",
        ),
        (
            {"columns": {"x": {"kind": "string", "domain": "a"}}},
            "columns.x.domain: expected a list, got text",
        ),
        (
            {"columns": {"x": {"kind": "string", "max_unknown": 0.1}}},
            "only a column with a domain has unknown",
        ),
        (
            {"columns": {"x": {"kind": "int", "max_missing": 5}}},
            "columns.x.max_missing 5: expected a fraction",
        ),
        (
            {"columns": {"x": {"kind": "int", "required": "no"}}},
            "columns.x.required 'no': expected true or false",
        ),
        (
            {"columns": {"x": {"kind": "int", "allow_constant": 1}}},
            "columns.x.allow_constant 1: expected true",
        ),
        ({"columns": {"x": {"kind": "int", "mni": 1}}}, "columns.x.mni: unknown key; expected one of"),
        (
            {"columns": {"x": {"kind": "datetime", "min": "soon"}}},
            "columns.x.min 'soon': expected a date and time",
        ),
        (
            {"columns": {"x": {"kind": "datetime", "min": "2024-02-01", "max": "2024-01-01"}}},
            "columns.x: min 2024-02-01 is after max 2024-01-01",
        ),
        (
            {"min_rows": -1, "columns": {"x": {"kind": "int"}}},
            "s.yaml: min_rows -1: expected an integer >= 0",
        ),
        ({"extra_columns": "no", "columns": {"x": {"kind": "int"}}}, "extra_columns 'no': unknown value"),
        (
            {"severity": {"out_of_range": "fatal"}, "columns": {"x": {"kind": "int"}}},
            "severity.out_of_range 'fatal': unknown severity; expected one of error, warning",
        ),
        (
            {"severity": {"unexpected_column": "error"}, "columns": {"x": {"kind": "int"}}},
            "severity.unexpected_column: unknown anomaly kind (set extra_columns instead)",
        ),
        (
            {"dataset": {"rows": "many"}, "columns": {"x": {"kind": "int"}}},
            "dataset.rows 'many': expected an int",
        ),
        ({"columns": {1: {"kind": "int"}}}, "s.yaml: columns: key 1: expected text keys"),
    ],
)
def test_every_field_of_a_hand_edited_schema_is_checked(document: object, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_schema(document, source="s.yaml")

    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unquoted_yaml_dates_are_accepted_as_datetime_bounds(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("columns:\n  at: {kind: datetime, min: 2024-01-01, max: 2024-12-31 23:59:00}\n")

    at = load_schema(path).column("at")

    assert (at.min, at.max) == ("2024-01-01", "2024-12-31T23:59:00")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("columns: [a\n", "s.yaml: not valid YAML (line 2, column 1)"),
        (b"\xff\xfe", "not UTF-8 text; expected YAML"),
    ],
)
def test_unreadable_schema_files_are_one_line_errors(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())

    with pytest.raises(InvalidInput, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")):
        load_schema(path)
    with pytest.raises(InvalidInput, match=r"schema file '.*nope\.yaml': no such file"):
        load_schema(tmp_path / "nope.yaml")


def test_bad_inference_options_are_refused() -> None:
    frame = pd.DataFrame({"x": [1]})
    with pytest.raises(InvalidInput, match="widen: expected a number >= 0"):
        infer_schema(frame, widen=-1)
    with pytest.raises(InvalidInput, match="max_domain_ratio: expected a number in"):
        infer_schema(frame, max_domain_ratio=0)
    with pytest.raises(InvalidInput, match="extra_columns 'never'"):
        infer_schema(frame, extra_columns="never")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="column 'x' appears twice"):
        infer_schema(pd.DataFrame([[1, 2]], columns=["x", "x"]))
