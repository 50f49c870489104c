"""Registry: named models, their versions, aliases, lineage, promotion, rollback and the audit log.

``Registry(store, blobs)`` registers versions from ``runs:/RUN/PATH`` or a model folder, resolves
``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` and ``models:/NAME/latest``, loads them with their
digests checked, moves aliases (by hand, by a passing gate, by an override with a reason, back by a
rollback) and reads the audit log, which :func:`write_audit` exports as JSON lines or CSV.
``Registry.card`` gathers a version's :class:`ModelCard` (Markdown and self-contained HTML);
``Registry.reproduce`` re-runs a version's training from its recorded commit and returns a
:class:`Reproduction` (metrics and predictions side by side, each a :class:`Verdict`).
"""

from slipway.registry._audit import (
    AUDIT_FIELDS,
    ExportFormat,
    audit_record,
    iso_utc,
    read_audit,
    write_audit,
)
from slipway.registry._card import ModelCard
from slipway.registry._history import AliasChange, AliasState, alias_changes, alias_state
from slipway.registry._lineage import DatasetLink, VersionLineage
from slipway.registry._reproduction import Reproduction, Tolerance, Verdict
from slipway.registry._service import Registry, parse_version_uri

__all__ = [
    "AUDIT_FIELDS",
    "AliasChange",
    "AliasState",
    "DatasetLink",
    "ExportFormat",
    "ModelCard",
    "Registry",
    "Reproduction",
    "Tolerance",
    "Verdict",
    "VersionLineage",
    "alias_changes",
    "alias_state",
    "audit_record",
    "iso_utc",
    "parse_version_uri",
    "read_audit",
    "write_audit",
]
