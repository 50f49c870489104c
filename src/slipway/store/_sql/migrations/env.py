"""Alembic environment: slipway always runs migrations on a connection it opened itself.

There is no alembic.ini: ``slipway.store._sql._migrate`` builds the Config in code and passes the
connection (already inside a write transaction) in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from slipway.store._sql._tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("slipway migrations run through `slipway db upgrade`, which passes a connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
