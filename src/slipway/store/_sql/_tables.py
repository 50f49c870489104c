"""The schema as SQLAlchemy Core tables: one definition that both SQLite and PostgreSQL use.

The Alembic migrations under ``migrations/versions`` create exactly these tables; a test compares
the two so they cannot drift apart. ``SCHEMA_REVISION`` is the Alembic head this code expects, kept
here so that opening a store checks the schema with one SELECT instead of importing Alembic.

Times are integer milliseconds (BIGINT). Metric values are double precision; NaN is stored as NULL
because SQLite cannot store NaN (it turns it into NULL anyway), and doing the same on PostgreSQL
keeps filters and ordering identical on both: a NaN never matches a comparison and sorts with the
runs that lack the metric.
"""

from __future__ import annotations

import math
from typing import Any

import sqlalchemy as sa

#: The Alembic revision this code reads and writes; a store at another revision is out of date.
SCHEMA_REVISION = "0004"

# Named constraints, so that migrations can refer to them on every dialect.
metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_ID = sa.String(32)
_KEY = sa.String(250)
_MS = sa.BigInteger()
# SQLite only makes INTEGER PRIMARY KEY an alias of the rowid (free, and ordered by insertion).
_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class MetricValue(sa.types.TypeDecorator[float]):
    """A double where NaN travels as NULL (see the module docstring)."""

    impl = sa.Float(precision=53)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> float | None:
        if value is None:
            return None
        value = float(value)
        return None if math.isnan(value) else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> float:
        return math.nan if value is None else float(value)


experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("name", _KEY, nullable=False, unique=True),
    sa.Column("created_at", _MS, nullable=False),
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column("experiment_id", _ID, sa.ForeignKey("experiments.id"), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("experiment_id", _ID, sa.ForeignKey("experiments.id"), nullable=False),
    sa.Column("name", _KEY, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("start_time", _MS, nullable=False),
    sa.Column("end_time", _MS, nullable=True),
    sa.Column("user_name", _KEY, nullable=False),  # "user" is reserved in PostgreSQL
    sa.Column("parent_run_id", _ID, sa.ForeignKey("runs.id"), nullable=True),
    sa.Column("heartbeat_at", _MS, nullable=True),
    # The default search order (newest first) walks this index and stops at the page size.
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_time", "id"),
    sa.Index("ix_runs_start", "start_time", "id"),
    sa.Index("ix_runs_status", "status"),
    sa.Index("ix_runs_parent", "parent_run_id"),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)

run_tags = sa.Table(
    "run_tags",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)

metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id"), nullable=False),
    sa.Column("key", _KEY, nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=False),
    sa.Column("timestamp", _MS, nullable=False),
    sa.Column("value", MetricValue(), nullable=True),
    sa.Index("ix_metrics_run_key_step", "run_id", "key", "step", "timestamp"),
)

# The latest value of each metric of each run, kept by an upsert, so that searches never scan the
# history. experiment_id is copied from the run so that "metrics.x > v order by metrics.y" inside
# one experiment is an index range scan on (experiment_id, key, value) that stops at the page size.
latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("experiment_id", _ID, nullable=False),
    sa.Column("value", MetricValue(), nullable=True),
    sa.Column("step", sa.BigInteger(), nullable=False),
    sa.Column("timestamp", _MS, nullable=False),
    sa.Index("ix_latest_metrics_experiment_key_value", "experiment_id", "key", "value"),
    sa.Index("ix_latest_metrics_key_value", "key", "value"),
)

# The ids of the metric batches applied to each run, written in the batch's own transaction: a
# writer that resends a batch after a timeout (the first attempt may have been committed) finds its
# id here and the batch is skipped, so a retry never duplicates metrics. Batches without an id are
# not recorded.
applied_batches = sa.Table(
    "applied_batches",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("applied_at", _MS, nullable=False),
)

datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("digest", sa.String(128), primary_key=True),
    sa.Column("name", _KEY, nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("num_rows", sa.BigInteger(), nullable=False),
    sa.Column("num_columns", sa.Integer(), nullable=False),
    sa.Column("schema", sa.Text(), nullable=False),  # JSON
    sa.Column("profile", sa.Text(), nullable=False),  # JSON
)

run_datasets = sa.Table(
    "run_datasets",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("digest", sa.String(128), sa.ForeignKey("datasets.digest"), primary_key=True),
    sa.Column("role", sa.String(64), primary_key=True),
    sa.Column("name", _KEY, nullable=False),  # the name this run used; the same data may have several
    sa.Column("logged_at", _MS, nullable=False),
)

run_artifacts = sa.Table(
    "run_artifacts",
    metadata,
    sa.Column("run_id", _ID, sa.ForeignKey("runs.id"), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("digest", sa.String(128), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("name", _KEY, nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 hex of the secret
    sa.Column("created_at", _MS, nullable=False),
    sa.Column("revoked", sa.Boolean(), nullable=False),
)


# ------------------------------------------------------------------------------------ registry
# A version row never changes its source, manifest digest or files once written (no method does);
# descriptions, tags, the latest gate result and aliases may move, each with an audit event in the
# same transaction. The registered_models row is also the lock that serialises version allocation
# and alias moves of one model on PostgreSQL (SELECT … FOR UPDATE).

_MODEL = sa.String(200)
_ALIAS = sa.String(63)

registered_models = sa.Table(
    "registered_models",
    metadata,
    sa.Column("name", _MODEL, primary_key=True),
    sa.Column("created_at", _MS, nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
)

model_tags = sa.Table(
    "model_tags",
    metadata,
    sa.Column("name", _MODEL, sa.ForeignKey("registered_models.name"), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("name", _MODEL, sa.ForeignKey("registered_models.name"), primary_key=True),
    sa.Column("version", sa.BigInteger(), primary_key=True),
    sa.Column("created_at", _MS, nullable=False),
    sa.Column("source", sa.Text(), nullable=False),
    sa.Column("manifest_digest", sa.String(128), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=True),  # no foreign key: a run may live elsewhere
    sa.Column("creator", _KEY, nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("lineage", sa.Text(), nullable=False),  # JSON
    sa.Column("gate", sa.Text(), nullable=True),  # JSON, the latest gate result
    sa.Index("ix_model_versions_run", "run_id"),
)

_VERSION_FK = ("model_versions.name", "model_versions.version")

model_version_tags = sa.Table(
    "model_version_tags",
    metadata,
    sa.Column("name", _MODEL, primary_key=True),
    sa.Column("version", sa.BigInteger(), primary_key=True),
    sa.Column("key", _KEY, primary_key=True),
    sa.Column("value", sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(["name", "version"], list(_VERSION_FK)),
)

model_version_files = sa.Table(
    "model_version_files",
    metadata,
    sa.Column("name", _MODEL, primary_key=True),
    sa.Column("version", sa.BigInteger(), primary_key=True),
    sa.Column("path", sa.String(1024), primary_key=True),
    sa.Column("digest", sa.String(128), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(["name", "version"], list(_VERSION_FK)),
)

model_aliases = sa.Table(
    "model_aliases",
    metadata,
    sa.Column("name", _MODEL, primary_key=True),
    sa.Column("alias", _ALIAS, primary_key=True),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(["name", "version"], list(_VERSION_FK)),
)

# Append-only: no code path updates or deletes a row. No foreign keys, so that the log outlives
# anything it mentions.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("at", _MS, nullable=False),
    sa.Column("actor", _KEY, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("model", _MODEL, nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=True),
    sa.Column("alias", _ALIAS, nullable=True),
    sa.Column("previous_version", sa.BigInteger(), nullable=True),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("details", sa.Text(), nullable=False),  # JSON
    sa.Index("ix_audit_events_model_id", "model", "id"),
    sa.Index("ix_audit_events_action_id", "action", "id"),
)


# ------------------------------------------------------------------------------------ monitoring
# A monitor's definition and its cursor (the end of the last evaluated window); one row per
# evaluated window, written at most once (the primary key makes a re-run of a window a no-op); and
# every alert with its fate, read newest first per rule for deduplication and cooldown. The
# monitors row is also the lock that serialises the writers of one monitor on PostgreSQL.

_MONITOR = sa.String(128)

monitors = sa.Table(
    "monitors",
    metadata,
    sa.Column("name", _MONITOR, primary_key=True),
    sa.Column("deployment", _MONITOR, nullable=False),
    sa.Column("reference", sa.Text(), nullable=False),
    sa.Column("window_spec", _KEY, nullable=False),  # "window" is a keyword in SQL
    sa.Column("rules", sa.Text(), nullable=False),  # JSON list
    sa.Column("actions", sa.Text(), nullable=False),  # JSON list
    sa.Column("options", sa.Text(), nullable=False),  # JSON object
    sa.Column("created_at", _MS, nullable=False),
    sa.Column("updated_at", _MS, nullable=False),
    sa.Column("cursor", _MS, nullable=True),
    sa.Column("reference_digest", sa.String(128), nullable=True),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Index("ix_monitors_deployment", "deployment"),
)

monitor_results = sa.Table(
    "monitor_results",
    metadata,
    sa.Column("monitor", _MONITOR, sa.ForeignKey("monitors.name"), primary_key=True),
    sa.Column("window_start", _MS, primary_key=True),
    sa.Column("window_end", _MS, primary_key=True),
    sa.Column("created_at", _MS, nullable=False),
    sa.Column("row_count", sa.BigInteger(), nullable=False),  # "rows" is a keyword in SQL
    sa.Column("figures", sa.Text(), nullable=False),  # JSON object: name -> number or null
    sa.Column("breaches", sa.Text(), nullable=False),  # JSON list of rule names
    sa.Column("result", sa.Text(), nullable=False),  # JSON object
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", _SERIAL, primary_key=True, autoincrement=True),
    sa.Column("monitor", _MONITOR, sa.ForeignKey("monitors.name"), nullable=False),
    sa.Column("rule", _KEY, nullable=False),
    sa.Column("window_end", _MS, nullable=False),
    sa.Column("at", _MS, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("message", sa.Text(), nullable=False),
    sa.Column("details", sa.Text(), nullable=False),  # JSON object
    # "the last alert of this rule" (dedup, cooldown) is one backward step on this index
    sa.Index("ix_alert_events_monitor_rule_at", "monitor", "rule", "at"),
    sa.Index("ix_alert_events_at", "at"),
)
