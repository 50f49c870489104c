"""Identifiers, clocks and the rules for names users choose."""

from __future__ import annotations

import re
import time
import uuid
from pathlib import PurePosixPath

from slipway.errors import InvalidInput

_KEY = re.compile(r"^[A-Za-z0-9_\-. /:]{1,250}$")
_BATCH_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,64}")
_DEPLOYMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")

#: The longest param or tag value (and any other string a client sends the team server), in
#: characters. One limit for every store: the SQL store refuses longer values itself, and the
#: server's request models use the same number, so SQLite, PostgreSQL and HTTP accept the same.
MAX_VALUE_LENGTH = 100_000


# Tags tracking records on every run and models, registry and reproduce read back: one spelling.
GIT_COMMIT_TAG = "slipway.git.commit"
GIT_DIRTY_TAG = "slipway.git.dirty"
GIT_ROOT_TAG = "slipway.git.root"
SOURCE_CWD_TAG = "slipway.source.cwd"  # the folder a run started in, relative to the git root

# Columns of the prediction log (DESIGN.md) that a model's outputs and unnamed inputs become; the
# reference summary saved with a model uses the same names, so monitoring compares like with like.
PREDICTION_COLUMN = "prediction"


def proba_column(label: object) -> str:
    """The log column of ``predict_proba``'s column for class ``label``."""
    return f"proba_{label}"


def feature_column(index: int) -> str:
    """The log column of the ``index``-th column of an unnamed 2-D input."""
    return f"x{index}"


def new_id() -> str:
    """A random 32-hex-character identifier (runs, experiments, tokens)."""
    return uuid.uuid4().hex


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def validate_key(kind: str, key: str) -> str:
    """Check a param, metric or tag key; the message names the kind and what is allowed."""
    if not isinstance(key, str) or not _KEY.match(key) or key != key.strip():
        raise InvalidInput(
            f"{kind} key {key!r}: expected 1-250 characters of letters, digits, '_', '-', '.', ' ', '/', ':'"
        )
    return key


def validate_value(kind: str, key: str, value: str) -> str:
    """Check a param or tag value: a string of at most MAX_VALUE_LENGTH characters, without NUL.

    NUL is refused because PostgreSQL cannot store it in text (SQLite could): every store agrees.
    """
    if not isinstance(value, str):
        raise InvalidInput(f"{kind} {key!r}: expected a string value, got {type(value).__name__}")
    if len(value) > MAX_VALUE_LENGTH:
        raise InvalidInput(
            f"{kind} {key!r}: value of {len(value)} characters; expected at most {MAX_VALUE_LENGTH}"
        )
    if "\x00" in value:
        raise InvalidInput(f"{kind} {key!r}: NUL characters are not allowed in values")
    return value


def validate_batch_id(batch_id: str) -> str:
    """Check the id a writer gives a metric batch so that a resent batch is applied only once."""
    if not isinstance(batch_id, str) or not _BATCH_ID.fullmatch(batch_id):
        raise InvalidInput(
            f"batch_id {batch_id!r:.80}: expected 1-64 characters of letters, digits, '_', '-', '.', ':'"
        )
    return batch_id


def validate_deployment_name(name: object, *, kind: str = "deployment name") -> str:
    """Check a deployment's name, or an arm's or variant's: 1-128 letters, digits, ``_ . -``.

    The first character is a letter or a digit. One rule for the deployment file, the server and
    the prediction log, where the name becomes part of a path and a partition value (so nothing
    else, not even a trailing newline, may pass). ``kind`` names the value in the message.
    """
    if not isinstance(name, str) or not _DEPLOYMENT_NAME.fullmatch(name):
        raise InvalidInput(
            f"{kind} {name!r:.80}: expected 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or a digit"
        )
    return name


def validate_artifact_path(path: str) -> str:
    """Normalise a relative artifact path; refuse traversal, absolute paths and empty parts."""
    if not isinstance(path, str) or not path or "\x00" in path or "\\" in path:
        raise InvalidInput(f"artifact path {path!r}: expected a non-empty relative POSIX path")
    p = PurePosixPath(path)
    parts = [part for part in p.parts if part not in ("", ".")]
    normalised = "/".join(parts)
    # Checked on the normalised form too, so "./~" or "./C:" cannot become "~" or "C:".
    if p.is_absolute() or any(
        form.startswith("~") or (len(form) > 1 and form[1] == ":") for form in (path, normalised)
    ):
        raise InvalidInput(f"artifact path {path!r}: expected a relative path, not an absolute one")
    if not parts or any(part == ".." for part in parts):
        raise InvalidInput(f"artifact path {path!r}: '..' and empty paths are not allowed")
    return normalised
