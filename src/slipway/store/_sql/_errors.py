"""Translation of SQLAlchemy and driver exceptions into slipway errors.

This is the only module that knows SQLAlchemy's exception classes: everything above it sees
:mod:`slipway.errors`. Messages are one line and never carry a password.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

import sqlalchemy.exc as sa_exc
from sqlalchemy.engine import make_url

from slipway.errors import Conflict, InvalidInput, SlipwayError, StoreUnavailable
from slipway.store import _uri

if TYPE_CHECKING:
    from collections.abc import Iterator

# What SQLite says when the file is there but is not a database it can use.
_NOT_A_DATABASE = ("file is not a database", "malformed", "file is encrypted")


def masked(url: str) -> str:
    """The URL as it may be shown to a user: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (sa_exc.ArgumentError, ValueError):  # e.g. a port that is not a number
        return _uri.masked(url)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


@contextmanager
def translated(url: str, *, conflict: SlipwayError | None = None) -> Iterator[None]:
    """Run a block against the database, turning driver failures into slipway errors.

    ``conflict`` is what a unique-key violation means to the caller (e.g. AlreadyExists for a
    name), for the race where two writers pass the existence check at the same time.
    """
    try:
        yield
    except SlipwayError:
        raise
    except sa_exc.IntegrityError as exc:
        if conflict is not None:
            raise conflict from exc
        raise Conflict(
            f"metadata store {masked(url)}: the change conflicts with existing data ({_first_line(exc)})"
        ) from exc
    except sa_exc.DataError as exc:
        raise InvalidInput(
            f"metadata store {masked(url)}: a value does not fit its column ({_first_line(exc)})"
        ) from exc
    except OverflowError as exc:  # the SQLite driver refuses integers beyond 64 bits before SQL runs
        raise InvalidInput(
            f"metadata store {masked(url)}: a number does not fit in 64 bits ({exc}); "
            "expected integers between -2**63 and 2**63-1"
        ) from exc
    except (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError) as exc:
        raise StoreUnavailable(f"metadata store {masked(url)} is unavailable: {_first_line(exc)}") from exc
    except sa_exc.DatabaseError as exc:  # ProgrammingError, InternalError, NotSupportedError, …
        reason = _first_line(exc)
        if any(text in reason for text in _NOT_A_DATABASE):
            raise InvalidInput(
                f"metadata store {masked(url)}: not a SQLite database ({reason}); expected a slipway "
                "database file or the path of a new one"
            ) from exc
        raise StoreUnavailable(f"metadata store {masked(url)} refused the request: {reason}") from exc
    except sa_exc.ArgumentError as exc:
        raise InvalidInput(f"store URI {masked(url)!r}: {_first_line(exc)}") from exc
