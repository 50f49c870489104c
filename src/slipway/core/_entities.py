"""Value objects the stores return and the services pass around.

They are frozen: a store never hands out something a caller could change behind its back. Times are
integer milliseconds since the Unix epoch (UTC) everywhere, on the wire and in the database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from slipway.errors import InvalidInput

T = TypeVar("T")


class RunStatus(str, enum.Enum):
    """Lifecycle of a run. ``DIED`` is set when a RUNNING run's heartbeat stops (kill -9, lost host)."""

    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    DIED = "DIED"

    @property
    def is_terminal(self) -> bool:
        return self is not RunStatus.RUNNING

    @classmethod
    def of(cls, value: str | RunStatus) -> RunStatus:
        """The status ``value`` names; anything else is InvalidInput listing the statuses."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(s.value for s in cls)
            raise InvalidInput(f"run status {value!r:.60}: expected one of {names}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Experiment:
    id: str
    name: str
    created_at: int
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metric:
    key: str
    value: float
    step: int = 0
    timestamp: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """A run as searches return it: attributes, params, tags and the latest value of each metric."""

    id: str
    experiment_id: str
    name: str
    status: RunStatus
    start_time: int
    end_time: int | None = None
    user: str = ""
    parent_run_id: str | None = None
    heartbeat_at: int | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetRecord:
    """A dataset as a fingerprint: what it was, not a copy of it.

    ``digest`` identifies the content (every row, not a prefix); ``schema`` maps column to dtype;
    ``profile`` holds per-column statistics that later serve as the drift baseline.
    """

    digest: str
    name: str
    source: str
    num_rows: int
    num_columns: int
    schema: dict[str, str]
    profile: dict[str, Any]
    role: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtifactEntry:
    """One file logged to a run: its path inside the run and the content address of its bytes."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenInfo:
    """A team-server token as listed: never the secret, only what identifies it."""

    id: str
    name: str
    created_at: int
    revoked: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of a search; ``next_token`` is None on the last page."""

    items: list[T]
    next_token: str | None = None
