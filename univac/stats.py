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

from univac.metrics import Histogram, MetricsReport

FOLD_AT = 512
"""Pending events that make a writer try to fold them (memory stays bounded)."""

Event = tuple[str, object, float]
"""(kind, key, amount): ``count`` name n, ``command`` (plugin, name, result) seconds or -1,
``latency`` (plugin, kind) seconds."""


class Stats:
    """Named counters, command outcomes and latency histograms; any thread may use them."""

    def __init__(self) -> None:
        self._pending: deque[Event] = deque()
        self._fold_lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._commands: Counter[tuple[str, str, str]] = Counter()
        self._latency: dict[tuple[str, str], Histogram] = {}

    def incr(self, name: str, amount: int = 1) -> None:
        self._add(("count", name, amount))

    def command(self, plugin: str, name: str, result: str, seconds: float | None) -> None:
        """Count one command's outcome and, if it ran, its run time."""
        self._add(("command", (plugin, name, result), -1.0 if seconds is None else seconds))

    def observe(self, plugin: str, kind: str, seconds: float) -> None:
        """Record a handler's run time; ``kind``: ``command``, ``match`` or ``webhook``."""
        self._add(("latency", (plugin, kind), seconds))

    def get(self, name: str) -> int:
        with self._fold_lock:
            self._fold()
            return self._counts[name]

    def snapshot(self) -> dict[str, int]:
        with self._fold_lock:
            self._fold()
            return dict(self._counts)

    def report(self) -> MetricsReport:
        with self._fold_lock:
            self._fold()
            latency = {key: h.snapshot() for key, h in self._latency.items()}
            return MetricsReport(dict(self._counts), dict(self._commands), latency)

    def _add(self, event: Event) -> None:
        self._pending.append(event)
        if len(self._pending) >= FOLD_AT and self._fold_lock.acquire(blocking=False):
            try:
                self._fold()
            finally:
                self._fold_lock.release()

    def _fold(self) -> None:
        """Move pending events into the totals; call with the fold lock held."""
        pending = self._pending
        while pending:
            kind, key, amount = pending.popleft()
            if kind == "count":
                self._counts[key] += int(amount)  # type: ignore[index]
                continue
            if kind == "command":
                self._commands[key] += 1  # type: ignore[index]
                if amount < 0:
                    continue
                key = (key[0], "command")  # type: ignore[index]
            self._histogram(key).observe(amount)  # type: ignore[arg-type]

    def _histogram(self, key: tuple[str, str]) -> Histogram:
        found = self._latency.get(key)
        if found is None:
            found = self._latency[key] = Histogram()
        return found
