"""What this bot is doing with runbooks now: the runs under way and the run locks held.

Any thread (one lock around two small collections). A run is under way from its
request to its result, waiting for approvers included; a lock is held while the
step's command runs (locks.py). Kept in memory for the plugin's line in ``!status``
and ``/healthz``; the lock files themselves are never probed for it, so asking for
the status can never make a run find its step busy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class Activity:
    """The runs under way (by run id) and the locks held (``step@environment``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[str, str] = {}
        self._held: list[str] = []

    @contextmanager
    def running(self, run: str, what: str) -> Iterator[None]:
        """A run of ``what`` (``step@environment``) is under way inside the block."""
        with self._lock:
            self._runs[run] = what
        try:
            yield
        finally:
            with self._lock:
                self._runs.pop(run, None)

    @contextmanager
    def holding(self, what: str) -> Iterator[None]:
        """The lock of ``what`` is held inside the block."""
        with self._lock:
            self._held.append(what)
        try:
            yield
        finally:
            with self._lock:
                self._held.remove(what)

    def runs(self) -> list[str]:
        """What each run under way runs (``step@environment``), sorted."""
        with self._lock:
            return sorted(self._runs.values())

    def held(self) -> list[str]:
        """The locks held, sorted."""
        with self._lock:
            return sorted(self._held)
