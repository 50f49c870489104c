"""The REST payloads: NaN and infinities survive JSON, and every float comes back bit for bit."""

from __future__ import annotations

import json
import math
import struct

from hypothesis import given
from hypothesis import strategies as st

from slipway.core import DatasetRecord, Metric, Run, RunStatus
from slipway.server._errors import describe_validation
from slipway.store._wire import DatasetWire, LogBatchRequest, MetricsResponse, RunWire, encode_log_batch


def _bits(x: float) -> bytes:
    return struct.pack("<d", x)


def test_non_finite_values_travel_as_strings_in_valid_json() -> None:
    body = encode_log_batch(
        [Metric(key=k, value=v) for k, v in (("n", math.nan), ("p", math.inf), ("m", -math.inf))],
        params=None,
        tags=None,
    )

    parsed = json.loads(body, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    assert [m["value"] for m in parsed["metrics"]] == ["NaN", "Infinity", "-Infinity"]


@given(st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**63), 2**63 - 1))
def test_a_metric_round_trips_exactly_through_a_log_batch(value: float, step: int) -> None:
    sent = Metric(key="loss", value=value, step=step, timestamp=1_700_000_000_000)

    (received,) = LogBatchRequest.model_validate_json(
        encode_log_batch([sent], params=None, tags=None)
    ).metrics

    assert received.key == sent.key
    assert received.step == sent.step
    assert math.isnan(received.value) if math.isnan(value) else _bits(received.value) == _bits(value)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_metric_history_and_run_summaries_round_trip_exactly(value: float) -> None:
    history = MetricsResponse(metrics=[Metric(key="m", value=value)])
    run = Run(
        id="r", experiment_id="e", name="n", status=RunStatus.RUNNING, start_time=1, metrics={"m": value}
    )

    back = MetricsResponse.model_validate_json(history.model_dump_json()).metrics[0].value
    back_run = RunWire.model_validate_json(RunWire.from_core(run).model_dump_json()).to_core()

    for got in (back, back_run.metrics["m"]):
        assert math.isnan(got) if math.isnan(value) else _bits(got) == _bits(value)
    if not math.isnan(value):
        assert back_run == run


def test_a_dataset_profile_keeps_its_nan_statistics_as_numbers() -> None:
    record = DatasetRecord(
        digest="d",
        name="train",
        source="s3://b/train.parquet",
        num_rows=3,
        num_columns=1,
        schema={"x": "float64"},
        profile={"x": {"mean": math.nan, "max": math.inf, "label": "NaN"}},
    )

    back = DatasetWire.model_validate_json(
        DatasetWire.from_core(record).model_dump_json(by_alias=True)
    ).to_core()

    assert math.isnan(back.profile["x"]["mean"])
    assert back.profile["x"]["max"] == math.inf
    assert back.profile["x"]["label"] == "NaN"  # a string statistic stays a string
    assert back.schema == record.schema


def test_validation_problems_read_as_one_line_naming_the_field() -> None:
    errors = [
        {"type": "missing", "loc": ("body", "name"), "msg": "Field required"},
        {"type": "extra_forbidden", "loc": ("body", "nme"), "msg": "Extra inputs are not permitted"},
        {
            "type": "float_parsing",
            "loc": ("body", "metrics", 3, "value"),
            "msg": "Input should be a valid number",
        },
    ]

    message = describe_validation(errors)

    assert message == (
        "nme: unknown field (not part of the API); name: required field is missing (and 1 more problem)"
    )
    assert describe_validation(errors[2:]) == "metrics.3.value: expected a valid number"
