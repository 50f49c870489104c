"""Models: the model folder format, flavors, signature inference and enforcement, save and load.

``save_model`` writes a folder (``slipway.yaml`` manifest, model data, input example, pinned
requirements, file digests); ``load_model`` verifies it and returns a :class:`Model` with one
``predict`` whatever the flavor. Flavors plug in through :class:`Flavor` (built in: ``xgboost``,
``lightgbm``, ``sklearn``, ``pytorch``, ``onnx`` and ``pyfunc``; third parties through the
``slipway.flavors`` entry-point group).
"""

from slipway.models._enforce import ExtraColumns, InputEnforcer, cast_array
from slipway.models._fetch import cached_folder
from slipway.models._flavor import (
    ENTRY_POINT_GROUP,
    Flavor,
    FlavorData,
    detect_flavor,
    flavor_names,
    get_flavor,
)
from slipway.models._infer import infer_schema, infer_signature
from slipway.models._integrity import verify_folder
from slipway.models._log import GIT_COMMIT_TAG, ModelInfo, RunSink, log_model
from slipway.models._manifest import (
    MANIFEST_FILE,
    DatasetRef,
    Lineage,
    Manifest,
    parse_manifest,
    read_manifest,
)
from slipway.models._model import Model, load_model
from slipway.models._reference import (
    REFERENCE_FILE,
    ColumnSummary,
    ReferenceSummary,
    as_reference,
    plain,
    value_counts,
)
from slipway.models._requirements import Mismatch, check_environment
from slipway.models._save import save_model
from slipway.models._warnings import EnvironmentMismatchWarning, SlipwayWarning

__all__ = [
    "ENTRY_POINT_GROUP",
    "GIT_COMMIT_TAG",
    "MANIFEST_FILE",
    "REFERENCE_FILE",
    "ColumnSummary",
    "DatasetRef",
    "EnvironmentMismatchWarning",
    "ExtraColumns",
    "Flavor",
    "FlavorData",
    "InputEnforcer",
    "Lineage",
    "Manifest",
    "Mismatch",
    "Model",
    "ModelInfo",
    "ReferenceSummary",
    "RunSink",
    "SlipwayWarning",
    "as_reference",
    "cached_folder",
    "cast_array",
    "check_environment",
    "detect_flavor",
    "flavor_names",
    "get_flavor",
    "infer_schema",
    "infer_signature",
    "load_model",
    "log_model",
    "parse_manifest",
    "plain",
    "read_manifest",
    "save_model",
    "value_counts",
    "verify_folder",
]
