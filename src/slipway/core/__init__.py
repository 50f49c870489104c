"""The pure domain: entities, names, the run filter language and hashing. No I/O happens here."""

from slipway.core._entities import (
    ArtifactEntry,
    DatasetRecord,
    Experiment,
    Metric,
    Page,
    Run,
    RunStatus,
    TokenInfo,
)
from slipway.core._names import (
    new_id,
    now_ms,
    validate_artifact_path,
    validate_batch_id,
    validate_key,
)
from slipway.core._search import ATTRIBUTES, Comparison, OrderBy, RunFilter, parse_filter, parse_order_by

__all__ = [
    "ATTRIBUTES",
    "ArtifactEntry",
    "Comparison",
    "DatasetRecord",
    "Experiment",
    "Metric",
    "OrderBy",
    "Page",
    "Run",
    "RunFilter",
    "RunStatus",
    "TokenInfo",
    "new_id",
    "now_ms",
    "parse_filter",
    "parse_order_by",
    "validate_artifact_path",
    "validate_batch_id",
    "validate_key",
]
