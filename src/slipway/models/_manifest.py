"""The manifest, ``slipway.yaml``: what a model folder holds and how to load it.

The file is YAML a person can read, closed by one line that protects it::

    format_version: 1
    flavor: {name: sklearn, data: [model.pkl], options: {...}}
    ...
    files: {model.pkl: 9f86d0…, requirements.txt: 2c26b4…}
    manifest_digest: 4e07408…

``files`` holds the SHA-256 of every other file in the folder, and ``manifest_digest`` the SHA-256
of every byte above its own line, so an edit anywhere is caught at load. The digest guards against
accidents and careless edits; against an attacker who can rewrite the whole folder, the anchor is
the manifest's digest as the run (or the registry) recorded it, which ``load_model`` compares too.
Parsing is a pure function of the bytes (:func:`parse_manifest`); :func:`write_manifest` is the one
writer, so a deliberate change is made through code, never by hand.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slipway.core import Signature, validate_artifact_path
from slipway.errors import IntegrityViolation, InvalidInput

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "DatasetRef",
    "Lineage",
    "Manifest",
    "parse_manifest",
    "read_manifest",
    "render_manifest",
    "write_manifest",
]

MANIFEST_FILE = "slipway.yaml"
FORMAT_VERSION = 1
_DIGEST_KEY = "manifest_digest: "


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetRef:
    """A dataset the model was trained or evaluated on, by content digest (see ``log_dataset``)."""

    digest: str
    name: str = ""
    role: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"digest": self.digest, "name": self.name, "role": self.role}


@dataclass(frozen=True, slots=True, kw_only=True)
class Lineage:
    """Where a model came from: its run, the datasets that run recorded, the code commit."""

    run_id: str | None = None
    datasets: tuple[DatasetRef, ...] = ()
    git_commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "datasets": [d.to_dict() for d in self.datasets],
            "git_commit": self.git_commit,
        }

    @classmethod
    def from_dict(cls, data: object) -> Lineage:
        d = _mapping("lineage", data)
        sets = d.get("datasets") or []
        if not isinstance(sets, list):
            raise InvalidInput("manifest lineage: 'datasets' must be a list")
        return cls(
            run_id=_opt_str("lineage.run_id", d.get("run_id")),
            git_commit=_opt_str("lineage.git_commit", d.get("git_commit")),
            datasets=tuple(
                DatasetRef(
                    digest=str(_mapping("lineage dataset", s).get("digest", "")),
                    name=str(s.get("name", "")),
                    role=str(s.get("role", "")),
                )
                for s in sets
            ),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    """A model folder's description; ``files`` maps each other file's path to its SHA-256.

    .. versionadded:: 0.1
    """

    flavor: str
    options: Mapping[str, Any]  # the flavor's loader options
    data: tuple[str, ...]  # the files the flavor wrote
    files: Mapping[str, str]
    python_version: str
    requirements: tuple[str, ...]
    slipway_version: str
    created_at: str  # ISO 8601, UTC
    signature: Signature | None = None
    input_example: str | None = None
    code: str | None = None  # a folder put on sys.path before loading
    lineage: Lineage | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format_version": self.format_version,
            "flavor": {"name": self.flavor, "data": list(self.data), "options": dict(self.options)},
            "signature": self.signature.to_dict() if self.signature is not None else None,
            "input_example": self.input_example,
            "python_version": self.python_version,
            "requirements": list(self.requirements),
            "code": self.code,
            "lineage": self.lineage.to_dict() if self.lineage is not None else None,
            "metadata": dict(self.metadata),
            "slipway_version": self.slipway_version,
            "created_at": self.created_at,
            "files": dict(sorted(self.files.items())),
        }
        return out

    @classmethod
    def from_dict(cls, data: object) -> Manifest:
        d = _mapping("manifest", data)
        version = d.get("format_version")
        if not isinstance(version, int) or version < 1:
            raise InvalidInput(f"manifest: format_version {version!r}: expected a whole number from 1")
        if version > FORMAT_VERSION:
            raise InvalidInput(
                f"manifest: format_version {version} was written by a newer slipway "
                f"(this one reads up to {FORMAT_VERSION}); upgrade slipway to load it"
            )
        flavor = _mapping("manifest flavor", d.get("flavor"))
        name = flavor.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidInput("manifest: flavor.name: expected the flavor's name")
        files = _mapping("manifest files", d.get("files"))
        for path, digest in files.items():
            _check_path(path)
            if not isinstance(digest, str) or len(digest) != 64:
                raise InvalidInput(f"manifest: files[{path!r}]: expected a SHA-256 hex digest")
        sig, lineage = d.get("signature"), d.get("lineage")
        example, code = d.get("input_example"), d.get("code")
        return cls(
            format_version=version,
            flavor=name,
            options=dict(_mapping("manifest flavor.options", flavor.get("options") or {})),
            data=tuple(_check_path(p) for p in _list("flavor.data", flavor.get("data"))),
            files=dict(files),
            python_version=str(d.get("python_version", "")),
            requirements=tuple(str(r) for r in _list("requirements", d.get("requirements"))),
            slipway_version=str(d.get("slipway_version", "")),
            created_at=str(d.get("created_at", "")),
            signature=None if sig is None else Signature.from_dict(sig),
            input_example=None if example is None else _check_path(example),
            code=None if code is None else _check_path(code),
            lineage=None if lineage is None else Lineage.from_dict(lineage),
            metadata=dict(_mapping("manifest metadata", d.get("metadata") or {})),
        )


def render_manifest(manifest: Manifest) -> bytes:
    """The manifest's bytes, closed by the digest of everything above it."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    body = yaml.dump(manifest.to_dict(), Dumper=dumper, sort_keys=False, allow_unicode=True).encode()
    return body + f"{_DIGEST_KEY}{hashlib.sha256(body).hexdigest()}\n".encode()


def parse_manifest(data: bytes, *, where: str = MANIFEST_FILE) -> Manifest:
    """Check the closing digest, then parse; an edited manifest is an IntegrityViolation."""
    import yaml

    body, sep, last = data.rstrip(b"\n").rpartition(b"\n")
    body += sep
    if not last.startswith(_DIGEST_KEY.encode()):
        raise IntegrityViolation(f"{where}: its last line must be 'manifest_digest: …'; the file is damaged")
    recorded = last[len(_DIGEST_KEY) :].decode(errors="replace").strip()
    actual = hashlib.sha256(body).hexdigest()
    if recorded != actual:
        raise IntegrityViolation(
            f"{where} was changed after it was written (its digest is sha256:{actual}, "
            f"it records sha256:{recorded}); refusing to load it"
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        parsed = yaml.load(body, Loader=loader)  # a safe loader, chosen above
    except yaml.YAMLError as exc:
        raise InvalidInput(f"{where}: not valid YAML: {exc}") from None
    return Manifest.from_dict(parsed)


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{folder}: not a slipway model folder (no {MANIFEST_FILE})") from None
    return parse_manifest(data, where=str(path))


def write_manifest(folder: Path, manifest: Manifest) -> bytes:
    """Write ``slipway.yaml``; the one way to change a manifest (it re-computes the closing digest)."""
    data = render_manifest(manifest)
    (folder / MANIFEST_FILE).write_bytes(data)
    return data


def check_json(where: str, value: object) -> None:
    """Refuse what the manifest could not hold (or would not read back the same)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"{where}: expected JSON-compatible values (str, numbers, lists, dicts): {exc}"
        ) from None


def _check_path(path: object) -> str:
    if not isinstance(path, str):
        raise InvalidInput(f"manifest: file name {path!r}: expected a string")
    normalised = validate_artifact_path(path)
    if normalised != path:
        raise InvalidInput(f"manifest: file name {path!r}: expected the normal form {normalised!r}")
    return path


def _mapping(where: str, data: object) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInput(f"{where}: expected a mapping, got {type(data).__name__}")
    return data


def _list(where: str, data: object) -> Sequence[Any]:
    if data is None:
        return []
    if not isinstance(data, list):
        raise InvalidInput(f"manifest: {where}: expected a list, got {type(data).__name__}")
    return data


def _opt_str(where: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"manifest: {where}: expected a string")
    return value
