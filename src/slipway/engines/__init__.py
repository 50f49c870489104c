"""Engines: where independent tasks run (``local`` processes, or a Dask cluster).

``open_engine("local", workers=4)``, ``open_engine("dask")`` (a LocalCluster) or
``open_engine("dask", address="tcp://scheduler:8786")``. Dask is an extra (``slipway[dask]``)
imported only when a Dask engine is opened. Engines are context managers: leaving the block stops
the processes or the LocalCluster they started (never a cluster they only connected to).
"""

from slipway.engines._dask import DaskEngine
from slipway.engines._engine import Engine, lost
from slipway.engines._local import LocalEngine
from slipway.engines._open import ENGINES, check_engine, check_shared, open_engine

__all__ = [
    "ENGINES",
    "DaskEngine",
    "Engine",
    "LocalEngine",
    "check_engine",
    "check_shared",
    "lost",
    "open_engine",
]
