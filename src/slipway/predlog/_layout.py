"""Where the prediction log's files go and what its columns are called: the on-disk contract.

::

    predictions/deployment=<deployment>/date=<YYYY-MM-DD>/part-<UTC time>-<pid>-<random>.parquet
    feedback/deployment=<deployment>/date=<YYYY-MM-DD>/part-<UTC time>-<pid>-<random>.parquet

The date is the UTC date of the rows' timestamps. A part's name carries the writing process's id and
64 random bits, so processes on one machine or many never pick the same name.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import date, datetime, timedelta, timezone

from slipway.core import validate_deployment_name
from slipway.errors import InvalidInput

PREDICTIONS = "predictions"
FEEDBACK = "feedback"

#: The columns every prediction part starts with, in this order.
RESERVED = ("request_id", "timestamp", "deployment", "model_name", "model_version", "variant", "latency_ms")
#: The columns join_feedback adds; a feature or output of these names is renamed like a reserved one.
JOINED = ("label", "label_timestamp")
FEEDBACK_COLUMNS = ("request_id", "label", "timestamp", "deployment")
#: Batch scoring's variant: its rows are logged at least once, so readers drop repeated request ids.
BATCH_VARIANT = "batch"

#: Inputs named like a reserved column are stored as ``input.<name>``, outputs as ``output.<name>``.
INPUT_PREFIX = "input."
OUTPUT_PREFIX = "output."

_DATE_FOLDER = re.compile(r"date=(\d{4}-\d{2}-\d{2})")
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


def check_name(kind: str, value: object) -> str:
    """A deployment or variant name: it becomes part of a path and a partition value.

    The rule is the deployment file's (:func:`slipway.core.validate_deployment_name`), so every
    deployment and arm the server accepts can be logged.
    """
    return validate_deployment_name(value, kind=kind)


def folder(kind: str, deployment: str, day: date) -> str:
    return f"{kind}/deployment={deployment}/date={day.isoformat()}"


def part_name(now_ns: int | None = None) -> str:
    now = time.time_ns() if now_ns is None else now_ns
    stamp = datetime.fromtimestamp(now // 1_000_000_000, tz=timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"part-{stamp}.{(now // 1000) % 1_000_000:06d}Z-{os.getpid()}-{uuid.uuid4().hex[:16]}.parquet"


def folder_date(name: str) -> date | None:
    """The date of a ``date=YYYY-MM-DD`` folder, or None for anything else."""
    match = _DATE_FOLDER.fullmatch(name)
    if match is None:
        return None
    try:
        return date.fromisoformat(match.group(1))
    except ValueError:
        return None


def day_of(micros: int) -> date:
    return (EPOCH + micros * _MICROSECOND).date()


def to_micros(kind: str, value: object) -> int:
    """Microseconds since the epoch (UTC) of a datetime; a naive one is taken as UTC."""
    if not isinstance(value, datetime):
        raise InvalidInput(f"{kind} {value!r}: expected a datetime (UTC, or with a time zone)")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // _MICROSECOND
