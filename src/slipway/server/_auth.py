"""Bearer-token checks for the ``/api/v1`` routes.

Tokens live in the metadata store as hashes (``slipway token create``). A training job flushes
metrics several times a second, so a verified token is remembered for a few seconds instead of
costing a database read per call; the price is that a revoked token keeps working for at most
that long.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from slipway.errors import Unauthorized

if TYPE_CHECKING:
    from slipway.core import TokenInfo
    from slipway.store import MetadataStore

#: Declared once so that the OpenAPI document shows the scheme; the check itself is ours.
bearer_scheme = HTTPBearer(auto_error=False, description="a token from `slipway token create`")

_HOW = "send 'Authorization: Bearer <token>' (create one with `slipway token create --name NAME`)"


class TokenVerifier:
    def __init__(self, store: MetadataStore, *, ttl: float = 5.0) -> None:
        self._store = store
        self._ttl = ttl
        self._cache: dict[str, tuple[float, TokenInfo]] = {}
        self._lock = threading.Lock()

    async def verify(
        self, credentials: HTTPAuthorizationCredentials | None, *, fresh: bool = False
    ) -> TokenInfo:
        """The caller's token, or Unauthorized naming what was missing; ``fresh`` skips the cache."""
        if credentials is None or not credentials.credentials:
            raise Unauthorized(f"missing bearer token: {_HOW}")
        secret = credentials.credentials
        now = time.monotonic()
        hit = self._cache.get(secret)
        if hit is not None and hit[0] > now and not fresh:
            return hit[1]
        info = await run_in_threadpool(self._store.verify_token, secret)
        if info is None or info.revoked:
            with self._lock:
                self._cache.pop(secret, None)
            raise Unauthorized(f"the bearer token is not valid (unknown or revoked): {_HOW}")
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: a flood of distinct valid tokens cannot grow it
                self._cache.clear()
            self._cache[secret] = (now + self._ttl, info)
        return info
