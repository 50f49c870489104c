"""The registry service: register, resolve and load versions; aliases, promotion, rollback, lineage, audit.

``Registry(store, blobs)`` works over any :class:`~slipway.store.MetadataStore` (SQLite, PostgreSQL
or a team server) and any blob store. Every change of state is one store call that writes its
audit event in the same transaction, so the registry never leaves a change unlogged or a log entry
without its change. The constructor only keeps its arguments.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.core import (
    AuditAction,
    LocalModelUri,
    ModelVersion,
    RegistryModelUri,
    RunModelUri,
    parse_model_uri,
    validate_alias,
    validate_model_name,
)
from slipway.errors import (
    AliasNotFound,
    Conflict,
    IntegrityViolation,
    InvalidInput,
    ModelNotFound,
    RunNotFound,
)
from slipway.models import MANIFEST_FILE, cached_folder, parse_manifest
from slipway.registry._card import CARD_FIELDS, CardText, ModelCard, build_card, card_tag
from slipway.registry._history import alias_changes, alias_state
from slipway.registry._lineage import DatasetLink, VersionLineage
from slipway.registry._sources import from_folder, from_run

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from slipway.artifacts import BlobStore
    from slipway.core import AuditEvent, DatasetRecord, RegisteredModel
    from slipway.models import ExtraColumns, Manifest, Model
    from slipway.registry._reproduction import Reproduction, Tolerance
    from slipway.store import MetadataStore

__all__ = ["Registry", "parse_version_uri"]

_AUDIT_PAGE = 1000


def parse_version_uri(uri: str | RegistryModelUri) -> tuple[str, int | None, str | None]:
    """``(name, version, alias)`` of ``models:/NAME/VERSION``, ``…@ALIAS`` or ``models:/NAME/latest``.

    For ``latest`` both version and alias are None.
    """
    if isinstance(uri, RegistryModelUri):
        return uri.name, uri.version, uri.alias
    if isinstance(uri, str) and uri.startswith("models:/") and uri.endswith("/latest"):
        name = uri[len("models:/") : -len("/latest")]
        try:
            return validate_model_name(name), None, None
        except InvalidInput as exc:
            raise InvalidInput(f"model URI {uri!r}: expected models:/NAME/latest: {exc}") from None
    ref = parse_model_uri(uri)
    if not isinstance(ref, RegistryModelUri):
        raise InvalidInput(
            f"model URI {uri!r}: expected models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest"
        )
    return ref.name, ref.version, ref.alias


class Registry:
    """Named models, their versions, aliases and the audit log, over a metadata and a blob store.

    Args:
        store: the metadata store (versions, aliases and the audit log live there).
        blobs: the blob store holding the models' files.

    .. versionadded:: 0.1
    """

    def __init__(self, store: MetadataStore, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def __repr__(self) -> str:
        return f"Registry(store={self.store!r}, blobs={self.blobs!r})"

    # ------------------------------------------------------------------ registration
    def register(
        self,
        source: str | os.PathLike[str],
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str,
        reason: str = "",
    ) -> ModelVersion:
        """Register the next version of ``name`` from ``runs:/RUN/PATH`` or a local model folder.

        A run's model is registered by the digests the run recorded (nothing is uploaded); a
        folder is checked against its manifest and uploaded. The version is pinned to the digest
        of its ``slipway.yaml``, which every load checks. Nothing is written to the metadata store
        unless every check and upload succeeded.
        """
        validate_model_name(name)
        text = source if isinstance(source, str) else os.fspath(source)
        ref = parse_model_uri(text)
        if isinstance(ref, RunModelUri):
            src = from_run(self.store, self.blobs, ref)
        elif isinstance(ref, LocalModelUri):
            src = from_folder(self.store, self.blobs, Path(ref.path))
        else:
            raise InvalidInput(
                f"{ref}: a registered version cannot be the source of another; "
                "register from runs:/RUN_ID/PATH or a model folder (or set an alias on it)"
            )
        lineage = src.lineage()
        mv = self.store.create_model_version(
            name=name,
            source=src.uri,
            manifest_digest=src.manifest_digest,
            files=src.files,
            run_id=lineage["run_id"],  # the store keeps it even when the run lives in another store
            lineage=lineage,
            description=description,
            tags=tags,
            actor=actor,
            reason=reason,
        )
        return _complete(mv)

    # ------------------------------------------------------------------ reading
    def get_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(name)

    def list_models(self) -> list[RegisteredModel]:
        return self.store.list_registered_models()

    def get_version(self, name: str, version: int) -> ModelVersion:
        return _complete(self.store.get_model_version(name, version))

    def list_versions(self, name: str) -> list[ModelVersion]:
        """Every version of ``name``, newest first."""
        return [_complete(mv) for mv in self.store.list_model_versions(name)]

    def resolve(self, uri: str | RegistryModelUri) -> ModelVersion:
        """The version ``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` or ``models:/NAME/latest`` names."""
        name, version, alias = parse_version_uri(uri)
        if alias is not None:
            return _complete(self.store.get_version_by_alias(name, alias))
        if version is None:
            latest = self.store.get_registered_model(name).latest_version
            if latest is None:
                raise ModelNotFound(f"model {name!r} has no versions yet")
            version = latest
        return _complete(self.store.get_model_version(name, version))

    # ------------------------------------------------------------------ loading
    def download(self, version: ModelVersion, *, cache_dir: str | os.PathLike[str]) -> Path:
        """The local folder of ``version``'s files, downloaded into ``cache_dir`` on first use.

        The store's listing must pin the manifest the version was registered with; the files
        themselves are checked when loaded.
        """
        entries = self.store.list_model_version_files(version.name, version.version)
        files = {e.path: e.digest for e in entries}
        listed = files.get(MANIFEST_FILE)
        if listed != version.manifest_digest:
            raise IntegrityViolation(
                f"models:/{version.name}/{version.version}: the stored file listing's {MANIFEST_FILE} "
                f"(sha256:{(listed or 'none')[:16]}…) is not the manifest the version was registered "
                f"with (sha256:{version.manifest_digest[:16]}…); refusing to load it"
            )
        return cached_folder(self.blobs, files, cache_dir=Path(cache_dir))

    def load(
        self,
        uri: str | RegistryModelUri | ModelVersion,
        *,
        cache_dir: str | os.PathLike[str],
        strict_env: bool = False,
        extra_columns: ExtraColumns = "drop",
    ) -> Model:
        """Resolve ``uri``, download its files once, check them against the version, and load it.

        The downloaded ``slipway.yaml`` must have the digest recorded on the version, and every
        file the digest its manifest lists (IntegrityViolation otherwise), before anything of
        the model is unpickled or imported.
        """
        from slipway.models import load_model

        version = uri if isinstance(uri, ModelVersion) else self.resolve(uri)
        folder = self.download(version, cache_dir=cache_dir)
        return load_model(
            folder,
            strict_env=strict_env,
            extra_columns=extra_columns,
            manifest_digest=version.manifest_digest,
        )

    # ------------------------------------------------------------------ aliases, tags, descriptions
    def set_alias(self, name: str, alias: str, version: int, *, actor: str, reason: str = "") -> AuditEvent:
        """Point ``alias`` at ``version`` (creating or moving it) atomically; logged as ``alias.set``."""
        return self.store.set_alias(
            name=name, alias=validate_alias(alias), version=version, actor=actor, reason=reason
        )

    def delete_alias(self, name: str, alias: str, *, actor: str, reason: str = "") -> AuditEvent:
        return self.store.delete_alias(name=name, alias=alias, actor=actor, reason=reason)

    def set_tags(
        self, name: str, version: int, tags: Mapping[str, str | None], *, actor: str, reason: str = ""
    ) -> None:
        """Set tags on a version; a value of None deletes that tag."""
        self.store.set_model_version_tags(name, version, tags, actor=actor, reason=reason)

    def describe(
        self, name: str, description: str, *, version: int | None = None, actor: str, reason: str = ""
    ) -> None:
        """Set the description of the model, or of one of its versions."""
        if version is None:
            self.store.set_model_description(name, description, actor=actor, reason=reason)
        else:
            self.store.set_model_version_description(name, version, description, actor=actor, reason=reason)

    # ------------------------------------------------------------------ promotion and rollback
    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str,
        actor: str,
        force: bool = False,
        reason: str = "",
    ) -> AuditEvent:
        """Move ``alias`` to ``version`` if the version's latest gate result passed (``promote``).

        The store decides, in one transaction, from the gate result it holds (see
        :meth:`MetadataStore.promote`): a failed, missing or stale result (validated against
        another champion than the alias's holder now) is GateFailed naming the version, the alias
        and why. ``force=True`` moves it anyway and is logged as ``override`` with the gate's
        state; it needs a reason. A forced promotion whose gate did pass is an ordinary ``promote``.
        """
        validate_alias(alias)
        return self.store.promote(
            name=name, version=version, alias=alias, actor=actor, force=force, reason=reason
        )

    def rollback(self, name: str, *, alias: str, actor: str, reason: str = "") -> AuditEvent:
        """Move ``alias`` back to the holder it had before its latest move, by the audit log.

        Rollbacks stack: a second one walks further back, skipping the states earlier rollbacks
        undid. Conflict when the alias has no earlier holder, or when it moves between reading the
        log and the write (the store checks the holder under the model's lock).
        """
        validate_alias(alias)
        model = self.store.get_registered_model(name)  # ModelNotFound names it
        state = alias_state(self.audit(model=name, alias=alias), alias)
        current = model.aliases.get(alias)
        if current is None and state.holder is None and not state.undo:
            raise AliasNotFound(
                f"model {name!r} has no alias {alias!r} and never had one; nothing to roll back"
            )
        if current != state.holder:
            raise Conflict(
                f"alias {alias!r} of model {name!r} points at {_v(current)} but its audit log ends at "
                f"{_v(state.holder)}; it was probably moved just now, so try again"
            )
        target = state.rollback_target
        if target is None:
            raise Conflict(
                f"alias {alias!r} of model {name!r} has no earlier holder to roll back to "
                f"(it is at {_v(current)}, where its history starts)"
            )
        return self.store.set_alias(
            name=name,
            alias=alias,
            version=target,
            actor=actor,
            reason=reason,
            action=AuditAction.ROLLBACK,
            expected_version=current,
        )

    # ------------------------------------------------------------------ model cards
    def set_card_fields(
        self,
        name: str,
        version: int,
        *,
        purpose: str | None = None,
        owner: str | None = None,
        limits: str | None = None,
        actor: str,
        reason: str = "",
    ) -> None:
        """Store a card's purpose, owner or known limits as the version's ``slipway.card.*`` tags.

        None leaves a field as it is; an empty string clears it: the version's card shows none,
        even where an earlier version has one. Logged as a ``tag`` event.
        """
        given = {"purpose": purpose, "owner": owner, "limits": limits}
        changes: dict[str, str | None] = {
            card_tag(k): (v if v.strip() else "") for k, v in given.items() if v is not None
        }
        if changes:
            self.set_tags(name, version, changes, actor=actor, reason=reason or "model card")

    def card(
        self,
        name: str,
        version: int,
        *,
        purpose: str | None = None,
        owner: str | None = None,
        limits: str | None = None,
    ) -> ModelCard:
        """The model card of ``name`` version ``version`` (render it with ``to_markdown``/``to_html``).

        ``purpose``, ``owner`` and ``limits`` override what is stored (see :meth:`set_card_fields`)
        for this card only. Stored values are the version's ``slipway.card.*`` tags, else those of
        the newest earlier version that has them. Metrics, parameters and dataset profiles come
        from the version's run when this store holds it.
        """
        mv = self.get_version(name, version)
        lineage = self.lineage(name, version)
        model = self.store.get_registered_model(name)
        given = {"purpose": purpose, "owner": owner, "limits": limits}
        texts = _card_texts(given, mv, self.list_versions(name) if not _complete_texts(given, mv) else [])
        manifest: Manifest | None = None
        try:
            manifest = parse_manifest(
                self.blobs.get_bytes(mv.manifest_digest), where=f"{mv.name}/{mv.version}"
            )
        except (IntegrityViolation, InvalidInput, LookupError, OSError):  # the card says what is missing
            manifest = None
        run = None
        datasets: list[DatasetRecord] = []
        if lineage.run_id is not None:
            try:
                run = self.store.get_run(lineage.run_id)
                datasets = self.store.get_run_datasets(run.id)
            except RunNotFound:  # registered from a folder saved against another store
                run = None
        return build_card(
            mv,
            manifest=manifest,
            run=run,
            datasets=datasets,
            lineage=lineage,
            texts=texts,
            model_description=model.description,
        )

    # ------------------------------------------------------------------ reproduce
    def reproduce(
        self,
        uri: str,
        *,
        repo: str | os.PathLike[str],
        python: str,
        environ: Mapping[str, str],
        cache_dir: str | os.PathLike[str],
        tolerance: Tolerance | None = None,
        timeout: float | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Reproduction:
        """Re-run the version's training from its recorded commit and diff, and compare the results.

        See :func:`slipway.registry._reproduce.reproduce`: the arguments are passed on unchanged.
        """
        from slipway.registry._reproduce import reproduce

        return reproduce(
            self,
            uri,
            repo=repo,
            python=python,
            environ=environ,
            cache_dir=cache_dir,
            tolerance=tolerance,
            timeout=timeout,
            progress=progress,
        )

    # ------------------------------------------------------------------ lineage and audit
    def lineage(self, name: str, version: int) -> VersionLineage:
        """The run, datasets, code commit and replaced versions of ``name`` version ``version``."""
        mv = self.get_version(name, version)
        data = mv.lineage
        datasets = tuple(
            DatasetLink(
                digest=str(d.get("digest", "")), name=str(d.get("name", "")), role=str(d.get("role", ""))
            )
            for d in data.get("datasets") or []
            if isinstance(d, dict)
        )
        dirty = data.get("git_dirty")
        return VersionLineage(
            name=mv.name,
            version=mv.version,
            source=mv.source,
            manifest_digest=mv.manifest_digest,
            run_id=data.get("run_id") or mv.run_id,
            datasets=datasets,
            git_commit=data.get("git_commit"),
            git_dirty=dirty if isinstance(dirty, bool) else None,
            previous_version=data.get("previous_version"),
            alias_changes=tuple(alias_changes(self.audit(model=name), version)),
        )

    def audit(
        self,
        *,
        model: str | None = None,
        action: AuditAction | str | None = None,
        alias: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> Iterator[AuditEvent]:
        """Every matching audit event, oldest first, reading the store's pages as it goes.

        ``since`` and ``until`` are milliseconds since the epoch.
        """
        act = _action(action)
        token: str | None = None
        while True:
            page = self.store.search_audit(
                model=model,
                action=act,
                alias=alias,
                actor=actor,
                since=since,
                until=until,
                max_results=_AUDIT_PAGE,
                page_token=token,
            )
            yield from page.items
            token = page.next_token
            if token is None:
                return


def _complete(mv: ModelVersion) -> ModelVersion:
    """Fill ``lineage["previous_version"]``: versions count up by one and are never deleted.

    Derived rather than read before registering, which would race with a concurrent registration.
    """
    if "previous_version" in mv.lineage:
        return mv
    previous = mv.version - 1 if mv.version > 1 else None
    return dataclasses.replace(mv, lineage={**mv.lineage, "previous_version": previous})


def _complete_texts(given: Mapping[str, str | None], mv: ModelVersion) -> bool:
    """True when every card field is given or on the version itself (no earlier version is read)."""
    return all(given.get(f) is not None or card_tag(f) in mv.tags for f in CARD_FIELDS)


def _card_texts(
    given: Mapping[str, str | None], mv: ModelVersion, versions: list[ModelVersion]
) -> dict[str, CardText]:
    """Each card field: given, else on this version, else on the newest earlier version that has it.

    A given or stored empty text is a cleared field: none is shown and none is inherited.
    """
    out: dict[str, CardText] = {}
    earlier = [v for v in versions if v.version < mv.version]  # newest first
    for f in CARD_FIELDS:
        value = given.get(f)
        if value is not None:
            if value.strip():
                out[f] = CardText(text=value, origin="given")
            continue
        for v in (mv, *earlier):
            if card_tag(f) not in v.tags:
                continue
            if v.tags[card_tag(f)].strip():  # an empty tag is a cleared field: nothing is inherited
                origin = "this version" if v.version == mv.version else f"version {v.version}"
                out[f] = CardText(text=v.tags[card_tag(f)], origin=origin)
            break
    return out


def _action(action: AuditAction | str | None) -> AuditAction | None:
    if action is None or isinstance(action, AuditAction):
        return action
    try:
        return AuditAction(action)
    except ValueError:
        known = ", ".join(a.value for a in AuditAction)
        raise InvalidInput(f"audit action {action!r}: expected one of {known}") from None


def _v(version: int | None) -> str:
    return "nothing" if version is None else f"version {version}"
