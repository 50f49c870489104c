"""Autolog for scikit-learn: every ``fit`` records its params, training metrics, data and model.

How it hooks in: the ``fit`` (and ``fit_transform``/``fit_predict``) defined by each
``BaseEstimator`` subclass is wrapped, for the classes already imported and, through
``BaseEstimator.__init_subclass__``, for those defined later. Walking the loaded subclasses costs
nothing, where importing every sklearn module to list its estimators would take seconds.

Only the outermost fit logs: a Pipeline, a search or an ensemble fits its parts inside its own
fit, and those inner fits are not separate models to the user. The guard is process-wide, not per
thread, because meta-estimators fit their parts in worker threads; two unrelated fits running
concurrently in one process therefore log only the first.

A run holds one model: when the active run already has an autologged model, or autologged (or
user) params that this fit would change, the fit is logged in a nested run of its own, named after
the estimator and ended with the fit, so that a sweep in a loop inside one ``with start_run()``
keeps every fit.

Logging never breaks a fit: any failure to log is a warning, the fitted estimator is returned.
"""

from __future__ import annotations

import functools
import logging
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slipway.core import RunStatus
from slipway.errors import Conflict, InvalidInput

if TYPE_CHECKING:
    from collections.abc import Callable

    from slipway.tracking._run import ActiveRun

__all__ = ["AutologWarning", "autolog"]

log = logging.getLogger("slipway.tracking")

_METHODS = ("fit", "fit_transform", "fit_predict")
_MAX_PARAM = 500


class AutologWarning(UserWarning):
    """Something could not be logged; the fit itself succeeded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _Options:
    active_run: Callable[[], ActiveRun | None]
    start_run: Callable[[str], ActiveRun]
    start_nested: Callable[[ActiveRun, str], ActiveRun] | None
    log_models: bool
    log_datasets: bool


@dataclass(slots=True, kw_only=True)
class _Logged:
    """What autolog put in a run: its params, and whether it holds a model."""

    params: dict[str, str] = field(default_factory=dict)
    model: bool = False


_options: _Options | None = None
_originals: dict[tuple[type, str], Any] = {}
_depth = 0
_depth_lock = threading.Lock()
_logged: weakref.WeakKeyDictionary[ActiveRun, _Logged] = weakref.WeakKeyDictionary()


def autolog(
    *,
    active_run: Callable[[], ActiveRun | None],
    start_run: Callable[[str], ActiveRun],
    start_nested: Callable[[ActiveRun, str], ActiveRun] | None = None,
    disable: bool = False,
    log_models: bool = True,
    log_datasets: bool = True,
) -> None:
    """Patch scikit-learn so that each outermost fit logs to the active run (or a new one).

    ``active_run``, ``start_run(name)`` and ``start_nested(parent, name)`` come from the caller (the
    fluent API), which owns the notion of "the current run"; ``start_nested`` starts a run nested
    under ``parent`` for a later fit that the active run cannot hold (``start_run`` when not given,
    for callers whose ``start_run`` nests under the active run). ``disable=True`` restores the
    original methods.
    """
    global _options
    if disable:
        _unpatch()
        _options = None
        return
    from sklearn.base import BaseEstimator

    _options = _Options(
        active_run=active_run,
        start_run=start_run,
        start_nested=start_nested,
        log_models=log_models,
        log_datasets=log_datasets,
    )
    for cls in _subclasses(BaseEstimator):
        _patch_class(cls)
    if (BaseEstimator, "__init_subclass__") not in _originals:
        _originals[(BaseEstimator, "__init_subclass__")] = BaseEstimator.__dict__.get("__init_subclass__")

        def __init_subclass__(cls: type, /, **kwargs: Any) -> None:
            super(BaseEstimator, cls).__init_subclass__(**kwargs)
            _patch_class(cls)

        BaseEstimator.__init_subclass__ = classmethod(__init_subclass__)  # type: ignore[method-assign,assignment,unused-ignore]


def _subclasses(root: type) -> list[type]:
    out: list[type] = []
    todo: list[type] = [root]
    while todo:
        subs: list[type] = todo.pop().__subclasses__()
        for sub in subs:
            if sub not in out:
                out.append(sub)
                todo.append(sub)
    return out


def _patch_class(cls: type) -> None:
    for method in _METHODS:
        original = cls.__dict__.get(method)
        if original is None or not callable(original) or (cls, method) in _originals:
            continue
        _originals[(cls, method)] = original
        setattr(cls, method, _wrap(original))


def _unpatch() -> None:
    for (cls, method), original in list(_originals.items()):
        if method == "__init_subclass__":
            if original is None:
                delattr(cls, method)
            else:
                setattr(cls, method, original)
        else:
            setattr(cls, method, original)
    _originals.clear()


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _depth
        options = _options
        with _depth_lock:
            outermost = _depth == 0
            _depth += 1
        try:
            if not outermost or options is None:
                return original(self, *args, **kwargs)
            return _logged_fit(options, original, self, args, kwargs)
        finally:
            with _depth_lock:
                _depth -= 1

    return fit


def _logged_fit(
    options: _Options,
    original: Callable[..., Any],
    estimator: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    run = options.active_run()
    started = None
    if run is None:
        try:
            run = started = options.start_run(type(estimator).__name__)
        except Exception as exc:
            _warn(f"autolog could not start a run ({exc}); fitting without logging")
            return original(estimator, *args, **kwargs)
    try:
        result = original(estimator, *args, **kwargs)
    except BaseException as exc:
        if started is not None:
            started.end(RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED)
        raise
    X = args[0] if args else kwargs.get("X")
    y = args[1] if len(args) > 1 else kwargs.get("y", kwargs.get("Y"))
    target = run
    try:
        params = {k: _param_text(v) for k, v in estimator.get_params(deep=True).items()}
        if started is None and _taken(run, params):
            target = started = _start_nested(options, run, estimator)
        try:
            _log_fit(options, target, estimator, params, X, y)
        except Conflict:  # the user's own params differ: this fit gets a run of its own
            if started is not None:
                raise
            target = started = _start_nested(options, run, estimator)
            _log_fit(options, target, estimator, params, X, y)
    except Exception as exc:
        _warn(f"autolog could not log {type(estimator).__name__}.fit to run {target.id}: {exc}")
    if started is not None:
        try:
            started.end()
        except Exception as exc:
            _warn(f"autolog could not end run {started.id}: {exc}")
    return result


def _taken(run: ActiveRun, params: dict[str, str]) -> bool:
    """Whether ``run`` already holds an autologged model, or autologged params this fit changes."""
    logged = _logged.get(run)
    if logged is None:
        return False
    return logged.model or any(logged.params.get(k, v) != v for k, v in params.items())


def _start_nested(options: _Options, parent: ActiveRun, estimator: Any) -> ActiveRun:
    name = type(estimator).__name__
    if options.start_nested is not None:
        return options.start_nested(parent, name)
    return options.start_run(name)


def _warn(message: str) -> None:
    warnings.warn(message, AutologWarning, stacklevel=4)


def _log_fit(
    options: _Options, run: ActiveRun, estimator: Any, params: dict[str, str], X: Any, y: Any
) -> None:

    cls = type(estimator)
    run.log_params(params)  # first: a Conflict here has written nothing
    logged = _logged.setdefault(run, _Logged())
    logged.params.update(params)
    run._set_tags(
        {"slipway.autolog": "sklearn", "slipway.autolog.estimator": f"{cls.__module__}.{cls.__qualname__}"}
    )
    if X is not None and y is not None:
        run.log_metrics(training_metrics(estimator, X, y))
    if options.log_datasets and X is not None:
        for name, data in (("X_train", X), ("y_train", y)):
            if data is not None:
                try:
                    run.log_dataset(_as_data(data), name=name, role="training")
                except Exception as exc:  # sparse matrices and exotic containers: skip the fingerprint
                    log.debug("autolog: no fingerprint for %s: %s", name, exc)
    if options.log_models:
        logged.model = True  # set first: a half-logged model still takes the run's model slot
        try:  # the model folder: signature, an input example and monitoring's reference summary
            run.log_model(estimator, "model", input_example=_head(X), training_data=X)
        except InvalidInput as exc:  # inputs the signature cannot describe (sparse, ragged): no example
            log.debug("autolog: model without an input example: %s", exc)
            run.log_model(estimator, "model")


def _head(X: Any, rows: int = 5) -> Any:
    """A few training rows as the model's input example (a DataFrame or array; else none)."""
    if X is None or not hasattr(X, "__getitem__") or not hasattr(X, "shape"):
        return None
    return X.iloc[:rows] if hasattr(X, "iloc") else X[:rows]


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value) if hasattr(value, "get_params") else str(value)
    return text if len(text) <= _MAX_PARAM else text[: _MAX_PARAM - 3] + "..."


def _as_data(data: Any) -> Any:
    import numpy as np
    import pandas as pd

    if isinstance(data, (pd.DataFrame, pd.Series, np.ndarray)):
        return data
    return np.asarray(data)


def training_metrics(estimator: Any, X: Any, y: Any) -> dict[str, float]:
    """Scores on the training data, named ``training_*``; weighted averages for multi-class."""
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # undefined precision on a degenerate split is not an error here
        if is_classifier(estimator):
            pred = estimator.predict(X)
            out["training_accuracy"] = metrics.accuracy_score(y, pred)
            for name, fn in (
                ("precision", metrics.precision_score),
                ("recall", metrics.recall_score),
                ("f1", metrics.f1_score),
            ):
                out[f"training_{name}"] = fn(y, pred, average="weighted", zero_division=0)
            if hasattr(estimator, "predict_proba"):
                try:
                    proba = estimator.predict_proba(X)
                    out["training_log_loss"] = metrics.log_loss(y, proba, labels=estimator.classes_)
                    if proba.shape[1] == 2:
                        out["training_roc_auc"] = metrics.roc_auc_score(y, proba[:, 1])
                    else:
                        out["training_roc_auc"] = metrics.roc_auc_score(
                            y, proba, multi_class="ovr", average="weighted", labels=estimator.classes_
                        )
                except (AttributeError, ValueError) as exc:  # e.g. SVC(probability=False), one class only
                    log.debug("autolog: no probability metrics: %s", exc)
        elif is_regressor(estimator):
            pred = estimator.predict(X)
            mse = metrics.mean_squared_error(y, pred)
            out["training_mae"] = metrics.mean_absolute_error(y, pred)
            out["training_mse"] = mse
            out["training_rmse"] = float(mse) ** 0.5
            out["training_r2"] = metrics.r2_score(y, pred)
    return {k: float(v) for k, v in out.items()}
