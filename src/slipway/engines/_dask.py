"""The Dask engine: tasks on a Dask distributed cluster, a LocalCluster here by default.

Why Dask: a LocalCluster starts in about a second on a laptop, works on pandas data natively, needs
no JVM, and the same code reaches a real cluster by its scheduler's address (on Kubernetes through
the Dask operator). Functions travel with cloudpickle, so closures and lambdas run as well as
module-level functions.

Results come back as :class:`concurrent.futures.Future` objects, not Dask's own, so callers can use
``concurrent.futures.wait`` and ``as_completed`` whatever the engine. Dask is imported only when an
engine is opened; its exceptions stop here, as one-line :class:`~slipway.errors.InvalidInput`.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput, MissingExtra, first_line

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

__all__ = ["DaskEngine", "require_dask"]

CONNECT_TIMEOUT = 5.0  # seconds to reach a scheduler before saying it cannot be reached
_SCATTER_BYTES = 1 << 20  # arguments bigger than this go to a worker directly, not in the task


class DaskEngine:
    """Tasks on a Dask cluster: one this engine started (closed with it) or one it connected to.

    Open it with :meth:`start` (a LocalCluster of ``workers`` single-threaded processes) or
    :meth:`connect` (a running scheduler), or through ``open_engine("dask", ...)``.

    .. versionadded:: 0.1
    """

    name = "dask"

    def __init__(
        self, client: Any, *, cluster: Any = None, address: str | None = None, limit: int | None = None
    ) -> None:
        self._client = client
        self._cluster = cluster
        self._limit = limit
        self.address = address

    @classmethod
    def start(cls, workers: int | None = None) -> DaskEngine:
        """A LocalCluster of ``workers`` processes (default: the machine's cores), one thread each.

        One thread per process because tasks are Python code holding the GIL; no dashboard, and
        nothing listens on a fixed port, so two engines can run side by side.
        """
        _quiet()
        import dask
        from distributed import Client, LocalCluster

        # A task whose worker dies is not started again elsewhere: it fails (KilledWorker), as on
        # the local engine. The scheduler reads this when it starts; it runs in this process.
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers if workers is not None else (os.cpu_count() or 1),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                # The scheduler serves /health and /metrics even without a dashboard, on 8787 unless
                # told otherwise: a random local port, so a second engine does not warn about it.
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.WARNING,
            )
        try:
            client = Client(cluster)  # type: ignore[no-untyped-call]
        except BaseException:
            cluster.close()
            raise
        return cls(client, cluster=cluster)

    @classmethod
    def connect(
        cls, address: str, *, workers: int | None = None, timeout: float = CONNECT_TIMEOUT
    ) -> DaskEngine:
        """The cluster behind the scheduler at ``address`` (``tcp://host:8786``); left running on close.

        The cluster has the workers it has; ``workers`` only caps how many tasks :meth:`map` keeps
        running at once (a sweep of 4 parallel trials on a shared 100-worker cluster). InvalidInput
        naming the address when no scheduler answers there within ``timeout`` seconds.
        """
        _quiet()
        from distributed import Client

        try:
            client = Client(address, timeout=timeout)  # type: ignore[no-untyped-call]
        except Exception as exc:  # any failure to connect (refused, timeout, not a scheduler) is one answer
            reason = first_line(exc) or type(exc).__name__
            raise InvalidInput(
                f"scheduler {address}: cannot connect ({reason}); expected a running Dask scheduler "
                "at that address, such as tcp://host:8786"
            ) from None
        return cls(client, address=address, limit=workers)

    @property
    def client(self) -> Any:
        """The ``distributed.Client``, for what the engine interface does not cover (dashboards, ``run``)."""
        return self._client

    @property
    def workers(self) -> int:
        """Tasks run at once: the cluster's worker threads now (at least 1), or the cap if lower."""
        info = self._client.scheduler_info()
        threads = max(1, sum(int(w.get("nthreads", 1)) for w in info.get("workers", {}).values()))
        return threads if self._limit is None else min(threads, self._limit)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        big = [self._scatter(a) for a in args]
        remote = self._client.submit(
            _call,
            fn,
            big,
            {k: self._scatter(v) for k, v in kwargs.items()},
            key=_key(fn),
            pure=False,
            retries=0,  # a task that raised is not run again (nor one whose worker died: see start)
        )
        local = _Remote(remote)
        remote.add_done_callback(local.copy_from)
        return local

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Results in the order of ``items``.

        Every task is submitted at once, as ``Executor.map`` does, unless ``workers`` capped a
        connected cluster: then at most that many are in flight. What is still running when the
        caller stops early (or a task fails) is cancelled.
        """
        if self._limit is None:
            return self._collect(iter(()), fn, deque(self.submit(fn, item) for item in items))
        return self._collect(iter(items), fn, deque())

    def _collect(
        self, items: Iterator[Any], fn: Callable[[Any], Any], running: deque[Future[Any]]
    ) -> Iterator[Any]:
        try:
            for item in items:
                running.append(self.submit(fn, item))
                if self._limit is not None and len(running) >= self._limit:
                    yield running.popleft().result()
            while running:
                yield running.popleft().result()
        finally:
            if self._client is not None and self._client.status == "running":
                for future in running:
                    future.cancel()

    def _scatter(self, value: Any) -> Any:
        """A big argument (a DataFrame chunk) goes straight to a worker, not through the scheduler."""
        from dask.sizeof import sizeof

        if isinstance(value, (str, bytes, int, float, bool, type(None))) or sizeof(value) < _SCATTER_BYTES:
            return value
        return self._client.scatter(value, hash=False)

    def close(self) -> None:
        """Disconnect; shut the cluster down if this engine started it (idempotent)."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def __repr__(self) -> str:
        where = self.address or "LocalCluster"
        return f"DaskEngine({where!r})"

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Remote(Future[Any]):
    """A concurrent.futures.Future that follows a Dask future; cancelling it cancels the task."""

    def __init__(self, remote: Any) -> None:
        super().__init__()
        self._remote: Any = remote

    def cancel(self) -> bool:
        remote = self._remote
        cancelled = super().cancel()
        if cancelled and remote is not None:
            remote.cancel()
        return cancelled

    def copy_from(self, remote: Any) -> None:
        """Called on Dask's callback thread when the task ends, however it ended.

        The Dask future is released once its outcome is copied: while a client holds a finished
        task's future, Dask computes it again if the worker keeping its result dies, and a task
        here (a pipeline step, a trial) must not run twice.
        """
        try:
            if not self.set_running_or_notify_cancel():
                return
            if remote.status == "finished":
                try:
                    self.set_result(remote.result())
                except BaseException as exc:  # the result could not be fetched (a worker died)
                    self.set_exception(exc)
            elif remote.status == "error":
                self.set_exception(remote.exception().with_traceback(remote.traceback()))
            else:  # cancelled, or lost with the cluster
                from concurrent.futures import CancelledError

                self.set_exception(CancelledError(f"task {remote.key} was {remote.status}"))
        finally:
            self._remote = None
            remote.release()


def _call(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    """Runs on a worker; keeps the task's own keywords apart from Client.submit's (``key``, ``workers``)."""
    return fn(*args, **kwargs)


def _key(fn: Callable[..., Any]) -> str:
    """A readable, unique task key: the function's name (as the dashboard shows it) and a uuid."""
    name = getattr(fn, "__name__", type(fn).__name__)
    return f"{name}-{uuid.uuid4().hex}"


def require_dask() -> None:
    """MissingExtra naming the extra when Dask's distributed scheduler is not installed.

    Looked up without importing it (a second or more), so a command can check its options first.
    """
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise MissingExtra(_MISSING)


_MISSING = "the dask engine needs: pip install 'slipway[dask]'"


def _quiet() -> None:
    """Dask logs every worker start and stop at INFO; a CLI run should show only what went wrong."""
    try:
        import distributed  # noqa: F401  (imported for its side effect: Dask's logging is set up)
    except ImportError as exc:
        raise MissingExtra(_MISSING) from exc
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker"):
        logging.getLogger(name).setLevel(logging.WARNING)
