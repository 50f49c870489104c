"""``open_engine`` and ``check_engine``: engines by name, the one place that knows their options."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.engines._dask import DaskEngine, require_dask
from slipway.engines._local import LocalEngine
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from slipway.engines._engine import Engine

__all__ = ["ENGINES", "check_engine", "open_engine"]

ENGINES = ("local", "dask")


def check_engine(kind: str | None, *, workers: int | None = None, scheduler: str | None = None) -> None:
    """Refuse engine options that cannot work together, before anything is started or recorded.

    ``kind`` None means no engine (the work runs in this process), where ``workers`` and
    ``scheduler`` mean nothing. The dask engine's extra must be installed: a command learns it
    before it records a run, not when its first task is submitted.
    """
    if kind is None:
        for name, value in (("workers", workers), ("scheduler", scheduler)):
            if value is not None:
                raise InvalidInput(
                    f"{name} {value!r}: choose where the work runs with engine='local' or 'dask' (--engine)"
                )
        return
    if kind not in ENGINES:
        raise InvalidInput(f"engine {kind!r}: expected one of {', '.join(ENGINES)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise InvalidInput(f"workers {workers!r}: expected a positive whole number")
    if scheduler is not None and kind != "dask":
        raise InvalidInput(f"scheduler {scheduler!r}: only the dask engine connects to a scheduler")
    if kind == "dask":
        require_dask()


def open_engine(kind: str = "local", *, workers: int | None = None, address: str | None = None) -> Engine:
    """An engine by name: ``local`` (worker processes here) or ``dask``.

    ``workers`` sizes a local pool or a Dask LocalCluster; ``address`` connects to a running Dask
    scheduler instead of starting a cluster (``dask`` only), where ``workers`` only caps how many
    tasks ``map`` runs at once.
    """
    check_engine(kind, workers=workers, scheduler=address)
    if kind == "local":
        return LocalEngine(workers)
    if address is None:
        return DaskEngine.start(workers)
    return DaskEngine.connect(address, workers=workers)
