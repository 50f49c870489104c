"""Monitoring: monitors and their cursors, one result per evaluated window, and alert events.

The audit log needs no change: ``monitor.trigger`` fits its ``action`` column (32 characters).

Revision ID: 0004
Revises: 0003
Create Date: 2026-06-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_MONITOR = sa.String(128)
_KEY = sa.String(250)


def _serial() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _monitor_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["monitor"], ["monitors.name"], name=f"fk_{table}_monitor_monitors")


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("name", _MONITOR, nullable=False),
        sa.Column("deployment", _MONITOR, nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("window_spec", _KEY, nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("actions", sa.Text(), nullable=False),
        sa.Column("options", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=True),
        sa.Column("reference_digest", sa.String(128), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_monitors"),
    )
    op.create_index("ix_monitors_deployment", "monitors", ["deployment"])
    op.create_table(
        "monitor_results",
        sa.Column("monitor", _MONITOR, nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("figures", sa.Text(), nullable=False),
        sa.Column("breaches", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        _monitor_fk("monitor_results"),
        sa.PrimaryKeyConstraint("monitor", "window_start", "window_end", name="pk_monitor_results"),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("monitor", _MONITOR, nullable=False),
        sa.Column("rule", _KEY, nullable=False),
        sa.Column("window_end", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        _monitor_fk("alert_events"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_events"),
    )
    op.create_index("ix_alert_events_monitor_rule_at", "alert_events", ["monitor", "rule", "at"])
    op.create_index("ix_alert_events_at", "alert_events", ["at"])


def downgrade() -> None:
    for table in ("alert_events", "monitor_results", "monitors"):
        op.drop_table(table)
