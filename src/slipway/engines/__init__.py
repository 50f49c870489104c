"""Engines: where independent tasks run (``local`` processes, or a Dask cluster).

``open_engine("local", workers=4)``, ``open_engine("dask")`` (a LocalCluster) or
``open_engine("dask", address="tcp://scheduler:8786")``. Dask is an extra (``slipway[dask]``)
imported only when a Dask engine is opened. Engines are context managers: leaving the block stops
the processes or the LocalCluster they started (never a cluster they only connected to).
"""

from __future__ import annotations

from slipway.engines._dask import DaskEngine
from slipway.engines._engine import Engine
from slipway.engines._local import LocalEngine
from slipway.errors import InvalidInput

__all__ = ["ENGINES", "DaskEngine", "Engine", "LocalEngine", "open_engine"]

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
