"""The names a rules file uses that only the data can confirm: columns and metrics.

The rules module checks a figure's form (``drift.columns.COLUMN.score``); whether ``COLUMN`` is a
column drift is computed on, or ``METRIC`` a metric of the model's task, depends on the reference
and the estimation data, which a monitor has when it is created. A typo there would be a rule that
silently never fires, so each is refused then, in one line naming the rule and the names known.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from slipway.models import ReferenceSummary
    from slipway.monitoring._rules import MonitorRules

__all__ = ["check_names"]


def check_names(
    rules: MonitorRules, reference: ReferenceSummary, *, estimation: pd.DataFrame | None = None
) -> None:
    """Every column and metric the rules name exists in the data; else a one-line InvalidInput.

    The figures' forms are checked when the file is read; the names inside them (a column, a
    metric) can only be checked against the reference (its features and the model's outputs) and
    the task, so a typo is refused at create instead of being a rule that never fires.
    """
    outputs = [str(c) for c in reference.outputs]
    features = reference.comparable
    opts = rules.drift
    src = rules.source
    if opts.columns is not None:
        _known(f"{src}: drift.columns", opts.columns, [*features, *outputs], "the reference's columns")
    drifted = list(opts.columns) if opts.columns is not None else features
    for key, names in (("methods", opts.methods), ("kinds", opts.kinds), ("weights", opts.weights)):
        _known(f"{src}: drift.{key}", names, drifted, "the columns drift is tested on")
    for rule in rules.rules:
        where = f"{src}: rule {rule.name!r} ({rule.figure})"
        parts = rule.figure.split(".")
        if parts[0] in ("drift", "quality") and len(parts) == 4 and parts[1] == "columns":
            _known(where, [parts[2]], drifted, "the columns drift and quality are computed on")
        elif parts[0] == "prediction_drift" and len(parts) == 4 and parts[1] == "columns":
            _known(where, [parts[2]], outputs, "the model's outputs in the reference")
        elif parts[0] == "performance":
            _known(where, [parts[1]], _measured_metrics(reference, outputs), "the metrics of the task")
        elif parts[0] == "estimated":
            if estimation is None or not rules.performance.estimate:
                raise InvalidInput(
                    f"{where}: estimated figures need an estimation reference (--estimation-reference) "
                    "and performance.estimate true"
                )
            _known(where, [parts[1]], _estimated_metrics(estimation), "the metrics the estimator estimates")


def _known(where: str, names: Iterable[str], known: list[str], what: str) -> None:
    for name in names:  # a sequence, or the keys of a mapping
        if name not in known:
            shown = ", ".join(known[:30]) + (", ..." if len(known) > 30 else "")
            raise InvalidInput(f"{where}: {name!r} is not one of {what} ({shown or 'none'})")


def _measured_metrics(reference: ReferenceSummary, outputs: list[str]) -> list[str]:
    """The metrics measured performance can have: the task's when the reference has the model's outputs."""
    from slipway.monitoring._window import infer_task
    from slipway.validation import METRICS

    tasks = {infer_task(reference.sample, outputs)} if outputs else {"classification", "regression"}
    names = [n for n, spec in METRICS.items() if spec.task in tasks]
    return [*names, "calibration_error"] if "classification" in tasks else names


def _estimated_metrics(estimation: pd.DataFrame) -> list[str]:
    from slipway.monitoring._estimate import estimable
    from slipway.monitoring._window import infer_task

    return list(estimable(infer_task(estimation), None))
