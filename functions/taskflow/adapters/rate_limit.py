"""Per-user rate limits of the web app: one token bucket per (user, scope), kept in memory.

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

from taskflow.config import RateLimit

API = "api"  # every authenticated request of the web app
CHAT = "chat"  # a chat turn, on top of API: it may call a paid language model

# Buckets of users who went quiet are dropped once this many exist, so memory stays bounded.
MAX_BUCKETS = 100_000


class RateLimited(Exception):
    def __init__(self, scope: str, limit: RateLimit, retry_after_seconds: int) -> None:
        super().__init__(f"{scope} rate limit exceeded; retry after {retry_after_seconds} s")
        self.scope = scope
        self.limit = limit
        self.retry_after_seconds = retry_after_seconds


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

    def admit(self, user_id: str, scope: str) -> None:
        """Take one token of the user's bucket for `scope`, or raise RateLimited."""
        limit = self._limits[scope]
        refill_per_second = limit.requests / limit.per_seconds
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get((user_id, scope))
            if bucket is None:
                self._make_room(now)
                bucket = self._buckets[(user_id, scope)] = _Bucket(limit.requests, now)
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
