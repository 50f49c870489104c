"""The model registry: models, versions, their files, tags and aliases, and the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-05-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_MODEL = sa.String(200)
_ALIAS = sa.String(63)
_KEY = sa.String(250)


def _serial() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _version_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        name=f"fk_{table}_name_model_versions",
    )


def upgrade() -> None:
    op.create_table(
        "registered_models",
        sa.Column("name", _MODEL, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_registered_models"),
    )
    op.create_table(
        "model_tags",
        sa.Column("name", _MODEL, nullable=False),
        sa.Column("key", _KEY, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["name"], ["registered_models.name"], name="fk_model_tags_name_registered_models"
        ),
        sa.PrimaryKeyConstraint("name", "key", name="pk_model_tags"),
    )
    op.create_table(
        "model_versions",
        sa.Column("name", _MODEL, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("manifest_digest", sa.String(128), nullable=False),
        sa.Column("run_id", sa.String(64), nullable=True),
        sa.Column("creator", _KEY, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("lineage", sa.Text(), nullable=False),
        sa.Column("gate", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["name"], ["registered_models.name"], name="fk_model_versions_name_registered_models"
        ),
        sa.PrimaryKeyConstraint("name", "version", name="pk_model_versions"),
    )
    op.create_index("ix_model_versions_run", "model_versions", ["run_id"])
    op.create_table(
        "model_version_tags",
        sa.Column("name", _MODEL, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("key", _KEY, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _version_fk("model_version_tags"),
        sa.PrimaryKeyConstraint("name", "version", "key", name="pk_model_version_tags"),
    )
    op.create_table(
        "model_version_files",
        sa.Column("name", _MODEL, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("digest", sa.String(128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        _version_fk("model_version_files"),
        sa.PrimaryKeyConstraint("name", "version", "path", name="pk_model_version_files"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("name", _MODEL, nullable=False),
        sa.Column("alias", _ALIAS, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        _version_fk("model_aliases"),
        sa.PrimaryKeyConstraint("name", "alias", name="pk_model_aliases"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", _serial(), autoincrement=True, nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", _KEY, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("model", _MODEL, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("alias", _ALIAS, nullable=True),
        sa.Column("previous_version", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_model_id", "audit_events", ["model", "id"])
    op.create_index("ix_audit_events_action_id", "audit_events", ["action", "id"])


def downgrade() -> None:
    for table in (
        "audit_events",
        "model_aliases",
        "model_version_files",
        "model_version_tags",
        "model_versions",
        "model_tags",
        "registered_models",
    ):
        op.drop_table(table)
