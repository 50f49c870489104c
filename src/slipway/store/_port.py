"""The metadata store port: the one interface every service uses to reach runs and experiments.

Two implementations ship: SQL (SQLite or PostgreSQL, same code) and HTTP (a remote
``slipway server``). Both pass :mod:`slipway.testing.store_contract`. Methods return core entities,
never ORM rows or JSON; failures are :mod:`slipway.errors` classes, never driver exceptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from slipway.core import ArtifactEntry, DatasetRecord, Experiment, Metric, Page, Run, RunStatus, TokenInfo


@runtime_checkable
class MetadataStore(Protocol):
    """Experiments, runs, their params, metrics, tags, datasets and artifact listings; server tokens."""

    # experiments
    def create_experiment(self, *, name: str, tags: Mapping[str, str] | None = None) -> Experiment: ...
    def get_experiment(self, experiment_id: str) -> Experiment: ...  # raises ExperimentNotFound
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...
    def list_experiments(self) -> list[Experiment]: ...

    # runs
    def create_run(
        self,
        *,
        experiment_id: str,
        name: str | None = None,
        user: str = "",
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
    ) -> Run: ...
    def get_run(self, run_id: str) -> Run: ...  # raises RunNotFound
    def end_run(self, run_id: str, *, status: RunStatus, end_time: int | None = None) -> Run: ...
    def heartbeat(self, run_id: str, *, at: int | None = None) -> None:
        """Record that the run is alive; a DIED run becomes RUNNING again (its end time cleared).

        A slow but living process (a long GC pause, a suspended laptop) must not stay DIED.
        """
        ...

    def mark_dead_runs(self, *, heartbeat_before: int) -> list[str]:
        """Mark RUNNING runs whose last heartbeat is older than the cutoff as DIED; return their ids.

        A team server clamps the cutoff to its own ``now - dead_after``: a client cannot mark runs
        dead sooner than the server's policy allows.
        """
        ...

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        """Write metrics, params and tags in one transaction.

        A param, once set, cannot change value (that would rewrite history): setting a different
        value raises Conflict and writes nothing of the batch.

        ``batch_id`` (1-64 characters of letters, digits, ``_-.:``) makes the call idempotent: a
        batch whose id was already applied to the run is skipped and the call returns normally, so
        a writer may resend a batch after a timeout without duplicating metrics. The id is recorded
        in the batch's own transaction; a batch that failed is not recorded and may be resent.
        """
        ...

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...
    def search_runs(
        self,
        *,
        experiment_ids: Sequence[str] = (),
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Run]:
        """One page of the runs that match ``filter``, in ``order_by`` order (newest first by default).

        Pass ``next_token`` back, with the same experiments, filter and order, for the next page;
        a token used with another search is InvalidInput (``max_results`` may change). Pages are
        offsets into the ordered result, computed anew at each call: a run created, or re-ordered
        by a new metric value, between two calls shifts the following pages, so a run may then be
        seen twice or not at all. For a stable listing of a live experiment, filter on
        ``start_time`` below the first call's time.
        """
        ...

    # datasets and artifacts
    def log_dataset(self, run_id: str, dataset: DatasetRecord) -> None: ...
    def get_run_datasets(self, run_id: str) -> list[DatasetRecord]: ...
    def record_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> None: ...
    def list_artifacts(self, run_id: str, *, prefix: str = "") -> list[ArtifactEntry]: ...

    # team-server tokens (the secret is returned once by create_token, stored only as a hash)
    def create_token(self, *, name: str) -> tuple[TokenInfo, str]: ...
    def list_tokens(self) -> list[TokenInfo]: ...
    def revoke_token(self, token_id: str) -> None: ...
    def verify_token(self, secret: str) -> TokenInfo | None: ...

    def close(self) -> None: ...
