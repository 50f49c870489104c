"""A schema kept with its dataset: an artifact of the run that logged the data, found again by URI.

:func:`log_schema` writes ``schemas/<name>.yaml`` into the run's artifacts (content-addressed, like
every artifact) and tags the run ``slipway.schema.<name>``; given the data, it also logs the
dataset's fingerprint under the same name and writes its digest into the schema, so the schema
names the exact data it was drawn from. Later, ``runs:/RUN_ID`` or the model a run produced
(``models:/churn@production``) leads back to it: no new store, table or endpoint.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from slipway.errors import ArtifactNotFound, InvalidInput, NotFound
from slipway.validation._schema import with_dataset

if TYPE_CHECKING:
    from slipway.tracking import ActiveRun, TrackingClient
    from slipway.validation._schema import DataSchema

__all__ = ["SCHEMA_FOLDER", "log_schema", "read_logged_schema"]

SCHEMA_FOLDER = "schemas"
_TAG_PREFIX = "slipway.schema."
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def log_schema(
    run: ActiveRun, schema: DataSchema, *, name: str = "train", data: object = None, role: str = ""
) -> str:
    """Keep ``schema`` with the run's dataset ``name``; returns its URI, ``runs:/RUN_ID/schemas/NAME.yaml``.

    Args:
        run: the active run (``slipway.start_run()``) the data belongs to.
        schema: the schema, usually reviewed after :func:`slipway.validation.infer_schema`.
        name: the dataset's name: the artifact is ``schemas/<name>.yaml``.
        data: the data itself, to log its fingerprint (``run.log_dataset``) under ``name`` too and
            write its digest into the schema; leave it out when the dataset is logged already.
        role: the dataset's role when ``data`` is logged (``training``, ``evaluation``).

    .. versionadded:: 0.1
    """
    if not isinstance(name, str) or not _NAME.match(name) or name.endswith((".yaml", ".yml")):
        raise InvalidInput(
            f"schema name {name!r}: expected 1-100 letters, digits, '_', '-', '.' (no .yaml: it is added)"
        )
    if data is not None:
        record = run.log_dataset(data, name=name, role=role)
        schema = with_dataset(schema, name=name, digest=record.digest, rows=record.num_rows)
    path = f"{SCHEMA_FOLDER}/{name}.yaml"
    run.log_text(schema.to_yaml(), path)
    run._set_tags({f"{_TAG_PREFIX}{name}": path})  # a captured tag: users cannot set slipway.* ones
    return f"runs:/{run.id}/{path}"


def read_logged_schema(uri: str, *, tracking: TrackingClient, name: str | None = None) -> tuple[str, str]:
    """The YAML text of the schema ``uri`` leads to, and the URI of the file it came from."""
    if uri.startswith("models:"):
        from slipway.registry import Registry

        version = Registry(tracking.store, tracking.blobs).resolve(uri)
        if version.run_id is None:
            raise NotFound(
                f"{uri}: version {version.version} was registered from a folder, not a run; no schema"
            )
        run_id, path = version.run_id, ""
    else:
        rest = uri[len("runs:") :].lstrip("/")
        run_id, _, path = rest.partition("/")
        if not run_id:
            raise InvalidInput(f"schema URI {uri!r}: expected runs:/RUN_ID or runs:/RUN_ID/schemas/NAME.yaml")
    run_id = tracking.resolve_run_id(run_id)
    path = path.strip("/")
    if not path:
        path = _pick(tracking, run_id, name, uri)
    where = f"runs:/{run_id}/{path}"
    try:
        content = tracking.read_artifact(run_id, path)
    except ArtifactNotFound:
        raise ArtifactNotFound(f"{where}: the run has no such artifact") from None
    try:
        return content.decode("utf-8"), where
    except UnicodeDecodeError:
        raise InvalidInput(f"{where}: not UTF-8 text; expected a YAML schema") from None


def _pick(tracking: TrackingClient, run_id: str, name: str | None, uri: str) -> str:
    """The run's schema ``name``, or its only one, or ``train``, else an error listing them."""
    if name is not None:
        return f"{SCHEMA_FOLDER}/{name}.yaml"
    entries = tracking.list_artifacts(run_id, prefix=SCHEMA_FOLDER)
    found = sorted(
        e.path[len(SCHEMA_FOLDER) + 1 : -len(".yaml")]
        for e in entries
        if e.path.startswith(f"{SCHEMA_FOLDER}/") and e.path.endswith(".yaml")
    )
    if not found:
        raise ArtifactNotFound(f"{uri}: run {run_id} logged no schema (slipway.validation.log_schema)")
    if len(found) == 1:
        return f"{SCHEMA_FOLDER}/{found[0]}.yaml"
    if "train" in found:
        return f"{SCHEMA_FOLDER}/train.yaml"
    raise InvalidInput(f"{uri}: run {run_id} has schemas {', '.join(found)}; name one")
