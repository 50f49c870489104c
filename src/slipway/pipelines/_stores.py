"""The stores as plain values, and the fluent API bound to a run, for work done in another process.

A sweep's trial and a pipeline step on an engine run in a worker that is spawned, not forked, and
may be on another host: it receives where runs go (:class:`Stores`, resolved by the edge that
started the work), builds its own client once per process (:func:`worker_client`), and runs the
user's code with ``slipway.log_metric``/``log_model`` bound to the run it opened (:func:`bound`,
``slipway._api.bind``: per thread, so the threads of one Dask worker do not share a binding).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slipway._api import bind as bound
from slipway.engines import check_shared
from slipway.errors import Unauthorized
from slipway.store import masked_uri

if TYPE_CHECKING:
    from slipway.config import Settings
    from slipway.tracking import TrackingClient

__all__ = ["Stores", "bound", "worker_client"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Stores:
    """Where runs go, as the edge resolved it; a worker builds its own client from these values.

    Never the token: a task may cross a network in the clear (``tcp://`` to a scheduler), so a
    worker reads its own, from ``SLIPWAY_TOKEN`` in its environment (:func:`worker_client`);
    ``authenticated`` only says that the edge had one, so a worker without one says so at once.
    """

    tracking_uri: str
    artifact_uri: str
    authenticated: bool = False
    flush_interval: float
    heartbeat_interval: float
    dead_after: float

    @classmethod
    def of(cls, settings: Settings) -> Stores:
        return cls(
            tracking_uri=settings.tracking_uri,
            artifact_uri=settings.artifact_uri,
            authenticated=settings.token is not None,
            flush_interval=settings.flush_interval,
            heartbeat_interval=settings.heartbeat_interval,
            dead_after=settings.dead_after,
        )

    def client(self, *, token: str | None) -> TrackingClient:
        from slipway.artifacts import open_blob_store
        from slipway.store import open_metadata_store
        from slipway.tracking import TrackingClient

        return TrackingClient(
            open_metadata_store(self.tracking_uri, token=token),
            open_blob_store(self.artifact_uri, token=token),
            flush_interval=self.flush_interval,
            heartbeat_interval=self.heartbeat_interval,
            dead_after=self.dead_after,
        )

    def check_shared(self, scheduler: str | None) -> None:
        """InvalidInput when the workers of ``scheduler`` could not reach these stores (local ones)."""
        check_shared(
            scheduler,
            {
                "tracking store (SLIPWAY_TRACKING_URI)": self.tracking_uri,
                "artifact store (SLIPWAY_ARTIFACT_URI)": self.artifact_uri,
            },
        )


_clients: dict[Stores, TrackingClient] = {}
_clients_lock = threading.Lock()


def worker_client(stores: Stores) -> TrackingClient:
    """One client per worker process and stores, with the worker's own token; its exit closes it."""
    with _clients_lock:
        found = _clients.get(stores)
        if found is None:
            found = _clients[stores] = stores.client(token=_worker_token(stores))
        return found


def _worker_token(stores: Stores) -> str | None:
    """The worker's edge: its token from its own environment (``SLIPWAY_TOKEN``) or ``slipway.toml``."""
    if not stores.authenticated:
        return None
    from slipway.config import load_settings

    token = load_settings().token
    if token is None:
        raise Unauthorized(
            f"tracking store {masked_uri(stores.tracking_uri)}: this worker has no token; set SLIPWAY_TOKEN "
            "in the environment of every worker (tasks do not carry the token)"
        )
    return token
