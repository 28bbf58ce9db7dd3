"""Thread-safe counters and handler latencies (messages in and out, shed...). Layer: core."""

from __future__ import annotations

import threading
from collections import Counter

from univac.metrics import Histogram, MetricsReport


class Stats:
    """Named counters, command outcomes and latency histograms; any thread may use them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._commands: Counter[tuple[str, str, str]] = Counter()
        self._latency: dict[tuple[str, str], Histogram] = {}

    def incr(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def command(self, plugin: str, name: str, result: str, seconds: float | None) -> None:
        """Count one command's outcome and, if it ran, its run time (one lock)."""
        with self._lock:
            self._commands[(plugin, name, result)] += 1
            if seconds is not None:
                self._histogram(plugin, "command").observe(seconds)

    def observe(self, plugin: str, kind: str, seconds: float) -> None:
        """Record a handler's run time; ``kind``: ``command``, ``match`` or ``webhook``."""
        with self._lock:
            self._histogram(plugin, kind).observe(seconds)

    def report(self) -> MetricsReport:
        with self._lock:
            latency = {key: h.snapshot() for key, h in self._latency.items()}
            return MetricsReport(dict(self._counts), dict(self._commands), latency)

    def _histogram(self, plugin: str, kind: str) -> Histogram:
        found = self._latency.get((plugin, kind))
        if found is None:
            found = self._latency[(plugin, kind)] = Histogram()
        return found
