"""What to serve: deployments read from ``deployment.yaml`` or built from one model URI.

A deployment is a name (the OIP model name clients call) and the models that answer for it: the
primary, an optional weighted canary (with its automatic-rollback thresholds), an optional sticky A/B
split, and an optional shadow. Unknown keys are errors, so a typo'd ``max_batch_sise`` is caught
before the server starts rather than silently ignored.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from slipway.errors import InvalidInput

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

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")


def parse_duration(value: object, *, where: str = "duration") -> float:
    """Seconds from ``90``, ``"90s"``, ``"5m"``, ``"250ms"`` or ``"1h"``."""
    if isinstance(value, bool):
        raise InvalidInput(f"{where}: expected a duration such as 30s or 5m, got {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if m is None:
            raise InvalidInput(f"{where}: expected a duration such as 30s, 5m or 250ms, got {value!r}")
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}[m.group(2) or "s"]
    if seconds <= 0:
        raise InvalidInput(f"{where}: expected a positive duration, got {value!r}")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BatchingSpec(_Strict):
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
        return parse_duration(v, where="rollback.window")


class CanarySpec(_Strict):
    model: str
    weight: float = Field(default=0.1, ge=0, le=1)
    rollback: RollbackSpec | None = None


class ArmSpec(_Strict):
    model: str
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
            if not _NAME.match(name) or name in ("primary", "canary", "shadow", "batch"):
                raise ValueError(f"arm name {name!r}: expected letters, digits, _ . - and not a variant name")
        return v


class DeploymentSpec(_Strict):
    name: str
    model: str | None = None
    canary: CanarySpec | None = None
    shadow: str | None = None
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
        if not _NAME.match(v):
            raise ValueError(
                "expected 1-128 letters, digits, '_', '.' or '-', starting with a letter or digit"
            )
        return v

    @field_validator("timeout", "poll_interval", mode="before")
    @classmethod
    def _durations(cls, v: object) -> float:
        return parse_duration(v)

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
    """``models:/churn@production`` -> ``churn``; a folder -> its name."""
    if uri.startswith("models:/"):
        rest = uri[len("models:/") :]
        return re.split(r"[@/]", rest, maxsplit=1)[0]
    if uri.startswith("runs:/"):
        parts = [p for p in uri[len("runs:/") :].split("/") if p]
        return parts[-1] if len(parts) > 1 else "model"
    name = Path(uri.removeprefix("file://")).resolve().name
    return name if _NAME.match(name) else "model"


def _validate(doc: object, *, where: str) -> DeploymentSpec:
    try:
        return DeploymentSpec.model_validate(doc)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "deployment"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        raise InvalidInput(f"{where}: {loc}: {msg}") from None


def load_deployments(path: str | Path) -> list[DeploymentSpec]:
    """Deployments from a YAML file: one mapping, a list of them, or several YAML documents."""
    import yaml

    file = Path(path)
    try:
        text = file.read_text()
    except FileNotFoundError:
        raise InvalidInput(f"{file}: no such deployment file") from None
    except OSError as e:
        raise InvalidInput(f"{file}: cannot read it ({e.strerror})") from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"{file}: not valid YAML{at}") from None
    items: list[object] = []
    for d in docs:
        if isinstance(d, dict) and "deployments" in d and set(d) == {"deployments"}:
            items.extend(d["deployments"] if isinstance(d["deployments"], list) else [d["deployments"]])
        elif isinstance(d, list):
            items.extend(d)
        else:
            items.append(d)
    if not items:
        raise InvalidInput(f"{file}: no deployment in it (expected name: and model:)")
    specs = [_validate(item, where=f"{file} deployment {i + 1}") for i, item in enumerate(items)]
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise InvalidInput(f"{file}: deployment name {s.name!r} appears twice")
        seen.add(s.name)
    return specs
