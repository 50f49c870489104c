"""File digests of a model folder: computed at save, verified before anything is loaded.

Every file but the manifest is listed with its SHA-256; at load a file that differs, is missing, or
is not listed is an :class:`IntegrityViolation` naming it, and nothing of the folder has been
unpickled or imported yet. Symbolic links are refused outright: they could point anywhere.

``__pycache__`` folders count as unlisted files on purpose: Python would import a ``.pyc`` from
``code/`` in preference to its source, so one dropped there must not pass. Loading therefore
imports a model's code with bytecode writing switched off.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from slipway.errors import IntegrityViolation

if TYPE_CHECKING:
    from slipway.models._manifest import Manifest

__all__ = ["digest_folder", "sha256_file", "verify_folder", "walk_files"]

_CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def walk_files(folder: Path, skip: str = "") -> dict[str, Path]:
    """Relative POSIX path -> file, refusing links; ``skip`` is the manifest's own name."""
    out: dict[str, Path] = {}
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in dirs + files:
            if (base / name).is_symlink():
                rel = (base / name).relative_to(folder).as_posix()
                raise IntegrityViolation(
                    f"model folder {folder}: {rel!r} is a symbolic link; refusing to load"
                )
        for name in files:
            rel = (base / name).relative_to(folder).as_posix()
            if rel != skip:
                out[rel] = base / name
    return out


def digest_folder(folder: Path, *, skip: str) -> dict[str, str]:
    return {rel: sha256_file(p) for rel, p in sorted(walk_files(folder, skip).items())}


def verify_folder(folder: Path, manifest: Manifest, *, skip: str) -> None:
    """Raise IntegrityViolation naming the first file that differs from the manifest's listing."""
    found = walk_files(folder, skip)
    for rel in sorted(set(found) - set(manifest.files)):
        raise IntegrityViolation(
            f"model folder {folder}: file {rel!r} is not listed in the manifest; "
            "something was added after the model was saved, so it was not loaded"
        )
    for rel, expected in sorted(manifest.files.items()):
        path = found.get(rel)
        if path is None:
            raise IntegrityViolation(f"model folder {folder}: file {rel!r} listed in the manifest is missing")
        actual = sha256_file(path)
        if actual != expected:
            raise IntegrityViolation(
                f"model folder {folder}: file {rel!r} does not match its recorded digest "
                f"(recorded sha256:{expected[:16]}…, found sha256:{actual[:16]}…); "
                "it was altered after the model was saved, so nothing was loaded"
            )
