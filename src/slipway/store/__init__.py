"""Metadata: one port, a SQL adapter (SQLite, PostgreSQL) and an HTTP adapter (a team server)."""

from slipway.store._open import current, open_metadata_store, upgrade
from slipway.store._port import MetadataStore

__all__ = ["MetadataStore", "current", "open_metadata_store", "upgrade"]
