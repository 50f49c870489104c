"""The metadata store port: the one interface every service uses to reach runs and experiments.

Two implementations ship: SQL (SQLite or PostgreSQL, same code) and HTTP (a remote
``slipway server``). Both pass :mod:`slipway.testing.store_contract`. Methods return core entities,
never ORM rows or JSON; failures are :mod:`slipway.errors` classes, never driver exceptions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import EllipsisType
    from typing import Any

    from slipway.core import (
        AlertEvent,
        AlertStatus,
        ArtifactEntry,
        AuditAction,
        AuditEvent,
        DatasetRecord,
        Experiment,
        Metric,
        ModelVersion,
        Monitor,
        MonitorResult,
        Page,
        RegisteredModel,
        Run,
        RunStatus,
        TokenInfo,
    )


@runtime_checkable
class MetadataStore(Protocol):
    """All metadata: runs and experiments, tokens, the registry and its audit log, monitors.

    Runs carry their params, metrics, tags, datasets and artifact listings; monitors their window
    results and alerts.
    """

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

    # registry: models, versions, aliases and the append-only audit log. Every method that changes
    # state writes its AuditEvent in the same transaction, with the actor and reason it is given
    # (a team server overrides the actor with the authenticated token's name). A model that does
    # not exist is ModelNotFound for every method that names one (except create_model_version,
    # which creates it); a missing version of an existing model is ModelVersionNotFound, a missing
    # alias AliasNotFound. A failed call writes nothing.
    def create_model_version(
        self,
        *,
        name: str,
        source: str,
        manifest_digest: str,
        files: Sequence[ArtifactEntry],
        run_id: str | None = None,
        lineage: Mapping[str, Any] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str,
        reason: str = "",
    ) -> ModelVersion:
        """Register the next version of ``name`` (creating the model if it is new).

        Versions increase by one per model and stay unique under any number of concurrent callers;
        the version row, its files and the REGISTER audit event are one transaction.
        """
        ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...  # raises ModelNotFound
    def list_registered_models(self) -> list[RegisteredModel]: ...
    def set_model_description(self, name: str, description: str, *, actor: str, reason: str = "") -> None: ...
    def get_model_version(self, name: str, version: int) -> ModelVersion: ...  # ModelVersionNotFound
    def list_model_versions(self, name: str) -> list[ModelVersion]: ...  # newest first
    def list_model_version_files(self, name: str, version: int) -> list[ArtifactEntry]: ...
    def set_model_version_tags(
        self, name: str, version: int, tags: Mapping[str, str | None], *, actor: str, reason: str = ""
    ) -> None:
        """Set tags; a value of None deletes that tag."""
        ...

    def set_model_version_description(
        self, name: str, version: int, description: str, *, actor: str, reason: str = ""
    ) -> None: ...
    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...  # AliasNotFound
    def set_alias(
        self,
        *,
        name: str,
        alias: str,
        version: int,
        actor: str,
        reason: str = "",
        action: AuditAction | None = None,
        expected_version: int | EllipsisType | None = ...,
    ) -> AuditEvent:
        """Point ``alias`` at ``version`` atomically and log it; the event names the previous holder.

        The event's action is ALIAS_SET unless ``action`` says ROLLBACK (any other action is
        InvalidInput: a promotion goes through :meth:`promote`). With ``expected_version`` (None:
        the alias has no holder), the holder is checked under the model's lock in the same
        transaction: another is Conflict ("alias … moved to version N meanwhile") and nothing is
        written. The default ``...`` moves whoever holds it.
        """
        ...

    def promote(
        self,
        *,
        name: str,
        version: int,
        alias: str,
        actor: str,
        force: bool = False,
        reason: str = "",
    ) -> AuditEvent:
        """Move ``alias`` to ``version`` if the version's stored gate result lets it, and log it.

        In one transaction under the model's lock, the store reads the gate result it holds for the
        version (never one the caller sends). It passes when ``passed`` is true and it is not stale:
        a policy that compared against a champion must have compared against this ``alias``, and
        the champion it compared with (None: no holder) must still hold it. Then the event is
        PROMOTE; else, with ``force`` and a non-empty ``reason``, OVERRIDE; else GateFailed names
        the version, the alias and why, and nothing is written. The event's ``details`` hold the
        stored gate result (and, for an override, ``gate_state``: failed, stale or none).
        """
        ...

    def delete_alias(self, *, name: str, alias: str, actor: str, reason: str = "") -> AuditEvent: ...
    def record_gate_result(
        self, name: str, version: int, result: Mapping[str, Any], *, actor: str, reason: str = ""
    ) -> AuditEvent:
        """Store ``result`` as the version's latest gate result (``ModelVersion.gate``) and log it."""
        ...

    def search_audit(
        self,
        *,
        model: str | None = None,
        action: AuditAction | None = None,
        alias: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        """Audit events oldest first (``id`` order). There is no method to edit or delete one.

        ``since`` is inclusive and ``until`` exclusive (ms since the epoch). Pass ``next_token``
        back with the same filters for the next page (another search's token is InvalidInput);
        pages follow ids, so events appended meanwhile never shift them.
        """
        ...

    def record_audit_event(
        self,
        *,
        model: str,
        action: AuditAction,
        actor: str,
        reason: str = "",
        version: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Append an event recording something that happened outside the store, and return it.

        For actions that change no state the store holds (``MONITOR_TRIGGER``: a breached monitor
        started an action). Every other action is InvalidInput: the store writes those itself, with
        the change they record, so the log never claims a registration or an alias move that did
        not happen. ``model`` must be a valid model name but need not be registered (a monitor may
        watch a deployment whose reference is a data file). The event is appended to the log
        :meth:`search_audit` reads, with the actor rules of every other event.
        """
        ...

    # monitoring: monitor definitions and their cursors, the result of every evaluated window, and
    # every alert with its fate. An unknown monitor is MonitorNotFound for every method that names
    # one (list_alerts only filters). A failed call writes nothing.
    def create_monitor(self, monitor: Monitor, *, replace: bool = False) -> Monitor:
        """Store a monitor's definition and return it as stored (with the store's times).

        A taken name is AlreadyExists unless ``replace``; a replacement changes the definition and
        ``updated_at`` but keeps ``created_at`` and the cursor (the windows already evaluated stay
        evaluated; move the cursor with :meth:`set_monitor_cursor`). A new monitor starts at
        ``monitor.cursor`` (None: before the first window). ``created_at`` and ``updated_at`` of
        the argument are ignored.
        """
        ...

    def get_monitor(self, name: str) -> Monitor: ...  # raises MonitorNotFound
    def list_monitors(self) -> list[Monitor]: ...  # by name
    def delete_monitor(self, name: str) -> None:
        """Delete the monitor with its results and alerts, in one transaction."""
        ...

    def set_monitor_cursor(self, name: str, cursor: int | None) -> Monitor:
        """Set where the next run resumes (ms; None: from the start), backward or forward.

        For a backfill or a reset; recorded results are kept, so re-evaluated windows that were
        already recorded stay as they were.
        """
        ...

    def record_monitor_result(self, result: MonitorResult) -> bool:
        """Record a window's result once: True if recorded now, False if that window already was.

        Idempotent on ``(monitor, window_start, window_end)``: an existing result is never
        changed, and of concurrent callers recording one window exactly one gets True. In the same
        transaction the monitor's cursor moves to ``max(cursor, window_end)`` (never backward;
        also when the window was already recorded, so a run after a cursor reset catches up).
        ``created_at`` 0 is stamped with the store's clock.
        """
        ...

    def list_monitor_results(
        self,
        name: str,
        *,
        since: int | None = None,
        until: int | None = None,
        max_results: int = 1000,
    ) -> list[MonitorResult]:
        """Results oldest first by ``window_start``, at most ``max_results`` (1 to 10,000).

        ``since`` is inclusive and ``until`` exclusive, both on ``window_start`` (ms).
        """
        ...

    def record_alert(
        self,
        *,
        monitor: str,
        rule: str,
        window_end: int,
        status: AlertStatus | str,
        channel: str,
        message: str = "",
        details: Mapping[str, Any] | None = None,
        at: int | None = None,
    ) -> AlertEvent:
        """Record an alert of ``rule`` on the window ending at ``window_end`` and what became of it.

        ``status`` is fired, suppressed (deduplicated or in cooldown) or failed (not delivered);
        ``at`` defaults to the store's clock. The store assigns ``id``, increasing.
        """
        ...

    def list_alerts(
        self,
        *,
        monitor: str | None = None,
        rule: str | None = None,
        status: AlertStatus | str | None = None,
        since: int | None = None,
        max_results: int = 1000,
    ) -> list[AlertEvent]:
        """Alerts newest first (by ``at``, then ``id``), filtered; ``since`` is inclusive on ``at``.

        Newest first so that deduplication and cooldown read the last alert of a rule with
        ``max_results=1``.
        """
        ...

    def close(self) -> None: ...
