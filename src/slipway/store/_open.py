"""Choosing a metadata store by URI scheme, lazily, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from slipway.errors import InvalidInput, MissingExtra
from slipway.store._uri import masked

if TYPE_CHECKING:
    from slipway.store._port import MetadataStore

_METADATA_STORES: dict[str, tuple[str, str | None]] = {  # scheme -> (target, extra for its driver)
    "sqlite": ("slipway.store._sql:SqlMetadataStore", None),
    "postgresql": ("slipway.store._sql:SqlMetadataStore", "postgres"),
    "postgres": ("slipway.store._sql:SqlMetadataStore", "postgres"),
    "http": ("slipway.store._http:HttpMetadataStore", None),
    "https": ("slipway.store._http:HttpMetadataStore", None),
}


#: resolved by name, as the stores are, so that only a call loads SQLAlchemy (and the layers'
#: import check sees that the CLI, which calls these, never imports it)
_SQL_SCHEMA = "slipway.store._sql:"


def _import_target(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def open_metadata_store(uri: str, **options: Any) -> MetadataStore:
    """Open the store a URI names; options go to the backend's ``connect`` (e.g. ``token=``)."""
    try:
        scheme = urlsplit(uri).scheme.split("+")[0].lower()
    except (ValueError, AttributeError) as exc:  # e.g. "postgresql://a:b@[bad": Invalid IPv6 URL
        raise InvalidInput(
            f"store URI {masked(str(uri))!r}: not a valid URL ({exc}); expected e.g. "
            "sqlite:///PATH, postgresql://USER@HOST/DB or https://HOST"
        ) from None
    if scheme not in _METADATA_STORES:
        raise InvalidInput(
            f"store URI {masked(uri)!r}: scheme must be one of {', '.join(sorted(_METADATA_STORES))}"
        )
    target, extra = _METADATA_STORES[scheme]
    try:
        cls = _import_target(target)
    except ImportError as exc:  # pragma: no cover - the base install carries every target
        if extra is None:
            raise
        raise MissingExtra(f"{scheme}:// needs: pip install 'slipway[{extra}]'") from exc
    store: MetadataStore = cls.connect(uri, **options)
    return store


def upgrade(url: str) -> str:
    """Migrate the SQL database at ``url`` to the schema this slipway needs; safe to run again.

    Returns the schema revision the database is at afterwards. Only SQL stores have a schema:
    another URL is InvalidInput. SQLAlchemy and Alembic are imported only now.
    """
    revision: str = _import_target(_SQL_SCHEMA + "upgrade")(url)
    return revision


def current(url: str) -> str | None:
    """The schema revision of the SQL database at ``url``, or None when it has no slipway schema.

    Only looks: a SQLite file that does not exist is not created.
    """
    revision: str | None = _import_target(_SQL_SCHEMA + "current")(url)
    return revision


def required_schema() -> str:
    """The schema revision this slipway reads and writes (what ``upgrade`` migrates to)."""
    revision: str = _import_target("slipway.store._sql._tables:SCHEMA_REVISION")
    return revision
