"""The one error tree of slipway.

Every error a user can cause or meet is a subclass of :class:`SlipwayError`; each also subclasses the
builtin that generic code expects (``except ValueError`` still catches bad input). Messages name the
thing that failed and what was expected, in one line. The edges map classes to transports: the CLI
prints the message and exits 2, the servers answer the ``status`` below with ``{"error": message}``.

::

    SlipwayError
    ├── NotFound (LookupError)             e.g. RunNotFound, ExperimentNotFound, ArtifactNotFound,
    │                                      ModelNotFound, ModelVersionNotFound, AliasNotFound,
    │                                      MonitorNotFound
    ├── InvalidInput (ValueError)          names the field or file and what was expected
    ├── Conflict                           e.g. AlreadyExists, SchemaOutOfDate, EnvironmentMismatch
    ├── IntegrityViolation                 an artifact digest mismatch; never downgraded to a warning
    ├── GateFailed                         a promotion blocked by validation
    │   └── DataValidationFailed           data with error anomalies against its schema
    ├── Unauthorized (PermissionError)     a missing or wrong bearer token
    ├── StoreUnavailable (ConnectionError) a database or server that does not answer
    ├── Overloaded                         a full queue or a request that waited too long (503)
    └── MissingExtra (ImportError)         names the extra to install

This module imports nothing from slipway.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AliasNotFound",
    "AlreadyExists",
    "ArtifactNotFound",
    "Conflict",
    "DataValidationFailed",
    "EnvironmentMismatch",
    "ExperimentNotFound",
    "GateFailed",
    "IntegrityViolation",
    "InvalidInput",
    "MissingExtra",
    "ModelNotFound",
    "ModelVersionNotFound",
    "MonitorNotFound",
    "NotFound",
    "Overloaded",
    "RunNotFound",
    "SchemaOutOfDate",
    "SlipwayError",
    "StoreUnavailable",
    "Unauthorized",
    "error_from_code",
    "first_line",
]


class SlipwayError(Exception):
    """Base of every error slipway raises on purpose."""

    code: ClassVar[str] = "internal"  # stable, machine-readable, sent over the wire
    status: ClassVar[int] = 500  # HTTP status the servers answer with

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(SlipwayError, LookupError):
    code = "not_found"
    status = 404


class RunNotFound(NotFound):
    code = "run_not_found"


class ExperimentNotFound(NotFound):
    code = "experiment_not_found"


class ArtifactNotFound(NotFound):
    code = "artifact_not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class ModelVersionNotFound(NotFound):
    code = "model_version_not_found"


class AliasNotFound(NotFound):
    code = "alias_not_found"


class MonitorNotFound(NotFound):
    code = "monitor_not_found"


class InvalidInput(SlipwayError, ValueError):
    code = "invalid_input"
    status = 400


class Conflict(SlipwayError):
    code = "conflict"
    status = 409


class AlreadyExists(Conflict):
    code = "already_exists"


class SchemaOutOfDate(Conflict):
    code = "schema_out_of_date"


class EnvironmentMismatch(Conflict):
    """A model's recorded requirements differ from what is installed (strict loading only)."""

    code = "environment_mismatch"


class IntegrityViolation(SlipwayError):
    code = "integrity_violation"
    status = 422


class GateFailed(SlipwayError):
    code = "gate_failed"
    status = 412


class DataValidationFailed(GateFailed):
    """Data broke its schema (``DataValidation.raise_for_anomalies``): a pipeline stops before training."""

    code = "data_validation_failed"


class Unauthorized(SlipwayError, PermissionError):
    code = "unauthorized"
    status = 401


class StoreUnavailable(SlipwayError, ConnectionError):
    code = "store_unavailable"
    status = 503


class Overloaded(SlipwayError):
    """The server is too busy for this request now (a full queue, a wait past the timeout): retry."""

    code = "overloaded"
    status = 503


class MissingExtra(SlipwayError, ImportError):
    code = "missing_extra"
    status = 501


def _all_subclasses(cls: type[SlipwayError]) -> list[type[SlipwayError]]:
    out: list[type[SlipwayError]] = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def error_from_code(code: str, message: str) -> SlipwayError:
    """Rebuild the error a server sent, so a remote store raises what a local one would."""
    candidates: list[type[SlipwayError]] = [SlipwayError, *_all_subclasses(SlipwayError)]
    for cls in candidates:
        if cls.code == code:
            return cls(message)
    return SlipwayError(message)


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or ``""``: the reason a one-line error quotes.

    A third-party message (SQLAlchemy, Dask, pandas) often runs to several lines of context that
    the CLI's one-line errors must not carry.
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
