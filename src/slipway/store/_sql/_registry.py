"""The model registry of the SQL store: models, versions, aliases and the append-only audit log.

Every change of state and its :class:`~slipway.core.AuditEvent` are one transaction. Two writers
of one model are serialised on its ``registered_models`` row: SQLite's ``BEGIN IMMEDIATE`` already
queues every writer, and on PostgreSQL the row is created if missing (``ON CONFLICT DO NOTHING``)
and then locked with ``SELECT … FOR UPDATE`` before the next version number (``max + 1``) is read
or an alias is moved. So versions are 1, 2, 3 … per model with no gap or duplicate under any
number of concurrent callers, and the ``previous_version`` of an alias event is always the holder
the move replaced.

Audit events get their ids in commit order as well: on PostgreSQL a transaction-scoped advisory
lock is taken just before the event is inserted, so an event with a smaller id is never committed
after one with a larger id, and paging by id never skips a late commit. (Registry writes happen
at human rates, so serialising their last few statements costs nothing that matters.)
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.core import (
    MAX_VALUE_LENGTH,
    ArtifactEntry,
    AuditAction,
    AuditEvent,
    ModelVersion,
    Page,
    RegisteredModel,
    now_ms,
    validate_alias,
    validate_artifact_path,
    validate_key,
    validate_model_name,
    validate_value,
)
from slipway.errors import AliasNotFound, InvalidInput, ModelNotFound, ModelVersionNotFound
from slipway.store._sql import _audit
from slipway.store._sql._base import SqlBase, fits, int64, upsert
from slipway.store._sql._tables import (
    audit_events,
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

#: the largest JSON document (lineage, gate result, event details) a version or event may hold
MAX_JSON_LENGTH = 10 * MAX_VALUE_LENGTH
_MAX_RESULTS = 10_000
#: any constant: the key of PostgreSQL's advisory lock that orders audit-event commits
_AUDIT_LOCK = 0x511B_A7A0


def _text(what: str, value: str) -> str:
    return fits(what, value, MAX_VALUE_LENGTH)


def _json(what: str, value: Mapping[str, Any] | None) -> str:
    """``value`` as JSON text: a mapping of JSON values, at most MAX_JSON_LENGTH characters."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        try:
            value = dict(value)
        except (TypeError, ValueError):
            raise InvalidInput(f"{what}: expected a mapping, got {type(value).__name__}") from None
    try:
        text = json.dumps(value, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{what}: expected JSON values only ({exc})") from None
    if len(text) > MAX_JSON_LENGTH:
        raise InvalidInput(f"{what}: {len(text)} characters of JSON; expected at most {MAX_JSON_LENGTH}")
    return text


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    tags = dict(tags or {})
    for key, value in tags.items():
        validate_key("tag", key)
        validate_value("tag", key, value)
    return tags


def _version(version: int) -> int:
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInput(f"model version {version!r:.60}: expected an integer")
    return int64("model version", version)


class RegistryMixin(SqlBase):
    """Registered models, their immutable versions, aliases, and the audit log of every change."""

    # ------------------------------------------------------------------ locks and lookups

    @staticmethod
    def _lock_model(connection: Connection, name: str, *, create_at: int | None = None) -> Any:
        """The model's row, locked until commit (PostgreSQL; SQLite's writers already queue).

        With ``create_at`` a missing model is created first; without, a missing model is
        ModelNotFound.
        """
        if create_at is not None:
            stmt = upsert(connection, registered_models).values(
                name=name, created_at=create_at, description=""
            )
            connection.execute(stmt.on_conflict_do_nothing(index_elements=[registered_models.c.name]))
        row = connection.execute(
            sa.select(registered_models).where(registered_models.c.name == name).with_for_update()
        ).first()
        if row is None:
            raise ModelNotFound(f"model {name!r} not found")
        return row

    @staticmethod
    def _require_model(connection: Connection, name: str) -> None:
        found = connection.execute(
            sa.select(registered_models.c.name).where(registered_models.c.name == name)
        ).first()
        if found is None:
            raise ModelNotFound(f"model {name!r} not found")

    def _require_version(self, connection: Connection, name: str, version: int) -> Any:
        row = connection.execute(
            sa.select(model_versions).where(
                model_versions.c.name == name, model_versions.c.version == version
            )
        ).first()
        if row is None:
            self._require_model(connection, name)
            raise ModelVersionNotFound(f"model {name!r} has no version {version}")
        return row

    @staticmethod
    def _log(
        connection: Connection,
        *,
        at: int,
        actor: str,
        action: AuditAction,
        model: str,
        version: int | None = None,
        alias: str | None = None,
        previous_version: int | None = None,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        details_json: str | None = None,
    ) -> AuditEvent:
        """Append one audit event in the caller's transaction and return it."""
        text = details_json if details_json is not None else _json("audit details", details)
        if connection.dialect.name == "postgresql":
            connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_AUDIT_LOCK)))
        key = connection.execute(
            audit_events.insert().values(
                at=at,
                actor=actor,
                action=action.value,
                model=model,
                version=version,
                alias=alias,
                previous_version=previous_version,
                reason=reason,
                details=text,
            )
        ).inserted_primary_key
        assert key is not None  # an INSERT of one row always has one
        return AuditEvent(
            id=int(key[0]),
            at=at,
            actor=actor,
            action=action,
            model=model,
            version=version,
            alias=alias,
            previous_version=previous_version,
            reason=reason,
            details=json.loads(text),
        )

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
        _text("model source", source)
        if not manifest_digest:
            raise InvalidInput("manifest_digest: expected the manifest's digest, got an empty string")
        fits("manifest_digest", manifest_digest, 128)
        if run_id is not None:
            fits("run_id", run_id, 64)
        lineage_json = _json("lineage", lineage)
        _text("description", description)
        tags = _tags(tags)
        fits("actor", actor, 250)
        _text("reason", reason)
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
        at = now_ms()
        with self._write() as connection:
            self._lock_model(connection, name, create_at=at)
            latest = connection.execute(
                sa.select(sa.func.max(model_versions.c.version)).where(model_versions.c.name == name)
            ).scalar()
            version = 1 if latest is None else int(latest) + 1
            connection.execute(
                model_versions.insert().values(
                    name=name,
                    version=version,
                    created_at=at,
                    source=source,
                    manifest_digest=manifest_digest,
                    run_id=run_id,
                    creator=actor,
                    description=description,
                    lineage=lineage_json,
                    gate=None,
                )
            )
            if rows:
                connection.execute(
                    model_version_files.insert(),
                    [{"name": name, "version": version, **row} for row in rows.values()],
                )
            if tags:
                connection.execute(
                    model_version_tags.insert(),
                    [{"name": name, "version": version, "key": k, "value": v} for k, v in tags.items()],
                )
            details = {"source": source, "manifest_digest": manifest_digest, "run_id": run_id}
            self._log(
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
        version = _version(version)
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
        version = _version(version)
        with self._read() as connection:
            self._require_version(connection, name, version)
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
        version = _version(version)
        changes = dict(tags)
        for key, value in changes.items():
            validate_key("tag", key)
            if value is not None:
                validate_value("tag", key, value)
        fits("actor", actor, 250)
        _text("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            self._require_version(connection, name, version)
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
            self._log(
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
        version = _version(version)
        _text("description", description)
        fits("actor", actor, 250)
        _text("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            self._require_version(connection, name, version)
            connection.execute(
                model_versions.update()
                .where(model_versions.c.name == name, model_versions.c.version == version)
                .values(description=description)
            )
            self._log(
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
        version = _version(version)
        if not isinstance(result, dict):
            result = dict(result)
        gate = _json("gate result", result)
        fits("actor", actor, 250)
        _text("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            self._require_version(connection, name, version)
            connection.execute(
                model_versions.update()
                .where(model_versions.c.name == name, model_versions.c.version == version)
                .values(gate=gate)
            )
            # The full result goes into the log too: the version keeps only the latest one.
            return self._log(
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
        _text("description", description)
        fits("actor", actor, 250)
        _text("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            connection.execute(
                registered_models.update()
                .where(registered_models.c.name == name)
                .values(description=description)
            )
            self._log(
                connection,
                at=now_ms(),
                actor=actor,
                action=AuditAction.DESCRIBE,
                model=name,
                reason=reason,
                details={"description": description},
            )

    # ------------------------------------------------------------------ aliases

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self._read() as connection:
            row = connection.execute(
                sa.select(model_versions)
                .join(
                    model_aliases,
                    sa.and_(
                        model_aliases.c.name == model_versions.c.name,
                        model_aliases.c.version == model_versions.c.version,
                    ),
                )
                .where(model_aliases.c.name == name, model_aliases.c.alias == alias)
            ).first()
            if row is None:
                self._require_model(connection, name)
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}")
            return self._load_versions(connection, name, [row])[0]

    def set_alias(
        self,
        *,
        name: str,
        alias: str,
        version: int,
        actor: str,
        reason: str = "",
        action: AuditAction | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        validate_alias(alias)
        version = _version(version)
        action = AuditAction.ALIAS_SET if action is None else _audit.action_of(action)
        if not action.moves_alias:
            moves = ", ".join(a.value for a in AuditAction if a.moves_alias)
            raise InvalidInput(f"set_alias action {action.value!r}: expected one of {moves}")
        fits("actor", actor, 250)
        _text("reason", reason)
        details_json = _json("audit details", details)
        with self._write() as connection:
            self._lock_model(connection, name)
            self._require_version(connection, name, version)
            previous = connection.execute(
                sa.select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).scalar()
            stmt = upsert(connection, model_aliases)
            connection.execute(
                stmt.values(name=name, alias=alias, version=version).on_conflict_do_update(
                    index_elements=[model_aliases.c.name, model_aliases.c.alias],
                    set_={"version": stmt.excluded.version},
                )
            )
            return self._log(
                connection,
                at=now_ms(),
                actor=actor,
                action=action,
                model=name,
                version=version,
                alias=alias,
                previous_version=None if previous is None else int(previous),
                reason=reason,
                details_json=details_json,
            )

    def delete_alias(self, *, name: str, alias: str, actor: str, reason: str = "") -> AuditEvent:
        fits("actor", actor, 250)
        _text("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            previous = connection.execute(
                sa.select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).scalar()
            if previous is None:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}")
            connection.execute(
                model_aliases.delete().where(model_aliases.c.name == name, model_aliases.c.alias == alias)
            )
            return self._log(
                connection,
                at=now_ms(),
                actor=actor,
                action=AuditAction.ALIAS_DELETE,
                model=name,
                alias=alias,
                previous_version=int(previous),
                reason=reason,
            )

    # ------------------------------------------------------------------ audit

    def search_audit(
        self,
        *,
        model: str | None = None,
        action: AuditAction | None = None,
        alias: str | None = None,
        actor: str | None = None,
        since: int | None = None,
        until: int | None = None,
        max_results: int = 1000,
        page_token: str | None = None,
    ) -> Page[AuditEvent]:
        if isinstance(max_results, bool) or not isinstance(max_results, int):
            raise InvalidInput(f"max_results {max_results!r}: expected 1 to {_MAX_RESULTS}")
        if not 1 <= max_results <= _MAX_RESULTS:
            raise InvalidInput(f"max_results {max_results!r}: expected 1 to {_MAX_RESULTS}")
        query = _audit.AuditQuery.of(
            model=model, action=action, alias=alias, actor=actor, since=since, until=until
        )
        after = _audit.decode_token(page_token, query=query)
        conditions = [audit_events.c.id > after]
        if query.model is not None:
            conditions.append(audit_events.c.model == query.model)
        if query.action is not None:
            conditions.append(audit_events.c.action == query.action.value)
        if query.alias is not None:
            conditions.append(audit_events.c.alias == query.alias)
        if query.actor is not None:
            conditions.append(audit_events.c.actor == query.actor)
        if query.since is not None:
            conditions.append(audit_events.c.at >= query.since)
        if query.until is not None:
            conditions.append(audit_events.c.at < query.until)
        select = sa.select(audit_events).where(*conditions).order_by(audit_events.c.id).limit(max_results + 1)
        with self._read() as connection:
            rows = connection.execute(select).all()
        items = [_audit.event_of(row) for row in rows[:max_results]]
        more = len(rows) > max_results
        return Page(items=items, next_token=_audit.encode_token(items[-1].id, query=query) if more else None)
