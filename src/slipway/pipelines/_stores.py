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
from slipway.core import RunStatus
from slipway.engines import check_shared, lost
from slipway.errors import InvalidInput, Unauthorized
from slipway.store import masked_uri

if TYPE_CHECKING:
    from slipway.config import Settings
    from slipway.tracking import TrackingClient

__all__ = [
    "SecondAttempt",
    "Stores",
    "bound",
    "end_orphans",
    "own_client",
    "refuse_rerun",
    "why_lost",
    "worker_client",
]


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
            found = _clients[stores] = own_client(stores)
        return found


def own_client(stores: Stores) -> TrackingClient:
    """A new client of ``stores`` with this process's own token; the caller closes it.

    This is a worker's edge: its token comes from its own environment (``SLIPWAY_TOKEN``) or its
    ``slipway.toml``, never from the task.
    """
    if not stores.authenticated:
        return stores.client(token=None)
    from slipway.config import load_settings

    token = load_settings().token
    if token is None:
        raise Unauthorized(
            f"tracking store {masked_uri(stores.tracking_uri)}: this worker has no token; set SLIPWAY_TOKEN "
            "in the environment of every worker (tasks do not carry the token)"
        )
    return stores.client(token=token)


# ---------------------------------------------------------------------- a task that must not run twice


class SecondAttempt(InvalidInput):
    """A task started again after its worker died: refused in the worker, before it records anything."""


def refuse_rerun(client: TrackingClient, runs: str) -> None:
    """In a worker: SecondAttempt when a run matching ``runs`` exists, the task's first attempt's.

    A scheduler the engine only connected to may start a task again after its worker died (its
    ``allowed-failures``); a trial or a step must not run twice (a model registered twice), so the
    second attempt fails at once and the coordinator records the loss, as when the task is lost.
    """
    if client.store.search_runs(filter=runs, max_results=1).items:
        raise SecondAttempt(
            "its worker died before it finished, and the scheduler started it again: it is not run twice"
        )


def why_lost(exc: BaseException) -> str | None:
    """Why a task that runs at most once did not finish (lost, or refused a second time), or None."""
    return str(exc) if isinstance(exc, SecondAttempt) else lost(exc)


def end_orphans(client: TrackingClient, runs: str) -> str | None:
    """In the coordinator, after the engine lost a task: end KILLED its runs still RUNNING.

    Their worker is gone, so nothing else would end them (until their heartbeat is missed).
    Returns the id of the task's run, if it got as far as starting one.
    """
    found = client.store.search_runs(filter=runs, max_results=10).items
    for run in found:
        if run.status is RunStatus.RUNNING:
            client.store.end_run(run.id, status=RunStatus.KILLED)
    return found[0].id if found else None
