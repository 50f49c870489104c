"""Where served models come from: the registry (following aliases), a run, or a folder.

A deployment names models by URI. ``resolve`` is cheap (one metadata read) and is what polling calls
to notice an alias move; ``load`` downloads once into the cache and verifies every file before
anything is unpickled. A folder or a run never changes, so only registry URIs with an alias (or
``/latest``) are followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.core import RegistryModelUri, parse_model_uri
from slipway.errors import Conflict, NotFound

if TYPE_CHECKING:
    from slipway.artifacts import BlobStore
    from slipway.core import ModelVersion
    from slipway.models import Model
    from slipway.registry import Registry
    from slipway.store import MetadataStore

__all__ = ["BREACH_TAG", "ModelSource", "Resolved"]

BREACH_TAG = "slipway.serving.canary_breach"
"""Set on a version taken out of canary traffic; its value says why. Replicas skip such a canary."""


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a URI points at now."""

    uri: str
    name: str  # the registered model's name (a folder's or run's: the deployment's)
    version: str  # "7" for a registered version; a run id; a folder's manifest digest prefix
    alias: str | None = None  # the alias the URI follows, if any
    registered: ModelVersion | None = None

    @property
    def follows(self) -> bool:
        """Whether this URI can point elsewhere later (an alias, or ``/latest``)."""
        return self.uri.startswith("models:/") and (self.alias is not None or self.uri.endswith("/latest"))

    @property
    def breached(self) -> str | None:
        return self.registered.tags.get(BREACH_TAG) if self.registered is not None else None


class ModelSource:
    """Resolve and load served models through the stores the server was started with.

    Args:
        store, blobs: the metadata and blob stores (registry URIs and ``runs:/`` need them).
        cache_dir: where downloaded model folders are kept, one per distinct model.
        actor: who the server acts as in the audit log (canary rollbacks).
    """

    def __init__(
        self,
        *,
        store: MetadataStore | None,
        blobs: BlobStore | None,
        cache_dir: Path,
        actor: str,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.cache_dir = cache_dir
        self.actor = actor
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from slipway.registry import Registry

            if self.store is None or self.blobs is None:
                raise NotFound("a models:/ URI needs the metadata and blob stores; none were configured")
            self._registry = Registry(self.store, self.blobs)
        return self._registry

    def resolve(self, uri: str, *, default_name: str) -> Resolved:
        if uri.startswith("models:/"):
            version = self.registry.resolve(uri)
            alias = None
            if not uri.endswith("/latest"):
                ref = parse_model_uri(uri)
                assert isinstance(ref, RegistryModelUri)
                alias = ref.alias
            return Resolved(uri, version.name, str(version.version), alias, version)
        if uri.startswith("runs:/"):
            run_id = uri[len("runs:/") :].split("/", 1)[0]
            return Resolved(uri, default_name, run_id)
        import hashlib

        from slipway.models import MANIFEST_FILE

        folder = Path(uri.removeprefix("file://"))
        try:
            digest = hashlib.sha256((folder / MANIFEST_FILE).read_bytes()).hexdigest()
        except FileNotFoundError:
            raise NotFound(
                f"model {uri}: no {MANIFEST_FILE} there; expected a slipway model folder"
            ) from None
        except OSError as e:
            raise NotFound(f"model {uri}: cannot read it ({e.strerror})") from None
        return Resolved(uri, default_name, digest[:12])

    def load(self, resolved: Resolved, *, extra_columns: str = "drop") -> Model:
        from slipway.models import load_model

        if resolved.registered is not None:
            return self.registry.load(
                resolved.registered,
                cache_dir=self.cache_dir,
                extra_columns=extra_columns,  # type: ignore[arg-type]
            )
        if resolved.uri.startswith("runs:/"):
            return load_model(
                resolved.uri,
                store=self.store,
                blobs=self.blobs,
                cache_dir=self.cache_dir,
                extra_columns=extra_columns,  # type: ignore[arg-type]
            )
        return load_model(resolved.uri.removeprefix("file://"), extra_columns=extra_columns)  # type: ignore[arg-type]

    def breach_of(self, resolved: Resolved) -> str | None:
        """Why the version was taken out of canary traffic (its tag read now), or None."""
        if resolved.registered is None:
            return None
        now = self.registry.get_version(resolved.registered.name, resolved.registered.version)
        return now.tags.get(BREACH_TAG)

    def take_out(self, resolved: Resolved, *, deployment: str, reason: str) -> str:
        """Record a canary breach on its version and move back the alias move that brought it.

        Both land in the audit log (a ``tag`` event and a ``rollback`` event, with this reason).
        Another worker or replica may have done it first: the alias is moved back only while it
        still points at the breached version, so it is never rolled back twice.
        """
        if resolved.registered is None:
            return "not a registered version: taken out of traffic only"
        name, version = resolved.name, int(resolved.version)
        why = f"deployment {deployment}: {reason}"
        if self.breach_of(resolved) is None:  # another worker may have tagged it a moment ago
            self.registry.store.set_model_version_tags(
                name, version, {BREACH_TAG: reason}, actor=self.actor, reason=why
            )
        if resolved.alias is None:
            return f"version {version} tagged {BREACH_TAG}"
        try:
            current = self.registry.resolve(f"models:/{name}@{resolved.alias}")
        except NotFound:
            return f"alias {resolved.alias} no longer exists"
        if current.version != version:
            return f"alias {resolved.alias} already moved to version {current.version}"
        try:
            event = self.registry.rollback(name, alias=resolved.alias, actor=self.actor, reason=why)
        except Conflict as e:
            return f"alias {resolved.alias} not rolled back: {e}"
        return f"alias {resolved.alias} rolled back to version {event.version}"
