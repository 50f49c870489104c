"""The model registry of the SQL store: models and their immutable versions (aliases: ``_aliases``).

Every change of state and its :class:`~slipway.core.AuditEvent` are one transaction. Two writers
of one model are serialised on its ``registered_models`` row: SQLite's ``BEGIN IMMEDIATE`` already
queues every writer, and on PostgreSQL the row is created if missing (``ON CONFLICT DO NOTHING``)
and then locked with ``SELECT … FOR UPDATE`` before the next version number (``max + 1``) is read
or an alias is moved. So versions are 1, 2, 3 … per model with no gap or duplicate under any
number of concurrent callers, and the ``previous_version`` of an alias event is always the holder
the move replaced.

A version's source, manifest digest and files are written once, with the version, and no method
changes them: they are what every load of the model checks.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.core import (
    MAX_VALUE_LENGTH,
    ArtifactEntry,
    AuditAction,
    AuditEvent,
    ModelVersion,
    RegisteredModel,
    now_ms,
    validate_artifact_path,
    validate_key,
    validate_model_name,
    validate_value,
)
from slipway.errors import InvalidInput, ModelNotFound, ModelVersionNotFound
from slipway.store._sql._audit import append_event, to_json
from slipway.store._sql._base import SqlBase, dialect_insert, fits, int64, upsert
from slipway.store._sql._tables import (
    model_aliases,
    model_tags,
    model_version_files,
    model_version_tags,
    model_versions,
    registered_models,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sqlalchemy.engine import Connection


def text_field(what: str, value: str) -> str:
    return fits(what, value, MAX_VALUE_LENGTH)


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    tags = dict(tags or {})
    for key, value in tags.items():
        validate_key("tag", key)
        validate_value("tag", key, value)
    return tags


_SHA256 = re.compile(r"[0-9a-f]{64}")
MANIFEST_FILE = "slipway.yaml"


def check_manifest(manifest_digest: str, files: Mapping[str, str]) -> None:
    """A version must be loadable: its manifest digest is a SHA-256 and ``slipway.yaml`` has it.

    ``files`` maps each (normalised) path to its digest.
    """
    if not isinstance(manifest_digest, str) or not _SHA256.fullmatch(manifest_digest):
        raise InvalidInput(
            f"manifest_digest: expected 64 lowercase hex digits (the SHA-256 of {MANIFEST_FILE}), "
            f"got {manifest_digest!r:.80}"
        )
    listed = files.get(MANIFEST_FILE)
    if listed is None:
        raise InvalidInput(f"files: no {MANIFEST_FILE!r}; a version without its manifest cannot be loaded")
    if listed != manifest_digest:
        raise InvalidInput(
            f"files: {MANIFEST_FILE!r} has digest {listed!r:.80}, "
            f"but manifest_digest is {manifest_digest!r}; expected the same"
        )


def version_number(version: int) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(f"model version {version!r:.60}: expected an integer")
    return int64("model version", version)


# The statements of the hot paths, built once: building one per call (values, ON CONFLICT, cache
# keys) costs more than running it on SQLite.
_NAME: sa.BindParameter[str] = sa.bindparam("name")
_VERSION: sa.BindParameter[int] = sa.bindparam("version")
_LOCK_MODEL = sa.select(registered_models.c.name).where(registered_models.c.name == _NAME).with_for_update()
_MODEL_EXISTS = sa.select(registered_models.c.name).where(registered_models.c.name == _NAME)
_VERSION_ROW = sa.select(model_versions).where(
    model_versions.c.name == _NAME, model_versions.c.version == _VERSION
)
_VERSION_EXISTS = sa.select(model_versions.c.version).where(
    model_versions.c.name == _NAME, model_versions.c.version == _VERSION
)
_MAX_VERSION = sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.name == _NAME)
_INSERT_VERSION = model_versions.insert()
_INSERT_FILES = model_version_files.insert()
_INSERT_TAGS = model_version_tags.insert()


@functools.cache
def _create_model(dialect: str) -> Any:
    """INSERT a model row unless it exists (params: name, created_at)."""
    return (
        dialect_insert(dialect, registered_models)
        .values(name=_NAME, created_at=sa.bindparam("created_at"), description="")
        .on_conflict_do_nothing(index_elements=[registered_models.c.name])
    )


class RegistryMixin(SqlBase):
    """Registered models, their immutable versions, aliases, and the audit log of every change."""

    # ------------------------------------------------------------------ locks and lookups

    @staticmethod
    def _lock_model(connection: Connection, name: str, *, create_at: int | None = None) -> None:
        """Lock the model's row until commit (PostgreSQL; SQLite's writers already queue).

        With ``create_at`` a missing model is created first; without, a missing model is
        ModelNotFound.
        """
        if create_at is not None:
            connection.execute(
                _create_model(connection.dialect.name), {"name": name, "created_at": create_at}
            )
        if connection.execute(_LOCK_MODEL, {"name": name}).first() is None:
            raise ModelNotFound(f"model {name!r} not found")

    @staticmethod
    def _require_model(connection: Connection, name: str) -> None:
        if connection.execute(_MODEL_EXISTS, {"name": name}).first() is None:
            raise ModelNotFound(f"model {name!r} not found")

    def _require_version(self, connection: Connection, name: str, version: int) -> Any:
        row = connection.execute(_VERSION_ROW, {"name": name, "version": version}).first()
        if row is None:
            self._require_model(connection, name)
            raise ModelVersionNotFound(f"model {name!r} has no version {version}")
        return row

    def _check_version(self, connection: Connection, name: str, version: int) -> None:
        """Like :meth:`_require_version`, reading no more than whether it exists."""
        if connection.execute(_VERSION_EXISTS, {"name": name, "version": version}).first() is None:
            self._require_model(connection, name)
            raise ModelVersionNotFound(f"model {name!r} has no version {version}")

    # ------------------------------------------------------------------ versions

    def create_model_version(
        self,
        *,
        name: str,
        source: str,
        manifest_digest: str,
        files: Sequence[ArtifactEntry],
        run_id: str | None = None,
        lineage: Mapping[str, Any] | None = None,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str,
        reason: str = "",
    ) -> ModelVersion:
        validate_model_name(name)
        text_field("model source", source)
        if run_id is not None:
            fits("run_id", run_id, 64)
        # versions count up by one and are never deleted: the previous version is derived, never taken
        lineage = {k: v for k, v in (lineage or {}).items() if k != "previous_version"}
        lineage_json = to_json("lineage", lineage)
        text_field("description", description)
        tags = _tags(tags)
        fits("actor", actor, 250)
        text_field("reason", reason)
        rows: dict[str, dict[str, Any]] = {}
        for entry in files:
            path = fits("model file path", validate_artifact_path(entry.path), 1024)
            if path in rows:
                raise InvalidInput(f"model file {path!r}: listed twice")
            rows[path] = {
                "path": path,
                "digest": fits(f"model file {path!r}: digest", entry.digest, 128),
                "size": int64(f"model file {path!r}: size", entry.size),
            }
        check_manifest(manifest_digest, {path: row["digest"] for path, row in rows.items()})
        at = now_ms()
        with self._write() as connection:
            self._lock_model(connection, name, create_at=at)
            latest = connection.execute(_MAX_VERSION, {"name": name}).scalar()
            version = 1 if latest is None else int(latest) + 1
            connection.execute(
                _INSERT_VERSION,
                {
                    "name": name,
                    "version": version,
                    "created_at": at,
                    "source": source,
                    "manifest_digest": manifest_digest,
                    "run_id": run_id,
                    "creator": actor,
                    "description": description,
                    "lineage": lineage_json,
                    "gate": None,
                },
            )
            if rows:
                connection.execute(
                    _INSERT_FILES, [{"name": name, "version": version, **row} for row in rows.values()]
                )
            if tags:
                connection.execute(
                    _INSERT_TAGS,
                    [{"name": name, "version": version, "key": k, "value": v} for k, v in tags.items()],
                )
            details = {"source": source, "manifest_digest": manifest_digest, "run_id": run_id}
            append_event(
                connection,
                at=at,
                actor=actor,
                action=AuditAction.REGISTER,
                model=name,
                version=version,
                reason=reason,
                details=details,
            )
        return ModelVersion(
            name=name,
            version=version,
            created_at=at,
            source=source,
            manifest_digest=manifest_digest,
            run_id=run_id,
            creator=actor,
            description=description,
            tags=tags,
            lineage=json.loads(lineage_json),
        )

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        version = version_number(version)
        with self._read() as connection:
            row = self._require_version(connection, name, version)
            return self._load_versions(connection, name, [row])[0]

    def list_model_versions(self, name: str) -> list[ModelVersion]:
        with self._read() as connection:
            self._require_model(connection, name)
            rows = connection.execute(
                sa.select(model_versions)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version.desc())
            ).all()
            return self._load_versions(connection, name, rows)

    def list_model_version_files(self, name: str, version: int) -> list[ArtifactEntry]:
        version = version_number(version)
        with self._read() as connection:
            self._check_version(connection, name, version)
            rows = connection.execute(
                sa.select(model_version_files)
                .where(model_version_files.c.name == name, model_version_files.c.version == version)
                .order_by(model_version_files.c.path)
            ).all()
        return [ArtifactEntry(path=r.path, digest=r.digest, size=r.size) for r in rows]

    @staticmethod
    def _load_versions(connection: Connection, name: str, rows: Sequence[Any]) -> list[ModelVersion]:
        """Attach tags and aliases with one query each (the versions all belong to ``name``)."""
        if not rows:
            return []
        versions = [row.version for row in rows]
        tags: dict[int, dict[str, str]] = {v: {} for v in versions}
        aliases: dict[int, set[str]] = {v: set() for v in versions}
        one = len(versions) == 1
        tag_query = sa.select(model_version_tags).where(model_version_tags.c.name == name)
        alias_query = sa.select(model_aliases).where(model_aliases.c.name == name)
        if one:
            tag_query = tag_query.where(model_version_tags.c.version == versions[0])
            alias_query = alias_query.where(model_aliases.c.version == versions[0])
        for t in connection.execute(tag_query):
            tags[t.version][t.key] = t.value
        for a in connection.execute(alias_query):
            if a.version in aliases:
                aliases[a.version].add(a.alias)
        return [
            ModelVersion(
                name=row.name,
                version=row.version,
                created_at=row.created_at,
                source=row.source,
                manifest_digest=row.manifest_digest,
                run_id=row.run_id,
                creator=row.creator,
                description=row.description,
                tags=tags[row.version],
                aliases=frozenset(aliases[row.version]),
                lineage=json.loads(row.lineage),
                gate=None if row.gate is None else json.loads(row.gate),
            )
            for row in rows
        ]

    def set_model_version_tags(
        self, name: str, version: int, tags: Mapping[str, str | None], *, actor: str, reason: str = ""
    ) -> None:
        version = version_number(version)
        changes = dict(tags)
        for key, value in changes.items():
            validate_key("tag", key)
            if value is not None:
                validate_value("tag", key, value)
        fits("actor", actor, 250)
        text_field("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            self._check_version(connection, name, version)
            if not changes:
                return
            where = (model_version_tags.c.name == name, model_version_tags.c.version == version)
            gone = [k for k, v in changes.items() if v is None]
            if gone:
                connection.execute(
                    model_version_tags.delete().where(*where, model_version_tags.c.key.in_(gone))
                )
            kept = [
                {"name": name, "version": version, "key": k, "value": v}
                for k, v in changes.items()
                if v is not None
            ]
            if kept:
                stmt = upsert(connection, model_version_tags)
                connection.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[
                            model_version_tags.c.name,
                            model_version_tags.c.version,
                            model_version_tags.c.key,
                        ],
                        set_={"value": stmt.excluded.value},
                    ),
                    kept,
                )
            append_event(
                connection,
                at=now_ms(),
                actor=actor,
                action=AuditAction.TAG,
                model=name,
                version=version,
                reason=reason,
                details={"tags": changes},
            )

    def set_model_version_description(
        self, name: str, version: int, description: str, *, actor: str, reason: str = ""
    ) -> None:
        version = version_number(version)
        text_field("description", description)
        fits("actor", actor, 250)
        text_field("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            self._check_version(connection, name, version)
            connection.execute(
                model_versions.update()
                .where(model_versions.c.name == name, model_versions.c.version == version)
                .values(description=description)
            )
            append_event(
                connection,
                at=now_ms(),
                actor=actor,
                action=AuditAction.DESCRIBE,
                model=name,
                version=version,
                reason=reason,
                details={"description": description},
            )

    def record_gate_result(
        self, name: str, version: int, result: Mapping[str, Any], *, actor: str, reason: str = ""
    ) -> AuditEvent:
        version = version_number(version)
        if not isinstance(result, dict):
            result = dict(result)
        gate = to_json("gate result", result)
        fits("actor", actor, 250)
        text_field("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            self._check_version(connection, name, version)
            connection.execute(
                model_versions.update()
                .where(model_versions.c.name == name, model_versions.c.version == version)
                .values(gate=gate)
            )
            # The full result goes into the log too: the version keeps only the latest one.
            return append_event(
                connection,
                at=now_ms(),
                actor=actor,
                action=AuditAction.VALIDATE,
                model=name,
                version=version,
                reason=reason,
                details_json=f'{{"result": {gate}}}',
            )

    # ------------------------------------------------------------------ models

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self._read() as connection:
            found = self._models(connection, registered_models.c.name == name)
        if not found:
            raise ModelNotFound(f"model {name!r} not found")
        return found[0]

    def list_registered_models(self) -> list[RegisteredModel]:
        with self._read() as connection:
            return self._models(connection, sa.true())

    @staticmethod
    def _models(connection: Connection, where: Any) -> list[RegisteredModel]:
        rows = connection.execute(
            sa.select(registered_models).where(where).order_by(registered_models.c.name)
        ).all()
        if not rows:
            return []
        names = [r.name for r in rows]
        tags: dict[str, dict[str, str]] = {n: {} for n in names}
        aliases: dict[str, dict[str, int]] = {n: {} for n in names}
        latest: dict[str, int] = {}
        one = len(names) == 1
        tag_query = sa.select(model_tags)
        alias_query = sa.select(model_aliases)
        latest_query = sa.select(model_versions.c.name, sa.func.max(model_versions.c.version)).group_by(
            model_versions.c.name
        )
        if one:
            tag_query = tag_query.where(model_tags.c.name == names[0])
            alias_query = alias_query.where(model_aliases.c.name == names[0])
            latest_query = latest_query.where(model_versions.c.name == names[0])
        for t in connection.execute(tag_query):
            tags[t.name][t.key] = t.value
        for a in connection.execute(alias_query):
            aliases[a.name][a.alias] = a.version
        for model, version in connection.execute(latest_query):
            latest[model] = int(version)
        return [
            RegisteredModel(
                name=r.name,
                created_at=r.created_at,
                description=r.description,
                tags=tags[r.name],
                aliases=aliases[r.name],
                latest_version=latest.get(r.name),
            )
            for r in rows
        ]

    def set_model_description(self, name: str, description: str, *, actor: str, reason: str = "") -> None:
        text_field("description", description)
        fits("actor", actor, 250)
        text_field("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            connection.execute(
                registered_models.update()
                .where(registered_models.c.name == name)
                .values(description=description)
            )
            append_event(
                connection,
                at=now_ms(),
                actor=actor,
                action=AuditAction.DESCRIBE,
                model=name,
                reason=reason,
                details={"description": description},
            )
