"""Inbound rate limits (token buckets). Layer: core; dispatching threads.

Each key (a sender, or a channel) has a bucket of ``burst`` tokens refilled at
``rate`` per second; a message that finds the bucket empty is dropped quietly. Keys
matching an ``exempt`` pattern (``fnmatch`` style, e.g. ``console:*``) are never
limited. At most ``max_keys`` buckets are kept (least recently used are forgotten), so
a flood of distinct senders cannot grow memory.

A shared bucket (a channel's) is fair to the people in it: the last ``reserve`` tokens
go only to someone who has had none from it for a while (``burst / rate`` seconds),
so several flooders, each within their own limit, use up the rest but never keep a
quiet person from being answered. A quiet person may also borrow up to ``reserve``
tokens below zero: flooders arriving together are each "quiet" at their first
command, and without the loan the first of them would spend the reserve before a
real newcomer speaks. What is borrowed is paid back from the refill before any
flooder gets a token again, so the channel's rate holds over time; the loan only
lets ``reserve`` more answers out in a burst.
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
        reserve: int = 0,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._exempt = exempt
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._reserve = min(float(reserve), self._burst - 1.0)
        self._quiet_s = burst / rate if rate > 0 else 0.0
        self._granted: OrderedDict[tuple[str, str], float] = OrderedDict()

    def allow(self, key: str, who: str = "") -> bool:
        """Take one token from ``key``'s bucket; False when it is empty. ``who`` (the
        sender, for a shared bucket) may take one of the reserved tokens only when it
        has had no token from this bucket for a while."""
        if self._rate <= 0:
            return True
        now = self._clock()
        with self._lock:
            tokens, then = self._buckets.pop(key, None) or (self._first(key), now)
            if tokens != UNLIMITED:
                tokens = min(self._burst, tokens + (now - then) * self._rate)
            floor = 1.0 - self._reserve if self._quiet(key, who, now) else 1.0 + self._reserve
            allowed = tokens >= floor
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            if allowed and self._reserve > 0:
                self._note(key, who, now)
            return allowed

    def _quiet(self, key: str, who: str, now: float) -> bool:
        """Whether ``who`` may take a reserved token of ``key`` (none without a reserve)."""
        if self._reserve <= 0:
            return True
        last = self._granted.get((key, who))
        return last is None or now - last >= self._quiet_s

    def _note(self, key: str, who: str, now: float) -> None:
        self._granted.pop((key, who), None)
        self._granted[(key, who)] = now
        if len(self._granted) > self._max_keys:
            self._granted.popitem(last=False)

    def _first(self, key: str) -> float:
        exempt = any(fnmatchcase(key, pattern) for pattern in self._exempt)
        return UNLIMITED if exempt else self._burst
