"""Metadata: one port, a SQL adapter (SQLite, PostgreSQL) and an HTTP adapter (a team server)."""

from slipway.store._open import current, open_metadata_store, required_schema, upgrade
from slipway.store._port import MetadataStore
from slipway.store._uri import masked as masked_uri

__all__ = ["MetadataStore", "current", "masked_uri", "open_metadata_store", "required_schema", "upgrade"]
