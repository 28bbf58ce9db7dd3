"""Connection trouble for the log, rate-limited. Layer: core (for transports); one thread.

A transport that redials logs each failed attempt and each lost link as a WARNING,
unless it failed like the last one logged (same text) less than ``every`` seconds ago:
then it is only counted, and the next WARNING says how many were not logged. So 30 s
of refused connections make one line, not thirty, and a new kind of failure is never
held back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class FailureLog:
    """The rate-limited log of one transport's failed attempts and lost links."""

    def __init__(self, log: logging.Logger, name: str, every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log, self.name, self.every, self.clock = log, name, every, clock
        self.last = ""
        self.logged_at = float("-inf")
        self.unlogged = 0
        self.failures = 0

    def ended(self, reason: str, retry_in: float, *, dropped: bool) -> None:
        """An attempt ended: ``dropped`` when its session was up and the link was lost."""
        if not dropped:
            self.failures += 1
        what = f"link lost: {reason}" if dropped else reason
        now = self.clock()
        if what == self.last and now - self.logged_at < self.every:
            self.unlogged += 1
            return
        more = f" ({self.unlogged} more since the last report)" if self.unlogged else ""
        self.log.warning("%s: %s%s; reconnecting in %.1f s", self.name, what, more, retry_in)
        self.last, self.logged_at, self.unlogged = what, now, 0

    def connected(self) -> int:
        """A session is up: return the failed attempts before it, and count from 0."""
        failures, self.failures = self.failures, 0
        self.last = ""
        return failures

    def connected_note(self) -> str:
        """``connected()`` as the end of the "connected" INFO line: `` after N failed
        attempts`` (``attempt`` for one), or ``""`` when there were none."""
        failed = self.connected()
        return f" after {failed} failed attempt{'s' * (failed > 1)}" if failed else ""
