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
from slipway.core._model_uri import (
    LocalModelUri,
    ModelUri,
    RegistryModelUri,
    RunModelUri,
    parse_model_uri,
    validate_alias,
    validate_model_name,
)
from slipway.core._names import (
    MAX_VALUE_LENGTH,
    new_id,
    now_ms,
    validate_artifact_path,
    validate_batch_id,
    validate_key,
    validate_value,
)
from slipway.core._registry import AuditAction, AuditEvent, ModelVersion, RegisteredModel
from slipway.core._search import ATTRIBUTES, Comparison, OrderBy, RunFilter, parse_filter, parse_order_by
from slipway.core._signature import TENSOR_DTYPES, ColumnSpec, ParamSpec, Schema, Signature, TensorSpec

__all__ = [
    "ATTRIBUTES",
    "MAX_VALUE_LENGTH",
    "TENSOR_DTYPES",
    "ArtifactEntry",
    "AuditAction",
    "AuditEvent",
    "ColumnSpec",
    "Comparison",
    "DatasetRecord",
    "Experiment",
    "LocalModelUri",
    "Metric",
    "ModelUri",
    "ModelVersion",
    "OrderBy",
    "Page",
    "ParamSpec",
    "RegisteredModel",
    "RegistryModelUri",
    "Run",
    "RunFilter",
    "RunModelUri",
    "RunStatus",
    "Schema",
    "Signature",
    "TensorSpec",
    "TokenInfo",
    "new_id",
    "now_ms",
    "parse_filter",
    "parse_model_uri",
    "parse_order_by",
    "validate_alias",
    "validate_artifact_path",
    "validate_batch_id",
    "validate_key",
    "validate_model_name",
    "validate_value",
]
