"""Settings and stores as the commands see them: resolved once per invocation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.config import Settings
    from slipway.store import MetadataStore


def settings(**args: Any) -> Settings:
    from slipway.config import load_settings

    return load_settings({k: v for k, v in args.items() if v is not None})


def metadata_store(s: Settings) -> MetadataStore:
    from slipway.store import open_metadata_store

    return open_metadata_store(s.tracking_uri, token=s.token)
