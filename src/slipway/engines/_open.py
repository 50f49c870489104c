"""``open_engine``: an engine by name, the one place that knows which names exist."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.engines._dask import DaskEngine
from slipway.engines._local import LocalEngine
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.engines._engine import Engine

__all__ = ["ENGINES", "open_engine"]

ENGINES = ("local", "dask")


def open_engine(kind: str = "local", *, workers: int | None = None, address: str | None = None) -> Engine:
    """An engine by name: ``local`` (worker processes here) or ``dask``.

    ``workers`` sizes a local pool or a Dask LocalCluster; ``address`` connects to a running Dask
    scheduler instead of starting a cluster (``dask`` only), where ``workers`` only caps how many
    tasks ``map`` runs at once.
    """
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise InvalidInput(f"workers {workers!r}: expected a positive whole number")
    if kind == "local":
        if address is not None:
            raise InvalidInput("address: only the dask engine connects to a scheduler")
        return LocalEngine(workers)
    if kind == "dask":
        if address is None:
            return DaskEngine.start(workers)
        return DaskEngine.connect(address, workers=workers)
    raise InvalidInput(f"engine {kind!r}: expected one of {', '.join(ENGINES)}")
