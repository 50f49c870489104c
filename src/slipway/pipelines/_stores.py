"""The stores as plain values, and the fluent API bound to a run, for work done in another process.

A sweep's trial and a pipeline step on an engine run in a worker that is spawned, not forked, and
may be on another host: it receives where runs go (:class:`Stores`, resolved by the edge that
started the work), builds its own client once per process (:func:`worker_client`), and runs the
user's code with ``slipway.log_metric``/``log_model`` bound to the run it opened (:func:`bound`).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

    from slipway.config import Settings
    from slipway.tracking import ActiveRun, TrackingClient

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


_bound_lock = threading.Lock()
_bound_count = 0
_saved_client: Any = None


@contextlib.contextmanager
def bound(client: TrackingClient, run: ActiveRun) -> Iterator[None]:
    """``slipway.log_*`` inside the block: to ``run``, through ``client``'s stores.

    The fluent API keeps one client per process; threads of a Dask worker may run trials or steps
    at once, so the client is swapped in by the first of them and back by the last.
    """
    global _bound_count, _saved_client
    from slipway import _api

    with _bound_lock:
        if _bound_count == 0:
            _saved_client = _api._client
        _bound_count += 1
        _api._client = client
    token = _api._stack.set((*_api._stack.get(), run))
    try:
        yield
    finally:
        _api._stack.reset(token)
        with _bound_lock:
            _bound_count -= 1
            if _bound_count == 0:
                _api._client, _saved_client = _saved_client, None
