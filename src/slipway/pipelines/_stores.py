"""The stores as plain values, and the fluent API bound to a run, for work done in another process.

A sweep's trial and a pipeline step on an engine run in a worker that is spawned, not forked, and
may be on another host: it receives where runs go (:class:`Stores`, resolved by the edge that
started the work), builds its own client once per process (:func:`worker_client`), and runs the
user's code with ``slipway.log_metric``/``log_model`` bound to the run it opened (:func:`bound`,
``slipway._api.bind``: per thread, so the threads of one Dask worker do not share a binding).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slipway._api import bind as bound

if TYPE_CHECKING:
    from slipway.config import Settings
    from slipway.tracking import TrackingClient

__all__ = ["Stores", "bound", "worker_client"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stores:
    """Where runs go, as the edge resolved it; a worker builds its own client from these values."""

    tracking_uri: str
    artifact_uri: str
    token: str | None = field(default=None, repr=False)
    flush_interval: float
    heartbeat_interval: float
    dead_after: float

    @classmethod
    def of(cls, settings: Settings) -> Stores:
        return cls(
            tracking_uri=settings.tracking_uri,
            artifact_uri=settings.artifact_uri,
            token=settings.token,
            flush_interval=settings.flush_interval,
            heartbeat_interval=settings.heartbeat_interval,
            dead_after=settings.dead_after,
        )

    def client(self) -> TrackingClient:
        from slipway.artifacts import open_blob_store
        from slipway.store import open_metadata_store
        from slipway.tracking import TrackingClient

        return TrackingClient(
            open_metadata_store(self.tracking_uri, token=self.token),
            open_blob_store(self.artifact_uri, token=self.token),
            flush_interval=self.flush_interval,
            heartbeat_interval=self.heartbeat_interval,
            dead_after=self.dead_after,
        )


_clients: dict[Stores, TrackingClient] = {}
_clients_lock = threading.Lock()


def worker_client(stores: Stores) -> TrackingClient:
    """One client per worker process and stores; the worker's exit closes it."""
    with _clients_lock:
        found = _clients.get(stores)
        if found is None:
            found = _clients[stores] = stores.client()
        return found
