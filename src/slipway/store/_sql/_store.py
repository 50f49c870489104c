"""The SQL metadata store: one implementation for SQLite (the embedded default) and PostgreSQL.

Every method is one short transaction. Writes go through :meth:`SqlMetadataStore._write`, which on
SQLite takes the write lock up front (``BEGIN IMMEDIATE``), so concurrent writers queue instead of
failing. Reads of a page of runs load params, tags and metrics with one ``IN`` query each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.core import (
    Experiment,
    Metric,
    Page,
    Run,
    RunStatus,
    new_id,
    now_ms,
    parse_filter,
    parse_order_by,
    validate_batch_id,
    validate_key,
    validate_value,
)
from slipway.errors import AlreadyExists, Conflict, ExperimentNotFound, InvalidInput, RunNotFound
from slipway.store._sql import _search
from slipway.store._sql._aliases import AliasesMixin
from slipway.store._sql._audit import AuditMixin
from slipway.store._sql._base import chunks, fits, int64, upsert
from slipway.store._sql._engine import WRITE, check_schema, create_engine, has_tables, run_upgrade
from slipway.store._sql._errors import masked, translated
from slipway.store._sql._monitoring import MonitoringMixin
from slipway.store._sql._records import RecordsMixin
from slipway.store._sql._tables import (
    applied_batches,
    experiment_tags,
    experiments,
    latest_metrics,
    params,
    run_tags,
    runs,
)
from slipway.store._sql._tables import metrics as metrics_table  # log_batch's `metrics` shadows it

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.engine import Connection

_MAX_RESULTS = 10_000


class SqlMetadataStore(RecordsMixin, AliasesMixin, AuditMixin, MonitoringMixin):
    """A :class:`~slipway.store.MetadataStore` over SQLAlchemy; build it with :meth:`connect`."""

    @classmethod
    def connect(cls, url: str, **options: Any) -> SqlMetadataStore:
        """Open the store at ``url`` and check its schema.

        A new or empty SQLite file gets the current schema (the embedded default must work with
        zero setup); any other database must already be at the current revision, else
        SchemaOutOfDate names the ``slipway db upgrade`` command. Options meant for other backends
        (``token=``) are ignored.
        """
        options.pop("token", None)
        if options:
            raise InvalidInput(f"SQL store: unknown options {', '.join(sorted(options))}")
        engine = create_engine(url)
        store = cls(engine, url=masked(url))
        try:
            store._prepare_schema()
        except BaseException:
            engine.dispose()
            raise
        return store

    def _prepare_schema(self) -> None:
        with translated(self._url), self._engine.connect() as connection:
            with connection.begin():
                empty = connection.dialect.name == "sqlite" and not has_tables(connection)
                if not empty:
                    check_schema(connection, self._url)
                    return
            # A new SQLite file: create the schema under the write lock, where exactly one of
            # several processes opening it at once finds it still empty.
            connection.execution_options(**{WRITE: True})
            with connection.begin():
                if not has_tables(connection):
                    run_upgrade(connection)
                check_schema(connection, self._url)

    # ------------------------------------------------------------------ experiments

    def create_experiment(self, *, name: str, tags: Mapping[str, str] | None = None) -> Experiment:
        if not isinstance(name, str) or not name.strip() or len(name) > 250 or name != name.strip():
            raise InvalidInput(f"experiment name {name!r}: expected 1-250 characters without outer spaces")
        tags = dict(tags or {})
        for key, value in tags.items():
            validate_key("tag", key)
            validate_value("tag", key, value)
        experiment = Experiment(id=new_id(), name=name, created_at=now_ms(), tags=tags)
        exists = AlreadyExists(f"experiment {name!r} already exists; pick another name or fetch it by name")
        with self._write(conflict=exists) as connection:
            found = connection.execute(sa.select(experiments.c.id).where(experiments.c.name == name)).first()
            if found is not None:
                raise exists
            connection.execute(
                experiments.insert().values(id=experiment.id, name=name, created_at=experiment.created_at)
            )
            if tags:
                connection.execute(
                    experiment_tags.insert(),
                    [{"experiment_id": experiment.id, "key": k, "value": v} for k, v in tags.items()],
                )
        return experiment

    def _experiments(self, connection: Connection, where: Any) -> list[Experiment]:
        rows = connection.execute(
            sa.select(experiments).where(where).order_by(experiments.c.created_at, experiments.c.id)
        ).all()
        tags: dict[str, dict[str, str]] = {row.id: {} for row in rows}
        for chunk in chunks(list(tags)):
            for t in connection.execute(
                sa.select(experiment_tags).where(experiment_tags.c.experiment_id.in_(chunk))
            ):
                tags[t.experiment_id][t.key] = t.value
        return [Experiment(id=r.id, name=r.name, created_at=r.created_at, tags=tags[r.id]) for r in rows]

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self._read() as connection:
            found = self._experiments(connection, experiments.c.id == experiment_id)
        if not found:
            raise ExperimentNotFound(f"experiment {experiment_id!r} not found")
        return found[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with self._read() as connection:
            found = self._experiments(connection, experiments.c.name == name)
        return found[0] if found else None

    def list_experiments(self) -> list[Experiment]:
        with self._read() as connection:
            return self._experiments(connection, sa.true())

    # ------------------------------------------------------------------ runs

    def create_run(
        self,
        *,
        experiment_id: str,
        name: str | None = None,
        user: str = "",
        parent_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        start_time: int | None = None,
    ) -> Run:
        if name is not None:
            fits("run name", name, 250)
        fits("user", user, 250)
        tags = dict(tags or {})
        for key, value in tags.items():
            validate_key("tag", key)
            validate_value("tag", key, value)
        run_id = new_id()
        run = Run(
            id=run_id,
            experiment_id=experiment_id,
            name=name or f"run-{run_id[:8]}",
            status=RunStatus.RUNNING,
            start_time=now_ms() if start_time is None else int64("start_time", start_time),
            user=user,
            parent_run_id=parent_run_id,
            tags=tags,
        )
        with self._write() as connection:
            if (
                connection.execute(
                    sa.select(experiments.c.id).where(experiments.c.id == experiment_id)
                ).first()
                is None
            ):
                raise ExperimentNotFound(f"experiment {experiment_id!r} not found; create it first")
            if parent_run_id is not None and self._experiment_of(connection, parent_run_id) is None:
                raise RunNotFound(f"parent run {parent_run_id!r} not found")
            connection.execute(
                runs.insert().values(
                    id=run.id,
                    experiment_id=experiment_id,
                    name=run.name,
                    status=run.status.value,
                    start_time=run.start_time,
                    user_name=user,
                    parent_run_id=parent_run_id,
                )
            )
            if tags:
                connection.execute(
                    run_tags.insert(), [{"run_id": run.id, "key": k, "value": v} for k, v in tags.items()]
                )
        return run

    def get_run(self, run_id: str) -> Run:
        with self._read() as connection:
            row = connection.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                raise RunNotFound(f"run {run_id!r} not found")
            return self._load_runs(connection, [row])[0]

    def end_run(self, run_id: str, *, status: RunStatus, end_time: int | None = None) -> Run:
        status = RunStatus.of(status)
        if not status.is_terminal:
            raise InvalidInput(f"end_run {run_id!r}: status must be terminal, not {status.value}")
        with self._write() as connection:
            done = connection.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    status=status.value,
                    end_time=now_ms() if end_time is None else int64("end_time", end_time),
                )
            )
            if done.rowcount == 0:
                raise RunNotFound(f"run {run_id!r} not found")
        return self.get_run(run_id)

    def heartbeat(self, run_id: str, *, at: int | None = None) -> None:
        """Record a sign of life; a run marked DIED is alive after all: RUNNING again, no end time."""
        died = runs.c.status == RunStatus.DIED.value
        with self._write() as connection:
            done = connection.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    heartbeat_at=now_ms() if at is None else int64("heartbeat at", at),
                    # SET expressions read the row as it was, on SQLite and PostgreSQL alike.
                    status=sa.case((died, RunStatus.RUNNING.value), else_=runs.c.status),
                    end_time=sa.case((died, sa.null()), else_=runs.c.end_time),
                )
            )
            if done.rowcount == 0:
                raise RunNotFound(f"run {run_id!r} not found")

    def mark_dead_runs(self, *, heartbeat_before: int) -> list[str]:
        """Mark RUNNING runs whose last sign of life (heartbeat, else start) is older than the cutoff."""
        last_seen = sa.func.coalesce(runs.c.heartbeat_at, runs.c.start_time)
        with self._write() as connection:
            ids = list(
                connection.execute(
                    sa.select(runs.c.id).where(
                        runs.c.status == RunStatus.RUNNING.value,
                        last_seen < int64("heartbeat_before", heartbeat_before),
                    )
                ).scalars()
            )
            for chunk in chunks(ids):
                connection.execute(
                    runs.update()
                    .where(runs.c.id.in_(chunk), runs.c.status == RunStatus.RUNNING.value)
                    .values(status=RunStatus.DIED.value, end_time=now_ms())
                )
        return ids

    # ------------------------------------------------------------------ params, metrics, tags

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Sequence[Metric] = (),
        params: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        batch_id: str | None = None,
    ) -> None:
        if batch_id is not None:
            validate_batch_id(batch_id)
        params = dict(params or {})
        tags = dict(tags or {})
        metric_rows, latest = _metric_rows(run_id, metrics)
        for key, value in params.items():
            validate_key("param", key)
            validate_value("param", key, value)
        for key, value in tags.items():
            validate_key("tag", key)
            validate_value("tag", key, value)
        if not (metric_rows or params or tags):
            with self._read() as connection:
                self._require_run(connection, run_id)
            return
        with self._write() as connection:
            experiment_id = self._require_run(connection, run_id)
            if batch_id is not None and not _first_application(connection, run_id, batch_id):
                return  # a resend of a batch already committed: applying it again would duplicate
            if params:
                self._write_params(connection, run_id, params)
            if tags:
                stmt = upsert(connection, run_tags)
                connection.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[run_tags.c.run_id, run_tags.c.key],
                        set_={"value": stmt.excluded.value},
                    ),
                    [{"run_id": run_id, "key": k, "value": v} for k, v in tags.items()],
                )
            if metric_rows:
                connection.execute(metrics_table.insert(), metric_rows)
                stmt = upsert(connection, latest_metrics)
                newer = sa.or_(
                    stmt.excluded.step > latest_metrics.c.step,
                    sa.and_(
                        stmt.excluded.step == latest_metrics.c.step,
                        stmt.excluded.timestamp >= latest_metrics.c.timestamp,
                    ),
                )
                connection.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[latest_metrics.c.run_id, latest_metrics.c.key],
                        set_={
                            "value": stmt.excluded.value,
                            "step": stmt.excluded.step,
                            "timestamp": stmt.excluded.timestamp,
                        },
                        where=newer,
                    ),
                    [{**row, "experiment_id": experiment_id} for row in latest],
                )

    @staticmethod
    def _write_params(connection: Connection, run_id: str, values: dict[str, str]) -> None:
        """Insert new params, then check every value: a changed one aborts the whole batch.

        Checking after the insert (not before) also catches a concurrent writer of the same key.
        """
        stmt = upsert(connection, params)
        connection.execute(
            stmt.on_conflict_do_nothing(index_elements=[params.c.run_id, params.c.key]),
            [{"run_id": run_id, "key": k, "value": v} for k, v in values.items()],
        )
        query = sa.select(params.c.key, params.c.value).where(
            params.c.run_id == run_id, params.c.key.in_(list(values))
        )
        stored = {key: value for key, value in connection.execute(query)}
        changed = sorted(k for k, v in values.items() if stored.get(k) != v)
        if changed:
            key = changed[0]
            raise Conflict(
                f"run {run_id!r}: param {key!r} is already {stored.get(key)!r}, cannot change it to "
                f"{values[key]!r}; params are immutable, log a new run or use a tag or metric"
            )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        with self._read() as connection:
            self._require_run(connection, run_id)
            rows = connection.execute(
                sa.select(metrics_table.c.step, metrics_table.c.timestamp, metrics_table.c.value)
                .where(metrics_table.c.run_id == run_id, metrics_table.c.key == key)
                .order_by(metrics_table.c.step, metrics_table.c.timestamp, metrics_table.c.id)
            ).all()
        return [Metric(key=key, value=r.value, step=r.step, timestamp=r.timestamp) for r in rows]

    # ------------------------------------------------------------------ search

    def search_runs(
        self,
        *,
        experiment_ids: Sequence[str] = (),
        filter: str | None = None,
        order_by: str | Sequence[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Run]:
        if not isinstance(max_results, int) or not 1 <= max_results <= _MAX_RESULTS:
            raise InvalidInput(f"max_results {max_results!r}: expected 1 to {_MAX_RESULTS}")
        if isinstance(experiment_ids, str):
            experiment_ids = [experiment_ids]
        run_filter = parse_filter(filter)
        orders = parse_order_by(order_by if order_by is None or isinstance(order_by, str) else list(order_by))
        search = _search.fingerprint(experiment_ids=experiment_ids, run_filter=run_filter, order_by=orders)
        offset = _search.decode_token(page_token, search=search)
        plan = _search.plan(experiment_ids=list(experiment_ids), run_filter=run_filter, order_by=orders)
        with self._read() as connection:
            rows = _read_parts(connection, plan.parts, skip=offset, want=max_results + 1)
            more = len(rows) > max_results
            items = self._load_runs(connection, rows[:max_results])
        next_token = _search.encode_token(offset + max_results, search=search) if more else None
        return Page(items=items, next_token=next_token)

    @staticmethod
    def _load_runs(connection: Connection, rows: Sequence[Any]) -> list[Run]:
        """Attach params, tags and latest metrics with one IN query per table (never one per run)."""
        ids = [row.id for row in rows]
        found: dict[str, dict[str, dict[str, Any]]] = {
            i: {"params": {}, "tags": {}, "metrics": {}} for i in ids
        }
        for chunk in chunks(ids):
            for table, slot in ((params, "params"), (run_tags, "tags"), (latest_metrics, "metrics")):
                query = sa.select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(chunk))
                for run_id, key, value in connection.execute(query):
                    found[run_id][slot][key] = value
        return [
            Run(
                id=row.id,
                experiment_id=row.experiment_id,
                name=row.name,
                status=RunStatus(row.status),
                start_time=row.start_time,
                end_time=row.end_time,
                user=row.user_name,
                parent_run_id=row.parent_run_id,
                heartbeat_at=row.heartbeat_at,
                **found[row.id],
            )
            for row in rows
        ]


def _first_application(connection: Connection, run_id: str, batch_id: str) -> bool:
    """Record ``batch_id`` as applied to the run; False when it already was.

    The insert takes the key's lock, so of two concurrent sends of one batch the second waits for
    the first to commit (then skips) or roll back (then applies it).
    """
    stmt = (
        upsert(connection, applied_batches)
        .values(run_id=run_id, batch_id=batch_id, applied_at=now_ms())
        .on_conflict_do_nothing(index_elements=[applied_batches.c.run_id, applied_batches.c.batch_id])
    )
    if connection.dialect.name == "postgresql":  # psycopg reports rowcount -1 here: ask for the row
        return connection.execute(stmt.returning(applied_batches.c.batch_id)).first() is not None
    return bool(connection.execute(stmt).rowcount == 1)  # SQLite < 3.35 has no RETURNING


def _metric_rows(run_id: str, batch: Sequence[Metric]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """History rows, and per key the one with the greatest (step, timestamp) (later wins ties).

    Reducing in Python keeps one row per key in the upsert, which PostgreSQL requires.
    """
    rows: list[dict[str, Any]] = []
    latest: dict[str, dict[str, Any]] = {}
    for m in batch:
        validate_key("metric", m.key)
        try:
            value = float(m.value)
        except (TypeError, ValueError, OverflowError):
            raise InvalidInput(f"metric {m.key!r}: expected a number value, got {m.value!r:.60}") from None
        row = {
            "run_id": run_id,
            "key": m.key,
            "value": value,
            "step": int64(f"metric {m.key!r}: step", m.step),
            "timestamp": int64(f"metric {m.key!r}: timestamp", m.timestamp),
        }
        rows.append(row)
        best = latest.get(m.key)
        if best is None or (row["step"], row["timestamp"]) >= (best["step"], best["timestamp"]):
            latest[m.key] = row
    return rows, list(latest.values())


def _read_parts(
    connection: Connection, parts: Sequence[sa.Select[Any]], *, skip: int, want: int
) -> list[Any]:
    """Read ``want`` rows after skipping ``skip`` across the plan's parts, in order."""
    out: list[Any] = []
    for part in parts:
        if want <= 0:
            break
        got = connection.execute(part.limit(want).offset(skip)).all()
        if got:
            skip = 0
        elif skip:
            total = connection.execute(
                sa.select(sa.func.count()).select_from(part.order_by(None).subquery())
            ).scalar_one()
            skip = max(0, skip - int(total))
        out.extend(got)
        want -= len(got)
    return out
