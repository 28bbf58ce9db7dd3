"""Thread-safe event counters (messages in and out, shed, rate-limited...). Layer: core."""

from __future__ import annotations

import threading
from collections import Counter


class Stats:
    """Named counters that any thread may bump and read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)
