"""What every check sees: the data, the target, and the challenger and champion with cached outputs.

A :class:`Candidate` is a loaded model version that knows its task, its classes and its positive
label, and predicts on the data once: every check that needs the plain outputs shares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from slipway.errors import InvalidInput, SlipwayError
from slipway.validation._metrics import METRICS, Predictions, metric_value

if TYPE_CHECKING:
    import pandas as pd
    from numpy.typing import NDArray

    from slipway.core import ModelVersion
    from slipway.models import Model

__all__ = ["Candidate", "Context", "Task"]

Task = Literal["classification", "regression"]


class Candidate:
    """A model version under test (the challenger) or compared against (the champion)."""

    def __init__(self, *, version: ModelVersion, model: Model, task: Task, pos_label: Any) -> None:
        self.version = version
        self.model = model
        self.task = task
        self._pos_label = pos_label
        self._classes: NDArray[Any] | None = None
        self._all_classes = False  # True when ``_classes`` are every class, not just those predicted
        self._cached: Predictions | None = None

    @property
    def uri(self) -> str:
        return f"models:/{self.version.name}/{self.version.version}"

    def predictions(self, frame: pd.DataFrame) -> Predictions:
        """The outputs on the gate's data, computed once.

        A model that raises on the gate's own data cannot be judged: that is a one-line error
        naming the model and its exception (exit 2 from the CLI), and nothing is recorded.
        """
        if self._cached is None:
            try:
                self._cached = self.predict_on(frame)
            except SlipwayError:
                raise
            except Exception as exc:
                text = str(exc).strip()
                first = f": {text.splitlines()[0]}" if text else ""
                raise InvalidInput(
                    f"{self.uri} raised on the gate's data: {type(exc).__name__}{first}"
                ) from exc
        return self._cached

    def predict_on(self, frame: pd.DataFrame) -> Predictions:
        """The outputs on any frame (a perturbed copy of the data, a slice)."""
        labels = _column(self.model.predict(frame), len(frame), f"{self.uri} predict")
        if self.task == "regression":
            try:
                values = labels.astype(np.float64)
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"{self.uri}: its predictions are not numbers, so it is not a regressor; "
                    "set `task: classification` in the policy"
                ) from None
            return Predictions(labels=values)
        proba = None
        if "predict_proba" in self.model.methods:
            proba = np.asarray(self.model.predict_proba(frame), dtype=np.float64)
            if proba.ndim != 2 or proba.shape[0] != len(frame):
                raise InvalidInput(
                    f"{self.uri}: predict_proba returned shape {proba.shape}; "
                    f"expected ({len(frame)}, classes)"
                )
        classes = self.classes(labels, proba)
        return Predictions(labels=labels, proba=proba, classes=classes, pos_label=self.pos_label(classes))

    def classes(self, labels: NDArray[Any], proba: NDArray[Any] | None) -> NDArray[Any]:
        """The classes in ``predict_proba``'s column order: recorded at save, else the labels seen."""
        if self._classes is None:
            recorded = self.model.manifest.options.get("classes")
            if isinstance(recorded, list) and recorded:
                found = np.asarray(
                    recorded, dtype=object if any(isinstance(c, str) for c in recorded) else None
                )
                self._all_classes = True
            else:
                found = np.unique(labels)
                self._all_classes = proba is not None  # one column of predict_proba per class
            if proba is not None and proba.shape[1] != len(found):
                raise InvalidInput(
                    f"{self.uri}: predict_proba has {proba.shape[1]} columns but the model has "
                    f"{len(found)} classes ({', '.join(map(repr, found.tolist()))}); "
                    "save the model with its classes (flavor option `classes`)"
                )
            self._classes = found
        return self._classes

    def target_mismatch(self, target: NDArray[Any], preds: Predictions) -> tuple[Any, str] | None:
        """The first target value this classifier cannot have predicted, and what it expects; or None.

        With every class known (recorded at save, or one per ``predict_proba`` column) a value must be
        one of them; with only the classes seen in the predictions, a value must at least be of the
        same kind (text or number), since a class may be one the model never predicted on this data.
        """
        if preds.classes is None:
            return None
        import pandas as pd

        classes = preds.classes.tolist()
        shown = ", ".join(map(repr, classes[:20])) + (" …" if len(classes) > 20 else "")
        values = pd.unique(np.asarray(target, dtype=object)).tolist()
        if self._all_classes:
            allowed = set(classes)
            for value in values:
                if value not in allowed:
                    return value, f"one of {self.uri}'s classes ({shown})"
            return None
        kinds = {_kind(c) for c in classes}
        for value in values:
            if _kind(value) not in kinds:
                return value, f"of the kind {self.uri} predicts ({shown})"
        return None

    def pos_label(self, classes: NDArray[Any]) -> Any:
        if self._pos_label is not None:
            if not np.any(classes == self._pos_label):
                raise InvalidInput(
                    f"policy pos_label {self._pos_label!r}: not one of {self.uri}'s classes "
                    f"({', '.join(map(repr, classes.tolist()))})"
                )
            return self._pos_label
        if len(classes) != 2:
            return None
        label = classes[1]  # scikit-learn's convention: the greater of two labels is the positive one
        return label.item() if isinstance(label, np.generic) else label


@dataclass(kw_only=True)
class Context:
    """The gate's data and models.

    ``data`` holds every column (slices may use columns the model does not take); ``features`` is
    ``data`` without the target.
    """

    data: pd.DataFrame
    features: pd.DataFrame
    target: NDArray[Any]
    challenger: Candidate
    champion: Candidate | None
    champion_note: str
    task: Task
    source: str = "data"
    target_name: str = "target"
    notes: list[str] = field(default_factory=list)
    _checked: set[int] = field(default_factory=set, init=False, repr=False)

    def predictions(self, candidate: Candidate) -> Predictions:
        """``candidate``'s outputs on the data, once its classes are known to admit the target's values."""
        preds = candidate.predictions(self.features)
        if id(candidate) not in self._checked:
            mismatch = candidate.target_mismatch(self.target, preds)
            if mismatch is not None:
                value, expected = mismatch
                raise InvalidInput(
                    f"{self.source}: target column {self.target_name!r}: value {value!r} is not {expected}"
                )
            self._checked.add(id(candidate))
        return preds

    def metric(self, name: str, candidate: Candidate, rows: NDArray[np.intp] | None = None) -> float:
        """``name`` of ``candidate`` on the data, or on ``rows`` of it."""
        self.require(name, candidate)
        preds = self.predictions(candidate)
        if rows is None:
            return metric_value(name, self.target, preds)
        return metric_value(name, self.target[rows], subset(preds, rows))

    def require(self, name: str, candidate: Candidate) -> None:
        spec = METRICS[name]
        if spec.task != candidate.task:
            raise InvalidInput(
                f"metric {name!r} is a {spec.task} metric, but {candidate.uri} is scored as a "
                f"{candidate.task} model; use a {candidate.task} metric or set `task:` in the policy"
            )
        if spec.needs == "proba" and "predict_proba" not in candidate.model.methods:
            raise InvalidInput(
                f"metric {name!r} needs class probabilities, and {candidate.uri} has no predict_proba "
                f"(it offers {', '.join(candidate.model.methods)})"
            )

    def column(self, name: str, where: str) -> pd.Series[Any]:
        if name not in self.data.columns:
            shown = ", ".join(map(str, self.data.columns[:20]))
            raise InvalidInput(f"{where}: column {name!r} is not in the data (columns: {shown})")
        return self.data[name]

    def score(self, preds: Predictions, where: str) -> NDArray[np.float64]:
        """One number per row to compare: the positive class's probability, or the value."""
        if preds.classes is not None and preds.pos_label is None:
            raise InvalidInput(
                f"{where}: a model with {len(preds.classes)} classes has no single score per row; "
                "set the policy's `pos_label` to the class whose probability to compare"
            )
        try:
            return preds.score()
        except InvalidInput as exc:
            raise InvalidInput(f"{where}: {self.challenger.uri}: {exc}") from None


def subset(preds: Predictions, rows: NDArray[np.intp]) -> Predictions:
    return Predictions(
        labels=preds.labels[rows],
        proba=None if preds.proba is None else preds.proba[rows],
        classes=preds.classes,
        pos_label=preds.pos_label,
    )


def _kind(value: Any) -> str:
    """Text, a number (booleans included: True == 1), or the type's name: what a label can equal."""
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        return "text"
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return "number"
    return type(value).__name__


def _column(out: Any, n: int, where: str) -> NDArray[Any]:
    """A model's output as one value per row (a one-column frame or a (n, 1) array is accepted)."""
    values = np.asarray(out)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or len(values) != n:
        raise InvalidInput(f"{where}: returned shape {values.shape}; expected one value per row ({n},)")
    return values


def task_of(model: Model, given: Task | None) -> Task:
    """The policy's task, else classification when the model has classes or predict_proba."""
    if given is not None:
        return given
    if "predict_proba" in model.methods or model.manifest.options.get("classes") is not None:
        return "classification"
    return "regression"
