"""What to serve: deployments read from ``deployment.yaml`` or built from one model URI.

A deployment is a name (the OIP model name clients call) and the models that answer for it: the
primary, an optional weighted canary (with its automatic-rollback thresholds), an optional sticky A/B
split, and an optional shadow. Unknown keys are errors, so a typo'd ``max_batch_sise`` is caught
before the server starts rather than silently ignored; so are a key given twice (YAML keeps the last)
and a value of the wrong type (``"8"`` is not 8, ``true`` is not a weight).
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from slipway.core import validate_deployment_name
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    import yaml

__all__ = [
    "ABSpec",
    "ArmSpec",
    "BatchingSpec",
    "CanarySpec",
    "DeploymentSpec",
    "RollbackSpec",
    "load_deployments",
    "parse_duration",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: object, *, where: str = "duration") -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"250ms"`` or ``"1h"``; positive and finite."""
    try:
        return _seconds(value)
    except ValueError as e:
        raise InvalidInput(f"{where}: {e}") from None


def _seconds(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 5m or 250ms, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value)) if isinstance(value, str) else None
        if m is None:
            raise ValueError(f"expected a duration such as 30s, 5m or 250ms, got {value!r:.40}")
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2) or "s"]
    # NaN would compare false with every deadline and inf would never expire: both are typos here
    if not seconds > 0 or not math.isfinite(seconds):
        raise ValueError(f"expected a positive, finite duration, got {value!r}")
    return seconds


class _Strict(BaseModel):
    # strict: a config file's "8" is not 8, 8.5 is not an int and `true` is not a weight of 1.0
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class BatchingSpec(_Strict):
    """At most ``max_batch_size`` requests go into one model call; nothing ever waits for a batch.

    A request that finds the model idle is predicted at once, alone; requests that queue while it
    is busy go together into its next call. ``max_latency_ms``, the batching wait other servers
    (MLServer, say) allow, is accepted so their deployment files work unchanged: it adds no wait
    and does not split batches.
    """

    max_batch_size: int = Field(default=64, ge=1, le=100_000)
    max_latency_ms: float = Field(default=5.0, ge=0, le=60_000)


class RollbackSpec(_Strict):
    """Take the canary out when, over the last ``window``, it fails too often or too slowly."""

    max_error_rate: float | None = Field(default=None, ge=0, le=1)
    max_p95_ms: float | None = Field(default=None, gt=0)
    window: float = 300.0
    min_requests: int = Field(default=20, ge=1)

    @field_validator("window", mode="before")
    @classmethod
    def _window(cls, v: object) -> float:
        return _seconds(v)


class CanarySpec(_Strict):
    model: str = Field(min_length=1)
    weight: float = Field(default=0.1, ge=0, le=1)
    rollback: RollbackSpec | None = None


class ArmSpec(_Strict):
    model: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)


class ABSpec(_Strict):
    """A sticky split: the same key always gets the same arm (a hash of the key, not a coin)."""

    key: str  # "header:<name>" or "field:<input name>"
    arms: dict[str, ArmSpec]

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        kind, _, name = v.partition(":")
        if kind not in ("header", "field") or not name:
            raise ValueError("expected 'header:<header name>' or 'field:<input name>'")
        return f"header:{name.lower()}" if kind == "header" else v

    @field_validator("arms")
    @classmethod
    def _arms(cls, v: dict[str, ArmSpec]) -> dict[str, ArmSpec]:
        if len(v) < 2:
            raise ValueError("expected at least two arms")
        for name in v:
            validate_deployment_name(name, kind="arm name")  # an arm is logged as a variant
            if name in ("primary", "canary", "shadow", "batch"):
                raise ValueError(f"arm name {name!r}: a variant's name; choose another")
        return v


class DeploymentSpec(_Strict):
    name: str
    model: str | None = Field(default=None, min_length=1)
    canary: CanarySpec | None = None
    shadow: str | None = Field(default=None, min_length=1)
    ab: ABSpec | None = None
    batching: BatchingSpec = Field(default_factory=lambda: BatchingSpec())
    max_queue: int = Field(default=1024, ge=1)
    timeout: float = 30.0
    poll_interval: float = 10.0
    extra_columns: Literal["drop", "reject"] = "drop"
    log_predictions: bool = True
    log_probabilities: bool = True  # also compute predict_proba for the log (monitoring estimates from it)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_deployment_name(v)

    @field_validator("timeout", "poll_interval", mode="before")
    @classmethod
    def _durations(cls, v: object) -> float:
        return _seconds(v)

    @model_validator(mode="after")
    def _one_source(self) -> DeploymentSpec:
        if (self.model is None) == (self.ab is None):
            raise ValueError("expected either 'model' or 'ab' (an A/B split names its own models)")
        if self.ab is not None and self.canary is not None:
            raise ValueError("'canary' and 'ab' cannot be combined; give the canary as an arm")
        return self

    @classmethod
    def single(cls, uri: str, *, name: str | None = None, **options: Any) -> DeploymentSpec:
        """A deployment of one model, named after it unless ``name`` is given."""
        return _validate({"name": name or default_name(uri), "model": uri, **options}, where=f"model {uri}")


def default_name(uri: str) -> str:
    """``models:/churn@production`` -> ``churn``; ``runs:/<id>/path`` -> ``path``; a folder -> its name.

    A name that is not a valid deployment name (a space in a folder's name, say) becomes ``model``.
    """
    if uri.startswith("models:/"):
        name = re.split(r"[@/]", uri[len("models:/") :], maxsplit=1)[0]
    elif uri.startswith("runs:/"):
        parts = [p for p in uri[len("runs:/") :].split("/") if p]
        name = parts[-1] if len(parts) > 1 else "model"
    else:
        name = Path(uri.removeprefix("file://")).resolve().name
    try:
        return validate_deployment_name(name)
    except InvalidInput:
        return "model"


def _validate(doc: object, *, where: str) -> DeploymentSpec:
    try:
        return DeploymentSpec.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "deployment"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] in ("model_type", "dict_type"):
            msg = f"expected a mapping of keys to values, got {_type_name(err['input'])}"
        raise InvalidInput(f"{where}: {loc}: {msg}") from None


def _type_name(value: object) -> str:
    return {type(None): "nothing", str: "a string", list: "a list"}.get(type(value), type(value).__name__)


def load_deployments(path: str | Path) -> list[DeploymentSpec]:
    """Deployments from a YAML file: a mapping, a list, several documents, or ``deployments: [...]``."""
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{file}: no such deployment file") from None
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{file}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise InvalidInput(f"{file}: cannot read it ({e.strerror})") from None
    try:
        docs = [d for d in yaml.load_all(text, Loader=_loader()) if d is not None]  # a SafeLoader
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None)
        why = f" ({' '.join(str(problem).split())})" if problem else ""
        raise InvalidInput(f"{file}: not valid YAML{at}{why}") from None
    items: list[object] = []
    for d in docs:
        if isinstance(d, dict) and "deployments" in d:
            if set(d) != {"deployments"}:
                others = ", ".join(repr(str(k)) for k in d if k != "deployments")
                raise InvalidInput(
                    f"{file}: deployments: expected it alone at the top level, got also {others}"
                )
            listed = d["deployments"]
            if not isinstance(listed, (list, dict)):
                raise InvalidInput(
                    f"{file}: deployments: expected a list of deployments, got {_type_name(listed)}"
                )
            items.extend(listed if isinstance(listed, list) else [listed])
        elif isinstance(d, list):
            items.extend(d)
        else:
            items.append(d)
    if not items:
        raise InvalidInput(f"{file}: no deployment in it (expected name: and model:)")
    specs = [_validate(item, where=_where(file, i, item)) for i, item in enumerate(items)]
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise InvalidInput(f"{file}: deployment name {s.name!r} appears twice")
        seen.add(s.name)
    return specs


def _where(file: Path, i: int, item: object) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    try:
        shown = f" ({validate_deployment_name(name)})"
    except InvalidInput:
        shown = ""  # a bad name is shown by its own error, quoted (it may hold a newline)
    return f"{file} deployment {i + 1}{shown}"


@functools.cache
def _loader() -> type[yaml.SafeLoader]:
    """PyYAML's safe loader, except that a key given twice is an error (PyYAML keeps the last)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: set[object] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` may be overridden key by key; that is its purpose
                key = self.construct_object(key_node, deep=deep)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable: the base class reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping",
                        node.start_mark,
                        f"key {key!r} appears twice",
                        key_node.start_mark,
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader
