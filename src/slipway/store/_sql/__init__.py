"""The SQL metadata store (SQLite, PostgreSQL) and its explicit migrations."""

from slipway.store._sql._engine import current, upgrade
from slipway.store._sql._errors import masked
from slipway.store._sql._store import SqlMetadataStore
from slipway.store._sql._tables import SCHEMA_REVISION

__all__ = ["SCHEMA_REVISION", "SqlMetadataStore", "current", "masked", "upgrade"]
