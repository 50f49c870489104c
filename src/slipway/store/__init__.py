"""Metadata: one port, a SQL adapter (SQLite, PostgreSQL) and an HTTP adapter (a team server)."""

from slipway.store._open import open_metadata_store
from slipway.store._port import MetadataStore

__all__ = ["MetadataStore", "open_metadata_store"]
