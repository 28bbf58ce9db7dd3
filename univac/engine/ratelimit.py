"""Per-user inbound rate limit (token buckets). Layer: core; dispatching threads.

Each sender has a bucket of ``burst`` tokens refilled at ``rate`` per second; a message
that finds the bucket empty is dropped quietly. Keys matching an ``exempt`` pattern
(``fnmatch`` style, e.g. ``console:*``) are never limited. At most ``max_keys`` buckets are kept
(least recently used are forgotten), so a flood of distinct senders cannot grow memory.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from fnmatch import fnmatchcase

UNLIMITED = float("inf")


class RateLimiter:
    """Token buckets per key; ``rate`` 0 disables the limit."""

    def __init__(
        self,
        rate: float,
        burst: int,
        exempt: tuple[str, ...] = (),
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._exempt = exempt
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str) -> bool:
        """Take one token from ``key``'s bucket; False when it is empty."""
        if self._rate <= 0:
            return True
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, None) or (self._first(key), now)
            if tokens != UNLIMITED:
                tokens = min(self._burst, tokens + (now - then) * self._rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return allowed

    def _first(self, key: str) -> float:
        exempt = any(fnmatchcase(key, pattern) for pattern in self._exempt)
        return UNLIMITED if exempt else self._burst
