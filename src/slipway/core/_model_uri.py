"""Model URIs, the convention MLflow users already know, parsed into values.

``runs:/RUN_ID/PATH`` (a model logged to a run), ``models:/NAME/VERSION`` and ``models:/NAME@ALIAS``
(the registry), and plain local paths (``./model``, ``/abs/model``, ``file:///abs/model``).
Parsing is pure and total: every string either parses or raises :class:`InvalidInput` saying which
form was expected, and ``str()`` of a parsed URI parses back to the same value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeAlias

from slipway.core._names import validate_artifact_path
from slipway.errors import InvalidInput

__all__ = [
    "LocalModelUri",
    "ModelUri",
    "RegistryModelUri",
    "RunModelUri",
    "parse_model_uri",
    "validate_alias",
    "validate_model_name",
]

_RUN_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_\-]{0,62}")
_VERSION_LIKE = re.compile(r"[vV]\d+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]+):")


def validate_model_name(name: str) -> str:
    """A registered model's name: 1-200 letters, digits, ``_``, ``.``, ``-``, starting alphanumeric."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"model name {name!r}: expected 1-200 letters, digits, '_', '.', '-' "
            "starting with a letter or digit"
        )
    return name


def validate_alias(alias: str) -> str:
    """An alias (``production``, ``champion`` …); ``v3``-like names are refused as they read as versions."""
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias) or _VERSION_LIKE.fullmatch(alias):
        raise InvalidInput(
            f"alias {alias!r}: expected 1-63 letters, digits, '_', '-' starting with a letter "
            "(and not like 'v3', which reads as a version)"
        )
    return alias


@dataclass(frozen=True, slots=True, kw_only=True)
class RunModelUri:
    """``runs:/RUN_ID/PATH``: the model under ``PATH`` in a run's artifacts."""

    run_id: str
    path: str

    def __str__(self) -> str:
        return f"runs:/{self.run_id}/{self.path}"


@dataclass(frozen=True, slots=True, kw_only=True)
class RegistryModelUri:
    """``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``: exactly one of version and alias is set."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __post_init__(self) -> None:
        if (self.version is None) == (self.alias is None):
            raise InvalidInput(f"models:/{self.name}: expected exactly one of a version and an alias")

    def __str__(self) -> str:
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.version}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LocalModelUri:
    """A model folder on this machine."""

    path: str

    def __str__(self) -> str:
        return self.path


ModelUri: TypeAlias = RunModelUri | RegistryModelUri | LocalModelUri
"""Any parsed model URI."""


def parse_model_uri(uri: str) -> ModelUri:
    """Parse a model URI; raise InvalidInput naming the form that was expected."""
    if not isinstance(uri, str) or not uri or "\x00" in uri:
        raise InvalidInput(f"model URI {uri!r}: expected runs:/RUN_ID/PATH, models:/NAME@ALIAS or a path")
    if uri.startswith("runs:"):
        return _parse_runs(uri)
    if uri.startswith("models:"):
        return _parse_models(uri)
    if uri.startswith("file://"):
        path = uri[len("file://") :]
        if not path.startswith("/"):
            raise InvalidInput(f"model URI {uri!r}: expected file:///absolute/path")
        return LocalModelUri(path=path)
    scheme = _SCHEME.match(uri)
    if scheme and uri[scheme.end() :].startswith("/"):  # "C:\\x" and "C:/x" are Windows paths
        raise InvalidInput(
            f"model URI {uri!r}: scheme {scheme.group(1)!r} is not supported; "
            "expected runs:/RUN_ID/PATH, models:/NAME/VERSION, models:/NAME@ALIAS or a local folder"
        )
    return LocalModelUri(path=uri)


def _parse_runs(uri: str) -> RunModelUri:
    rest = uri[len("runs:") :]
    expected = f"model URI {uri!r}: expected runs:/RUN_ID/PATH (e.g. runs:/0123abcd/model)"
    if not rest.startswith("/") or rest.startswith("//"):
        raise InvalidInput(expected)
    run_id, sep, path = rest[1:].partition("/")
    if not sep or not _RUN_ID.fullmatch(run_id) or not path.strip("/"):
        raise InvalidInput(expected)
    try:
        return RunModelUri(run_id=run_id, path=validate_artifact_path(path.rstrip("/")))
    except InvalidInput as exc:
        raise InvalidInput(f"{expected}: {exc}") from None


def _parse_models(uri: str) -> RegistryModelUri:
    rest = uri[len("models:") :]
    expected = f"model URI {uri!r}: expected models:/NAME/VERSION or models:/NAME@ALIAS"
    if not rest.startswith("/") or rest.startswith("//"):
        raise InvalidInput(expected)
    body = rest[1:]
    if "@" in body:
        name, _, alias = body.partition("@")
        try:
            return RegistryModelUri(name=validate_model_name(name), alias=validate_alias(alias))
        except InvalidInput as exc:
            raise InvalidInput(f"{expected}: {exc}") from None
    name, sep, version = body.partition("/")
    if not sep or not version.isascii() or not version.isdigit() or int(version) < 1 or version[0] == "0":
        raise InvalidInput(f"{expected} (a version is a whole number from 1)")
    try:
        return RegistryModelUri(name=validate_model_name(name), version=int(version))
    except InvalidInput as exc:
        raise InvalidInput(f"{expected}: {exc}") from None
