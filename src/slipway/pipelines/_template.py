"""The retraining pipeline: load data → validate → split → train → register → gate → promote.

What the closed loop runs when a monitor breaches, and what a person runs by hand:

    slipway pipeline run slipway.pipelines:retrain --param model=churn --param data=fresh.parquet
        --param target=churned --param promote=true       (one command line)

Each step is cached like any other, so a re-run on the same data and the same champion does
nothing, and a step that failed (the data broke its schema, the gate said no) is where ``--resume``
starts. The steps, in order:

- ``load_data``: the file (Parquet or CSV) as a DataFrame; its content is part of every key below.
- ``validate_data``: the data against a schema: the ``schema`` file (or ``runs:/``, ``models:/``
  URI) if given, else the schema logged with the champion's training run; with neither (the first
  retraining) there is nothing to hold the data to yet. Error anomalies stop the pipeline here.
- ``split``: a seeded, stratified (for classes) train/holdout split.
- ``train``: the ``trainer`` (``module:function`` or ``file.py:function`` taking ``(X, y)`` and
  returning a fitted model), or by default a fresh copy of the champion's own estimator
  (``sklearn.base.clone``) fitted on the new training rows.
- ``register``: logs the model (with its training data, so monitoring gets its reference and the
  registry its lineage) and the schema (given, else inferred from the training rows: the contract
  the next retraining holds its data to), and registers the next version of ``model``.
- ``gate``: the ``policy`` file, or by default: no regression against the champion on the task's
  metric (ROC AUC when the model has probabilities, else accuracy; RMSE for regression), with a
  compatible signature. The result is recorded on the version, as ``slipway validate`` does.
- ``promote``: moves ``alias`` to the new version when ``promote`` is true and the gate passed;
  otherwise says why not. A failed gate is an outcome, not an error: the version stays registered.

``champion`` runs every time and resolves to content what the other steps would otherwise read
from outside their arguments: who holds the alias (for the gate), what estimator it is (for a
copy), the schema's YAML, the policy's text and a digest of the trainer's code. So editing
``fit.py``, ``gate.yaml`` or the schema re-runs exactly the steps that read them, a moved alias
re-runs validation and the gate, and a second run after a promotion registers nothing.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.pipelines._graph import pipeline
from slipway.pipelines._step import step

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["retrain"]

SCHEMA_NAME = "train"


@step(
    always_run=True,
    outputs=("champion_version", "champion_estimator", "schema_text", "policy_text", "trainer_code"),
)
def champion(
    model: str, alias: str, schema: str, policy: str, trainer: str
) -> tuple[str, str, str, str, str]:
    """Everything the later steps read from outside their arguments, resolved to content.

    Who holds ``alias`` now and what estimator it is (class and parameters), the schema's YAML
    (``schema``, else the one logged with the champion's training run), the policy file's text,
    and a digest of the trainer's code with the project modules it uses. Run every time (an alias
    moves, a file is edited outside the pipeline); the steps below take these as inputs, so
    their keys change exactly when what they would read changed.
    """
    import slipway

    tracking = slipway.client()
    version = _holder(model, alias)
    spec = _estimator_spec(model, version) if version else ""
    if schema:
        from slipway.validation import load_schema

        schema_text = load_schema(schema, tracking=tracking, name=SCHEMA_NAME).to_yaml()
    else:
        schema_text = _logged_schema(model, version) if version else ""
    policy_text = _read_text(policy, "policy") if policy else ""
    return str(version or ""), spec, schema_text, policy_text, _code_digest(trainer) if trainer else ""


def _holder(model: str, alias: str) -> int | None:
    import slipway
    from slipway.errors import NotFound

    try:
        return slipway.client().store.get_version_by_alias(model, alias).version
    except NotFound:
        return None


def _estimator_spec(model: str, version: int) -> str:
    """The champion's estimator as class and parameters, kept per manifest digest once computed.

    Loading a model takes a second or two; its spec never changes, so it is computed once per
    version's manifest and read from ``<home>/pipelines/estimators.json`` afterwards.
    """
    import json

    import slipway
    from slipway.config import load_settings

    digest = slipway.client().store.get_model_version(model, version).manifest_digest
    cache = load_settings().home / "pipelines" / "estimators.json"
    try:
        known = json.loads(cache.read_text())
    except (FileNotFoundError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if digest in known:
        return str(known[digest])
    spec = _describe(slipway.load_model(f"models:/{model}/{version}").raw)
    known[digest] = spec
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known, sort_keys=True))
    os.replace(tmp, cache)
    return spec


def _describe(value: Any) -> str:
    """Class and parameters, recursively; anything else by its type alone.

    Never a repr that changes between loads (a RandomState's or a function's shows an address).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    name = f"{type(value).__module__}.{type(value).__qualname__}"
    get_params = getattr(value, "get_params", None)
    if callable(get_params) and not isinstance(value, type):
        params = get_params(deep=False)
        return name + "(" + ", ".join(f"{k}={_describe(v)}" for k, v in sorted(params.items())) + ")"
    return name


def _logged_schema(model: str, version: int) -> str:
    """The YAML of the schema logged with version's training run, or "" when it logged none."""
    import slipway
    from slipway.errors import NotFound
    from slipway.validation import load_schema

    try:
        return load_schema(
            f"models:/{model}/{version}", tracking=slipway.client(), name=SCHEMA_NAME
        ).to_yaml()
    except (NotFound, InvalidInput):
        return ""


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{what} {path}: no such file") from None
    except OSError as exc:
        raise InvalidInput(f"{what} {path}: cannot read it ({exc.strerror})") from None


def _code_digest(trainer: str) -> str:
    """SHA-256 of the trainer's code and the project modules it uses, as pipeline steps are keyed."""
    import hashlib
    import json
    import sys

    from slipway.pipelines._code import CodeScanner
    from slipway.pipelines._target import load_target

    fn = load_target(trainer)
    if not callable(fn):
        raise InvalidInput(f"trainer {trainer!r}: expected a function (X, y) -> fitted model")
    file = getattr(sys.modules.get(getattr(fn, "__module__", "") or ""), "__file__", None)
    root = Path(file).resolve().parent if file else Path.cwd()
    code, modules = CodeScanner(root).components(fn)
    doc = json.dumps({"trainer": trainer, "code": code, "modules": modules}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


@step
def load_data(data: Path) -> pd.DataFrame:
    """The training data, from a Parquet or CSV file."""
    from slipway.validation._data_infer import read_frame

    frame, _ = read_frame(data)
    return frame


@step
def validate_data(frame: pd.DataFrame, schema_text: str) -> pd.DataFrame:
    """The data, once it passed its schema; error anomalies stop the pipeline (DataValidationFailed).

    Returning the frame makes every later step depend on the check (the store keeps it once).
    With no schema given and none logged with the champion (the first retraining) there is no
    contract yet: the data is only checked against one inferred from itself.
    """
    import slipway
    from slipway.validation import infer_schema, parse_schema, validate_data

    if schema_text:
        import yaml

        rules = parse_schema(yaml.safe_load(schema_text), source="schema")
    else:
        rules = infer_schema(frame, name=SCHEMA_NAME)
    result = validate_data(frame, rules)
    run = slipway.active_run()
    if run is not None:
        run.log_text(result.to_text(), "data_validation.txt")
    result.raise_for_anomalies()
    return frame


@step(outputs=("train_rows", "holdout_rows"))
def split(frame: pd.DataFrame, target: str, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded train/holdout split, stratified when the target is a class label."""
    from sklearn.model_selection import train_test_split

    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns))
        raise InvalidInput(f"target {target!r}: not a column of the data (columns: {columns})")
    if not 0.0 < test_size < 1.0:
        raise InvalidInput(f"test_size {test_size!r}: expected a fraction between 0 and 1")
    y = frame[target]
    stratify = y if y.dtype == object or y.nunique() <= max(2, min(50, len(y) // 20)) else None
    train, holdout = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


@step
def train(
    train_rows: pd.DataFrame,
    target: str,
    model: str,
    alias: str,
    trainer: str,
    trainer_code: str,
    champion_estimator: str,
) -> Any:
    """Fit the trainer's model, or a fresh copy of the champion's estimator, on the training rows."""
    x, y = train_rows.drop(columns=[target]), train_rows[target]
    if trainer:
        from slipway.pipelines._target import load_target

        fit = load_target(trainer)
        if not callable(fit):
            raise InvalidInput(f"trainer {trainer!r}: expected a function (X, y) -> fitted model")
        return fit(x, y)
    if not champion_estimator:
        raise InvalidInput(
            f"model {model!r} has no version at alias {alias!r} to copy: pass --param trainer=MODULE:FUNCTION"
        )
    from sklearn.base import clone

    import slipway

    try:
        estimator = clone(slipway.load_model(f"models:/{model}@{alias}").raw)
    except TypeError as exc:
        raise InvalidInput(
            f"models:/{model}@{alias} is not a scikit-learn estimator: pass --param trainer=MODULE:FUNCTION"
        ) from exc
    return estimator.fit(x, y)


@step
def register(estimator: Any, train_rows: pd.DataFrame, target: str, model: str, schema_text: str) -> int:
    """Log the model with its training data and schema, and register the next version.

    The training data becomes monitoring's reference; the schema (the one given, else inferred from
    these rows) is what the next retraining validates its data against (``models:/NAME@ALIAS``).
    """
    import slipway
    from slipway.validation import infer_schema, log_schema, parse_schema

    run = slipway.active_run()
    if run is None:  # pragma: no cover - the runner always opens the step's run
        raise InvalidInput("step register: needs an active run")
    x = train_rows.drop(columns=[target])
    if schema_text:
        import yaml

        contract = parse_schema(yaml.safe_load(schema_text), source="schema")
    else:
        # An inferred range is only the extremes these rows happened to have: next month's data
        # past them is reported (a warning), while a missing column, a wrong type, unknown
        # categories or too many missing values stop the next retraining. A reviewed schema
        # (``schema``) decides for itself.
        inferred = infer_schema(train_rows)
        contract = dataclasses.replace(inferred, severity={**inferred.severity, "out_of_range": "warning"})
    log_schema(run, contract, name=SCHEMA_NAME, data=train_rows, role="training")
    slipway.log_model(estimator, "model", input_example=x.head(5), training_data=x)
    version = slipway.register_model(f"runs:/{run.id}/model", model, reason="retrain pipeline")
    return int(version.version)


@step
def gate(
    version: int,
    holdout_rows: pd.DataFrame,
    target: str,
    model: str,
    alias: str,
    policy_text: str,
    champion_version: str,
) -> dict[str, Any]:
    """The promotion gate on the holdout rows, recorded on the version.

    The version that already holds the alias (promoted by an earlier run) is not gated again.
    """
    import slipway

    if champion_version == str(version):
        return {"passed": True, "version": version, "failed": [], "champion": True}

    import yaml

    rules: Any = yaml.safe_load(policy_text) if policy_text else _default_policy(model, version, alias)
    uri = f"models:/{model}/{version}"
    result = slipway.validate(uri, holdout_rows, target=target, policy=rules, reason="retrain pipeline")
    return {"passed": result.passed, "version": version, "failed": [c.name for c in result.failed]}


def _default_policy(model: str, version: int, alias: str) -> dict[str, Any]:
    """No regression against the champion on the task's metric, and a compatible signature."""
    import slipway

    candidate = slipway.load_model(f"models:/{model}/{version}")
    regression = "predict_proba" not in candidate.methods and not hasattr(candidate.raw, "classes_")
    metric = "rmse" if regression else ("roc_auc" if "predict_proba" in candidate.methods else "accuracy")
    return {
        "compare": {"alias": alias},
        "checks": [
            {"kind": "no_regression", "metric": metric, "tolerance": 0.0},
            {"kind": "signature"},
        ],
    }


@step
def promote_version(outcome: dict[str, Any], model: str, alias: str, promote: bool) -> dict[str, Any]:
    """Move the alias to the new version when asked and the gate passed; say why not otherwise."""
    version = int(outcome["version"])
    if outcome.get("champion"):
        return {"promoted": False, "version": version, "reason": f"version {version} already holds {alias}"}
    if not outcome["passed"]:
        failed = ", ".join(outcome["failed"])
        return {"promoted": False, "version": version, "reason": f"gate failed: {failed}"}
    if not promote:
        return {"promoted": False, "version": version, "reason": "promote is false (the gate passed)"}
    import slipway
    from slipway.registry import Registry

    tracking = slipway.client()
    Registry(tracking.store, tracking.blobs).promote(
        model, version, alias=alias, actor=slipway._api._actor(), reason="retrain pipeline: gate passed"
    )
    return {"promoted": True, "version": version, "reason": f"{alias} -> version {version}"}


@pipeline
def retrain(
    model: str,
    data: Path,
    target: str,
    alias: str = "production",
    schema: str = "",
    policy: str = "",
    trainer: str = "",
    test_size: float = 0.2,
    seed: int = 0,
    promote: bool = False,
) -> Any:
    """Retrain ``model`` on ``data`` and register the challenger; promote it only if it wins."""
    champion_version, champion_estimator, schema_text, policy_text, trainer_code = champion(
        model, alias, schema, policy, trainer
    )
    checked = validate_data(load_data(data), schema_text)
    train_rows, holdout_rows = split(checked, target, test_size, seed)
    # Only a copy of the champion depends on which estimator the champion is.
    spec = "" if trainer else champion_estimator
    estimator = train(train_rows, target, model, alias, trainer, trainer_code, spec)
    # The schema registered with the model is the one given, else inferred from its training rows
    # (never the champion's: a promoted model would otherwise change its successor's key).
    version = register(estimator, train_rows, target, model, schema_text if schema else "")
    outcome = gate(version, holdout_rows, target, model, alias, policy_text, champion_version)
    return promote_version(outcome, model, alias, promote)
