"""Thread-safe counters and handler latencies (messages in and out, shed...). Layer: core.

Writers never wait for a lock. Every handled message counts several things from the
transport's thread and from a reactive thread at once; with one lock around the
counters, a thread that lost the interpreter lock while holding it made every other
thread block on it, and most messages paid two thread switches for that (measured in
docs/performance.md). So a write is one append to a ``collections.deque`` (atomic in
CPython) and the appended events are folded into the totals later, under a lock that
writers only try (``acquire(blocking=False)``) and readers wait for.
"""

from __future__ import annotations

import threading
from collections import Counter, deque

from univac.ops.metrics import Histogram, MetricsReport

FOLD_AT = 512
"""Pending events that make a writer try to fold them (memory stays bounded)."""

Key = str | tuple[str, str, str]
"""A counter name (``in:irc``) or a command outcome (plugin, command, result)."""


class Stats:
    """Named counters, command outcomes and latency histograms; any thread may use them."""

    def __init__(self) -> None:
        self._counted: deque[Key] = deque()
        self._timed: deque[tuple[tuple[str, str], float]] = deque()
        self._fold_lock = threading.Lock()
        self._counts: Counter[Key] = Counter()
        self._latency: dict[tuple[str, str], Histogram] = {}

    def incr(self, name: str) -> None:
        self._counted.append(name)
        if len(self._counted) >= FOLD_AT:
            self._try_fold()

    def command(self, plugin: str, name: str, result: str, seconds: float | None) -> None:
        """Count one command's outcome and, if it ran, its run time."""
        self._counted.append((plugin, name, result))
        if seconds is not None:
            self.observe(plugin, "command", seconds)
        if len(self._counted) >= FOLD_AT:
            self._try_fold()

    def observe(self, plugin: str, kind: str, seconds: float) -> None:
        """Record a handler's run time; ``kind``: ``command``, ``match``, ``webhook``,
        ``listener``."""
        self._timed.append(((plugin, kind), seconds))
        if len(self._timed) >= FOLD_AT:
            self._try_fold()

    def get(self, name: str) -> int:
        with self._fold_lock:
            self._fold()
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._fold_lock:
            self._fold()
            return {k: n for k, n in self._counts.items() if isinstance(k, str)}

    def report(self) -> MetricsReport:
        with self._fold_lock:
            self._fold()
            counters = {k: n for k, n in self._counts.items() if isinstance(k, str)}
            commands = {k: n for k, n in self._counts.items() if isinstance(k, tuple)}
            latency = {key: h.snapshot() for key, h in self._latency.items()}
            return MetricsReport(counters, commands, latency)

    def _try_fold(self) -> None:
        if self._fold_lock.acquire(blocking=False):  # never waits: someone else is folding
            try:
                self._fold()
            finally:
                self._fold_lock.release()

    def _fold(self) -> None:
        """Move pending events into the totals; call with the fold lock held."""
        counted, timed = self._counted, self._timed
        self._counts.update([counted.popleft() for _ in range(len(counted))])  # in C
        for _ in range(len(timed)):
            key, seconds = timed.popleft()
            histogram = self._latency.get(key)
            if histogram is None:
                histogram = self._latency[key] = Histogram()
            histogram.observe(seconds)
