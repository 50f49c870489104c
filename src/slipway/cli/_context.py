"""Settings and stores as the commands see them: resolved once per invocation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.config import Settings
    from slipway.store import MetadataStore
    from slipway.tracking import TrackingClient


def settings(**args: Any) -> Settings:
    from slipway.config import load_settings

    return load_settings({k: v for k, v in args.items() if v is not None})


def metadata_store(s: Settings) -> MetadataStore:
    from slipway.store import open_metadata_store

    return open_metadata_store(s.tracking_uri, token=s.token)


def tracking_client(s: Settings) -> TrackingClient:
    """The explicit tracking API over the settings' two stores (opening a blob store costs no I/O)."""
    from slipway.artifacts import open_blob_store
    from slipway.tracking import TrackingClient

    return TrackingClient(
        metadata_store(s),
        open_blob_store(s.artifact_uri, token=s.token),
        flush_interval=s.flush_interval,
        heartbeat_interval=s.heartbeat_interval,
        dead_after=s.dead_after,
    )
