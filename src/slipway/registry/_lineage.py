"""The lineage of a version, as ``Registry.lineage`` returns it and ``slipway models lineage`` shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from slipway.registry._history import AliasChange

__all__ = ["DatasetLink", "VersionLineage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetLink:
    """A dataset the model was trained or evaluated on, by content digest."""

    digest: str
    name: str = ""
    role: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionLineage:
    """Where a version came from and what it replaced.

    ``previous_version`` is the model's latest version when this one was registered;
    ``alias_changes`` are the audit log's moves that gave this version an alias (and which version
    it replaced there) or took one from it, oldest first.

    .. versionadded:: 0.1
    """

    name: str
    version: int
    source: str
    manifest_digest: str
    run_id: str | None
    datasets: tuple[DatasetLink, ...]
    git_commit: str | None
    git_dirty: bool | None
    previous_version: int | None
    alias_changes: tuple[AliasChange, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "manifest_digest": self.manifest_digest,
            "run_id": self.run_id,
            "datasets": [{"digest": d.digest, "name": d.name, "role": d.role} for d in self.datasets],
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "previous_version": self.previous_version,
            "alias_changes": [
                {
                    "event_id": c.event_id,
                    "at": c.at,
                    "alias": c.alias,
                    "action": c.action.value,
                    "took": c.took,
                    "other": c.other,
                    "actor": c.actor,
                    "reason": c.reason,
                }
                for c in self.alias_changes
            ],
        }
