"""Engines: where independent tasks run (``local`` processes, or a Dask cluster).

``open_engine("local", workers=4)``, ``open_engine("dask")`` (a LocalCluster) or
``open_engine("dask", address="tcp://scheduler:8786")``. Dask is an extra (``slipway[dask]``)
imported only when a Dask engine is opened.
"""

from slipway.engines._engine import Engine

__all__ = ["Engine"]
