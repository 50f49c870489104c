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

``champion`` runs every time and hands who holds the alias to the gate and what estimator it is to
training, so a moved alias re-runs what depends on it, and a second run after a promotion finds the
new version already holds the alias instead of registering it again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path  # noqa: TC003  (the pipeline's parameters are typed at run time)
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput
from slipway.pipelines._graph import pipeline
from slipway.pipelines._step import step

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["retrain"]

SCHEMA_NAME = "train"


@step(always_run=True, outputs=("champion_version", "champion_estimator"))
def champion(model: str, alias: str) -> tuple[str, str]:
    """Who holds ``alias`` now, and what estimator it is (class and parameters); "" for neither.

    Run every time (the alias moves outside the pipeline): the version is an input of the gate,
    the estimator of training, so a moved alias re-runs what depends on it, and promoting a copy
    of the champion's estimator does not retrain it on the next run.
    """
    import slipway
    from slipway.errors import NotFound

    try:
        version = slipway.client().store.get_version_by_alias(model, alias)
    except NotFound:
        return "", ""
    loaded = slipway.load_model(f"models:/{model}/{version.version}")
    get_params = getattr(loaded.raw, "get_params", None)
    spec = f"{type(loaded.raw).__module__}.{type(loaded.raw).__qualname__}"
    if callable(get_params):
        spec += repr(sorted((k, repr(v)) for k, v in get_params(deep=False).items()))
    return str(version.version), spec


@step
def load_data(data: Path) -> pd.DataFrame:
    """The training data, from a Parquet or CSV file."""
    from slipway.validation._data_infer import read_frame

    frame, _ = read_frame(data)
    return frame


@step
def validate_data(
    frame: pd.DataFrame, model: str, alias: str, schema: str, champion_version: str
) -> pd.DataFrame:
    """The data, once it passed its schema; error anomalies stop the pipeline (DataValidationFailed).

    Returning the frame makes every later step depend on the check (the store keeps it once); the
    champion's version is an input because, with no ``schema`` given, its schema is the contract.
    """
    import slipway
    from slipway.validation import infer_schema, load_schema, validate_data

    run = slipway.active_run()
    source = schema or _logged_schema(model, alias)
    if source is None:
        rules = infer_schema(frame, name=SCHEMA_NAME)
        origin = "inferred from this data (no schema given, none logged with the champion)"
    else:
        rules = load_schema(source, tracking=slipway.client(), name=SCHEMA_NAME)
        origin = source
    result = validate_data(frame, rules)
    if run is not None:
        run.log_text(result.to_text(), "data_validation.txt")
        run.set_tag("schema", origin)
    result.raise_for_anomalies()
    return frame


def _logged_schema(model: str, alias: str) -> str | None:
    """The champion's training schema URI, when its run logged one."""
    import slipway
    from slipway.errors import NotFound

    uri = f"models:/{model}@{alias}"
    try:
        from slipway.validation import load_schema

        load_schema(uri, tracking=slipway.client(), name=SCHEMA_NAME)
    except (NotFound, InvalidInput):
        return None
    return uri


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
    train_rows: pd.DataFrame, target: str, model: str, alias: str, trainer: str, champion_estimator: str
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
def register(estimator: Any, train_rows: pd.DataFrame, target: str, model: str, schema: str) -> int:
    """Log the model with its training data and schema, and register the next version.

    The training data becomes monitoring's reference; the schema (the one given, else inferred from
    these rows) is what the next retraining validates its data against (``models:/NAME@ALIAS``).
    """
    import slipway
    from slipway.validation import infer_schema, load_schema, log_schema

    run = slipway.active_run()
    if run is None:  # pragma: no cover - the runner always opens the step's run
        raise InvalidInput("step register: needs an active run")
    x = train_rows.drop(columns=[target])
    if schema:
        contract = load_schema(schema, tracking=slipway.client())
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
    policy: str,
    champion_version: str,
) -> dict[str, Any]:
    """The promotion gate on the holdout rows, recorded on the version.

    The version that already holds the alias (promoted by an earlier run) is not gated again.
    """
    import slipway

    if champion_version == str(version):
        return {"passed": True, "version": version, "failed": [], "champion": True}

    rules: Any = policy or _default_policy(model, version, alias)
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
    champion_version, champion_estimator = champion(model, alias)
    checked = validate_data(load_data(data), model, alias, schema, champion_version)
    train_rows, holdout_rows = split(checked, target, test_size, seed)
    # Only a copy of the champion depends on which estimator the champion is.
    estimator = train(train_rows, target, model, alias, trainer, "" if trainer else champion_estimator)
    version = register(estimator, train_rows, target, model, schema)
    outcome = gate(version, holdout_rows, target, model, alias, policy, champion_version)
    return promote_version(outcome, model, alias, promote)
