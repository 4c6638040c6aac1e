"""Rate limits of the web app and the MCP server: one token bucket per (key, scope), kept in
memory. The key is the user for authenticated requests, the email or the client address for
sign-up and login.

A bucket holds up to `requests` tokens and refills at `requests / per_seconds` a second; a
request takes one token or is refused with the seconds until one is back. The state lives in the
process, so each web worker limits on its own (specs/rate-limits.md says why that is enough).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from taskflow.config import RateLimit

API = "api"  # every authenticated request of the web app
CHAT = "chat"  # a chat turn, on top of API: it may call a paid language model
AUTH_EMAIL = "sign-up/login per email"  # an attempt naming this email
AUTH_CLIENT = "sign-up/login per client"  # an attempt from this client address
MCP = "mcp"  # a request to the MCP server's HTTP transport

# Buckets of users who went quiet are dropped once this many exist, so memory stays bounded.
MAX_BUCKETS = 100_000


class RateLimited(Exception):
    def __init__(self, scope: str, limit: RateLimit, retry_after_seconds: int) -> None:
        super().__init__(f"{scope} rate limit exceeded; retry after {retry_after_seconds} s")
        self.scope = scope
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds

    def answer(self) -> dict[str, Any]:
        """The JSON body of the 429 (the Retry-After header carries the same seconds)."""
        return {
            "error": {
                "reason": f"too many requests: at most {self.limit.requests} {self.scope} "
                f"requests per {self.limit.per_seconds:g} s; retry after "
                f"{self.retry_after_seconds} s",
                "retry_after_seconds": self.retry_after_seconds,
            }
        }


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class RateLimiter:
    def __init__(
        self,
        limits: Mapping[str, RateLimit],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def admit(self, key: str, scope: str) -> None:
        """Take one token of the key's bucket for `scope`, or raise RateLimited."""
        limit = self._limits[scope]
        refill_per_second = limit.requests / limit.per_seconds
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get((key, scope))
            if bucket is None:
                self._make_room(now)
                bucket = self._buckets[(key, scope)] = _Bucket(limit.requests, now)
            bucket.tokens = min(
                limit.requests, bucket.tokens + (now - bucket.updated_at) * refill_per_second
            )
            bucket.updated_at = now
            if bucket.tokens < 1:
                wait = (1 - bucket.tokens) / refill_per_second
                raise RateLimited(scope, limit, max(1, math.ceil(wait)))
            bucket.tokens -= 1

    def _make_room(self, now: float) -> None:
        """Forget the buckets that are full again: forgetting one changes nothing."""
        if len(self._buckets) < MAX_BUCKETS:
            return
        for key, bucket in list(self._buckets.items()):
            limit = self._limits[key[1]]
            elapsed = now - bucket.updated_at
            if bucket.tokens + elapsed * limit.requests / limit.per_seconds >= limit.requests:
                del self._buckets[key]
