"""Showing a store URI to a user: never its password, even when the URI does not parse."""

from __future__ import annotations

import re

# scheme://user:password@host → scheme://user:***@host; the last '@' before the path ends the
# userinfo, so a password holding '@' or ':' is hidden whole.
_PASSWORD = re.compile(r"^(?P<head>[^:/?#]*://[^:/?#@]*:)[^/?#]*@")


def masked(uri: str) -> str:
    """``uri`` with its password replaced by ``***``; works on URIs no parser accepts."""
    return _PASSWORD.sub(lambda m: f"{m.group('head')}***@", str(uri), count=1)
