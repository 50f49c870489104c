"""Aliases of the SQL store's registry: ``production``, ``champion`` or any name, moved atomically.

A move locks the model's row (see ``_registry``), reads the alias's current holder, points the
alias at the new version and appends the event naming that previous holder, all in one
transaction: two concurrent moves are serialised, and each event's ``previous_version`` is the
holder its move replaced, so a rollback can be computed from the log alone.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from slipway.core import AuditAction, AuditEvent, ModelVersion, now_ms, validate_alias
from slipway.errors import AliasNotFound, Conflict, GateFailed, InvalidInput
from slipway.store._promotion import gate_refusal, gate_snapshot_state
from slipway.store._sql._audit import action_of, append_event, to_json
from slipway.store._sql._base import dialect_insert, fits
from slipway.store._sql._registry import RegistryMixin, text_field, version_number
from slipway.store._sql._tables import model_aliases, model_versions

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import EllipsisType

    from sqlalchemy.engine import Connection

_HOLDER = sa.select(model_aliases.c.version).where(
    model_aliases.c.name == sa.bindparam("name"), model_aliases.c.alias == sa.bindparam("alias")
)


_SET_ACTIONS = (AuditAction.ALIAS_SET, AuditAction.ROLLBACK)


def _holder(connection: Connection, key: Mapping[str, str]) -> int | None:
    held = connection.execute(_HOLDER, key).scalar()
    return None if held is None else int(held)


def _v(version: int | None) -> str:
    return "no version" if version is None else f"version {version}"


@functools.cache
def _move_alias(dialect: str) -> Any:
    """Point an alias at a version, creating it if new (params: name, alias, version)."""
    stmt = dialect_insert(dialect, model_aliases)
    return stmt.on_conflict_do_update(
        index_elements=[model_aliases.c.name, model_aliases.c.alias],
        set_={"version": stmt.excluded.version},
    )


class AliasesMixin(RegistryMixin):
    """Reading, moving and deleting aliases."""

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
        expected_version: int | EllipsisType | None = ...,
    ) -> AuditEvent:
        validate_alias(alias)
        version = version_number(version)
        action = AuditAction.ALIAS_SET if action is None else action_of(action)
        if action not in _SET_ACTIONS:
            raise InvalidInput(
                f"set_alias action {action.value!r}: expected alias.set or rollback "
                "(a promotion goes through promote, which checks the version's gate)"
            )
        if expected_version is not ... and expected_version is not None:
            expected_version = version_number(expected_version)
        fits("actor", actor, 250)
        text_field("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            self._check_version(connection, name, version)
            key = {"name": name, "alias": alias}
            previous = _holder(connection, key)
            if expected_version is not ... and previous != expected_version:
                raise Conflict(
                    f"alias {alias!r} of model {name!r} moved to {_v(previous)} meanwhile "
                    f"(expected {_v(expected_version)}); nothing was changed"
                )
            connection.execute(_move_alias(connection.dialect.name), {**key, "version": version})
            details = {"rolled_back_from": previous} if action is AuditAction.ROLLBACK else None
            return append_event(
                connection,
                at=now_ms(),
                actor=actor,
                action=action,
                model=name,
                version=version,
                alias=alias,
                previous_version=previous,
                reason=reason,
                details=details,
            )

    def promote(
        self,
        *,
        name: str,
        version: int,
        alias: str,
        actor: str,
        force: bool = False,
        reason: str = "",
    ) -> AuditEvent:
        validate_alias(alias)
        version = version_number(version)
        fits("actor", actor, 250)
        text_field("reason", reason)
        if force and not reason.strip():
            raise InvalidInput(
                f"promoting models:/{name}/{version} to {alias!r} with force needs a reason "
                '(--reason "…"); it is recorded in the audit log'
            )
        with self._write() as connection:
            self._lock_model(connection, name)
            row = self._require_version(connection, name, version)
            gate = None if row.gate is None else json.loads(row.gate)
            key = {"name": name, "alias": alias}
            previous = _holder(connection, key)
            refusal = gate_refusal(gate, name=name, version=version, alias=alias, holder=previous)
            if refusal is not None and not force:
                raise GateFailed(refusal)
            action = AuditAction.PROMOTE if refusal is None else AuditAction.OVERRIDE
            details: dict[str, Any] = {"gate": gate}
            if refusal is not None:
                details["gate_state"] = gate_snapshot_state(gate, refusal)
            connection.execute(_move_alias(connection.dialect.name), {**key, "version": version})
            return append_event(
                connection,
                at=now_ms(),
                actor=actor,
                action=action,
                model=name,
                version=version,
                alias=alias,
                previous_version=previous,
                reason=reason,
                details_json=to_json("audit details", details),
            )

    def delete_alias(self, *, name: str, alias: str, actor: str, reason: str = "") -> AuditEvent:
        fits("actor", actor, 250)
        text_field("reason", reason)
        with self._write() as connection:
            self._lock_model(connection, name)
            previous = connection.execute(_HOLDER, {"name": name, "alias": alias}).scalar()
            if previous is None:
                raise AliasNotFound(f"model {name!r} has no alias {alias!r}")
            connection.execute(
                model_aliases.delete().where(model_aliases.c.name == name, model_aliases.c.alias == alias)
            )
            return append_event(
                connection,
                at=now_ms(),
                actor=actor,
                action=AuditAction.ALIAS_DELETE,
                model=name,
                alias=alias,
                previous_version=int(previous),
                reason=reason,
            )
