"""Datasets, artifact listings and team-server tokens of the SQL store."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import TYPE_CHECKING

import sqlalchemy as sa

from slipway.core import ArtifactEntry, DatasetRecord, TokenInfo, new_id, now_ms, validate_artifact_path
from slipway.errors import InvalidInput, NotFound
from slipway.store._sql._base import SqlBase, fits, int64, upsert
from slipway.store._sql._tables import datasets, run_artifacts, run_datasets, tokens

if TYPE_CHECKING:
    from collections.abc import Sequence


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class RecordsMixin(SqlBase):
    """What a run points at (datasets, artifacts) and who may reach the server (tokens)."""

    # ------------------------------------------------------------------ datasets and artifacts

    def log_dataset(self, run_id: str, dataset: DatasetRecord) -> None:
        if not dataset.digest:
            raise InvalidInput("dataset: expected a non-empty digest")
        fits("dataset digest", dataset.digest, 128)
        fits("dataset name", dataset.name, 250)
        fits("dataset role", dataset.role, 64)
        with self._write() as connection:
            self._require_run(connection, run_id)
            stmt = upsert(connection, datasets)
            connection.execute(
                stmt.on_conflict_do_nothing(index_elements=[datasets.c.digest]),
                {
                    "digest": dataset.digest,
                    "name": dataset.name,
                    "source": dataset.source,
                    "num_rows": int64("dataset num_rows", dataset.num_rows),
                    "num_columns": int64("dataset num_columns", dataset.num_columns),
                    "schema": json.dumps(dataset.schema, sort_keys=True),
                    "profile": json.dumps(dataset.profile, sort_keys=True),
                },
            )
            stmt = upsert(connection, run_datasets)
            connection.execute(
                stmt.on_conflict_do_update(
                    index_elements=[run_datasets.c.run_id, run_datasets.c.digest, run_datasets.c.role],
                    set_={"name": stmt.excluded.name},
                ),
                {
                    "run_id": run_id,
                    "digest": dataset.digest,
                    "role": dataset.role,
                    "name": dataset.name,
                    "logged_at": now_ms(),
                },
            )

    def get_run_datasets(self, run_id: str) -> list[DatasetRecord]:
        query = (
            sa.select(datasets, run_datasets.c.role, run_datasets.c.name.label("run_name"))
            .join(run_datasets, run_datasets.c.digest == datasets.c.digest)
            .where(run_datasets.c.run_id == run_id)
            .order_by(run_datasets.c.logged_at, run_datasets.c.digest, run_datasets.c.role)
        )
        with self._read() as connection:
            self._require_run(connection, run_id)
            rows = connection.execute(query).all()
        return [
            DatasetRecord(
                digest=r.digest,
                name=r.run_name,
                source=r.source,
                num_rows=r.num_rows,
                num_columns=r.num_columns,
                schema=json.loads(r.schema),
                profile=json.loads(r.profile),
                role=r.role,
            )
            for r in rows
        ]

    def record_artifacts(self, run_id: str, entries: Sequence[ArtifactEntry]) -> None:
        rows = {
            fits("artifact path", validate_artifact_path(e.path), 1024): {
                "digest": fits("artifact digest", e.digest, 128),
                "size": int64("artifact size", e.size),
            }
            for e in entries
        }
        with self._write() as connection:
            self._require_run(connection, run_id)
            if not rows:
                return
            stmt = upsert(connection, run_artifacts)
            connection.execute(
                stmt.on_conflict_do_update(
                    index_elements=[run_artifacts.c.run_id, run_artifacts.c.path],
                    set_={"digest": stmt.excluded.digest, "size": stmt.excluded.size},
                ),
                [{"run_id": run_id, "path": path, **values} for path, values in rows.items()],
            )

    def list_artifacts(self, run_id: str, *, prefix: str = "") -> list[ArtifactEntry]:
        query = (
            sa.select(run_artifacts).where(run_artifacts.c.run_id == run_id).order_by(run_artifacts.c.path)
        )
        if prefix:
            query = query.where(sa.func.substr(run_artifacts.c.path, 1, len(prefix)) == prefix)
        with self._read() as connection:
            self._require_run(connection, run_id)
            rows = connection.execute(query).all()
        return [ArtifactEntry(path=r.path, digest=r.digest, size=r.size) for r in rows]

    # ------------------------------------------------------------------ tokens

    def create_token(self, *, name: str) -> tuple[TokenInfo, str]:
        if not isinstance(name, str) or not name.strip() or len(name) > 250:
            raise InvalidInput(f"token name {name!r}: expected 1-250 characters")
        secret = "slw_" + secrets.token_urlsafe(32)
        info = TokenInfo(id=new_id(), name=name, created_at=now_ms(), revoked=False)
        with self._write() as connection:
            connection.execute(
                tokens.insert().values(
                    id=info.id,
                    name=name,
                    secret_hash=_hash_secret(secret),
                    created_at=info.created_at,
                    revoked=False,
                )
            )
        return info, secret

    def list_tokens(self) -> list[TokenInfo]:
        query = sa.select(tokens.c.id, tokens.c.name, tokens.c.created_at, tokens.c.revoked).order_by(
            tokens.c.created_at, tokens.c.id
        )
        with self._read() as connection:
            rows = connection.execute(query).all()
        return [
            TokenInfo(id=r.id, name=r.name, created_at=r.created_at, revoked=bool(r.revoked)) for r in rows
        ]

    def revoke_token(self, token_id: str) -> None:
        with self._write() as connection:
            done = connection.execute(tokens.update().where(tokens.c.id == token_id).values(revoked=True))
            if done.rowcount == 0:
                raise NotFound(f"token {token_id!r} not found")

    def verify_token(self, secret: str) -> TokenInfo | None:
        if not isinstance(secret, str) or not secret:
            return None
        query = sa.select(tokens.c.id, tokens.c.name, tokens.c.created_at).where(
            tokens.c.secret_hash == _hash_secret(secret), tokens.c.revoked.is_(False)
        )
        with self._read() as connection:
            row = connection.execute(query).first()
        return None if row is None else TokenInfo(id=row.id, name=row.name, created_at=row.created_at)
