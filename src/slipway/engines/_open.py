"""``open_engine``, ``check_engine`` and ``check_shared``: engines by name, and what their options need."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from slipway.engines._dask import DaskEngine, require_dask
from slipway.engines._local import LocalEngine
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Mapping

    from slipway.engines._engine import Engine

__all__ = ["ENGINES", "check_engine", "check_shared", "open_engine"]

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


def check_shared(scheduler: str | None, locations: Mapping[str, str | None]) -> None:
    """Refuse storage that the workers of ``scheduler`` would not reach: a local file or folder.

    ``locations`` maps what each is (``"tracking store"``) to where it is (None: not used). A
    scheduler's workers may run on other machines, where the embedded SQLite file or a folder of
    this one is not there (or is another one). Without a scheduler (a LocalCluster, the local
    engine) or with one on this machine's loopback address, the workers are here and may use them.
    """
    if scheduler is None or _loopback(scheduler):
        return
    for what, location in locations.items():
        if location is not None and _local(location):
            raise InvalidInput(
                f"{what} {location}: the workers of scheduler {scheduler} may run on other machines, "
                "which cannot reach a local file or folder; use storage every worker reaches "
                "(PostgreSQL, a team server, s3://, gs://)"
            )


def _local(location: str) -> bool:
    """A path, a file:// or memory:// URL, or an SQLite database (sqlite:///..., sqlite+driver://)."""
    scheme = location.partition("://")[0].lower() if "://" in location else ""
    return scheme in ("", "file", "memory") or scheme.split("+")[0] == "sqlite"


def _loopback(address: str) -> bool:
    """A Dask scheduler address only this machine's workers can reach (tcp://127.0.0.1:8786, inproc://)."""
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    if parts.scheme == "inproc":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may be anywhere
        return False


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
