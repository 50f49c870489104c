"""The ids of applied metric batches, so that a resent batch is written once.

Revision ID: 0002
Revises: 0001
Create Date: 2026-05-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applied_batches",
        sa.Column("run_id", sa.String(32), nullable=False),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_applied_batches_run_id_runs"),
        sa.PrimaryKeyConstraint("run_id", "batch_id", name="pk_applied_batches"),
    )


def downgrade() -> None:
    op.drop_table("applied_batches")
