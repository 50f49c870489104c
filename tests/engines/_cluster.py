"""A Dask cluster started apart from slipway, as a team's would be: slipway only connects to it."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def running_cluster(workers: int = 2, *, threads: int = 1) -> Iterator[str]:
    """A LocalCluster with Dask's own defaults (a task whose worker died is tried 3 more times).

    Yields its scheduler's address, on this machine's loopback, so local stores are allowed.
    """
    from distributed import LocalCluster

    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=workers,
        threads_per_worker=threads,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # not 8787: clusters side by side
        silence_logs=logging.CRITICAL,  # a worker that dies on purpose is not news
    ) as cluster:
        yield str(cluster.scheduler_address)
